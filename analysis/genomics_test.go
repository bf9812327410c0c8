package analysis

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"enclave/api/spec"
	"enclave/datasets"
	"enclave/datasets/genomics/assoc"
	"enclave/datasets/genomics/plink"
	"enclave/datasets/omop"
	"enclave/datasets/synth"
	"enclave/release"
	"enclave/release/audit"
)

// The genomics fixture: a synthetic cohort whose persons are all
// genotyped, imported into both tiers; built once per test binary.
const (
	genoPersons  = 1200
	genoVariants = 1400
)

var genoFix struct {
	once       sync.Once
	err        error
	dir        string
	genomics   string
	controlled Engine
	registered Engine
}

func genoEngine(t *testing.T, tier datasets.Tier) (Engine, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a synthetic cohort")
	}
	genoFix.once.Do(func() { genoFix.err = buildGenoFixture() })
	if genoFix.err != nil {
		t.Fatalf("genomics fixture: %v", genoFix.err)
	}
	if tier == datasets.Registered {
		return genoFix.registered, genoFix.genomics
	}
	return genoFix.controlled, genoFix.genomics
}

func buildGenoFixture() error {
	dir, err := os.MkdirTemp("", "analysis-genomics-")
	if err != nil {
		return err
	}
	genoFix.dir = dir
	src := filepath.Join(dir, "omop")
	if _, err := synth.Generate(synth.Options{Persons: genoPersons, Seed: 3, Out: src, Format: synth.FormatParquet,
		Variants: genoVariants, Genotyped: genoPersons}); err != nil {
		return err
	}
	genoFix.genomics = filepath.Join(src, "genomics")
	base := filepath.Join(dir, "data", "cdm.duckdb")
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return err
	}
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	if _, err := omop.Import(context.Background(), base, src, omop.Options{AgeAsOf: asOf}); err != nil {
		return err
	}
	for _, tier := range []datasets.Tier{datasets.Controlled, datasets.Registered} {
		cat, err := omop.OpenCatalog(omop.TierPath(base, tier))
		if err != nil {
			return err
		}
		db, ok := cat.(Engine)
		if !ok {
			return fmt.Errorf("the catalog is not an Engine")
		}
		if tier == datasets.Controlled {
			genoFix.controlled = db
		} else {
			genoFix.registered = db
		}
	}
	return nil
}

// genoEnv is one kernel session over the fixture, with its own history.
type genoEnv struct {
	t     *testing.T
	srv   *Server
	sess  *release.Session
	ctx   context.Context
	cells int
}

func newGenoEnv(t *testing.T, tier datasets.Tier, grants ...string) *genoEnv {
	t.Helper()
	db, gdir := genoEngine(t, tier)
	dir := t.TempDir()
	hist, err := release.OpenHistory(filepath.Join(dir, "history.jsonl"), "test")
	if err != nil {
		t.Fatal(err)
	}
	alog, err := audit.Open(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	sess := &release.Session{Policy: release.Defaults(), History: hist, Audit: alog, ID: "test", Researcher: "tester"}
	t.Cleanup(func() { sess.Close() })
	if grants == nil {
		grants = []string{"omop", "fitbit", "genomics"}
	}
	srv, err := New(context.Background(), db, sess, Options{Datasets: grants, Genomics: gdir})
	if err != nil {
		t.Fatal(err)
	}
	return &genoEnv{t: t, srv: srv, sess: sess, ctx: context.Background()}
}

func (e *genoEnv) call(method string, args, out any) error {
	e.t.Helper()
	b, err := json.Marshal(args)
	if err != nil {
		e.t.Fatal(err)
	}
	e.cells++
	raw, err := e.srv.Call(e.ctx, fmt.Sprintf("cell-%d", e.cells), method, b)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s answered %s: %v", method, raw, err)
		}
	}
	return nil
}

func (e *genoEnv) must(method string, args, out any) {
	e.t.Helper()
	if err := e.call(method, args, out); err != nil {
		b, _ := json.Marshal(args)
		e.t.Fatalf("%s(%s): %v", method, b, err)
	}
}

func (e *genoEnv) handle(method string, args any) spec.Handle {
	e.t.Helper()
	var h spec.Handle
	e.must(method, args, &h)
	return h
}

func (e *genoEnv) persons() spec.Handle { return e.handle(spec.MPersons, spec.PersonsArgs{}) }

func (e *genoEnv) variants(sel ...string) spec.Handle {
	return e.handle(spec.MGenoVariants, spec.GenoVariantsArgs{Select: sel})
}

func col(t *spec.Table, name string) int {
	for i, c := range t.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

func TestGenomicsTierAndGrant(t *testing.T) {
	e := newGenoEnv(t, datasets.Registered)
	err := e.call(spec.MGenoVariants, spec.GenoVariantsArgs{}, nil)
	if err == nil || !strings.Contains(err.Error(), "registered tier") {
		t.Fatalf("registered tier: %v, want an error naming the tier", err)
	}
	e = newGenoEnv(t, datasets.Controlled, "omop")
	err = e.call(spec.MGenoVariants, spec.GenoVariantsArgs{}, nil)
	if err == nil || !strings.Contains(err.Error(), "not granted the genomics dataset") {
		t.Fatalf("not granted: %v", err)
	}
}

// TestGenomicsFreqRules: carrier and allele counts of 1–20 persons never
// show, nor can they be recomputed from the row's other cells.
func TestGenomicsFreqRules(t *testing.T) {
	e := newGenoEnv(t, datasets.Controlled)
	all := e.persons()
	g := e.variants()
	var freq, hardy spec.Table
	e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "freq", Variants: g.ID, Cohort: all.ID}, &freq)
	e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "hardy", Variants: g.ID, Cohort: all.ID}, &hardy)
	if len(freq.Rows) != genoVariants || len(hardy.Rows) != genoVariants {
		t.Fatalf("%d and %d rows, want %d", len(freq.Rows), len(hardy.Rows), genoVariants)
	}
	small := func(c spec.Cell) bool { return c.Value != nil && *c.Value > 0 && *c.Value < 21 }
	cc, ac := col(&freq, "carriers"), col(&freq, "A1 count")
	hom, het, other, hwe := col(&hardy, "hom A1"), col(&hardy, "het"), col(&hardy, "hom other"), col(&hardy, "HWE p")
	rare := 0
	for i, r := range freq.Rows {
		h := hardy.Rows[i]
		if r[0].Text != h[0].Text {
			t.Fatalf("row %d: %s vs %s", i, r[0].Text, h[0].Text)
		}
		for _, c := range []spec.Cell{r[cc], h[hom], h[het], h[other]} {
			if small(c) {
				t.Errorf("%s: a count of 1–20 persons is shown: %+v", r[0].Text, c)
			}
		}
		if r[cc].Status == spec.Small {
			rare++
			if r[ac].Value != nil {
				t.Errorf("%s: allele count shown for 1–20 carriers", r[0].Text)
			}
		}
		// carriers = het + hom A1: never two of them with the third hidden.
		shown := 0
		for _, c := range []spec.Cell{r[cc], h[het], h[hom]} {
			if c.Value != nil {
				shown++
			}
		}
		if shown == 2 {
			t.Errorf("%s: carriers, het, hom A1: one hidden cell follows from the two shown", r[0].Text)
		}
		anyHidden := h[hom].Value == nil || h[het].Value == nil || h[other].Value == nil
		if anyHidden && h[hwe].Value != nil {
			t.Errorf("%s: HWE p shown with a hidden genotype class", r[0].Text)
		}
	}
	if rare == 0 {
		t.Error("no variant had 1–20 carriers: the fixture does not exercise the rule")
	}
}

// genoConceptHeldBy finds, by SQL (the test is trusted), the condition
// concept held by the fewest persons between lo and hi.
func genoConceptHeldBy(t *testing.T, db Engine, lo, hi int) int64 {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT condition_concept_id FROM condition_occurrence
		GROUP BY 1 HAVING count(DISTINCT person_id) BETWEEN ? AND ? ORDER BY count(DISTINCT person_id), 1 LIMIT 1`, lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("no condition held by %d–%d persons in the fixture", lo, hi)
	}
	var id int64
	rows.Scan(&id)
	return id
}

// TestGenomicsDifferencing: a cohort and the same cohort less one person
// cannot both release variant counts, nor both release a scan.
func TestGenomicsDifferencing(t *testing.T) {
	e := newGenoEnv(t, datasets.Controlled)
	db, _ := genoEngine(t, datasets.Controlled)
	// The fewest persons, 1–20 (the fixture may have no condition held by
	// exactly one; any 1–20 makes a differencing pair).
	concept := genoConceptHeldBy(t, db, 1, 20)
	all := e.persons()
	one := e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{concept}}}})
	less := e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{Minus: one.ID}})
	g := e.variants()
	var a, b spec.Table
	e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "freq", Variants: g.ID, Cohort: all.ID}, &a)
	e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "freq", Variants: g.ID, Cohort: less.ID}, &b)
	cc := col(&b, "carriers")
	releasedA := 0
	for i := range a.Rows {
		if a.Rows[i][cc].Value != nil {
			releasedA++
		}
		if b.Rows[i][cc].Value != nil || b.Rows[i][col(&b, "A1 count")].Value != nil {
			t.Fatalf("%s: a carrier count released for both the cohort and the cohort less one person", b.Rows[i][0].Text)
		}
	}
	if releasedA == 0 {
		t.Fatal("the first table released nothing")
	}
	if !strings.Contains(strings.Join(b.Notes, "\n"), "differencing") {
		t.Errorf("notes do not say why: %q", b.Notes)
	}
	// A scan whose cases differ by one person from an earlier scan.
	t2d := e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{201826}}}})
	t2dOr := e.handle(spec.MDerive, spec.DeriveArgs{Base: t2d.ID, Step: spec.Step{Or: one.ID}})
	t2dLess := e.handle(spec.MDerive, spec.DeriveArgs{Base: t2d.ID, Step: spec.Step{Minus: one.ID}})
	var s1, s2 spec.GenoScan
	e.must(spec.MGenoGLM, spec.GenoGLMArgs{Variants: g.ID, Pheno: spec.GenoPhenotype{Kind: "binary", Cases: t2dOr.ID}}, &s1)
	e.must(spec.MGenoGLM, spec.GenoGLMArgs{Variants: g.ID, Pheno: spec.GenoPhenotype{Kind: "binary", Cases: t2dLess.ID}}, &s2)
	if s1.Released == 0 {
		t.Fatalf("first scan released nothing: %v", s1.Table.Notes)
	}
	if len(s2.Table.Rows) != 0 || s2.Released != 0 || s2.Lambda.Value != nil {
		t.Fatalf("second scan, one case changed, released %d rows (λ %v)", s2.Released, s2.Lambda.Value)
	}
	// Nor why its rows were dropped: which count rule dropped a row is
	// counted from the genotypes of the persons tested.
	for _, n := range s2.Table.Notes {
		if strings.Contains(n, "rows dropped") {
			t.Errorf("the hidden scan says %q", n)
		}
	}
}

// TestGenomicsPCScoresStay: PCs are a handle; no API call gives scores.
func TestGenomicsPCScoresStay(t *testing.T) {
	e := newGenoEnv(t, datasets.Controlled)
	all := e.persons()
	var pcs spec.GenoPCs
	e.must(spec.MGenoPCA, spec.GenoPCAArgs{PCs: 4, Cohort: all.ID}, &pcs)
	if len(pcs.Table.Rows) != 4 || pcs.Handle.Kind != spec.KindPCs {
		t.Fatalf("PCA answered %+v", pcs)
	}
	for _, try := range []struct {
		method string
		args   any
	}{
		{spec.MCollect, spec.CollectArgs{Handle: pcs.Handle.ID}},
		{spec.MCount, spec.CountArgs{Handle: pcs.Handle.ID}},
		{spec.MDescribe, spec.DescribeArgs{Handle: pcs.Handle.ID, Column: "PC1"}},
		{spec.MHistogram, spec.HistogramArgs{Handle: pcs.Handle.ID, Column: "PC1", Bins: 10}},
		{spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "freq", Variants: pcs.Handle.ID, Cohort: all.ID}},
	} {
		err := e.call(try.method, try.args, nil)
		if err == nil || !strings.Contains(err.Error(), "genomics") {
			t.Errorf("%s with PCs: %v", try.method, err)
		}
	}
}

// TestGenomicsGLMMatchesCLI reruns a scan's inputs with `enclave genomics
// glm` and compares every released row.
func TestGenomicsGLMMatchesCLI(t *testing.T) {
	bin, err := filepath.Abs(filepath.Join("..", "bin", "enclave"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skip("bin/enclave not built (make build)")
	}
	e := newGenoEnv(t, datasets.Controlled)
	all := e.persons()
	// Persons of known sex: the PCs, the sex covariate and the scans then
	// share one population (a population that differs by 1–20 persons
	// from an earlier release would be hidden as differencing).
	known := e.handle(spec.MDerive, spec.DeriveArgs{Base: e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{Sex: "female"}}).ID,
		Step: spec.Step{Or: e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{Sex: "male"}}).ID}})
	g := e.variants()
	var pcs spec.GenoPCs
	e.must(spec.MGenoPCA, spec.GenoPCAArgs{PCs: 5, Cohort: known.ID}, &pcs)
	t2d := e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{201826}}}})
	ldl := e.handle(spec.MEvents, spec.EventsArgs{Table: "measurement", Concepts: []int64{3028437}})
	var htnIDs []int64
	e.must(spec.MDescendants, spec.ConceptArgs{IDs: []int64{316866}}, &htnIDs)
	htn := e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: htnIDs}}})
	covs := []spec.GenoCovariate{{Name: "age"}, {Name: "sex"}, {Handle: htn.ID}, {Handle: pcs.Handle.ID}}
	for _, ph := range []spec.GenoPhenotype{{Kind: "binary", Cases: t2d.ID}, {Kind: "quantitative", Handle: ldl.ID}} {
		t.Run(ph.Kind, func(t *testing.T) {
			e.t = t
			var sc spec.GenoScan
			e.must(spec.MGenoGLM, spec.GenoGLMArgs{Variants: g.ID, Pheno: ph, Covariates: covs, Cohort: known.ID}, &sc)
			if sc.Released == 0 {
				t.Fatalf("nothing released: %v", sc.Table.Notes)
			}
			e.srv.geno.mu.Lock()
			in := e.srv.geno.lastGLM
			e.srv.geno.mu.Unlock()
			full, _ := e.srv.releasedTable(sc.Table.Ref)
			if full == nil || len(full.Rows) != sc.Released {
				t.Fatalf("full table: %v rows, want %d", full, sc.Released)
			}
			ref := runCLI(t, bin, in)
			bc, sc2, pc, nc := col(full, "beta"), col(full, "SE"), col(full, "p"), col(full, "n")
			if ph.Kind == "binary" {
				bc = col(full, "log OR")
			}
			for _, r := range full.Rows {
				want, ok := ref[r[0].Text]
				if !ok {
					t.Fatalf("%s: not in the CLI output", r[0].Text)
				}
				got := []float64{*r[bc].Value, *r[sc2].Value, *r[pc].Value, *r[nc].Value}
				if ph.Kind == "binary" {
					got[0] = math.Exp(got[0])
				}
				texts := []string{r[bc].Text, r[sc2].Text, r[pc].Text, r[nc].Text}
				for k := range got {
					// Released as shown: within half a unit of the last
					// place shown (of the log-odds for an odds ratio).
					tol := shownTol(texts[k])
					if k == 0 && ph.Kind == "binary" {
						tol *= got[0]
					}
					if math.Abs(got[k]-want[k]) > tol+2e-5*math.Abs(want[k]) {
						t.Fatalf("%s: column %d: kernel %g, enclave genomics glm %g", r[0].Text, k, got[k], want[k])
					}
				}
			}
			// Every released row obeys the row rules.
			mask := plink.NewMask(in.fs.NumSamples(), func(i int) bool { return !math.IsNaN(in.pheno.Values[i]) })
			ids := map[string]int{}
			for v := range in.fs.Variants {
				ids[in.fs.Variants[v].ID] = v
			}
			for _, r := range full.Rows {
				c := plink.CountRowMasked(in.fs.Row(ids[r[0].Text]), mask)
				alt := c.A1Count()
				if mac := min(alt, 2*c.NonMissing()-alt); mac < 21 {
					t.Errorf("%s released with MAC %d", r[0].Text, mac)
				}
				for _, k := range []int{c.HomA1, c.Het, c.HomA2} {
					if k > 0 && k < 21 {
						t.Errorf("%s released with a genotype class of %d", r[0].Text, k)
					}
				}
			}
			// The tested set rebuilt from the anchor's plan is the set tested.
			set, err := setSource{e.srv}.PersonSet(e.ctx, genoPlanBytes(in.ds, in.plan, in.fs))
			if err != nil {
				t.Fatal(err)
			}
			if int(set.GetCardinality()) != mask.Count() {
				t.Errorf("plan rebuilds %d persons, the scan tested %d", set.GetCardinality(), mask.Count())
			}
			if sc.Lambda.Value == nil || *sc.Lambda.Value < 0.5 || *sc.Lambda.Value > 2 {
				t.Errorf("λ %v", sc.Lambda.Value)
			}
		})
	}
}

// runCLI writes the scan's phenotype and covariates as plink files, runs
// `enclave genomics glm` and returns, per variant id, the ADD row's
// OR/BETA, SE, P and OBS_CT.
func runCLI(t *testing.T, bin string, in *glmInputs) map[string][]float64 {
	t.Helper()
	dir := t.TempDir()
	fs := in.fs
	num := func(x float64) string {
		if math.IsNaN(x) {
			return "NA"
		}
		return strconv.FormatFloat(x, 'g', 17, 64)
	}
	var ph, cv strings.Builder
	ph.WriteString("FID IID PHENO\n")
	cv.WriteString("FID IID")
	for _, c := range in.covars {
		cv.WriteString(" " + c.Name)
	}
	cv.WriteString("\n")
	for i, s := range fs.Samples {
		y := in.pheno.Values[i]
		v := num(y)
		if in.pheno.Binary && !math.IsNaN(y) {
			v = strconv.Itoa(int(y) + 1)
		}
		fmt.Fprintf(&ph, "%s %s %s\n", s.FID, s.IID, v)
		cv.WriteString(s.FID + " " + s.IID)
		for _, c := range in.covars {
			cv.WriteString(" " + num(c.Values[i]))
		}
		cv.WriteString("\n")
	}
	os.WriteFile(filepath.Join(dir, "pheno.txt"), []byte(ph.String()), 0o600)
	os.WriteFile(filepath.Join(dir, "covar.txt"), []byte(cv.String()), 0o600)
	out := filepath.Join(dir, "out")
	cmd := exec.Command(bin, "genomics", "glm", "--bfile", fs.Prefix, "--pheno", filepath.Join(dir, "pheno.txt"),
		"--covar", filepath.Join(dir, "covar.txt"), "--hide-covar", "--out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("enclave genomics glm: %v\n%s", err, b)
	}
	matches, _ := filepath.Glob(out + ".PHENO.glm.*")
	if len(matches) != 1 {
		t.Fatalf("CLI output: %v", matches)
	}
	f, err := os.Open(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var head []string
	res := map[string][]float64{}
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if head == nil {
			head = fields
			continue
		}
		get := func(name string) float64 {
			for i, h := range head {
				if h == name {
					v, _ := strconv.ParseFloat(fields[i], 64)
					return v
				}
			}
			return math.NaN()
		}
		est := get("BETA")
		if in.pheno.Binary {
			est = get("OR")
		}
		se := get("SE")
		if in.pheno.Binary {
			se = get("LOG(OR)_SE")
		}
		res[fields[2]] = []float64{est, se, get("P"), get("OBS_CT")}
	}
	return res
}

// TestGenomicsVCF: the VCF dataset gives the same summary as the PLINK one.
func TestGenomicsVCF(t *testing.T) {
	e := newGenoEnv(t, datasets.Controlled)
	all := e.persons()
	g1 := e.handle(spec.MGenoVariants, spec.GenoVariantsArgs{Select: []string{"chr1:1-60000000", "rs_t2d_1"}})
	g2 := e.handle(spec.MGenoVariants, spec.GenoVariantsArgs{Dataset: "cohort.vcf", Select: []string{"chr1:1-60000000", "rs_t2d_1"}})
	var a, b spec.Table
	e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "freq", Variants: g1.ID, Cohort: all.ID}, &a)
	e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "freq", Variants: g2.ID, Cohort: all.ID}, &b)
	if len(a.Rows) < 2 || len(a.Rows) != len(b.Rows) {
		t.Fatalf("PLINK %d rows, VCF %d rows", len(a.Rows), len(b.Rows))
	}
	for i := range a.Rows {
		for j := range a.Rows[i] {
			if a.Rows[i][j].Text != b.Rows[i][j].Text {
				t.Fatalf("row %d col %s: PLINK %q, VCF %q", i, a.Columns[j], a.Rows[i][j].Text, b.Rows[i][j].Text)
			}
		}
	}
}

// TestGenomicsVariantDifferencing: a cohort and the same cohort less a
// group large enough to pass the population rule (21+ persons) still
// cannot both release a variant count that differs by 1–20: the two
// carrier counts would give the small count of carriers in the group.
func TestGenomicsVariantDifferencing(t *testing.T) {
	e := newGenoEnv(t, datasets.Controlled)
	db, _ := genoEngine(t, datasets.Controlled)
	concept := genoConceptHeldBy(t, db, 40, 120)
	all := e.persons()
	group := e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{concept}}}})
	less := e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{Minus: group.ID}})
	g := e.variants()
	var a, b spec.Table
	e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "freq", Variants: g.ID, Cohort: all.ID}, &a)
	e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "freq", Variants: g.ID, Cohort: less.ID}, &b)
	a1, cc, ac, called := col(&b, "A1"), col(&b, "carriers"), col(&b, "A1 count"), col(&b, "called")
	compared, hidden := 0, 0
	for i := range a.Rows {
		ra, rb := a.Rows[i], b.Rows[i]
		if rb[cc].Status == spec.Difference {
			hidden++
		}
		for _, c := range []int{cc, ac, called} {
			if ra[a1].Text != rb[a1].Text || ra[c].Value == nil || rb[c].Value == nil {
				continue
			}
			compared++
			if d := math.Abs(*ra[c].Value - *rb[c].Value); d > 0 && d < 21 {
				t.Errorf("%s %s: released %v and %v, a difference of %v persons", ra[0].Text, b.Columns[c], *ra[c].Value, *rb[c].Value, d)
			}
		}
	}
	if compared == 0 || hidden == 0 {
		t.Fatalf("%d counts released in both tables, %d variants hidden for differencing: the test exercises nothing", compared, hidden)
	}
	t.Logf("%d counts released in both, %d of %d variants hidden in the second table", compared, hidden, len(b.Rows))
	// Scans: the persons tested per variant (n) obey the same rule.
	// (A quantitative phenotype: a binary one would chain the cases,
	// which the group may change by 1–20 and hide the whole scan.)
	// A workspace of its own: after the two frequency tables released the
	// group's size, the group's persons without an LDL value (tested all
	// less tested rest less the group) are a small count the linear audit
	// holds back, which would hide the second scan whole.
	e = newGenoEnv(t, datasets.Controlled)
	all = e.persons()
	group = e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{concept}}}})
	less = e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{Minus: group.ID}})
	g = e.variants()
	ldl := e.handle(spec.MEvents, spec.EventsArgs{Table: "measurement", Concepts: []int64{3028437}})
	var s1, s2 spec.GenoScan
	e.must(spec.MGenoGLM, spec.GenoGLMArgs{Variants: g.ID, Pheno: spec.GenoPhenotype{Kind: "quantitative", Handle: ldl.ID}, Cohort: all.ID, Top: 1000}, &s1)
	e.must(spec.MGenoGLM, spec.GenoGLMArgs{Variants: g.ID, Pheno: spec.GenoPhenotype{Kind: "quantitative", Handle: ldl.ID}, Cohort: less.ID, Top: 1000}, &s2)
	n1 := map[string]float64{}
	for _, r := range s1.Table.Rows {
		if v := r[col(&s1.Table, "n")].Value; v != nil {
			n1[r[0].Text] = *v
		}
	}
	both := 0
	for _, r := range s2.Table.Rows {
		v := r[col(&s2.Table, "n")].Value
		if x, ok := n1[r[0].Text]; ok && v != nil {
			both++
			if d := math.Abs(x - *v); d > 0 && d < 21 {
				t.Errorf("%s: scans released n = %v and %v", r[0].Text, x, *v)
			}
		}
	}
	if both == 0 {
		t.Fatalf("no variant released by both scans (%d, %d rows): nothing compared", len(s1.Table.Rows), len(s2.Table.Rows))
	}
}

// TestGenomicsCategoricalCovariate: "race" enters a scan as plink2 expands
// a categorical covariate (one 0/1 column per level, the most common level
// left out as the reference), and a level of 1–20 persons refuses the
// scan without naming the level.
func TestGenomicsCategoricalCovariate(t *testing.T) {
	e := newGenoEnv(t, datasets.Controlled)
	all := e.persons()
	g := e.variants()
	ldl := e.handle(spec.MEvents, spec.EventsArgs{Table: "measurement", Concepts: []int64{3028437}})
	var sc spec.GenoScan
	e.must(spec.MGenoGLM, spec.GenoGLMArgs{Variants: g.ID, Pheno: spec.GenoPhenotype{Kind: "quantitative", Handle: ldl.ID},
		Covariates: []spec.GenoCovariate{{Name: "age"}, {Name: "race"}}, Cohort: all.ID}, &sc)
	e.srv.geno.mu.Lock()
	in := e.srv.geno.lastGLM
	e.srv.geno.mu.Unlock()
	// The design: age, then race=LEVEL columns in name order; the persons
	// of each level and of the reference (in no level column).
	tested := 0
	for _, v := range in.pheno.Values {
		if !math.IsNaN(v) {
			tested++
		}
	}
	var levels []string
	inLevel := 0
	largest := 0
	for _, c := range in.covars[1:] {
		if !strings.HasPrefix(c.Name, "race=") {
			t.Fatalf("covariate %q, want race=LEVEL", c.Name)
		}
		levels = append(levels, c.Name)
		hi, k := math.Inf(-1), 0
		for _, v := range c.Values {
			if !math.IsNaN(v) {
				hi = math.Max(hi, v)
			}
		}
		for _, v := range c.Values {
			if v == hi {
				k++
			}
		}
		inLevel += k
		largest = max(largest, k)
	}
	if len(levels) == 0 || !slices.IsSorted(levels) {
		t.Fatalf("race levels %q: want at least one, in name order", levels)
	}
	if ref := tested - inLevel; ref < largest {
		t.Errorf("reference level holds %d persons, a level column %d: the most common level is the reference", ref, largest)
	}
	text := sc.Table.Title + "\n" + strings.Join(sc.Table.Notes, "\n")
	if strings.Contains(text, "race=") {
		t.Errorf("the result names a level: %s", text)
	}
	if small := strings.Contains(text, "covariate race: a level with fewer than 21 persons"); small != (sc.Released == 0) {
		t.Fatalf("released %d rows; refusal note present = %v: %s", sc.Released, small, text)
	}
	t.Logf("%d race levels besides the reference; %d rows released", len(levels), sc.Released)
}

// TestGenomicsCovariateSpan is review 27's attack. Three cohort
// covariates, G∪T, H∪T and G∪H, span T alone (one person): the scan then
// fits T's phenotype exactly and is the scan without T, and beside the
// same scan with G and H it told T's genotype at most variants. The scan
// is refused. And G∪T in one scan, G in the next, differ by T: the second
// is hidden, as a model's has() groups would be. Either scan alone, in a
// workspace of its own, is released.
func TestGenomicsCovariateSpan(t *testing.T) {
	const at = "2024-12-31"
	e := newGenoEnv(t, datasets.Controlled)
	db, _ := genoEngine(t, datasets.Controlled)
	rows, err := db.QueryContext(e.ctx, "SELECT "+e.srv.ageExpr("p", at)+" AS a, count(*), count(*) FILTER (WHERE gender_concept_id = 8507) FROM person p "+
		"WHERE p.person_id IN (SELECT person_id FROM measurement WHERE measurement_concept_id = 3028437 AND value_as_number IS NOT NULL) GROUP BY 1 ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	byAge := map[int64]int64{}
	var tAge int64 = -1 // T: the oldest man of an age held by one man (of those with an LDL, the phenotype)
	for rows.Next() {
		var a, n, men int64
		if err := rows.Scan(&a, &n, &men); err != nil {
			t.Fatal(err)
		}
		byAge[a] = n
		if men == 1 {
			tAge = a
		}
	}
	rows.Close()
	// G and H: the bands of the next ages below T's, each of at least 21
	// persons.
	band := func(top int64) (lo int64) {
		var n int64
		for lo = top; n < 25 && lo > 0; lo-- {
			n += byAge[lo]
		}
		return lo + 1
	}
	if tAge < 0 {
		t.Fatal("fixture: no age held by one man")
	}
	gLo := band(tAge - 1)
	hLo := band(gLo - 1)
	cohort := func(e *genoEnv, lo, hi int64) spec.Handle {
		return e.handle(spec.MDerive, spec.DeriveArgs{Base: e.persons().ID, Step: spec.Step{Age: &spec.AgeStep{Min: int(lo), Max: int(hi), At: at}}})
	}
	or := func(e *genoEnv, a, b spec.Handle) spec.Handle {
		return e.handle(spec.MDerive, spec.DeriveArgs{Base: a.ID, Step: spec.Step{Or: b.ID}})
	}
	scan := func(e *genoEnv, covs ...spec.Handle) spec.GenoScan {
		ldl := e.handle(spec.MEvents, spec.EventsArgs{Table: "measurement", Concepts: []int64{3028437}})
		cs := []spec.GenoCovariate{{Name: "age"}}
		for _, c := range covs {
			cs = append(cs, spec.GenoCovariate{Handle: c.ID})
		}
		var sc spec.GenoScan
		e.must(spec.MGenoGLM, spec.GenoGLMArgs{Variants: e.variants().ID, Pheno: spec.GenoPhenotype{Kind: "quantitative", Handle: ldl.ID},
			Covariates: cs, Cohort: e.persons().ID, At: at}, &sc)
		return sc
	}
	man := func(e *genoEnv) spec.Handle {
		return e.handle(spec.MDerive, spec.DeriveArgs{Base: cohort(e, tAge, tAge).ID, Step: spec.Step{Sex: "male"}})
	}
	T, G, H := man(e), cohort(e, gLo, tAge-1), cohort(e, hLo, gLo-1)
	if sc := scan(e, or(e, G, T), or(e, H, T), or(e, G, H)); sc.Released != 0 || !strings.Contains(strings.Join(sc.Table.Notes, " "), "some combination of the groups") {
		t.Errorf("G∪T, H∪T, G∪H: %d rows released, notes %q", sc.Released, sc.Table.Notes)
	}
	e = newGenoEnv(t, datasets.Controlled)
	T, G, H = man(e), cohort(e, gLo, tAge-1), cohort(e, hLo, gLo-1)
	if sc := scan(e, or(e, G, T), H); sc.Released == 0 {
		t.Fatalf("G∪T, H: nothing released: %q", sc.Table.Notes)
	}
	if sc := scan(e, G, H); sc.Released != 0 {
		t.Errorf("G, H after G∪T, H: %d rows released", sc.Released)
	}
	e = newGenoEnv(t, datasets.Controlled)
	if sc := scan(e, cohort(e, gLo, tAge-1), cohort(e, hLo, gLo-1)); sc.Released == 0 {
		t.Errorf("G, H alone: nothing released: %q", sc.Table.Notes)
	}
}

// TestGenomicsSummaryOfOnePerson: Hardy of a one-person cohort marked the
// class holding that person ≤20 beside hidden zeros, and named the minor
// allele: the person's genotypes (review 28). A population of 1–20 persons
// has no variant rows.
func TestGenomicsSummaryOfOnePerson(t *testing.T) {
	const at = "2024-12-31"
	e := newGenoEnv(t, datasets.Controlled)
	db, _ := genoEngine(t, datasets.Controlled)
	rows, err := db.QueryContext(e.ctx, "SELECT a FROM (SELECT "+e.srv.ageExpr("p", at)+" AS a, count(*) AS n FROM person p WHERE gender_concept_id = 8507 GROUP BY 1) WHERE n = 1 ORDER BY a DESC LIMIT 1")
	if err != nil {
		t.Fatal(err)
	}
	var age int64 = -1
	for rows.Next() {
		rows.Scan(&age)
	}
	rows.Close()
	if age < 0 {
		t.Fatal("fixture: no age held by one man")
	}
	one := e.handle(spec.MDerive, spec.DeriveArgs{Base: e.handle(spec.MDerive, spec.DeriveArgs{Base: e.persons().ID,
		Step: spec.Step{Age: &spec.AgeStep{Min: int(age), Max: int(age), At: at}}}).ID, Step: spec.Step{Sex: "male"}})
	for _, kind := range []string{"hardy", "freq", "missing"} {
		var tab spec.Table
		e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: kind, Variants: e.variants().ID, Cohort: one.ID}, &tab)
		if len(tab.Rows) != 0 || !strings.Contains(strings.Join(tab.Notes, " "), "no variant rows") {
			t.Errorf("%s of one person: %d rows, notes %q", kind, len(tab.Rows), tab.Notes)
		}
	}
}

// TestGenomicsPhenotypeRows is review 30's attack. A scan of a phenotype,
// then the same persons' scan with one person's highest reading left out
// (a Where on the value): every other person's phenotype is unchanged,
// so each variant's change in beta had the sign of that person's genotype
// (carrier or not at 468 of 468 variants). The second scan is hidden, as
// stats.Linear's mean(NAME) terms are, and so is the same change made to
// an events covariate. The same rows with another covariate (the scan
// with and without PCs, a region after another) are not other rows, and
// are released.
func TestGenomicsPhenotypeRows(t *testing.T) {
	const at = "2024-12-31"
	db, _ := genoEngine(t, datasets.Controlled)
	// The highest LDL reading, held by one person who has a lower one too:
	// below it, the same persons have a reading.
	var top float64
	var holders, lower int64
	rows, err := db.QueryContext(context.Background(), `WITH r AS (SELECT person_id, value_as_number AS v FROM measurement
		WHERE measurement_concept_id = 3028437 AND value_as_number IS NOT NULL), m AS (SELECT max(v) AS top FROM r)
		SELECT m.top, (SELECT count(DISTINCT person_id) FROM r WHERE v = m.top),
		(SELECT count(*) FROM r WHERE v < m.top AND person_id IN (SELECT person_id FROM r WHERE v = m.top)) FROM m`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		if err := rows.Scan(&top, &holders, &lower); err != nil {
			t.Fatal(err)
		}
	}
	rows.Close()
	if holders != 1 || lower == 0 {
		t.Fatalf("fixture: the top LDL reading %v is held by %d persons, with %d lower readings", top, holders, lower)
	}
	ldl := func(e *genoEnv, below bool) spec.Handle {
		h := e.handle(spec.MEvents, spec.EventsArgs{Table: "measurement", Concepts: []int64{3028437}})
		if below {
			h = e.handle(spec.MDerive, spec.DeriveArgs{Base: h.ID, Step: spec.Step{Where: &spec.Filter{Column: "value_as_number", Op: "<", Values: []any{top}}}})
		}
		return h
	}
	scanOf := func(e *genoEnv, cohort, pheno spec.Handle, covs ...spec.GenoCovariate) spec.GenoScan {
		var sc spec.GenoScan
		e.must(spec.MGenoGLM, spec.GenoGLMArgs{Variants: e.variants().ID, Pheno: spec.GenoPhenotype{Kind: "quantitative", Handle: pheno.ID},
			Covariates: append([]spec.GenoCovariate{{Name: "age"}}, covs...), Cohort: cohort.ID, At: at}, &sc)
		return sc
	}
	scan := func(e *genoEnv, pheno spec.Handle, covs ...spec.GenoCovariate) spec.GenoScan {
		return scanOf(e, e.persons(), pheno, covs...)
	}
	hidden := func(sc spec.GenoScan) bool {
		return sc.Released == 0 && strings.Contains(strings.Join(sc.Table.Notes, " "), "differencing")
	}

	e := newGenoEnv(t, datasets.Controlled)
	all := scan(e, ldl(e, false))
	if all.Released == 0 {
		t.Fatalf("the scan of every reading: nothing released: %q", all.Table.Notes)
	}
	if sc := scan(e, ldl(e, true)); !hidden(sc) {
		t.Errorf("the scan without one person's top reading: %d rows released, notes %q", sc.Released, sc.Table.Notes)
	}
	// The same readings, another plan for the same persons: released.
	same := e.handle(spec.MDerive, spec.DeriveArgs{Base: e.persons().ID, Step: spec.Step{Age: &spec.AgeStep{Min: 0, Max: 150, At: at}}})
	if sc := scanOf(e, same, ldl(e, false)); sc.Released == 0 {
		t.Errorf("the same phenotype over the same persons by another plan: nothing released: %q", sc.Table.Notes)
	}
	// The other order, in a fresh workspace.
	e = newGenoEnv(t, datasets.Controlled)
	if sc := scan(e, ldl(e, true)); sc.Released == 0 {
		t.Fatalf("the scan without the top reading, alone: nothing released: %q", sc.Table.Notes)
	}
	if sc := scan(e, ldl(e, false)); !hidden(sc) {
		t.Errorf("the scan of every reading after it: %d rows released, notes %q", sc.Released, sc.Table.Notes)
	}
	// Through an events covariate: the phenotype is age-adjusted LDL
	// either way, the covariate loses one person's reading.
	e = newGenoEnv(t, datasets.Controlled)
	pheno := e.handle(spec.MEvents, spec.EventsArgs{Table: "measurement", Concepts: []int64{3028437}})
	if sc := scan(e, pheno, spec.GenoCovariate{Handle: ldl(e, false).ID}); sc.Released == 0 {
		t.Fatalf("the scan with the covariate of every reading: nothing released: %q", sc.Table.Notes)
	}
	if sc := scan(e, pheno, spec.GenoCovariate{Handle: ldl(e, true).ID}); !hidden(sc) {
		t.Errorf("the scan with one person's top reading left out of the covariate: %d rows released, notes %q", sc.Released, sc.Table.Notes)
	}
}

// TestGenomicsAgeDate: the same scan with ages on the day before one
// person's birthday and on it differs only in that person's age, which
// moves each variant's beta by their genotype: the second is hidden.
func TestGenomicsAgeDate(t *testing.T) {
	db, _ := genoEngine(t, datasets.Controlled)
	rows, err := db.QueryContext(context.Background(), `SELECT month_of_birth, day_of_birth FROM person
		WHERE month_of_birth IS NOT NULL AND day_of_birth BETWEEN 2 AND 27 GROUP BY 1, 2 HAVING count(*) = 1 ORDER BY 1, 2 LIMIT 1`)
	if err != nil {
		t.Fatal(err)
	}
	var m, d int64
	for rows.Next() {
		if err := rows.Scan(&m, &d); err != nil {
			t.Fatal(err)
		}
	}
	rows.Close()
	if m == 0 {
		t.Fatal("fixture: no day of the year with one birthday")
	}
	e := newGenoEnv(t, datasets.Controlled)
	ldl := e.handle(spec.MEvents, spec.EventsArgs{Table: "measurement", Concepts: []int64{3028437}})
	scan := func(at string) spec.GenoScan {
		var sc spec.GenoScan
		e.must(spec.MGenoGLM, spec.GenoGLMArgs{Variants: e.variants().ID, Pheno: spec.GenoPhenotype{Kind: "quantitative", Handle: ldl.ID},
			Covariates: []spec.GenoCovariate{{Name: "age"}}, Cohort: e.persons().ID, At: at}, &sc)
		return sc
	}
	if sc := scan(fmt.Sprintf("2023-%02d-%02d", m, d-1)); sc.Released == 0 {
		t.Fatalf("the scan on the day before: nothing released: %q", sc.Table.Notes)
	}
	if sc := scan(fmt.Sprintf("2023-%02d-%02d", m, d)); sc.Released != 0 || !strings.Contains(strings.Join(sc.Table.Notes, " "), "differencing") {
		t.Errorf("the scan on the birthday: %d rows released, notes %q", sc.Released, sc.Table.Notes)
	}
}

// TestGenomicsPCSource: PCs are covariate values computed from a PCA's
// population and variants. The same persons' scan with PCs of another PCA
// has other covariate values for every person, moved by the persons the
// PCAs differ in: it is hidden. The same PCs with another covariate are
// the same values, and the scan is released.
func TestGenomicsPCSource(t *testing.T) {
	const at = "2024-12-31"
	e := newGenoEnv(t, datasets.Controlled)
	all := e.persons()
	women := e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{Sex: "female"}})
	pca := func(c spec.Handle) spec.Handle {
		var pcs spec.GenoPCs
		e.must(spec.MGenoPCA, spec.GenoPCAArgs{PCs: 3, Cohort: c.ID}, &pcs)
		return pcs.Handle
	}
	ofAll, ofWomen := pca(all), pca(women)
	ldl := e.handle(spec.MEvents, spec.EventsArgs{Table: "measurement", Concepts: []int64{3028437}})
	scan := func(covs ...spec.GenoCovariate) spec.GenoScan {
		var sc spec.GenoScan
		e.must(spec.MGenoGLM, spec.GenoGLMArgs{Variants: e.variants().ID, Pheno: spec.GenoPhenotype{Kind: "quantitative", Handle: ldl.ID},
			Covariates: covs, Cohort: women.ID, At: at}, &sc)
		return sc
	}
	if sc := scan(spec.GenoCovariate{Handle: ofAll.ID}); sc.Released == 0 {
		t.Fatalf("women, PCs of everyone: nothing released: %q", sc.Table.Notes)
	}
	if sc := scan(spec.GenoCovariate{Handle: ofWomen.ID}); sc.Released != 0 || !strings.Contains(strings.Join(sc.Table.Notes, " "), "differencing") {
		t.Errorf("women, PCs of women after PCs of everyone: %d rows released, notes %q", sc.Released, sc.Table.Notes)
	}
	if sc := scan(spec.GenoCovariate{Handle: ofAll.ID}, spec.GenoCovariate{Name: "age"}); sc.Released == 0 {
		t.Errorf("women, PCs of everyone and age: nothing released: %q", sc.Table.Notes)
	}
}

// TestGenomicsPaddedScan is review 31's attack: scans of women P with
// every LDL reading, of men Z with every reading but one of a woman's,
// then of P ∪ Z with those readings and Z as a covariate: the last is the
// first two added up, with that reading left out, and every
// variant's beta gave her genotype (216 of 216). It is hidden. With every
// reading throughout, the three are released.
func TestGenomicsPaddedScan(t *testing.T) {
	const at = "2024-12-31"
	db, _ := genoEngine(t, datasets.Controlled)
	// A reading held by one row, of a woman with other readings: leaving
	// it out leaves the same persons.
	rows, err := db.QueryContext(context.Background(), `WITH r AS (SELECT person_id, value_as_number AS v FROM measurement JOIN person USING (person_id)
		WHERE measurement_concept_id = 3028437 AND value_as_number IS NOT NULL),
		w AS (SELECT person_id FROM r JOIN person USING (person_id) WHERE gender_concept_id = 8532 GROUP BY 1 HAVING count(*) >= 2)
		SELECT v FROM r WHERE person_id IN (SELECT person_id FROM w) AND v IN (SELECT v FROM r GROUP BY v HAVING count(*) = 1) ORDER BY v DESC LIMIT 1`)
	if err != nil {
		t.Fatal(err)
	}
	top := math.NaN()
	for rows.Next() {
		if err := rows.Scan(&top); err != nil {
			t.Fatal(err)
		}
	}
	rows.Close()
	if math.IsNaN(top) {
		t.Fatal("fixture: no LDL reading held by one row of a woman with other readings")
	}
	run := func(below bool) (p, z, pz spec.GenoScan) {
		e := newGenoEnv(t, datasets.Controlled)
		ldl := e.handle(spec.MEvents, spec.EventsArgs{Table: "measurement", Concepts: []int64{3028437}})
		readings := ldl
		if below {
			readings = e.handle(spec.MDerive, spec.DeriveArgs{Base: ldl.ID, Step: spec.Step{Where: &spec.Filter{Column: "value_as_number", Op: "<>", Values: []any{top}}}})
		}
		women := e.handle(spec.MDerive, spec.DeriveArgs{Base: e.persons().ID, Step: spec.Step{Sex: "female"}})
		men := e.handle(spec.MDerive, spec.DeriveArgs{Base: e.persons().ID, Step: spec.Step{Sex: "male"}})
		both := e.handle(spec.MDerive, spec.DeriveArgs{Base: women.ID, Step: spec.Step{Or: men.ID}})
		scan := func(pheno, cohort spec.Handle, covs ...spec.GenoCovariate) spec.GenoScan {
			var sc spec.GenoScan
			e.must(spec.MGenoGLM, spec.GenoGLMArgs{Variants: e.variants().ID, Pheno: spec.GenoPhenotype{Kind: "quantitative", Handle: pheno.ID},
				Covariates: covs, Cohort: cohort.ID, At: at}, &sc)
			return sc
		}
		return scan(ldl, women), scan(readings, men), scan(readings, both, spec.GenoCovariate{Handle: men.ID})
	}
	p, z, pz := run(true)
	if p.Released == 0 || z.Released == 0 {
		t.Fatalf("women, every reading: %d rows; men, one reading left out: %d rows", p.Released, z.Released)
	}
	if pz.Released != 0 || !strings.Contains(strings.Join(pz.Table.Notes, " "), "differencing") {
		t.Errorf("women and men, one reading left out, men as a covariate: %d rows released, notes %q", pz.Released, pz.Table.Notes)
	}
	if p, z, pz := run(false); p.Released == 0 || z.Released == 0 || pz.Released == 0 {
		t.Errorf("every reading: %d, %d and %d rows released; notes of the last %q", p.Released, z.Released, pz.Released, pz.Table.Notes)
	}
}

// TestGenomicsNothingOfTheCohortsGenotypesUnjudged: what a PCA and a
// frequency table say besides their judged cells comes from the whole
// dataset, never the cohort. The number of variants a cohort left usable
// for a PCA (a note, or an error when too few) told whether one person
// added to it carries an allele no one else in it has, and Freq's A1 label
// flipped at a tie when one person was added (review 36): a small cohort
// and everyone get the same variants and the same A1.
func TestGenomicsNothingOfTheCohortsGenotypesUnjudged(t *testing.T) {
	e := newGenoEnv(t, datasets.Controlled)
	all := e.persons()
	few := e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{Age: &spec.AgeStep{Min: 40, Max: 43, At: "2020-01-01"}}})
	few = e.handle(spec.MDerive, spec.DeriveArgs{Base: few.ID, Step: spec.Step{Sex: "female"}})
	used := func(c spec.Handle) string {
		var pcs spec.GenoPCs
		e.must(spec.MGenoPCA, spec.GenoPCAArgs{PCs: 2, Cohort: c.ID}, &pcs)
		for _, n := range pcs.Table.Notes {
			if strings.Contains(n, "variants used") {
				v, _, _ := strings.Cut(n, ";") // then the method, which follows the cohort's size
				return v
			}
		}
		t.Fatalf("PCA notes %q", pcs.Table.Notes)
		return ""
	}
	// A PCA of a few persons is refused (one holds more than 1/21 of
	// their spread); one of the women of a wider age band is not.
	women := e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{Age: &spec.AgeStep{Min: 40, Max: 55, At: "2020-01-01"}}})
	women = e.handle(spec.MDerive, spec.DeriveArgs{Base: women.ID, Step: spec.Step{Sex: "female"}})
	if a, b := used(all), used(women); a != b {
		t.Errorf("variants of a PCA of everyone and of some women:\n%s\n%s", a, b)
	}
	var a, b spec.Table
	g := e.variants()
	e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "freq", Variants: g.ID, Cohort: all.ID}, &a)
	e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "freq", Variants: g.ID, Cohort: few.ID}, &b)
	a1, maf := col(&b, "A1"), col(&b, "A1 freq")
	above := 0
	for i := range a.Rows {
		if a.Rows[i][a1].Text != b.Rows[i][a1].Text {
			t.Fatalf("%s: A1 %s of everyone, %s of a few women", a.Rows[i][0].Text, a.Rows[i][a1].Text, b.Rows[i][a1].Text)
		}
		if v := b.Rows[i][maf].Value; v != nil && *v > 0.5 {
			above++
		}
	}
	if above == 0 {
		t.Error("no A1 more common than the other allele among the few women: the test cannot tell the cohort's minor allele from the dataset's")
	}
}

// TestPhenoSpread: a quantitative scan's phenotype, less what the
// covariates fit, may not lie mostly with one person, whose genotype
// every estimate would then follow (review 37: a phenotype equal for all
// but one person gave that person's genotype at 344 of 344 variants).
func TestPhenoSpread(t *testing.T) {
	n := 90
	spread := func(f func(i int) float64) []float64 {
		y := make([]float64, n)
		for i := range y {
			y[i] = f(i)
		}
		return y
	}
	group := func(lo, hi int) assoc.Column {
		return assoc.Column{Name: "g", Values: spread(func(i int) float64 { return map[bool]float64{true: 1, false: 0}[i >= lo && i < hi] })}
	}
	all := make([]bool, n)
	for i := range all {
		all[i] = true
	}
	// A covariate that sets persons 0–29 far from the others.
	apart := assoc.Column{Name: "z", Values: spread(func(i int) float64 {
		if i < 30 {
			return float64(i%5) / 10
		}
		return 50 + float64(i%17)
	})}
	for _, c := range []struct {
		name   string
		y      []float64
		covars []assoc.Column
		binary bool
		want   string
	}{
		{"spread values", spread(func(i int) float64 { return float64(i%37) + 0.1*float64(i%7) }), nil, false, ""},
		{"all but one equal", spread(func(i int) float64 { return map[bool]float64{true: 92.8, false: 99}[i == 5] }), nil, false, "distinct values"},
		{"one far out", spread(func(i int) float64 { return float64(i%10) + map[bool]float64{true: 500, false: 0}[i == 5] }), nil, false, "holds more than 1/20"},
		// Three groups of constant values that covariates absorb, and one
		// person off their group's value: four values, all spread in them.
		{"groups absorbed by covariates", spread(func(i int) float64 {
			return float64(10*(i/30)) + map[bool]float64{true: 1, false: 0}[i == 5]
		}), []assoc.Column{group(0, 30), group(30, 60)}, false, "holds more than 1/20"},
		{"groups absorbed, values spread", spread(func(i int) float64 { return float64(10*(i/30)) + float64(i%13)/3 }), []assoc.Column{group(0, 30), group(30, 60)}, false, ""},
		// Binary: a third cases, spread over the covariate; then the
		// persons the covariate sets apart all cases, and among the
		// others one case (review 39: their genotype at 173 of 173
		// variants); and the cases exactly the persons set apart.
		{"cases spread", spread(func(i int) float64 { return float64(min(1, i%3)) }), []assoc.Column{apart}, true, ""},
		{"one case among controls set apart", spread(func(i int) float64 { return map[bool]float64{true: 1, false: 0}[i < 30 || i == 40] }), []assoc.Column{apart}, true, "holds more than 1/20"},
		{"cases set apart", spread(func(i int) float64 { return map[bool]float64{true: 1, false: 0}[i < 30] }), []assoc.Column{apart}, true, "separate the cases"},
	} {
		got := phenoSpread(c.y, c.covars, all, 21, c.binary)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestGenomicsPhenotypeClusters: a quantitative phenotype that is a
// constant per concept (range_low: 4 for HbA1c, 0 for LDL) splits the
// persons tested into clusters, whose genotype sums each beta gives: with
// the frequencies of the HbA1c cluster less one person released, that
// person's genotype followed at 171 of 171 variants (review 41). Each
// cluster is differenced like a scan's cases, in either order.
func TestGenomicsPhenotypeClusters(t *testing.T) {
	db, _ := genoEngine(t, datasets.Controlled)
	for _, c := range []struct {
		concept int64
		want    float64
	}{{3004410, 4}, {3028437, 0}} {
		got := queryFloats(t, db, fmt.Sprintf("SELECT DISTINCT range_low FROM measurement WHERE measurement_concept_id = %d", c.concept))
		if len(got) != 1 || got[0] != c.want {
			t.Fatalf("fixture: range_low of %d: %v", c.concept, got)
		}
	}
	// One person of the HbA1c-only group: the one with its highest
	// reading.
	top := queryFloats(t, db, `WITH g AS (SELECT person_id, value_as_number AS v FROM measurement WHERE measurement_concept_id = 3004410
		AND person_id NOT IN (SELECT person_id FROM measurement WHERE measurement_concept_id = 3028437))
		SELECT max(v) FROM g HAVING count(DISTINCT person_id) FILTER (WHERE v = (SELECT max(v) FROM g)) = 1`)
	if len(top) != 1 {
		t.Fatal("fixture: the top HbA1c reading of the HbA1c-only persons is not one person's")
	}
	run := func(scanFirst bool) (spec.GenoScan, error) {
		e := newGenoEnv(t, datasets.Controlled)
		all := e.persons()
		a1c := e.handle(spec.MEvents, spec.EventsArgs{Table: "measurement", Concepts: []int64{3004410}})
		ldl := e.handle(spec.MEvents, spec.EventsArgs{Table: "measurement", Concepts: []int64{3028437}})
		step := func(base spec.Handle, st spec.Step) spec.Handle {
			return e.handle(spec.MDerive, spec.DeriveArgs{Base: base.ID, Step: st})
		}
		g := step(step(all, spec.Step{With: &spec.Has{Handle: a1c.ID}}), spec.Step{Without: &spec.Has{Handle: ldl.ID}})
		f := step(step(all, spec.Step{With: &spec.Has{Handle: ldl.ID}}), spec.Step{Without: &spec.Has{Handle: a1c.ID}})
		target := step(g, spec.Step{With: &spec.Has{Handle: step(a1c, spec.Step{Where: &spec.Filter{Column: "value_as_number", Op: ">=", Values: []any{top[0]}}}).ID}})
		d := step(g, spec.Step{Minus: target.ID})
		pop := step(f, spec.Step{Or: g.ID})
		both := e.handle(spec.MEvents, spec.EventsArgs{Table: "measurement", Concepts: []int64{3004410, 3028437}})
		var sc spec.GenoScan
		var freq spec.Table
		scan := func() error {
			return e.call(spec.MGenoGLM, spec.GenoGLMArgs{Variants: e.variants().ID, Cohort: pop.ID,
				Pheno: spec.GenoPhenotype{Kind: "quantitative", Handle: both.ID, Column: "range_low"}}, &sc)
		}
		if !scanFirst {
			e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "freq", Variants: e.variants().ID, Cohort: d.ID}, &freq)
			return sc, scan()
		}
		if err := scan(); err != nil {
			return sc, err
		}
		if sc.Released == 0 {
			t.Fatalf("the scan alone released nothing: %q", sc.Table.Notes)
		}
		e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "freq", Variants: e.variants().ID, Cohort: d.ID}, &freq)
		for _, r := range freq.Rows {
			if v := r[col(&freq, "A1 count")].Value; v != nil {
				t.Fatalf("%s: the frequencies of the cluster less one person released after the scan", r[0].Text)
			}
		}
		return sc, nil
	}
	if _, err := run(true); err != nil {
		t.Fatal(err)
	}
	sc, err := run(false)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Released != 0 || !strings.Contains(strings.Join(sc.Table.Notes, " "), "differencing") {
		t.Errorf("the scan after the frequencies of its cluster less one person: %d rows released, notes %q", sc.Released, sc.Table.Notes)
	}
}

// queryFloats returns the first column of q's rows as numbers.
func queryFloats(t *testing.T, db Engine, q string) []float64 {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []float64
	for rows.Next() {
		var v sql.NullFloat64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v.Valid {
			out = append(out, v.Float64)
		}
	}
	return out
}

// TestGenomicsPhenotypeRowsAcrossColumns: a scan of range_low over every
// reading and one of range_high over all but one person's reading (both a
// constant per concept) put that person off the line everyone else is on,
// and the two scans' betas gave their genotype at 551 of 551 variants
// (review 43). The rows are compared whatever the column.
func TestGenomicsPhenotypeRowsAcrossColumns(t *testing.T) {
	db, _ := genoEngine(t, datasets.Controlled)
	top := queryFloats(t, db, `SELECT max(value_as_number) FROM measurement WHERE measurement_concept_id = 3004410`)
	others := queryFloats(t, db, fmt.Sprintf(`SELECT count(*) FROM measurement WHERE measurement_concept_id IN (3004410, 3028437)
		AND person_id IN (SELECT person_id FROM measurement WHERE measurement_concept_id = 3004410 AND value_as_number = %v)`, top[0]))
	if others[0] < 2 {
		t.Fatal("fixture: the top HbA1c reading's holder has no other reading: the scans' persons would differ")
	}
	e := newGenoEnv(t, datasets.Controlled)
	rows := e.handle(spec.MEvents, spec.EventsArgs{Table: "measurement", Concepts: []int64{3004410, 3028437}})
	less := e.handle(spec.MDerive, spec.DeriveArgs{Base: rows.ID, Step: spec.Step{Where: &spec.Filter{Column: "value_as_number", Op: "!=", Values: []any{top[0]}}}})
	scan := func(pheno spec.Handle, col string) spec.GenoScan {
		var sc spec.GenoScan
		e.must(spec.MGenoGLM, spec.GenoGLMArgs{Variants: e.variants().ID, Covariates: []spec.GenoCovariate{{Name: "age"}},
			Pheno: spec.GenoPhenotype{Kind: "quantitative", Handle: pheno.ID, Column: col}}, &sc)
		return sc
	}
	if sc := scan(rows, "range_low"); sc.Released == 0 {
		t.Fatalf("the first scan released nothing: %q", sc.Table.Notes)
	}
	if sc := scan(less, "range_high"); sc.Released != 0 {
		t.Errorf("range_high over all but one reading, after range_low over all: %d rows released", sc.Released)
	}
}

// TestGenomicsPCAReleasesNoGenotypeCounts: a PCA's eigenvalues over a few
// variants are those variants' sums of squares (three pair PCAs and one
// triple gave hidden homozygote counts exactly), and over a cohort where
// one person holds the spread they describe that person (25 persons known
// to carry nothing and one more gave the 26th's genotypes, review 47). So
// a PCA needs 500 usable variants and a cohort where no one holds more
// than 1/21 of the spread, and it shows each component's share of the
// variance to 0.1 point, not eigenvalues to four decimals.
func TestGenomicsPCAReleasesNoGenotypeCounts(t *testing.T) {
	e := newGenoEnv(t, datasets.Controlled)
	all := e.persons()
	var freq spec.Table
	e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "freq", Variants: e.variants().ID, Cohort: all.ID}, &freq)
	var common []string
	for _, r := range freq.Rows {
		if c := r[col(&freq, "A1 freq")]; c.Value != nil && *c.Value > 0.05 && len(common) < 3 {
			common = append(common, r[0].Text)
		}
	}
	few := e.variants(common...)
	err := e.call(spec.MGenoPCA, spec.GenoPCAArgs{PCs: 1, Cohort: all.ID, Variants: few.ID}, nil)
	if err == nil || !strings.Contains(err.Error(), "needs at least 500") {
		t.Errorf("a PCA over %d variants: %v", len(common), err)
	}
	women := e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{Age: &spec.AgeStep{Min: 40, Max: 43, At: "2020-01-01"}}})
	women = e.handle(spec.MDerive, spec.DeriveArgs{Base: women.ID, Step: spec.Step{Sex: "female"}})
	err = e.call(spec.MGenoPCA, spec.GenoPCAArgs{PCs: 2, Cohort: women.ID}, nil)
	if err == nil || !strings.Contains(err.Error(), "more than 1/21 of the cohort's genotype spread") {
		t.Errorf("a PCA of a few women: %v", err)
	}
	var pcs spec.GenoPCs
	e.must(spec.MGenoPCA, spec.GenoPCAArgs{PCs: 5, Cohort: all.ID}, &pcs)
	if got := pcs.Table.Columns; len(got) != 2 || got[1] != "variance explained %" {
		t.Fatalf("columns %q", got)
	}
	share := regexp.MustCompile(`^\d{1,2}\.\d$`)
	sum, last := 0.0, 100.0
	for _, r := range pcs.Table.Rows {
		c := r[1]
		if c.Value == nil || !share.MatchString(c.Text) {
			t.Fatalf("%s: %+v, want a share to 0.1 point", r[0].Text, c)
		}
		if *c.Value > last {
			t.Errorf("%s: %v after %v", r[0].Text, *c.Value, last)
		}
		sum, last = sum+*c.Value, *c.Value
	}
	if !(sum > 0 && sum < 100) {
		t.Errorf("five components explain %v%% of the variance", sum)
	}
}

// TestGenomicsCasesThenEveryone: a table for the cases and then the same
// for everyone show everyone's allele counts as a fresh workspace does.
// Where the cases have no homozygote and everyone 1–20, both sides show 0
// or ≤20 and nothing follows from the two; hiding the row hid the
// dataset's allele frequencies after the cases' (review 47).
func TestGenomicsCasesThenEveryone(t *testing.T) {
	hidden := func(first bool) (int, int) {
		e := newGenoEnv(t, datasets.Controlled)
		all := e.persons()
		g := e.variants()
		t2d := e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{201826}}}})
		var cases, everyone spec.Table
		if first {
			e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "freq", Variants: g.ID, Cohort: t2d.ID}, &cases)
		}
		e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "freq", Variants: g.ID, Cohort: all.ID}, &everyone)
		n, zero := 0, 0
		for i, r := range everyone.Rows {
			if r[col(&everyone, "A1 count")].Value == nil {
				n++
			}
			if first {
				if c := cases.Rows[i][col(&cases, "A1 count")]; c.Value != nil && *c.Value == 0 {
					zero++
				}
			}
		}
		return n, zero
	}
	fresh, _ := hidden(false)
	after, zeros := hidden(true)
	if after != fresh || zeros == 0 {
		t.Errorf("everyone's allele counts: %d rows hidden in a fresh workspace, %d after the cases' table (%d variants without a copy among the cases)", fresh, after, zeros)
	}
}

// TestGenomicsRowsHiddenTogether: which rows of a table are hidden is
// seen. Everyone but a few persons T, then a few dozen others with T: the
// rows hidden by differencing were exactly those where T carried nothing
// (review 48 read a person's carrier status at 1,024 of 1,024 rare
// variants from a Missing table, which shows no genotype). When the two
// populations differ by a few persons on one side, the rows are hidden all
// together or not at all (here all: a class of some variant holds the few
// and none of those left out).
func TestGenomicsRowsHiddenTogether(t *testing.T) {
	db, _ := genoEngine(t, datasets.Controlled)
	concept := genoConceptHeldBy(t, db, 1, 20)
	for _, kind := range []string{"missing", "freq", "hardy"} {
		t.Run(kind, func(t *testing.T) {
			e := newGenoEnv(t, datasets.Controlled)
			all := e.persons()
			few := e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{concept}}}})
			rest := e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{Minus: few.ID}})
			pad := e.handle(spec.MDerive, spec.DeriveArgs{Base: rest.ID, Step: spec.Step{Age: &spec.AgeStep{Min: 40, Max: 44, At: "2020-01-01"}}})
			pad = e.handle(spec.MDerive, spec.DeriveArgs{Base: pad.ID, Step: spec.Step{Sex: "female"}})
			padded := e.handle(spec.MDerive, spec.DeriveArgs{Base: pad.ID, Step: spec.Step{Or: few.ID}})
			g := e.variants()
			var first, second spec.Table
			e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "hardy", Variants: g.ID, Cohort: rest.ID}, &first)
			e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: kind, Variants: g.ID, Cohort: padded.ID}, &second)
			hidden := differencedRows(&second)
			// Some class of some variant holds the few persons and none of
			// the others dropped: every row is hidden.
			if hidden != len(second.Rows) {
				t.Errorf("%d of %d rows hidden by differencing: which ones tells the few persons' genotypes", hidden, len(second.Rows))
			}
		})
	}
}

// TestGenomicsFewGroupComparesNothing: a group of 1–20 persons shows no
// rows, so the other groups of the table are not differenced against it.
// By a one-person group and everyone else, the rows of everyone else
// hidden were those where the one person carried nothing (review 48); the
// others' rows are now as a table of them alone shows them.
func TestGenomicsFewGroupComparesNothing(t *testing.T) {
	db, _ := genoEngine(t, datasets.Controlled)
	concept := genoConceptHeldBy(t, db, 1, 20)
	e := newGenoEnv(t, datasets.Controlled)
	all := e.persons()
	few := e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{concept}}}})
	rest := e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{Minus: few.ID}})
	g := e.variants()
	var by spec.Table
	e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "hardy", Variants: g.ID, Cohort: all.ID,
		Groups: []string{few.ID, rest.ID}, GroupNames: []string{"few", "rest"}}, &by)
	if n := differencedRows(&by); n != 0 || len(by.Rows) != genoVariants {
		t.Errorf("by a group of 1–20 and the rest: %d rows (want the rest's %d), %d hidden by differencing", len(by.Rows), genoVariants, n)
	}
	// The few group, then a padded table with them, in a later cell: the
	// few group released nothing to difference against.
	pad := e.handle(spec.MDerive, spec.DeriveArgs{Base: rest.ID, Step: spec.Step{Age: &spec.AgeStep{Min: 40, Max: 44, At: "2020-01-01"}}})
	padded := e.handle(spec.MDerive, spec.DeriveArgs{Base: pad.ID, Step: spec.Step{Or: few.ID}})
	var later spec.Table
	e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "missing", Variants: g.ID, Cohort: padded.ID}, &later)
	if n := differencedRows(&later); n != 0 && n != len(later.Rows) {
		t.Errorf("%d of %d rows hidden", n, len(later.Rows))
	}
}

// differencedRows counts the rows of tab with a cell hidden by differencing.
func differencedRows(tab *spec.Table) int {
	n := 0
	for _, r := range tab.Rows {
		for _, c := range r[1:] {
			if c.Status == spec.Difference {
				n++
				break
			}
		}
	}
	return n
}
