"""Genomics in cells, end to end through the real kernel on a small
controlled workspace: frequencies, PCA, association scans, Manhattan and
QQ plots, and the attacks the genomics release rules stop (the carrier
count of a rare variant, a cohort differenced by a few persons, PC scores).

The scan results are checked against `enclave genomics glm` on the same
inputs by analysis/genomics_test.go (TestGenomicsGLMMatchesCLI); here the
planted variant of gensim must come out genome-wide significant and the
null variants calibrated.
"""
import re

import workspace_fixture as wf

IMPORTS = '''import (
	"fmt"
	"strings"

	"enclave/genomics"
	"enclave/omop"
	"enclave/plot"
	"enclave/stats"
)'''


def ok(kernel, code, timeout=300):
    rep, msgs = kernel.run(code, timeout=timeout)
    assert rep["status"] == "ok", (rep.get("ename"), rep.get("evalue"), wf.texts(msgs)[:3000])
    return msgs


def stdout(msgs):
    return "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream")


def result(msgs, mime="text/plain"):
    """The cell's result (not a progress display)."""
    for m in reversed(msgs):
        if m["msg_type"] == "execute_result":
            return m["content"]["data"].get(mime, "")
    return ""


def error_of(kernel, code):
    rep, msgs = kernel.run(code, timeout=120)
    assert rep["status"] == "error", wf.texts(msgs)[:2000]
    return rep["evalue"] + "\n" + wf.texts(msgs)


def test_registered_tier_has_no_genomics(gdemo):
    k = wf.Kernel(gdemo, wf.fresh_workspace(gdemo, "registered"))
    try:
        ok(k, IMPORTS)
        err = error_of(k, 'genomics.Variants("chr19")')
        assert "registered tier" in err and "controlled" in err, err
    finally:
        k.close()


def test_setup(kernel):
    ok(kernel, IMPORTS)
    # Persons of known sex: the PCs, the sex covariate and the scans share
    # one population.
    ok(kernel, '''all := omop.Persons()
known := all.Female().Or(all.Male())
t2d := omop.Persons().WithCondition(omop.Concepts(201826).Descendants()...)
ldl := omop.Measurements(3028437)
g := genomics.Variants()
fmt.Println(g)''')


def test_freq_hides_rare_carriers(kernel):
    msgs = ok(kernel, '''f := genomics.Freq(genomics.Variants("chr1", "chr2")).Of(all)
rare, common := "", ""
for r := 0; r < f.NumRows(); r++ {
	if rare == "" && f.Text(r, 8) == "≤20" {
		rare = f.Text(r, 0)
	}
	if common == "" && f.Text(r, 6) != "*" && f.Text(r, 6) != "0.0000" && f.Text(r, 8) != "*" && f.Text(r, 8) != "≤20" {
		common = f.Text(r, 0)
	}
}
fmt.Println("columns", strings.Join(f.Columns, "|"))
fmt.Println("rare", rare)
fmt.Println("common", common)
f''')
    out = stdout(msgs)
    assert "columns variant|chrom|pos|ref|alt|A1|A1 freq|A1 count|carriers|called" in out
    rare = re.search(r"^rare (\S+)$", out, re.M).group(1)
    common = re.search(r"^common (\S+)$", out, re.M).group(1)
    # The rare variant: carriers and allele count hidden, frequency too.
    msgs = ok(kernel, f'''rt := genomics.Freq(genomics.Variants("{rare}")).Of(all)
_, okCarriers := rt.Lookup("{rare}", "carriers")
_, okCount := rt.Lookup("{rare}", "A1 count")
_, okFreq := rt.Lookup("{rare}", "A1 freq")
fmt.Println("released", okCarriers, okCount, okFreq)
rt''')
    out = stdout(msgs)
    assert "released false false false" in out, out
    html = result(msgs, "text/html")
    assert "≤20" in html and "1–20 persons" in html, html[:2000]
    msgs = ok(kernel, f'''ct := genomics.Freq(genomics.Variants("{common}")).Of(all)
cv, cok := ct.Lookup("{common}", "carriers")
fmt.Println("common", cok, cv >= 21)''')
    assert "common true true" in stdout(msgs)
    kernel.rare = rare


def test_pca_and_binary_scan(kernel):
    msgs = ok(kernel, '''pcs := genomics.PCA(10).Of(known)
pcs''')
    assert "PC10" in result(msgs) and "variance explained %" in result(msgs)
    msgs = ok(kernel, '''r := genomics.GLM(g, genomics.Binary(t2d)).Covariates("age", "sex", pcs).Of(known)
r''', timeout=600)
    plain = result(msgs)
    assert "Logistic" in plain and "λ_GC" in plain and "rows dropped" in plain, plain
    assert "minor allele count below 21" in plain
    msgs = ok(kernel, '''lam, lok := r.Lambda()
fmt.Println("lambda", lok, lam)
fmt.Println("rows", r.Tested(), r.Released(), r.Dropped())''')
    out = stdout(msgs)
    lam = float(re.search(r"lambda true (\S+)", out).group(1))
    tested, released, dropped = map(int, re.search(r"rows (\d+) (\d+) (\d+)", out).groups())
    assert tested == 4000 and released + dropped <= tested and released > 500
    # The null variants are calibrated (the 20k × 5k demo gives 0.95–1.10;
    # this 2k-person cohort has fewer common variants, hence the margin).
    assert 0.85 <= lam <= 1.2, lam
    # Plots: from released rows, λ_GC in the title.
    for fig in ("plot.Manhattan(r)", "plot.QQ(r)"):
        msgs = ok(kernel, fig)
        data = [m["content"]["data"] for m in msgs if m["msg_type"] == "execute_result"][-1]
        assert "image/png" in data and "image/svg+xml" in data
        assert "λ_GC = %.3f" % lam in data["text/plain"], data["text/plain"]
        assert "%d rows" % released in data["text/plain"] or "{:,} rows".format(released) in data["text/plain"]


def test_planted_ldl_variant_found(kernel):
    msgs = ok(kernel, '''q := genomics.GLM(g, genomics.Quantitative(ldl)).Covariates("age", "sex", pcs).Of(known)
p1, ok1 := q.Lookup("rs_ldl_1", "p")
ql, _ := q.Lambda()
fmt.Println("planted", ok1, p1)
fmt.Println("qlambda", ql)
q.Top(5)''', timeout=600)
    out = stdout(msgs)
    found, p = re.search(r"planted (\S+) (\S+)", out).groups()
    assert found == "true" and float(p) < 5e-8, out
    assert 0.85 <= float(re.search(r"qlambda (\S+)", out).group(1)) <= 1.2
    assert "rs_ldl_1" in result(msgs).splitlines()[3], result(msgs)  # the top row


def test_attack_rare_variant_in_scan(kernel):
    """A rare variant's row is dropped from the scan: no estimate that
    would speak about its 1–20 carriers."""
    msgs = ok(kernel, f'''ft := r.Find("{kernel.rare}")
fmt.Println("found rows", ft.NumRows())''')
    assert "found rows 0" in stdout(msgs)


def test_attack_pc_scores(kernel):
    for code in ("omop.Collect(pcs, 10)", 'stats.Describe(pcs, "PC1")', 'plot.Histogram(pcs, "PC1", 10)',
                 "stats.Count(pcs)"):
        err = error_of(kernel, code)
        assert "genomics handle" in err and "never leave" in err, (code, err)
    # Nothing in the PCA result is per person: k shares of the variance, no more.
    msgs = ok(kernel, 'fmt.Println("variance rows", pcs.Variance().NumRows())')
    assert "variance rows 10" in stdout(msgs)


def test_attack_pca_over_few_variants_or_one_persons_spread(kernel):
    """Review 47: the eigenvalues of PCAs `Using` two or three variants
    gave those variants' hidden homozygote counts, and a PCA of 25 persons
    known (a Freq of 0) to carry nothing plus one more gave that person's
    genotypes. A PCA over a few variants and one over a few persons are
    refused, saying why and nothing of the data."""
    err = error_of(kernel, f'''genomics.PCA(1).Using(genomics.Variants("{kernel.rare}", "chr1:1-3000000")).Of(all)''')
    assert "needs at least 500" in err and "genotype counts" in err, err
    # Men aged 40-41 in this synthetic cohort: more than 21 persons, one
    # of whom holds more than 1/21 of their spread on these variants.
    err = error_of(kernel, '''genomics.PCA(1).Of(known.Male().AgeBetween(40, 41, "2020-01-01"))''')
    assert "more than 1/21 of the cohort's genotype spread" in err, err
    assert not re.search(r"\d+\.\d", err), err


def test_attack_differencing_by_few_persons(kernel):
    """A cohort and the same cohort less 1–20 persons (here: everyone of
    one age, when that age has 1–20 persons) cannot both release variant
    counts or a scan."""
    msgs = ok(kernel, '''age := 0
for a := 75; a <= 115 && age == 0; a++ {
	c := stats.Count(known.AgeBetween(a, a, ""))
	if c.Rows[0][1].Status == "small" {
		age = a
	}
}
fmt.Println("age", age)''')
    assert re.search(r"age [1-9]\d*", stdout(msgs)), stdout(msgs)
    msgs = ok(kernel, '''less := known.Minus(omop.Persons().AgeBetween(age, age, ""))
h19 := genomics.Variants("chr19")
first := genomics.Freq(h19).Of(known)
second := genomics.Freq(h19).Of(less)
shown1, shown2 := 0, 0
for i := 0; i < first.NumRows(); i++ {
	if first.Rows[i][7].Value != nil {
		shown1++
	}
	if second.Rows[i][7].Value != nil || second.Rows[i][8].Value != nil || second.Rows[i][6].Value != nil {
		shown2++
	}
}
fmt.Println("shown", shown1, shown2)
second''')
    out = stdout(msgs)
    s1, s2 = map(int, re.search(r"shown (\d+) (\d+)", out).groups())
    assert s1 > 0 and s2 == 0, out
    assert "differencing" in result(msgs)
    # The same for scans: the cohort, then the cohort less those persons.
    msgs = ok(kernel, '''s1 := genomics.GLM(h19, genomics.Binary(t2d)).Covariates("age", "sex", pcs).Of(known)
s2 := genomics.GLM(h19, genomics.Binary(t2d)).Covariates("age", "sex", pcs).Of(less)
fmt.Println("scans", s1.Released(), s2.Released())
s2''')
    a, b = map(int, re.search(r"scans (\d+) (\d+)", stdout(msgs)).groups())
    assert a > 0 and b == 0, stdout(msgs)


def test_attack_phenotype_rows_changed(kernel):
    """Review 30: a scan of LDL, then the same persons' scan with one
    person's readings above a cut-off left out, moved each variant's beta
    by that person's genotype. A scan whose phenotype reads other rows of
    the same persons is hidden, whatever rows its filter really removes
    (here none: whether it removed any is itself what must not show). The
    same readings over another region of the genome are released."""
    msgs = ok(kernel, '''h1 := genomics.Variants("chr1")
r1 := genomics.GLM(h1, genomics.Quantitative(ldl)).Covariates("age", "sex").Of(known)
r2 := genomics.GLM(genomics.Variants("chr2"), genomics.Quantitative(ldl)).Covariates("age", "sex").Of(known)
r3 := genomics.GLM(h1, genomics.Quantitative(ldl.Where("value_as_number", "<", 1e9))).Covariates("age", "sex").Of(known)
fmt.Println("scans", r1.Released(), r2.Released(), r3.Released())
r3''', timeout=600)
    a, b, c = map(int, re.search(r"scans (\d+) (\d+) (\d+)", stdout(msgs)).groups())
    assert a > 0 and b > 0 and c == 0, stdout(msgs)
    assert "differencing" in result(msgs), result(msgs)[:2000]
