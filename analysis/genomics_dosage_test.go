package analysis

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"enclave/api/spec"
	"enclave/datasets"
	"enclave/datasets/genomics/plink"
	"enclave/release"
	"enclave/release/audit"
)

// dosageFixture writes, in a genotype folder of its own, dose.vcf.gz: the
// fixture's samples over chromosome 1 and X (males haploid on X, by OMOP
// sex), with imputation-like FORMAT GT:DS (DS near the call for most
// persons, far from it for some, "." for a few, GT missing beside a DS
// for a few), some DS-only and GT-only autosomal records, and "rare_ds":
// twelve persons with DS 1.85 (never hard-called) and everyone else 0.
// It also writes sex.txt (OMOP sex) for plink2. It returns the folder.
func dosageFixture(t *testing.T) (dir string, db Engine) {
	t.Helper()
	for _, tool := range []string{"plink2", "bgzip", "tabix"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed")
		}
	}
	db, gdir := genoEngine(t, datasets.Controlled)
	src, ds, sexOf := fixtureSexes(t, db, gdir)
	defer src.Close()
	n := src.NumSamples()
	var sx strings.Builder
	sx.WriteString("#IID\tSEX\n")
	for i, s := range src.Samples {
		fmt.Fprintf(&sx, "%s\t%d\n", s.IID, sexOf[i])
	}
	// The common variants of the fixture, the last 45 moved to chrX.
	var common []int
	for v := range src.Variants {
		c := plink.CountRow(src.Row(v), n)
		if f := float64(c.A1Count()) / float64(2*c.NonMissing()); f > 0.08 && f < 0.92 {
			common = append(common, v)
		}
	}
	if len(common) < 120 {
		t.Fatalf("%d common variants in the fixture", len(common))
	}
	r := rand.New(rand.NewPCG(17, 19))
	var b strings.Builder
	b.WriteString("##fileformat=VCFv4.2\n##contig=<ID=1>\n##contig=<ID=X>\n")
	b.WriteString("##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n##FORMAT=<ID=DS,Number=A,Type=Float,Description=\"Dosage\">\n")
	b.WriteString("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT")
	for _, s := range src.Samples {
		b.WriteString("\t" + s.IID)
	}
	b.WriteString("\n")
	record := func(k int, chrom string, pos int, id string, format string, call func(i int) (gt string, ds float64)) {
		fmt.Fprintf(&b, "%s\t%d\t%s\tA\tG\t.\t.\t.\t%s", chrom, pos, id, format)
		for i := 0; i < n; i++ {
			gt, d := call(i)
			dsText := "."
			if !math.IsNaN(d) {
				dsText = strconv.FormatFloat(d, 'f', -1, 64)
			}
			switch format {
			case "GT:DS":
				fmt.Fprintf(&b, "\t%s:%s", gt, dsText)
			case "DS":
				fmt.Fprintf(&b, "\t%s", dsText)
			default:
				fmt.Fprintf(&b, "\t%s", gt)
			}
		}
		b.WriteString("\n")
	}
	for k, v := range common {
		chrom, pos := "1", 1000+100*k
		x := k >= len(common)-45
		if x {
			chrom = "X"
		}
		format := "GT:DS"
		if !x {
			switch k % 7 {
			case 3:
				format = "DS"
			case 4:
				format = "GT"
			}
		}
		row := src.Row(v)
		record(k, chrom, pos, src.Variants[v].ID, format, func(i int) (string, float64) {
			g := [4]int{2, -1, 1, 0}[plink.Code(row, i)]
			if g < 0 {
				g = r.IntN(3)
			}
			haploid := x && sexOf[i] == 1
			top := 2.0
			if haploid {
				top, g = 1, min(g, 1)
			}
			gt := [3]string{"0/0", "0/1", "1/1"}[g]
			if haploid {
				gt = strconv.Itoa(g)
			}
			d := float64(g)
			switch u := r.Float64(); {
			case u < 0.35:
				d += 0.05 * (r.Float64() - 0.5)
			case u < 0.7:
				d += 0.9 * (r.Float64() - 0.5)
			}
			d = math.Round(1000*math.Min(top, math.Max(0, d))) / 1000
			missing := map[bool]string{true: ".", false: "./."}[haploid]
			switch u := r.Float64(); {
			case u < 0.03:
				d = math.NaN()
			case u < 0.06:
				gt = missing
			case u < 0.07:
				gt, d = missing, math.NaN()
			}
			return gt, d
		})
		if k == 60 {
			carriers := 0
			record(k, "1", pos+50, "rare_ds", "GT:DS", func(i int) (string, float64) {
				if ds.person[i] >= 0 && carriers < 12 && i%7 == 3 {
					carriers++
					return "1/1", 1.85
				}
				return "0/0", 0
			})
		}
	}
	dir = t.TempDir()
	link, err := os.ReadFile(filepath.Join(gdir, "linkage.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"dose.vcf": b.String(), "linkage.csv": string(link), "sex.txt": sx.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range [][]string{{"bgzip", "-f", "dose.vcf"}, {"tabix", "-f", "-p", "vcf", "dose.vcf.gz"}} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	return dir, db
}

// dosageSession is a fresh kernel session (its own history and audit log)
// over the genotype folder dir.
func dosageSession(t *testing.T, db Engine, dir string) *genoEnv {
	t.Helper()
	hist, err := release.OpenHistory(filepath.Join(t.TempDir(), "history.jsonl"), "test")
	if err != nil {
		t.Fatal(err)
	}
	alog, err := audit.Open(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	sess := &release.Session{Policy: release.Defaults(), History: hist, Audit: alog, ID: "test", Researcher: "tester"}
	t.Cleanup(func() { sess.Close() })
	srv, err := New(context.Background(), db, sess, Options{Datasets: []string{"omop", "genomics"}, Genomics: dir})
	if err != nil {
		t.Fatal(err)
	}
	return &genoEnv{t: t, srv: srv, sess: sess, ctx: context.Background()}
}

// readPlinkTable reads a plink2 output table keyed by its ID column.
func readPlinkTable(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	head := strings.Split(strings.TrimPrefix(sc.Text(), "#"), "\t")
	m := map[string]map[string]string{}
	for sc.Scan() {
		fs := strings.Split(sc.Text(), "\t")
		r := map[string]string{}
		for j, h := range head {
			r[h] = fs[j]
		}
		m[r["ID"]] = r
	}
	return m
}

func plink2Run(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("plink2", append(args, "--threads", "1")...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("plink2 %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestGenomicsDosageFreqMatchesPlink2: on a VCF with DS, genomics.Freq's
// A1 frequencies are plink2 --vcf FILE dosage=DS --freq's (chrX with
// males haploid, by OMOP sex), not the hard calls'; a variant whose few
// carriers have dosages never hard-called shows no frequency.
func TestGenomicsDosageFreqMatchesPlink2(t *testing.T) {
	dir, db := dosageFixture(t)
	e := dosageSession(t, db, dir)
	all, g := e.persons(), e.variants()
	var freq spec.Table
	e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "freq", Variants: g.ID, Cohort: all.ID}, &freq)
	// plink2 over the linked persons, with dosages and with the hard
	// calls alone.
	writeLinkedKeep(t, e, dir)
	plink2Run(t, dir, "--vcf", "dose.vcf.gz", "dosage=DS", "--update-sex", "sex.txt", "--keep", "keep.txt", "--freq", "--out", "p2")
	plink2Run(t, dir, "--vcf", "dose.vcf.gz", "dosage=DS", "--update-sex", "sex.txt", "--keep", "keep.txt", "--make-bed", "--out", "hard")
	plink2Run(t, dir, "--bfile", "hard", "--freq", "--out", "p2hard")
	ref, hard := readPlinkTable(t, filepath.Join(dir, "p2.afreq")), readPlinkTable(t, filepath.Join(dir, "p2hard.afreq"))
	fa1, ffreq, fchrom := col(&freq, "A1"), col(&freq, "A1 freq"), col(&freq, "chrom")
	near := func(ours, want float64) bool {
		d := math.Abs(ours - want)
		return d <= 5.01e-5 || d <= 5.01e-4*math.Abs(want)
	}
	checked := map[string]int{}
	notHard := 0
	for _, r := range freq.Rows {
		id := r[0].Text
		w := ref[id]
		if w == nil {
			t.Fatalf("%s: not in plink2's .afreq", id)
		}
		alt, err := strconv.ParseFloat(w["ALT_FREQS"], 64)
		if err != nil {
			t.Fatal(err)
		}
		want := alt
		if r[fa1].Text != w["ALT"] {
			want = 1 - alt
		}
		if want > 0.5+1e-9 {
			t.Errorf("%s: A1 %s has dosage frequency %g in plink2: not the minor allele", id, r[fa1].Text, want)
		}
		if id == "rare_ds" {
			if r[ffreq].Value != nil {
				t.Errorf("rare_ds: A1 freq %v shown; twelve persons carry its dosage", *r[ffreq].Value)
			}
			continue
		}
		v := r[ffreq].Value
		if v == nil {
			continue
		}
		checked[r[fchrom].Text]++
		if !near(*v, want) {
			t.Errorf("%s (chr%s): A1 freq %v, plink2 dosage=DS %.6g", id, r[fchrom].Text, *v, want)
		}
		h, _ := strconv.ParseFloat(hard[id]["ALT_FREQS"], 64)
		if r[fa1].Text != w["ALT"] {
			h = 1 - h
		}
		if !near(h, want) {
			notHard++
		}
	}
	t.Logf("frequencies compared: %v; %d differ from the hard calls'", checked, notHard)
	if checked["1"] < 60 || checked["X"] < 30 {
		t.Errorf("too few frequencies compared: %v", checked)
	}
	if notHard < 50 {
		t.Errorf("only %d dosage frequencies differ from the hard-call ones: the test would not see DS ignored", notHard)
	}
	if !strings.Contains(strings.Join(freq.Notes, "\n"), "have dosages (VCF DS)") {
		t.Errorf("no note on dosages: %v", freq.Notes)
	}
	// A selection through the tabix index (a region and an id) carries the
	// same dosages: its rows are the whole file's.
	byID := map[string][]spec.Cell{}
	for _, r := range freq.Rows {
		byID[r[0].Text] = r
	}
	sel := e.handle(spec.MGenoVariants, spec.GenoVariantsArgs{Select: []string{"X", freq.Rows[5][0].Text}})
	var part spec.Table
	e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "freq", Variants: sel.ID, Cohort: all.ID}, &part)
	if len(part.Rows) != checked["X"]+1 {
		t.Fatalf("selection: %d rows, want %d", len(part.Rows), checked["X"]+1)
	}
	for _, r := range part.Rows {
		w := byID[r[0].Text]
		if w == nil || r[ffreq].Value == nil || w[ffreq].Value == nil || *r[ffreq].Value != *w[ffreq].Value || r[fa1].Text != w[fa1].Text {
			t.Errorf("%s: selected %v, whole file %v", r[0].Text, r, w)
		}
	}
}

// TestGenomicsDosageGLMMatchesPlink2: a linear and a logistic scan from a
// cell over a VCF with DS give plink2 --vcf FILE dosage=DS --glm's rows
// on the same phenotype and covariates (chrX included, sex added there as
// plink2 does), not the hard calls' rows; every released row passes the
// dosage release rules, and rare_ds (twelve persons with a dosage never
// hard-called) is dropped.
func TestGenomicsDosageGLMMatchesPlink2(t *testing.T) {
	dir, db := dosageFixture(t)
	e := dosageSession(t, db, dir)
	all := e.persons()
	known := e.handle(spec.MDerive, spec.DeriveArgs{Base: e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{Sex: "female"}}).ID,
		Step: spec.Step{Or: e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{Sex: "male"}}).ID}})
	g := e.variants()
	t2d := e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{201826}}}})
	ldl := e.handle(spec.MEvents, spec.EventsArgs{Table: "measurement", Concepts: []int64{3028437}})
	plink2Run(t, dir, "--vcf", "dose.vcf.gz", "dosage=DS", "--make-bed", "--out", "hard")
	// A1 is the minor allele among the dataset's genotyped persons linked
	// to the tier's persons: plink2's founders are those (without --keep,
	// a variant near 0.5 took the other allele).
	writeLinkedKeep(t, e, dir)
	for _, ph := range []spec.GenoPhenotype{{Kind: "quantitative", Handle: ldl.ID}, {Kind: "binary", Cases: t2d.ID}} {
		t.Run(ph.Kind, func(t *testing.T) {
			e.t = t
			var sc spec.GenoScan
			e.must(spec.MGenoGLM, spec.GenoGLMArgs{Variants: g.ID, Pheno: ph, Covariates: []spec.GenoCovariate{{Name: "age"}}, Cohort: known.ID}, &sc)
			if sc.Released < 50 {
				t.Fatalf("%d rows released: %v", sc.Released, sc.Table.Notes)
			}
			e.srv.geno.mu.Lock()
			in := e.srv.geno.lastGLM
			e.srv.geno.mu.Unlock()
			full, _ := e.srv.releasedTable(sc.Table.Ref)
			notes := strings.Join(full.Notes, "\n")
			if !strings.Contains(notes, "have dosages (VCF DS)") || !strings.Contains(notes, "(dosages") {
				t.Errorf("notes do not tell the dosage rules: %v", full.Notes)
			}
			// plink2 on the scan's own phenotype and covariates.
			fs := in.fs
			var phT, cvT strings.Builder
			phT.WriteString("#IID\tPHENO\n")
			cvT.WriteString("#IID")
			for _, c := range in.covars {
				cvT.WriteString("\t" + c.Name)
			}
			cvT.WriteString("\n")
			num := func(x float64) string {
				if math.IsNaN(x) {
					return "NA"
				}
				return strconv.FormatFloat(x, 'g', 17, 64)
			}
			for i, s := range fs.Samples {
				y := num(in.pheno.Values[i])
				if in.pheno.Binary && y != "NA" {
					y = strconv.Itoa(int(in.pheno.Values[i]) + 1)
				}
				fmt.Fprintf(&phT, "%s\t%s\n", s.IID, y)
				cvT.WriteString(s.IID)
				for _, c := range in.covars {
					cvT.WriteString("\t" + num(c.Values[i]))
				}
				cvT.WriteString("\n")
			}
			os.WriteFile(filepath.Join(dir, "pheno.txt"), []byte(phT.String()), 0o644)
			os.WriteFile(filepath.Join(dir, "covar.txt"), []byte(cvT.String()), 0o644)
			plink2Run(t, dir, "--vcf", "dose.vcf.gz", "dosage=DS", "--update-sex", "sex.txt", "--keep", "keep.txt", "--pheno", "pheno.txt", "--covar", "covar.txt",
				"--glm", "hide-covar", "--out", "ref")
			plink2Run(t, dir, "--bfile", "hard", "--update-sex", "sex.txt", "--keep", "keep.txt", "--pheno", "pheno.txt", "--covar", "covar.txt",
				"--glm", "hide-covar", "--out", "refhard")
			file := ".PHENO.glm.linear"
			if in.pheno.Binary {
				file = ".PHENO.glm.logistic.hybrid"
			}
			ref := readPlinkTable(t, filepath.Join(dir, "ref"+file))
			hard := readPlinkTable(t, filepath.Join(dir, "refhard"+file))
			bc, sec, pc, nc := col(full, "beta"), col(full, "SE"), col(full, "p"), col(full, "n")
			estCol, seCol := "BETA", "SE"
			if in.pheno.Binary {
				bc, estCol, seCol = col(full, "log OR"), "OR", "LOG(OR)_SE"
			}
			x, loose, notHard := 0, 0, 0
			for _, r := range full.Rows {
				id := r[0].Text
				w := ref[id]
				if w == nil || w["ERRCODE"] != "." {
					t.Fatalf("%s: released, plink2 row %v", id, w)
				}
				if id == "rare_ds" {
					t.Errorf("rare_ds released")
				}
				got := []float64{*r[bc].Value, *r[sec].Value, *r[pc].Value, *r[nc].Value}
				if in.pheno.Binary {
					got[0] = math.Exp(got[0])
				}
				want := make([]float64, 4)
				for k, c := range []string{estCol, seCol, "P", "OBS_CT"} {
					want[k], _ = strconv.ParseFloat(w[c], 64)
				}
				if r[col(full, "A1")].Text != w["A1"] {
					t.Errorf("%s: A1 %s, plink2 %s", id, r[col(full, "A1")].Text, w["A1"])
				}
				if got[3] != want[3] {
					t.Errorf("%s: n %v, plink2 OBS_CT %v", id, got[3], want[3])
				}
				// plink2 prints 6 digits; its logistic fits are single
				// precision (see assoc's tests): 1e-4, a tenth of rows 2e-2.
				// The kernel's values are as shown: half a unit in the
				// last place shown is not a difference (through exp for an
				// OR released as its log).
				tol := []float64{shownTol(r[bc].Text), shownTol(r[sec].Text), shownTol(r[pc].Text)}
				if in.pheno.Binary {
					tol[0] *= got[0]
				}
				worst := 0.0
				for k := 0; k < 3; k++ {
					worst = math.Max(worst, math.Max(0, (math.Abs(got[k]-want[k])-tol[k])/math.Max(math.Abs(want[k]), 1e-300)-1e-5))
				}
				lim := 2e-5
				if in.pheno.Binary {
					lim = 1e-4
					if worst > lim {
						loose++
						lim = 2e-2
					}
				}
				if worst > lim {
					t.Errorf("%s: kernel %v, plink2 dosage=DS %v (rel %.2g)", id, got, want, worst)
				}
				if w["CHROM"] == "X" {
					x++
				}
				if h := hard[id]; h != nil {
					hse, _ := strconv.ParseFloat(h[seCol], 64)
					if h["OBS_CT"] != w["OBS_CT"] || math.Abs(hse/want[1]-1) > 1e-3 {
						notHard++
					}
				}
			}
			t.Logf("%d rows released (%d chrX), %d beyond 1e-4, %d differ from the hard calls' rows", len(full.Rows), x, loose, notHard)
			if x < 20 {
				t.Errorf("only %d chrX rows compared", x)
			}
			if loose*10 > len(full.Rows) {
				t.Errorf("%d of %d rows beyond 1e-4", loose, len(full.Rows))
			}
			if notHard*2 < len(full.Rows) {
				t.Errorf("only %d of %d rows differ from the hard calls': the test would not see DS ignored", notHard, len(full.Rows))
			}
			// The release rules over the tested persons.
			mask := plink.NewMask(fs.NumSamples(), func(i int) bool { return !math.IsNaN(in.pheno.Values[i]) })
			ids := map[string]int{}
			for v := range fs.Variants {
				ids[fs.Variants[v].ID] = v
			}
			for _, r := range full.Rows {
				v := ids[r[0].Text]
				dose := fs.Dosage(v)
				if dose == nil {
					continue
				}
				var alt, obs float64
				for i, u := range dose {
					if u != plink.DosageMissing && mask.Has(i) {
						alt += float64(u) / plink.DosageUnit
						obs++
					}
				}
				if mac := math.Min(alt, 2*obs-alt); mac < 21 {
					t.Errorf("%s released with a dosage MAC of %.2f", r[0].Text, mac)
				}
				for _, row := range [][]byte{fs.Row(v), roundedRow(dose, nil)} {
					c := plink.CountRowMasked(row, mask)
					for _, k := range []int{c.HomA1, c.Het, c.HomA2} {
						if k > 0 && k < 21 {
							t.Errorf("%s released with a genotype class of %d", r[0].Text, k)
						}
					}
				}
			}
		})
	}
}

// TestGenomicsBadDosage: a VCF whose DS is out of range or not a number
// stops genomics.Variants with a message naming the line and the variant
// but not the value (a person's dosage, which stays in the audit log);
// the kernel keeps serving.
func TestGenomicsBadDosage(t *testing.T) {
	for _, tool := range []string{"bgzip", "tabix"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed")
		}
	}
	db, gdir := genoEngine(t, datasets.Controlled)
	link, err := os.ReadFile(filepath.Join(gdir, "linkage.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"2.5", "x", "nan"} {
		dir := t.TempDir()
		text := "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tGS0000001\tGS0000002\tGS0000003\n" +
			"1\t100\trs_ok\tA\tG\t.\t.\t.\tGT:DS\t0/1:0.9\t0/0:0.1\t1/1:2\n" +
			"1\t200\trs_bad\tA\tG\t.\t.\t.\tGT:DS\t0/1:1\t0/1:" + bad + "\t0/0:0\n"
		os.WriteFile(filepath.Join(dir, "bad.vcf"), []byte(text), 0o644)
		os.WriteFile(filepath.Join(dir, "linkage.csv"), link, 0o644)
		for _, c := range [][]string{{"bgzip", "-f", "bad.vcf"}, {"tabix", "-f", "-p", "vcf", "bad.vcf.gz"}} {
			cmd := exec.Command(c[0], c[1:]...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", c, err, out)
			}
		}
		e := dosageSession(t, db, dir)
		for _, sel := range [][]string{nil, {"1:150-250"}} {
			err := e.call(spec.MGenoVariants, spec.GenoVariantsArgs{Select: sel}, nil)
			if err == nil {
				t.Fatalf("DS %q (%v): accepted", bad, sel)
			}
			msg := err.Error()
			want := "variant rs_bad at 1:200 has an unreadable GT or DS field"
			if sel == nil {
				want = "line 4, " + want
			}
			if !strings.Contains(msg, want) || strings.Contains(msg, bad) {
				t.Errorf("DS %q (%v): %q; want the line and variant, not the value", bad, sel, msg)
			}
		}
		// Still serving: the other variant, through the index.
		e.variants("rs_ok")
		e.persons()
	}
}

// writeLinkedKeep writes dir/keep.txt: the samples linked to the tier's
// persons, the kernel's founders, for plink2 --keep.
func writeLinkedKeep(t *testing.T, e *genoEnv, dir string) {
	t.Helper()
	ds, err := e.srv.dataset(e.ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var keep strings.Builder
	keep.WriteString("#IID\n")
	for i, s := range ds.samples {
		if ds.person[i] >= 0 {
			keep.WriteString(s.IID + "\n")
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "keep.txt"), []byte(keep.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
