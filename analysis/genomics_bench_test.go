package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"enclave/api/spec"
	"enclave/datasets"
	"enclave/datasets/omop"
	"enclave/release"
	"enclave/release/audit"
)

// TestGenomicsBenchInputs is a helper of bench/genomics_cell.sh, skipped
// unless ENCLAVE_GENO_BENCH_WS (a controlled workspace) and
// ENCLAVE_GENO_BENCH_OUT (a directory) are set. On the trusted side, as
// the steward, it runs the benchmark's scan through the API (as the cell
// does: PCA(10) of the persons of known sex, then a logistic scan of type 2
// diabetes on age, sex, hypertension and the 10 PCs) and writes the scan's
// inputs as plink phenotype and covariate files (pheno.txt, covar.txt) for
// plink2 and plink1.9, and its released rows (released.tsv) to compare.
func TestGenomicsBenchInputs(t *testing.T) {
	ws, out := os.Getenv("ENCLAVE_GENO_BENCH_WS"), os.Getenv("ENCLAVE_GENO_BENCH_OUT")
	if ws == "" || out == "" {
		t.Skip("a helper of bench/genomics_cell.sh")
	}
	cat, err := omop.OpenCatalog(filepath.Join(ws, "data", "tier_controlled.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	db := cat.(Engine)
	dir := t.TempDir()
	hist, err := release.OpenHistory(filepath.Join(dir, "history.jsonl"), "bench")
	if err != nil {
		t.Fatal(err)
	}
	alog, err := audit.Open(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	sess := &release.Session{Policy: release.Defaults(), History: hist, Audit: alog, ID: "bench", Researcher: "steward"}
	defer sess.Close()
	srv, err := New(context.Background(), db, sess, Options{Datasets: []string{"omop", "genomics"}, Genomics: filepath.Join(ws, "data", "genomics")})
	if err != nil {
		t.Fatal(err)
	}
	if db.Tier() != datasets.Controlled {
		t.Fatal("not a controlled tier workspace")
	}
	e := &genoEnv{t: t, srv: srv, sess: sess, ctx: context.Background()}
	all := e.persons()
	known := e.handle(spec.MDerive, spec.DeriveArgs{Base: e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{Sex: "female"}}).ID,
		Step: spec.Step{Or: e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{Sex: "male"}}).ID}})
	var t2dIDs []int64
	e.must(spec.MDescendants, spec.ConceptArgs{IDs: []int64{201826}}, &t2dIDs)
	t2d := e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: t2dIDs}}})
	var htnIDs []int64
	e.must(spec.MDescendants, spec.ConceptArgs{IDs: []int64{316866}}, &htnIDs)
	htn := e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: htnIDs}}})
	var pcs spec.GenoPCs
	start := time.Now()
	e.must(spec.MGenoPCA, spec.GenoPCAArgs{PCs: 10, Cohort: known.ID}, &pcs)
	pcaSecs := time.Since(start).Seconds()
	g := e.variants()
	var sc spec.GenoScan
	start = time.Now()
	cpu0 := processCPU()
	e.must(spec.MGenoGLM, spec.GenoGLMArgs{Variants: g.ID, Pheno: spec.GenoPhenotype{Kind: "binary", Cases: t2d.ID},
		Covariates: []spec.GenoCovariate{{Name: "age"}, {Name: "sex"}, {Handle: htn.ID}, {Handle: pcs.Handle.ID}}, Cohort: known.ID}, &sc)
	scanSecs := time.Since(start).Seconds()
	scanCPU := processCPU() - cpu0
	in := srv.geno.lastGLM
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	num := func(x float64) string {
		if math.IsNaN(x) {
			return "-9" // missing for plink2 and plink1.9 alike
		}
		return strconv.FormatFloat(x, 'g', 17, 64)
	}
	var ph, cv strings.Builder
	ph.WriteString("FID IID T2D\n")
	cv.WriteString("FID IID")
	for k := range in.covars {
		fmt.Fprintf(&cv, " C%d", k+1)
	}
	cv.WriteString("\n")
	for i, s := range in.fs.Samples {
		y := "-9"
		if v := in.pheno.Values[i]; !math.IsNaN(v) {
			y = strconv.Itoa(int(v) + 1)
		}
		fmt.Fprintf(&ph, "%s %s %s\n", s.FID, s.IID, y)
		cv.WriteString(s.FID + " " + s.IID)
		for _, c := range in.covars {
			cv.WriteString(" " + num(c.Values[i]))
		}
		cv.WriteString("\n")
	}
	full, _ := srv.releasedTable(sc.Table.Ref)
	var rel strings.Builder
	rel.WriteString("ID\tOR\tSE\tP\n")
	ci := func(name string) int { return col(full, name) }
	for _, r := range full.Rows {
		if r[ci("p")].Value == nil {
			continue
		}
		fmt.Fprintf(&rel, "%s\t%s\t%s\t%s\n", r[0].Text, num(math.Exp(*r[ci("log OR")].Value)), num(*r[ci("SE")].Value), num(*r[ci("p")].Value))
	}
	for name, body := range map[string]string{"pheno.txt": ph.String(), "covar.txt": cv.String(), "released.tsv": rel.String()} {
		if err := os.WriteFile(filepath.Join(out, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	lam := 0.0
	if sc.Lambda.Value != nil {
		lam = *sc.Lambda.Value
	}
	b, _ := json.Marshal(map[string]any{"bench": "genomics_cell", "case": "server_call", "pca_seconds": pcaSecs, "scan_seconds": scanSecs, "scan_cpu_seconds": scanCPU,
		"variants": sc.Variants, "released": sc.Released, "dropped": sc.Dropped, "lambda_gc": lam, "bfile": in.fs.Prefix})
	os.WriteFile(filepath.Join(out, "server.json"), b, 0o600)
}

// processCPU is the CPU seconds (user + system) this process has used.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
