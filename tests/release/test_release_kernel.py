"""Release control through the real kernel on a synthetic workspace: what a
curious researcher tries, and what the frontend receives, byte for byte
where it matters."""
import json
import os
import queue
import re
import signal
import time

import pytest

import workspace_fixture as wf

HEADER = 'import ("fmt"; "enclave/omop"; "enclave/stats"; "enclave/display")\n'
AGE = 'a := omop.Persons().AgeBetween(40, 80, "2020-01-01")\n'
# In the controlled tier of the 5,000-person demo (seed 1; unshifted dates,
# so ages are exact) 3,168 persons are aged 40–80 on 2020-01-01 and 20 of
# them have condition 443601: a differencing pair that differs by 20.
# (Registered tier dates are shifted by a per-workspace secret.)
RARE = 443601


@pytest.fixture
def ws(demo):
    return wf.fresh_workspace(demo)


@pytest.fixture
def kernel(demo, ws):
    k = wf.Kernel(demo, ws)
    yield k
    k.close()


def ok(reply):
    assert reply["status"] == "ok", reply
    return reply


def test_small_cells_and_margins_in_a_crosstab(kernel):
    ok(kernel.run(HEADER)[0])
    r, msgs = kernel.run('stats.Count(omop.Persons(), "race", "gender")')
    ok(r)
    html, plain = wf.html_of(msgs), wf.plain_of(msgs)
    assert "<table" in html and "≤20" in html and "enclave-suppressed" in html
    # Every row with exactly one hidden cell would let the total recompute
    # it: the rule hides a second one.
    for line in plain.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) >= 4 and cells[0] not in ("Total",) and not line.startswith("race"):
            hidden = sum(1 for c in cells[1:-1] if c in ("≤20", "*"))
            total_hidden = cells[-1] in ("≤20", "*")
            assert hidden + total_hidden != 1, f"one hidden cell in a row with its total: {line}"


def test_rare_condition_count_is_hidden(kernel):
    ok(kernel.run(HEADER + AGE)[0])
    r, msgs = kernel.run(f"stats.Count(a.WithCondition({RARE}))")
    ok(r)
    rows = [l.split() for l in wf.plain_of(msgs).splitlines() if l.startswith("all")]
    assert rows == [["all", "≤20"]], wf.plain_of(msgs)


def test_two_kernels_cannot_each_release_half_of_a_differencing_pair(demo):
    ws = wf.fresh_workspace(demo, "controlled")
    k1, k2 = wf.Kernel(demo, ws), wf.Kernel(demo, ws)
    try:
        ok(k1.run(HEADER + AGE)[0])
        r, msgs = k1.run("stats.Count(a)")
        ok(r)
        assert "3,168" in wf.plain_of(msgs)
        ok(k2.run(HEADER + AGE)[0])
        r, msgs = k2.run(f"stats.Count(a.Minus(omop.Persons().WithCondition({RARE})))")
        ok(r)
        everything = wf.texts(msgs)
        assert "3,148" not in everything and "3148" not in everything, everything
        assert "differencing" in wf.plain_of(msgs)
        r, msgs = k2.run("%releases")
        assert "1 differencing" in wf.plain_of(msgs)
    finally:
        k1.close()
        k2.close()


def test_one_researcher_cannot_release_half_of_a_pair_in_each_of_two_workspaces(demo):
    """A researcher's workspaces over the same data share a release
    history beside each workspace's own: the count of a cohort less a
    rare condition's persons, in a second workspace, is hidden as it
    would be in the first. Another researcher's home does not share it."""
    ws1 = wf.fresh_workspace(demo, "controlled")
    ws2 = wf.fresh_workspace(demo, "controlled", beside=ws1)
    other = wf.fresh_workspace(demo, "controlled")
    ks = [wf.Kernel(demo, ws) for ws in (ws1, ws2, other)]
    try:
        cells = [HEADER + AGE, "stats.Count(a)", f"stats.Count(a.Minus(omop.Persons().WithCondition({RARE})))"]
        ok(ks[0].run(cells[0])[0])
        r, msgs = ks[0].run(cells[1])
        ok(r)
        assert "3,168" in wf.plain_of(msgs)
        for k, shown in ((ks[1], False), (ks[2], True)):
            ok(k.run(cells[0])[0])
            r, msgs = k.run(cells[2])
            ok(r)
            everything = wf.texts(msgs)
            assert ("3,148" in wf.plain_of(msgs)) == shown, everything
            if not shown:
                assert "3148" not in everything and "differencing" in wf.plain_of(msgs), everything
    finally:
        for k in ks:
            k.close()


def test_percentage_mean_and_max_of_small_groups_are_hidden(kernel):
    ok(kernel.run(HEADER + AGE)[0])
    r, msgs = kernel.run(f'stats.Describe(omop.Measurements(3004410).Of(a.WithCondition({RARE})), "value_as_number")')
    ok(r)
    plain = wf.plain_of(msgs)
    assert "mean" in plain and not re.search(r"\d\.\d", plain.split("Notes")[0]), plain
    r, msgs = kernel.run("%sql SELECT max(year_of_birth), min(year_of_birth), count(*) FROM person")
    ok(r)
    plain = wf.plain_of(msgs)
    assert not re.search(r"\b19\d\d\b|\b20[01]\d\b", plain.split("\n", 2)[-1]), plain
    r, msgs = kernel.run(f'stats.Table1(a.WithCondition({RARE}), "gender")')
    ok(r)
    assert "%" not in "".join(re.findall(r"\d+\.\d%", wf.plain_of(msgs)))


def test_means_that_are_counts_in_disguise(controlled):
    """The third review's %sql attacks: the mean of gender_concept_id over a
    group is 8532 − 25·men/n (and, with a code like 2000000009 or the sd,
    tells every code's count); a CASE in a subquery can mark one person
    with a value far from the rest, so that a mean over a large padded
    group says whether that person matched. Means of concept ids and of
    computed columns are refused; a mean over at most 3 distinct values is
    a table of counts and is not released."""
    kernel = controlled
    r, _ = kernel.run("%sql SELECT race_concept_id, count(*) AS n, avg(gender_concept_id) AS g, stddev(gender_concept_id) AS sd "
                      "FROM person GROUP BY race_concept_id")
    assert r["status"] == "error" and "concept ids are codes" in r["evalue"], r
    r, _ = kernel.run("%sql SELECT avg(x.v) AS g, count(*) AS n FROM person p JOIN (SELECT person_id, CASE WHEN "
                      "ethnicity_concept_id = 903079 AND year_of_birth < 1950 THEN 2000000000 ELSE year_of_birth END AS v "
                      "FROM person) x USING (person_id) WHERE month_of_birth = 1")
    assert r["status"] == "error" and "computed column" in r["evalue"], r
    r, _ = kernel.run("%sql SELECT gender_concept_id, count(DISTINCT year_of_birth) FROM person GROUP BY 1")
    assert r["status"] == "error" and "person_id only" in r["evalue"], r
    # Born 1996 or 1997: a mean of two values is a proportion of 1997s.
    r, msgs = kernel.run("%sql SELECT avg(year_of_birth) AS y, stddev(year_of_birth) AS s, count(*) AS n "
                         "FROM person WHERE year_of_birth IN (1996, 1997)")
    ok(r)
    [row] = sql_rows(msgs)
    assert row[:2] == ["*", "*"] and row[2] == row[3] and int(row[2].replace(",", "")) > 20, row
    assert "at most 3 values" in wf.plain_of(msgs)
    # Over many values the mean of a quantity is released.
    r, msgs = kernel.run("%sql SELECT avg(year_of_birth) AS y, count(*) AS n FROM person")
    ok(r)
    [row] = sql_rows(msgs)
    assert re.fullmatch(r"19\d\d\.\d+", row[0]), row


def test_engine_errors_do_not_echo_data(kernel):
    r, msgs = kernel.run("%sql SELECT CAST(zone_name AS INTEGER) z, count(*) FROM heart_rate_summary GROUP BY 1")
    assert r["status"] == "error"
    everything = wf.texts(msgs) + json.dumps(r)
    for value in ("Fat Burn", "Cardio", "Peak", "Out of Range"):
        assert value not in everything, everything


def test_row_level_sql_is_refused(kernel):
    r, _ = kernel.run("%sql SELECT person_id, year_of_birth FROM person")
    assert r["status"] == "error" and "row-level" in r["evalue"]
    r, _ = kernel.run("%sql SELECT count(*) FROM person WHERE person_id <> 17")
    assert r["status"] == "error" and "17" not in r["evalue"]


def test_taint_withholds_free_form_output_until_restart(demo, ws, kernel):
    ok(kernel.run(HEADER + "P := omop.Persons()")[0])
    ok(kernel.run("stats.Count(P)")[0])
    r, msgs = kernel.run('rows := omop.Collect(omop.Persons(), 5, "person_id", "year_of_birth")\n'
                         'fmt.Println(rows)\nfmt.Println(rows.Len())')
    ok(r)
    streams = [m["content"]["text"] for m in msgs if m["msg_type"] == "stream"]
    assert len(streams) == 1 and streams[0].startswith("[enclave] output withheld for review: r-0001"), streams
    assert "line" not in streams[0]  # how much was held would itself be a signal
    # Every kernel-built result is held, of handles made before the rows
    # came too: which of them the worker asks for, and whether it asks at
    # all, can encode the rows (review 38 read a BMI and a date from the
    # choice among 100 cohorts made before).
    r, msgs = kernel.run('stats.Count(P, "gender")')
    ok(r)
    assert not wf.html_of(msgs) and "withheld for review" in wf.texts(msgs)
    r, msgs = kernel.run('stats.Count(omop.Persons(), "gender")')
    ok(r)
    assert not wf.html_of(msgs) and "withheld for review" in wf.texts(msgs)
    # A bound the worker chose (from the rows, for all the kernel knows)
    # is not read back from %releases either, nor how many such results a
    # cell made: held results are not listed.
    r, msgs = kernel.run('stats.Count(P.AgeBetween(31, 99, "2019-12-31"), "gender")')
    ok(r)
    assert not wf.html_of(msgs) and "withheld for review" in wf.texts(msgs)
    r, msgs = kernel.run("%releases 3")
    ok(r)
    listed = wf.plain_of(msgs)
    assert "held for review and not listed" in listed and "2019-12-31" not in listed, listed
    assert listed.count("stats.Count") == 1, listed  # the Count of P released before the rows came
    # %audit neither: while the worker holds rows it is held itself.
    r, msgs = kernel.run("%audit 50")
    ok(r)
    assert not wf.plain_of(msgs) and "withheld for review" in wf.texts(msgs)
    # Free-form displays, display ids and errors are held too.
    r, msgs = kernel.run('display.HTML(fmt.Sprint(rows.Data[0][0]))')
    assert [m["msg_type"] for m in msgs if m["msg_type"] not in ("execute_input", "status")] == ["stream"]
    r, msgs = kernel.run('panic(fmt.Sprint(rows.Data[0]))')
    assert r["status"] == "error" and r["ename"] == "Withheld", r
    assert all(m["msg_type"] != "error" for m in msgs)
    # The steward's queue holds the items; the author cannot approve them.
    out = wf.enclave("review", "list", ws, "--json").stdout
    items = json.loads(out)
    assert {i["id"] for i in items} >= {"r-0001", "r-0002", "r-0003", "r-0004"}
    res = wf.enclave("review", "approve", ws, "r-0001", "--as", "demo", check=False)
    assert res.returncode != 0 and "cannot approve" in res.stderr
    wf.enclave("review", "approve", ws, "r-0001", "--as", "steward", "--reason", "ok")
    exported = [f for f in os.listdir(os.path.join(ws, "exports")) if f.startswith("r-0001")]
    assert exported
    manifest = json.load(open(os.path.join(ws, "exports", "manifest.json")))
    assert any(e["id"] == "r-0001" for e in (manifest if isinstance(manifest, list) else manifest.get("items", [])))
    # A fresh worker has no rows: output flows again, after a crash too
    # (the same session).
    r, _ = kernel.run("func deep(n int) int { return deep(n+1) + 1 }\ndeep(0)")
    assert r["status"] == "error", r
    r, msgs = kernel.run('import "fmt"\nfmt.Println("clean", 6*7)')
    assert [m["content"]["text"] for m in msgs if m["msg_type"] == "stream"] == ["clean 42\n"]
    # And %audit lists nothing logged while the worker held rows (its
    # Collects and errors, one event each, spelled values in bits: review
    # 40), nor which rules fired on a held result, nor the log's sequence
    # numbers (their gaps would count events).
    r, msgs = kernel.run("%audit 100")
    ok(r)
    audit = wf.plain_of(msgs).splitlines()[1:]
    types = [line.split()[1] for line in audit]
    assert types.count("decision") == 1 and "taint" in types and "untaint" in types, audit  # the Count of P before the rows
    assert types[types.index("taint") + 1] == "untaint", audit
    assert all(re.match(r"\d\d:\d\d:\d\d  ", line) for line in audit), audit


def test_audit_log_is_chained_and_survives_kill(demo, ws):
    k = wf.Kernel(demo, ws)
    ok(k.run(HEADER + 'stats.Count(omop.Persons(), "gender")')[0])
    k.km.signal_kernel(signal.SIGKILL)
    k.km.provisioner.process.wait(timeout=10)
    assert not k.km.is_alive()
    k.kc.stop_channels()
    res = wf.enclave("audit", "verify", ws)
    assert "chain intact" in res.stdout
    show = wf.enclave("audit", "show", ws, "--type", "decision", "--json").stdout
    entries = json.loads(show)
    assert any("stats.Count" in json.dumps(e) for e in entries)
    code = wf.enclave("audit", "show", ws, "--type", "code", "--json").stdout
    assert "stats.Count" in code


def test_output_budget_covers_every_channel(demo, ws):
    k = wf.Kernel(demo, ws, env={"ENCLAVE_OUTPUT_CAP": "100000"})
    try:
        # clear_output floods count.
        r, msgs = k.run('import "enclave/display"\nfor i := 0; i < 20000; i++ { display.Clear(false) }')
        assert sum(1 for m in msgs if m["msg_type"] == "clear_output") < 10000
        # user_expressions are bounded by the same budget and audited.
        r, _ = k.run('import "strings"', user_expressions={f"e{i}": 'strings.Repeat("x", 10<<20)' for i in range(5)})
        assert len(json.dumps(r["user_expressions"])) < 1 << 20
        # A huge error is cut, on iopub and in the reply.
        r, msgs = k.run('import "strings"\npanic(strings.Repeat("y", 5<<20))')
        assert r["status"] == "error" and len(json.dumps(r)) < 200000
    finally:
        k.close()


def test_parts_released_separately_cannot_leave_a_small_remainder(demo):
    """All, then female, then male: the third would reveal the 1–20 persons
    of other genders as all − female − male."""
    ws = wf.fresh_workspace(demo, "controlled")
    k = wf.Kernel(demo, ws)
    try:
        ok(k.run(HEADER + "c := omop.Persons().WithCondition(201826)")[0])
        shown = []
        for cell in ("stats.Count(c)", "stats.Count(c.Female())", "stats.Count(c.Male())"):
            r, msgs = k.run(cell)
            ok(r)
            rows = [l.split() for l in wf.plain_of(msgs).splitlines() if l.startswith("all")]
            shown.append(rows[0][1])
        assert shown[0] == "586" and shown[1] == "353" and shown[2] == "*", shown
    finally:
        k.close()


def sql_rows(msgs):
    """The data rows of a %sql result's plain text, split on wide gaps."""
    lines = wf.plain_of(msgs).split("Notes")[0].splitlines()
    at = next(i for i, l in enumerate(lines) if re.fullmatch(r"-+(\s+-+)*", l.strip()))
    return [re.split(r"\s{2,}", l.strip()) for l in lines[at + 1:] if l.strip() and l.strip() != "(no rows)"]


@pytest.fixture
def controlled(demo):
    k = wf.Kernel(demo, wf.fresh_workspace(demo, "controlled"))
    yield k
    k.close()


def test_sql_attacks_of_the_second_review(controlled):
    """The %sql cells an adversarial researcher used to get the 17 persons
    of race 8557 (Native Hawaiian or Other Pacific Islander) out of the
    controlled tier."""
    kernel = controlled
    # An outer join narrowed in ON: the aggregate covers only the persons
    # it matched, and the cell is judged by them.
    r, msgs = kernel.run("%sql SELECT p.gender_concept_id, count(p2.year_of_birth) n, avg(p2.year_of_birth) y "
                         "FROM person p LEFT JOIN person p2 ON p.person_id = p2.person_id AND p2.race_concept_id = 8557 GROUP BY 1")
    ok(r)
    for row in sql_rows(msgs):
        n = row[1].replace(",", "")
        assert not (n.isdigit() and 1 <= int(n) <= 20), row
        assert not re.fullmatch(r"19\d\d\.\d+|20\d\d\.\d+", row[2]), row
    # Labels of small groups: one person's year of birth and sex.
    r, msgs = kernel.run("%sql SELECT year_of_birth, gender_source_value, count(*) FROM person WHERE race_concept_id = 8557 GROUP BY 1, 2")
    ok(r)
    assert sql_rows(msgs) == [] and "not listed" in wf.plain_of(msgs)
    # Quantiles 0 and 1 are the minimum and maximum; 0.5 is a median.
    r, _ = kernel.run("%sql SELECT quantile_cont(year_of_birth, 1) FROM person")
    assert r["status"] == "error" and "quantile" in r["evalue"]
    r, msgs = kernel.run("%sql SELECT gender_concept_id, quantile_cont(year_of_birth, 0.5) FROM person GROUP BY 1")
    ok(r)
    # A cast that fails only on some rows tells whether they exist.
    r, _ = kernel.run("%sql SELECT count(*) FROM person WHERE CASE WHEN race_concept_id = 8557 AND year_of_birth = 1988 "
                      "THEN CAST(gender_source_value AS DATE) > DATE '2000-01-01' ELSE true END")
    assert r["status"] == "error" and "TRY_CAST" in r["evalue"]
    # Ordering by a hidden count compares hidden counts.
    r, _ = kernel.run("%sql SELECT gender_concept_id, count(*) AS n FROM person WHERE race_concept_id = 8557 GROUP BY 1 ORDER BY n")
    assert r["status"] == "error" and "order" in r["evalue"]


def test_groups_then_their_total_cannot_leave_a_small_rest(controlled):
    """Races listed by %sql leave out the small ones; the total counted
    afterwards would give them by subtraction, so it is held."""
    kernel = controlled
    r, msgs = kernel.run("%sql SELECT race_concept_id, count(*) FROM person GROUP BY 1")
    ok(r)
    shown = sum(int(row[1].replace(",", "")) for row in sql_rows(msgs))
    assert "not listed" in wf.plain_of(msgs) and 4900 < shown < 5000, shown
    r, msgs = kernel.run("%sql SELECT count(*) FROM person")
    ok(r)
    rows = sql_rows(msgs)
    assert rows and rows[0][0] == "*", (shown, rows)


def test_a_step_given_a_cohort_never_made_says_so(kernel):
    """After a cell that failed, its variable is an empty Cohort: using it
    names that, not the step."""
    ok(kernel.run(HEADER)[0])
    r, _ = kernel.run("var c omop.Cohort\nomop.Conditions(201826).Of(c)")
    assert r["status"] == "error" and "Cohort given is empty" in r["evalue"], r["evalue"]
    r, _ = kernel.run("omop.Persons().Minus(c)")
    assert r["status"] == "error" and "Cohort given is empty" in r["evalue"], r["evalue"]


# The fourth review: one HbA1c row (concept 3004410) on 2024-06-09 in the
# controlled demo, of a person with HbA1c rows the day before. Adding that
# day to a window adds one row and no person.
A1C_WINDOW = ("%sql SELECT count(*) AS n, avg(value_as_number) AS a FROM measurement "
              "WHERE measurement_concept_id = 3004410 AND measurement_date BETWEEN DATE '2024-06-01' AND DATE '{}'")


def test_one_more_row_of_the_same_persons_is_not_released_by_any_path(controlled):
    """Two means over the same persons whose rows differ by one give that
    row's value (27·6.489 − 26·6.462 ≈ 7.2), whichever paths produced them:
    %sql then %sql, Describe then %sql, two histograms (the one bar that
    grows), two models of per-person means (the estimates that move)."""
    kernel = controlled
    r, msgs = kernel.run(A1C_WINDOW.format("2024-06-08"))
    ok(r)
    [first] = sql_rows(msgs)
    assert first[0] == first[2] == "26" and re.fullmatch(r"\d\.\d\d", first[1]), first
    r, msgs = kernel.run(A1C_WINDOW.format("2024-06-09"))
    ok(r)
    [second] = sql_rows(msgs)
    # The persons too: released before, shown next to the hidden rows they
    # would say that the added row is of someone already counted.
    assert second == ["*", "*", "*"], second
    assert "differencing" in wf.plain_of(msgs)

    ok(kernel.run(HEADER + 'import "enclave/plot"\n'
                  'w0 := omop.Measurements(3004410).Between("2024-05-01", "2024-06-08")\n'
                  'w3 := omop.Measurements(3004410).Between("2024-05-01", "2024-06-09")\n'
                  'c := w0.Persons()\ncm := c.Male().Or(c.Female())')[0])
    r, msgs = kernel.run('stats.Linear(cm, "mean(a1c) ~ gender", stats.Vars{"a1c": w0})')
    ok(r)
    # In this window a few persons have two readings: the per-person means
    # are refused on their own (review 45), and say so.
    first = wf.plain_of(msgs)
    assert re.search(r"\(intercept\)\s+6\.\d{4}", first) or "have more than one row" in first, first
    r, msgs = kernel.run('stats.Linear(cm, "mean(a1c) ~ gender", stats.Vars{"a1c": w3})')
    ok(r)
    assert re.search(r"\(intercept\)\s+\*", wf.plain_of(msgs)), wf.plain_of(msgs)

    r, msgs = kernel.run('plot.HistogramRange(w0, "value_as_number", 10, 4, 14)')
    ok(r)
    bars = re.findall(r"^\s+\[(\d+), \d+[)\]]\s+(\S+)", wf.plain_of(msgs), re.M)
    assert dict(bars)["7"] == "30", bars
    r, msgs = kernel.run('plot.HistogramRange(w3, "value_as_number", 10, 4, 14)')
    ok(r)
    bars = re.findall(r"^\s+\[(\d+), \d+[)\]]\s+(\S+)", wf.plain_of(msgs), re.M)
    assert len(bars) == 10 and all(not h[0].isdigit() for _, h in bars), bars


MEDIAN_WINDOW = ("%sql SELECT count(DISTINCT person_id) AS p, median(value_as_number) AS m FROM measurement "
                 "WHERE measurement_concept_id = 3004410 AND measurement_date BETWEEN DATE '2024-03-01' AND DATE '{}'")


def test_one_more_row_moves_no_released_median(controlled):
    """A median is one row's value (or between two): the same 274 persons
    with the row of 2024-06-09 added would say on which side of the median
    that row lies, and a few such pairs where. The second is hidden; a
    median over other rows (another year) is not."""
    kernel = controlled
    r, msgs = kernel.run(MEDIAN_WINDOW.format("2024-06-08"))
    ok(r)
    [first] = sql_rows(msgs)
    assert first[0] == first[2] == "274" and re.fullmatch(r"\d\.\d\d", first[1]), first
    r, msgs = kernel.run(MEDIAN_WINDOW.format("2024-06-09"))
    ok(r)
    [second] = sql_rows(msgs)
    assert second == ["*", "*", "*"], second
    assert "differencing" in wf.plain_of(msgs)
    r, msgs = kernel.run(MEDIAN_WINDOW.replace("2024-03-01", "2023-03-01").format("2023-06-09"))
    ok(r)
    [other] = sql_rows(msgs)
    assert re.fullmatch(r"\d\.\d\d", other[1]), other


def test_kaplan_meier_days_asked_one_table_at_a_time(controlled):
    """Day 155, then 156 in another table: at risk 1,149 then 1,148 told
    that one person left the risk set that day."""
    kernel = controlled
    ok(kernel.run(HEADER)[0])
    km = "stats.Survival(omop.Conditions(320128), omop.Conditions(201826), {}, 365)"
    r, msgs = kernel.run(km.format(155))
    ok(r)
    assert re.search(r"^155\s+1,149\s+161\b", wf.plain_of(msgs), re.M), wf.plain_of(msgs)
    r, msgs = kernel.run(km.format(156))
    ok(r)
    assert re.search(r"^156\s+\*\s+\*", wf.plain_of(msgs), re.M), wf.plain_of(msgs)


def test_a_person_picked_by_a_subquery_tells_nothing_by_row_counts(demo):
    """The fifth review: rows of 38 persons born 1958, then the same rows
    OR one person's (picked by birth year, sex, race and ethnicity) rows of
    a diagnosis. The persons are the same; the count of rows grew by that
    person's diagnoses. Both probes, the diagnosis the person has (201826)
    and one they lack (443597), are hidden alike: whether a probe is hidden
    must not say which."""
    kernel = wf.Kernel(demo, wf.fresh_workspace(demo, "registered"))
    try:
        base = ("%sql SELECT count(*) AS n FROM condition_occurrence WHERE person_id IN "
                "(SELECT person_id FROM person WHERE year_of_birth = 1958) AND condition_concept_id = 320128")
        probe = base + (" OR (person_id IN (SELECT person_id FROM person WHERE year_of_birth = 1958 AND gender_concept_id = 8507 "
                        "AND race_concept_id = 8516 AND ethnicity_concept_id = 38003563) AND condition_concept_id = {})")
        r, msgs = kernel.run(base)
        ok(r)
        [row] = sql_rows(msgs)
        assert row[0].replace(",", "").isdigit() and int(row[1]) > 20, row
        for concept in (201826, 443597):
            r, msgs = kernel.run(probe.format(concept))
            ok(r)
            [row] = sql_rows(msgs)
            assert row == ["*", row[1]], (concept, row)
    finally:
        kernel.close()


def test_a_day_of_one_wearer_cannot_be_subtracted(controlled):
    """A window of Fitbit days, then the window and three more days: the
    same 189 wearers, 51 more rows from 20 of them. However many rows
    differ, the second Describe is hidden."""
    kernel = controlled
    ok(kernel.run(HEADER + 'import "enclave/fitbit"\nact := fitbit.ActivitySummary()')[0])
    r, msgs = kernel.run('stats.Describe(act.Between("2024-01-01", "2024-06-28"), "steps")')
    ok(r)
    assert re.search(r"^\s+189\s+5,048\s+\d+\.\d\d", wf.plain_of(msgs), re.M), wf.plain_of(msgs)
    r, msgs = kernel.run('stats.Describe(act.Between("2024-01-01", "2024-07-01"), "steps")')
    ok(r)
    # The 189 wearers too: released before, next to hidden rows.
    assert re.search(r"^\*\s+\*\s+\*", wf.plain_of(msgs), re.M), wf.plain_of(msgs)


def test_a_padded_mean_gives_no_left_out_reading(controlled):
    """Review 31: the women's BMI with every reading, the men's and then
    the women's and men's together with a filter on the value: the union
    less the men is the women over the filtered rows, and beside their
    every reading it gave the one reading the filter left out. The third
    is hidden, whether or not the filter leaves anything out (here it
    does not: that it did is what must not show)."""
    kernel = controlled
    ok(kernel.run(HEADER + 'bmi := omop.Measurements(3038553)\nless := bmi.Where("value_as_number", "<", 1000)\n'
                  'all := omop.Persons()\nw := all.Female().With(bmi)\nm := all.Male().With(bmi)')[0])
    mean = r"^\s*[\d,]+\s+[\d,]+\s+\d+\.\d\d"
    for code in ('stats.Describe(bmi.Of(w), "value_as_number")', 'stats.Describe(less.Of(m), "value_as_number")'):
        r, msgs = kernel.run(code)
        ok(r)
        assert re.search(mean, wf.plain_of(msgs), re.M), (code, wf.plain_of(msgs))
    r, msgs = kernel.run('stats.Describe(less.Of(w.Or(m)), "value_as_number")')
    ok(r)
    assert not re.search(mean, wf.plain_of(msgs), re.M) and "differencing" in wf.plain_of(msgs), wf.plain_of(msgs)


def test_a_describe_and_a_count_of_other_rows_of_the_same_persons(controlled):
    """Review 33: Describe's rows of a cohort's BMI readings, then a count
    of the same persons' readings up to a cut-off: the difference was one
    person's readings above it (all five of one man's, from nine pairs).
    The count's rows are hidden; its persons were released beside them."""
    kernel = controlled
    ok(kernel.run(HEADER + 'bmi := omop.Measurements(3038553)\nlow := bmi.Where("value_as_number", "<=", 30)\n'
                  'c := omop.Persons().With(low).AgeBetween(40, 60, "")')[0])
    r, msgs = kernel.run('stats.Describe(bmi.Of(c), "value_as_number")')
    ok(r)
    assert re.search(r"^\s*[\d,]+\s+[\d,]+\s+\d+\.\d\d", wf.plain_of(msgs), re.M), wf.plain_of(msgs)
    r, msgs = kernel.run('t := stats.Count(low.Of(c))\n_, shown := t.Lookup("all", "rows")\nfmt.Println("rows shown:", shown)\nt')
    ok(r)
    assert "rows shown: false" in "".join(m["content"].get("text", "") for m in msgs), wf.texts(msgs)[:2000]
    assert "differencing" in wf.plain_of(msgs), wf.plain_of(msgs)


# The sixth review (r20): models whose groups single out a person or give a
# hidden count, and a share whose denominator is hidden.
TARGET = ('tgt := omop.Persons().WithCondition(443601).Male().AgeBetween(81, 83, "2024-07-01")\n'
          'x := omop.Persons().WithCondition(140673)\na := x.Minus(tgt)\na2 := a.Or(tgt)\nall := omop.Persons()\n'
          'vars := stats.Vars{"a": a, "a2": a2, "bmi": omop.Measurements(3038553), "htn": omop.Conditions(320128)}')


def model_estimates(msgs):
    """term -> estimate text of a model table's plain text."""
    out = {}
    for line in wf.plain_of(msgs).splitlines():
        m = re.match(r"^(\(intercept\)|has\(\w+\)|gender=\S.*?|race=\S.*?)\s{2,}(\S+)", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def test_model_terms_that_differ_by_one_person_release_nothing(kernel):
    """has(A) and has(A plus the target) together leave the target: their
    estimates gave the target's mean BMI (28.475), in one model or in two."""
    ok(kernel.run(HEADER + TARGET)[0])
    r, msgs = kernel.run('stats.Linear(all, "mean(bmi) ~ has(a) + has(a2)", vars)')
    ok(r)
    est = model_estimates(msgs)
    assert est and set(est.values()) == {"*"}, est
    assert "some combination of the groups its terms define holds 1–20 persons" in wf.plain_of(msgs)
    r, msgs = kernel.run('stats.Linear(all, "mean(bmi) ~ has(a)", vars)')
    ok(r)
    assert re.fullmatch(r"\d+\.\d{4}", model_estimates(msgs)["(intercept)"]), wf.plain_of(msgs)
    r, msgs = kernel.run('stats.Linear(all, "mean(bmi) ~ has(a2)", vars)')
    ok(r)
    assert set(model_estimates(msgs).values()) == {"*"}, wf.plain_of(msgs)
    assert "differencing" in wf.plain_of(msgs)


def test_a_saturated_model_gives_no_hidden_count(kernel):
    """has(htn) ~ gender: intercept + coefficient times the 60 persons of
    the third gender level was their 17 cases, which Incidence hides; and
    has(male) ~ race gave the male cells a crosstab hid as secondary."""
    ok(kernel.run(HEADER + TARGET)[0])
    r, msgs = kernel.run('stats.Linear(all, "has(htn) ~ gender", vars)')
    ok(r)
    est = model_estimates(msgs)
    assert est and set(est.values()) == {"*"}, wf.plain_of(msgs)
    r, msgs = kernel.run('stats.Count(all, "gender", "race")')
    ok(r)
    assert "≤20" in wf.plain_of(msgs)
    r, msgs = kernel.run('stats.Linear(all, "has(m) ~ race", stats.Vars{"m": all.Male()})')
    ok(r)
    est = model_estimates(msgs)
    assert est and set(est.values()) == {"*"}, wf.plain_of(msgs)


def test_a_share_of_a_hidden_denominator_is_hidden(kernel):
    """Count(a or b), Count(b), then a's Table 1: N is hidden for
    differencing, and 111 men at 56.3% gave N = 197 and the overlap 4."""
    ok(kernel.run(HEADER + 'a := omop.Persons().WithCondition(317576)\nb := omop.Persons().WithCondition(4282096)\n'
                  'stats.Count(a.Or(b))')[0])
    ok(kernel.run("stats.Count(b)")[0])
    r, msgs = kernel.run('t := stats.Table1(a, "gender")\nt')
    ok(r)
    text = wf.plain_of(msgs)
    male = next(l for l in text.splitlines() if l.strip().startswith("MALE"))
    assert "%" not in male and "*" in male, text
    r, msgs = kernel.run('p, _ := t.Lookup("MALE", "all %")\nfmt.Println(p)')
    ok(r)
    assert "56.3" not in "".join(m["content"].get("text", "") for m in msgs)


BANDS = HEADER + '''all := omop.Persons()
band := func(i int) omop.Cohort { lo := 30 + 5*i; return all.AgeBetween(lo, lo+4, "") }
// The band and the men with a rare condition (7–9 of them in the demo, whatever the
// day: the 86-and-over, used before, drift past 20 as the tier's 89-and-over cut moves
// with the import day): a count near the band's.
near := func(i int) omop.Cohort { return band(i).Or(all.WithCondition(443601).Male()) }
probe := func() { for i := 0; i < 4; i++ { fmt.Print(stats.Count(near(i)).Text(0, 1), " ") } }
'''


def probes(k):
    r, msgs = k.run("probe()")
    ok(r)
    return "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream").split()


def test_results_held_while_tainted_decide_nothing_later(demo):
    """Review 36: counts a tainted worker made, or not, by the bits of a
    person's reading were recorded in the history; after a restart, counts
    near each were hidden exactly where one had been made, and gave the
    reading. Held results are judged but not recorded, and no reviewer can
    approve them (review 42: an ordinary-looking table of two age bands
    whose ends spelled a BMI)."""
    def session(ws, before=None, tainted=None):
        k = wf.Kernel(demo, ws)
        try:
            ok(k.run(BANDS)[0])
            if before:
                ok(k.run(before)[0])
            if tainted:
                ok(k.run('rows := omop.Collect(omop.Persons(), 1, "year_of_birth")\n_ = rows')[0])
                for cell in tainted:
                    ok(k.run(cell)[0])
                return None
            return probes(k)
        finally:
            k.close()

    control = session(wf.fresh_workspace(demo))
    shown = session(wf.fresh_workspace(demo), before="stats.Count(band(0))\nstats.Count(band(1))\nstats.Count(band(2))")
    # The probes can tell: near a released band, they are hidden.
    assert [shown[0], shown[1], shown[2]] == ["*"] * 3 and "*" not in control, (control, shown)

    ws = wf.fresh_workspace(demo)
    # Bands 0 and 2 counted and not shown; band 1 shown (held for review).
    session(ws, tainted=["for i := 0; i < 3; i += 2 { _ = stats.Count(band(i)) }", "stats.Count(band(1))"])
    history = os.path.join(ws, "release", "history.jsonl")
    assert not os.path.exists(history) or open(history).read() == ""
    assert session(ws) == control
    items = json.loads(wf.enclave("review", "list", ws, "--json").stdout)
    made = [i["id"] for i in items if i.get("results")]
    assert len(made) == 1, items
    res = wf.enclave("review", "approve", ws, made[0], "--as", "steward", check=False)
    assert res.returncode != 0 and "cannot be approved" in res.stderr, res.stderr


def test_a_tainted_worker_tells_nothing_by_its_clock_its_questions_or_copies(demo, ws, kernel):
    """Review 44: a worker holding rows slept a person's BMI in tens of
    milliseconds, one reading per cell, timed by the frontend; it could ask
    for input when it liked (an empty prompt, still a signal); and it printed
    the text of a held table made in the cell before, which a reviewer then
    approved as an ordinary table. Tainted cells end on a coarse clock
    (1 s, 2 s, 4 s … after they start), ask for nothing, and an item printed
    after a held result was made cannot be approved."""
    ok(kernel.run(HEADER + 'import "time"\nrows := omop.Collect(omop.Persons(), 1, "year_of_birth")\n_ = rows')[0])

    def timed(ms):
        # The researcher's cell sleeps to encode a value in its run time:
        # the sleep is the attack under test, not a wait for an event.
        t0 = time.monotonic()
        ok(kernel.run(f"time.Sleep({ms} * time.Millisecond)")[0])
        return time.monotonic() - t0
    short, longer = timed(10), timed(400)
    assert short >= 1.0 and longer >= 1.0, (short, longer)
    assert abs(longer - short) < 0.5, (short, longer)

    msg_id = kernel.kc.execute('var s string\n_, err := fmt.Scanln(&s)\n_ = err', allow_stdin=True)
    while True:
        r = kernel.kc.get_shell_msg(timeout=60)
        if r["parent_header"].get("msg_id") == msg_id:
            break
    assert r["content"]["status"] == "ok", r["content"]
    # The request would have been sent before the reply: none came.
    with pytest.raises(queue.Empty):
        kernel.kc.get_stdin_msg(timeout=0.2)

    before = {i["id"] for i in json.loads(wf.enclave("review", "list", ws, "--json").stdout)}
    ok(kernel.run('t := stats.Count(omop.Persons().AgeBetween(32, 66, "2020-01-01"), "gender")')[0])
    r, msgs = kernel.run('fmt.Println(t.Title)\nfor _, row := range t.Rows { fmt.Println(row[0].Text, row[1].Text) }')
    ok(r)
    items = [i for i in json.loads(wf.enclave("review", "list", ws, "--json").stdout) if i["id"] not in before]
    assert len(items) == 1 and items[0]["results"] >= 1, items
    res = wf.enclave("review", "approve", ws, items[0]["id"], "--as", "steward", check=False)
    assert res.returncode != 0 and "cannot be approved" in res.stderr, res.stderr
