"""The example notebooks that analyse the demo workspace (examples/03–06) run
top to bottom on a freshly built demo workspace, and show what their text
says they show: released tables with the kernel's suppression markers,
plots as PNG and SVG, odds ratios, Fitbit summaries.

Each notebook runs on a workspace with no release history (see
notebook_demo.fresh_history), as a reader's first run would: none of its
results may be hidden by the differencing rule.
"""
import base64
import re

import pytest

from notebook_demo import DATA_NOTEBOOKS, all_text, code_cell, result, results, rows, stdout

DATARESOURCE = "application/vnd.dataresource+json"


def number(text):
    """A released number as the kernel prints it ("1,234", "6.35")."""
    return float(str(text).replace(",", ""))


def released(v):
    """Whether a dataresource value is a released number: JSON writes a
    rounded 8988.00 as 8988, so an int is as good as a float; a hidden cell
    is a marker string."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def shows_something(source):
    """Whether a cell ends in an expression, a call or a magic (not in an
    import block or an assignment, which show nothing)."""
    src = source.strip()
    if re.fullmatch(r'import\s*(\([^)]*\)|"[^"]+")', src):
        return False
    last = src.splitlines()[-1]
    return ":=" not in last and not re.match(r"(var|const|type|func)\b", last)


def check_plot(cell):
    data = result(cell, "image/png")
    png = base64.b64decode(data["image/png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000, "not a PNG figure"
    assert "<svg" in data["image/svg+xml"], "no SVG next to the PNG"
    return data


def check_table(cell):
    """The cell's released table, as HTML, text and data resource."""
    data = result(cell, DATARESOURCE)
    assert "<table" in data["text/html"], "the table has no HTML rendering"
    assert data["text/plain"].strip(), "the table has no text rendering"
    return data


@pytest.mark.parametrize("name", DATA_NOTEBOOKS)
def test_runs_without_differencing(demo, name):
    """Every data notebook runs top to bottom on a fresh workspace, every
    code cell that ends in an expression or a magic shows something, and
    nothing of it is hidden by the differencing rule or withheld for review."""
    nb = demo.executed(name)
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        assert not [o for o in c.outputs if o.output_type == "error"], c.source
        if shows_something(c.source):
            assert c.outputs, f"no output from:\n{c.source}"
    text = all_text(nb)
    assert "(differencing)" not in text, "a result was hidden by the differencing rule on a fresh workspace"
    assert "withheld" not in text


def test_03_table1(demo):
    nb = demo.executed("03-t2d-table1.ipynb")
    data = check_table(code_cell(nb, "stats.Compare("))
    html, table = data["text/html"], data[DATARESOURCE]
    cols = [f["name"] for f in table["schema"]["fields"]]
    assert cols == ["characteristic", "type 2 diabetes n", "type 2 diabetes %",
                    "no type 2 diabetes n", "no type 2 diabetes %"]
    r = rows(table)
    # The headline: both groups' sizes are released, and the controls outnumber the cases.
    cases, controls = r["N (persons)"]["type 2 diabetes n"], r["N (persons)"]["no type 2 diabetes n"]
    assert released(cases) and released(controls), r["N (persons)"]
    assert 100 < cases < controls
    assert r["FEMALE"]["type 2 diabetes n"] > 20 and r["FEMALE"]["no type 2 diabetes n"] > 20
    for level in ("gender", "age_group", "race"):
        assert level in r
    # Small cells show as ≤20, with their secondary suppression; or everything is released.
    if "≤20" in html:
        assert 'class="enclave-suppressed"' in html and "≤20" in data["text/plain"]
    else:
        assert "enclave-suppressed" not in html and "*" not in data["text/plain"]
    # The Go cell reads the released sizes back.
    assert stdout(code_cell(nb, "table1.Lookup(")) == f"{cases:.0f} adults with type 2 diabetes, {controls:.0f} without\n"
    # Prevalence rises with age.
    inc = rows(check_table(code_cell(nb, "stats.Incidence("))[DATARESOURCE])
    props = [inc[g]["with outcome"] / inc[g]["persons"] for g in ("18–44", "45–64", "65+")]
    assert props == sorted(props), inc
    assert inc["Total"]["with outcome"] == cases
    check_plot(code_cell(nb, "plot.Bar("))
    receipt = result(code_cell(nb, "export.File("), "text/plain")["text/plain"]
    assert re.search(r"export request r-\d+ is pending review", receipt), receipt
    assert "stats.Table1" in result(code_cell(nb, "%releases"), "text/plain")["text/plain"]


def test_04_hba1c(demo):
    nb = demo.executed("04-hba1c-by-sex-age.ipynb")
    by_sex = rows(check_table(code_cell(nb, 'stats.Describe(a1c, "value_as_number", "gender")'))[DATARESOURCE])
    for sex in ("MALE", "FEMALE"):
        assert by_sex[sex]["persons"] > 100, by_sex[sex]
        assert 5 < by_sex[sex]["mean"] < 8 and by_sex[sex]["sd"] > 0, by_sex[sex]
        assert by_sex[sex]["q1"] <= by_sex[sex]["median"] <= by_sex[sex]["q3"]
    fields = [f["name"] for f in check_table(code_cell(nb, 'stats.Describe(a1c, "value_as_number", "gender")'))[DATARESOURCE]["schema"]["fields"]]
    assert "min" not in fields and "max" not in fields, "minimum and maximum are never released"
    decades = check_table(code_cell(nb, '"gender", "age_decade")'))
    drows = decades[DATARESOURCE]["data"]
    # Women and men only: no small third level hides the men's cells with it.
    assert {r["gender"] for r in drows} == {"FEMALE", "MALE"}, drows
    for sex in ("FEMALE", "MALE"):
        by_decade = {r["age_decade"]: r for r in drows if r["gender"] == sex}
        assert sorted(by_decade) == ["20–29", "30–39", "40–49", "50–59", "60–69", "70–79", "80–89"]
        assert all(released(r["persons"]) and released(r["mean"]) for r in by_decade.values()), f"a {sex} decade is hidden: {by_decade}"
        assert by_decade["70–79"]["mean"] > by_decade["20–29"]["mean"]
    hist = check_plot(code_cell(nb, 'plot.Histogram(a1c, "value_as_number", 30)'))
    assert "Distribution of value_as_number" in hist["text/plain"]
    for sex in ("Female", "Male"):
        check_plot(code_cell(nb, f"Of(adults.{sex}())"))
    inc = rows(check_table(code_cell(nb, "stats.Incidence("))[DATARESOURCE])
    assert 0 < inc["Total"]["with outcome"] < inc["Total"]["persons"]


def test_05_logistic(demo):
    nb = demo.executed("05-diabetes-logistic.ipynb")
    bmi = rows(check_table(code_cell(nb, "stats.Describe(bmi.Of(sexes)"))[DATARESOURCE])
    assert 25 < bmi["FEMALE"]["mean"] < 35 and 25 < bmi["MALE"]["mean"] < 35
    m1 = check_table(code_cell(nb, "m1 := stats.Logistic("))
    fields = [f["name"] for f in m1[DATARESOURCE]["schema"]["fields"]]
    assert {"OR", "OR low", "OR high", "estimate", "SE", "p"} <= set(fields), fields
    assert re.search(r"\bOR\b", m1["text/html"])
    terms = rows(m1[DATARESOURCE])
    age, bmi_term, male = terms["age"], terms["mean(bmi)"], terms["gender=MALE"]
    for t in (age, bmi_term, male):
        assert released(t["OR"]), t
        assert t["OR low"] <= t["OR"] <= t["OR high"]
    # Older age and higher BMI go with diabetes; sex, given them, does not.
    assert age["OR"] > 1 and age["OR low"] > 1
    assert bmi_term["OR"] > 1 and bmi_term["OR low"] > 1
    assert male["OR low"] < 1 < male["OR high"]
    n = terms["persons"]["estimate"]
    assert n > 1000
    # The Go cell reads the odds ratios from the released table.
    out = stdout(code_cell(nb, 'm1.Lookup("age", "OR")'))
    per10 = re.search(r"odds ratio per 10 years of age: ([0-9.]+)", out)
    assert per10 and abs(float(per10.group(1)) - age["OR"] ** 10) < 0.01, out
    m2 = rows(check_table(code_cell(nb, "+ has(htn)"))[DATARESOURCE])
    assert m2["persons"]["estimate"] == n, "adding has(htn) changed the persons of the model"
    assert m2["has(htn)"]["OR"] > 1
    assert m2["age"]["OR"] < age["OR"], "the notebook says the age odds ratio falls with hypertension in the model"


def test_06_fitbit(demo):
    nb = demo.executed("06-fitbit-hypertension.ipynb")
    cmp_ = rows(check_table(code_cell(nb, "stats.Compare("))[DATARESOURCE])
    n_hyp, n_no = cmp_["N (persons)"]["hypertension n"], cmp_["N (persons)"]["no hypertension n"]
    assert n_hyp > 20 and n_no > n_hyp
    means = {}
    for group, n in (("hyp", n_hyp), ("nohyp", n_no)):
        steps = check_table(code_cell(nb, f'stats.Describe(activity.Of({group}), "steps")'))
        row = steps[DATARESOURCE]["data"][0]
        assert row["persons"] == n, "steps describe other persons than the Table 1"
        assert released(row["mean"]) and 2000 < row["mean"] < 20000, row
        assert re.search(r"\b\d{4,5}\.\d\d\b", steps["text/plain"]), "no mean steps number in the text"
        means[group] = row["mean"]
        sleep = check_table(code_cell(nb, f'stats.Describe(sleep.Of({group}), "minute_asleep")'))
        srow = sleep[DATARESOURCE]["data"][0]
        assert srow["persons"] == n, "sleep describes other persons than steps"
        assert 300 < srow["mean"] < 540, srow
        by_age = rows(check_table(code_cell(nb, f'stats.Describe(activity.Of({group}), "steps", "age_group")'))[DATARESOURCE])
        assert set(by_age) == {"18–44", "45–64", "65+"}
        check_plot(code_cell(nb, f"plot.HistogramRange(activity.Of({group})"))
    assert means["hyp"] < means["nohyp"], means
    model = rows(check_table(code_cell(nb, "stats.Linear("))[DATARESOURCE])
    assert model["age"]["estimate"] < 0 and model["mean(bmi)"]["estimate"] < 0
    htn = model["has(htn)"]
    assert htn["95% CI low"] < 0 < htn["95% CI high"], "the notebook says the interval includes 0"


def test_results_render_as_three_mimes(demo):
    """Kernel tables carry HTML, text and a data resource; plots PNG and SVG."""
    nb = demo.executed("04-hba1c-by-sex-age.ipynb")
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        for data in results(c):
            if DATARESOURCE in data:
                assert {"text/html", "text/plain"} <= set(data)
            if "image/png" in data:
                assert {"image/svg+xml", "text/plain"} <= set(data)
