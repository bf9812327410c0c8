"""The analysis API's cells through the real kernel on a BigQuery workspace
(the emulator) give the same released outputs as the same cells on the same
curated tier served from DuckDB; every BigQuery query's bytes reach the
audit log; %sql cells in GoogleSQL release what their DuckDB spelling
releases on DuckDB, and a bad one gets its reason while the kernel keeps
serving."""
import json
import os
import re

import pytest

import workspace_fixture as wf
from bigquery_names import DATASET, PROJECT

# Cells as a researcher writes them: cohorts, events, every released-table
# method of the API and a plot. Each shows a result.
CELLS = [
    'import ("enclave/omop"; "enclave/stats"; "enclave/plot")\n'
    'adults := omop.Persons().AgeBetween(18, 90, "2023-06-30")\n'
    'stats.Count(adults, "gender")',
    'stats.Table1(omop.Persons(), "gender", "race", "age_decade")',
    'ldl := omop.Measurements(3028437)\nstats.Describe(ldl, "value_as_number", "gender")',
    'stats.Describe(adults, "age")',
    'plot.Histogram(ldl, "value_as_number", 20)',
    # A given range: an automatic one over everyone's ages, after the
    # adults' were described, differs from them by the few persons under 18
    # or over 90 of the 300 and is refused (the conformance tests an
    # automatic age range on BigQuery).
    'plot.HistogramRange(omop.Persons(), "age", 10, 0, 100)',
    'htn := omop.Concepts(320128).Descendants()\n'
    'stats.Incidence(adults, omop.Persons().WithCondition(htn...), "age_group")',
    'stats.Compare(adults, []stats.Group{{Name: "female", Cohort: adults.Female()}, {Name: "male", Cohort: adults.Male()}}, "age_group", "race")',
    'stats.Logistic(adults, "has(htn) ~ age", stats.Vars{"htn": omop.Conditions(htn...)})',
    'stats.Count(omop.Conditions(htn...), "year(condition_start_date)")',
]


# The first showing of a progress line; its updates are update_display_data,
# which outputs does not collect.
PROGRESS = re.compile(r"^[\w.]+: running for \d+ s \(interrupt the kernel to stop it\)$")


def outputs(msgs):
    """What the frontend shows of a cell: its results' text/plain and
    text/html (a plot: its SVG), its streams and errors. The progress line of a call that
    runs longer than a second (updated with the time taken) is left out: on the emulator most calls show one."""
    out = []
    for m in msgs:
        c = m["content"]
        if m["msg_type"] == "display_data" and PROGRESS.match(c["data"].get("text/plain", "")):
            continue
        if m["msg_type"] in ("execute_result", "display_data"):
            d = c["data"]
            out.append({k: d[k] for k in ("text/plain", "text/html", "image/svg+xml") if k in d})
        elif m["msg_type"] == "stream":
            out.append({c["name"]: c["text"]})
        elif m["msg_type"] == "error":
            out.append({"error": c["ename"] + ": " + c["evalue"]})
    return out


@pytest.fixture(scope="module")
def kernels(workspaces):
    base, bq, duck = workspaces
    kb, kd = wf.Kernel(base, bq), wf.Kernel(base, duck)
    yield kb, kd
    kb.close()
    kd.close()


def test_cells_release_the_same_on_bigquery_and_duckdb(kernels, workspaces):
    kb, kd = kernels
    for code in CELLS:
        rd, md = kd.run(code, timeout=300)
        assert rd["status"] == "ok", (code, outputs(md))
        rb, mb = kb.run(code, timeout=300)
        assert rb["status"] == "ok", (code, outputs(mb))
        want, got = outputs(md), outputs(mb)
        assert want, f"no output from:\n{code}"
        assert any("text/html" in o or "image/svg+xml" in o for o in want), (code, want)
        assert got == want, f"{code}\nBigQuery: {got}\nDuckDB:   {want}"
    # The released numbers are not all hidden: a comparison of two fully
    # suppressed tables would say little.
    _, msgs = kd.run('stats.Count(omop.Persons(), "gender")')
    assert any(ch.isdigit() for ch in wf.plain_of(msgs).split("N (persons)")[-1]), wf.plain_of(msgs)


def audit_entries(ws):
    """Every entry of a workspace's audit logs."""
    entries = []
    for root, _, files in os.walk(os.path.join(ws, "audit")):
        for f in files:
            with open(os.path.join(root, f)) as fh:
                for line in fh:
                    entries.append(json.loads(line))
    return entries


def test_bigquery_queries_reach_the_audit_log(kernels, workspaces):
    _, bq, _ = workspaces
    kb, _ = kernels
    r, _ = kb.run('stats.Count(omop.Persons(), "race")')
    assert r["status"] == "ok"
    entries = [e for e in audit_entries(bq) if e.get("type") == "bigquery_query"]
    assert entries, "no bigquery_query entry in the audit log"
    kinds = {e["data"]["kind"] for e in entries}
    assert "analysis" in kinds, kinds
    r, _ = kb.run("%sql SELECT race_concept_id, COUNT(*) AS n FROM person GROUP BY 1")
    assert r["status"] == "ok"
    sql = [e for e in audit_entries(bq) if e.get("type") == "bigquery_query" and e["data"]["kind"] == "sql"]
    assert sql and all(e["data"]["job_id"] for e in sql), sql


# %sql cells: (DuckDB SQL, GoogleSQL). The same text where both dialects
# read it; the title line that quotes the query is left out of the
# comparison.
SQL_CELLS = [
    ("SELECT gender_concept_id, count(*) AS n FROM person GROUP BY 1 ORDER BY 1", None),
    ("SELECT p.race_concept_id, count(*) AS n, avg(m.value_as_number) AS mean FROM person p "
     "JOIN measurement m ON m.person_id = p.person_id WHERE m.measurement_concept_id = 3028437 GROUP BY 1 ORDER BY 1", None),
    ("SELECT year(condition_start_date) AS y, count(*) AS n, count(DISTINCT person_id) AS persons_with "
     "FROM condition_occurrence GROUP BY 1 ORDER BY 1",
     f"SELECT EXTRACT(YEAR FROM condition_start_date) AS y, COUNT(*) AS n, COUNT(DISTINCT person_id) AS persons_with "
     f"FROM `{PROJECT}.{DATASET}.condition_occurrence` GROUP BY y ORDER BY y"),
    ("SELECT year_of_birth // 10 * 10 AS decade, count(*) AS n FROM person "
     "WHERE person_id IN (SELECT person_id FROM condition_occurrence) GROUP BY 1 ORDER BY 1",
     f"SELECT DIV(year_of_birth, 10) * 10 AS decade, COUNT(*) AS n FROM `{DATASET}.person` "
     f"WHERE person_id IN (SELECT person_id FROM `{DATASET}.condition_occurrence`) GROUP BY decade ORDER BY decade"),
]


def released_text(msgs):
    """The text/plain of a %sql table without its title line."""
    out = []
    for o in outputs(msgs):
        text = o.get("text/plain", "")
        if text.startswith("%sql:"):
            text = text.split("\n", 1)[-1]
        out.append(text or o)
    return out


def test_sql_cells_release_the_same_on_bigquery_and_duckdb(kernels):
    kb, kd = kernels
    for duck, google in SQL_CELLS:
        rd, md = kd.run("%sql " + duck, timeout=300)
        assert rd["status"] == "ok", (duck, outputs(md))
        rb, mb = kb.run("%sql " + (google or duck), timeout=300)
        assert rb["status"] == "ok", (google or duck, outputs(mb))
        want, got = released_text(md), released_text(mb)
        assert want and any(ch.isdigit() for ch in want[0].split("persons", 1)[-1]), want
        assert got == want, f"{google or duck}\nBigQuery: {got}\nDuckDB:   {want}"


def test_sql_bad_cells_on_bigquery_and_the_kernel_keeps_serving(kernels):
    kb, _ = kernels
    for cell, says in [
        ("%sql SELECT year_of_birth FROM person", "row-level"),
        ("%sql SELECT gender_concept_id, COUNT(* FROM person GROUP BY 1", "syntax"),
        ("%sql SELECT gender_concept_id, median(year_of_birth) FROM person GROUP BY 1", "PERCENTILE_CONT"),
    ]:
        r, msgs = kb.run(cell)
        assert r["status"] == "error" and says in wf.texts(msgs), (cell, wf.texts(msgs))
    r, msgs = kb.run('stats.Count(omop.Persons(), "gender")')
    assert r["status"] == "ok", wf.texts(msgs)
    r, msgs = kb.run("%sql SELECT gender_concept_id, COUNT(*) AS n FROM person GROUP BY 1")
    assert r["status"] == "ok", wf.texts(msgs)
