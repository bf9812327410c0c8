package assoc

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"enclave/datasets/genomics/plink"
)

// needTool skips the test when a reference binary is absent.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	return p
}

func runTool(t *testing.T, dir, tool string, args ...string) {
	t.Helper()
	cmd := exec.Command(tool, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
}

// cohort is a synthetic genotype matrix written as a PLINK 1 fileset.
type cohort struct {
	dos  [][]int8 // [variant][sample] ALT dosage, -1 missing
	n, m int
}

// writeFileset writes dir/prefix.{bed,bim,fam} from dosages (ALT = A1 =
// .bim column 5, coded 00 for two copies).
func writeFileset(t *testing.T, dir, prefix string, c *cohort) string {
	t.Helper()
	base := filepath.Join(dir, prefix)
	var bim, fam strings.Builder
	for i := 0; i < c.n; i++ {
		fmt.Fprintf(&fam, "f%d s%d 0 0 %d -9\n", i, i, 1+i%2)
	}
	rowBytes := (c.n + 3) / 4
	bed := []byte{0x6c, 0x1b, 0x01}
	for v := 0; v < c.m; v++ {
		fmt.Fprintf(&bim, "1\trs%d\t0\t%d\tA\tG\n", v, 1000+v*10)
		row := make([]byte, rowBytes)
		for i, d := range c.dos[v] {
			code := map[int8]byte{2: 0, -1: 1, 1: 2, 0: 3}[d]
			row[i/4] |= code << (2 * (i % 4))
		}
		bed = append(bed, row...)
	}
	for ext, data := range map[string][]byte{".bed": bed, ".bim": []byte(bim.String()), ".fam": []byte(fam.String())} {
		if err := os.WriteFile(base+ext, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return base
}

// structuredCohort draws n samples from two populations with diverging
// allele frequencies, a spectrum rich in rare variants, missing calls and a
// few edge cases (monomorphic, all-but-one missing).
func structuredCohort(n, m int, seed uint64) (*cohort, []int) {
	r := rand.New(rand.NewPCG(seed, 1))
	pop := make([]int, n)
	for i := range pop {
		if r.Float64() < 0.3 {
			pop[i] = 1
		}
	}
	c := &cohort{n: n, m: m, dos: make([][]int8, m)}
	for v := 0; v < m; v++ {
		var p float64
		switch {
		case v%10 == 0:
			p = 0.002 + 0.01*r.Float64() // rare
		default:
			p = 0.02 + 0.48*r.Float64()
		}
		p2 := math.Min(0.98, math.Max(0.001, p+0.15*(r.Float64()-0.5)))
		miss := 0.02 * r.Float64()
		row := make([]int8, n)
		for i := range row {
			pp := p
			if pop[i] == 1 {
				pp = p2
			}
			if r.Float64() < miss {
				row[i] = -1
				continue
			}
			var d int8
			if r.Float64() < pp {
				d++
			}
			if r.Float64() < pp {
				d++
			}
			row[i] = d
		}
		switch v {
		case 7: // monomorphic
			for i := range row {
				row[i] = 0
			}
		case 17: // one carrier
			for i := range row {
				row[i] = 0
			}
			row[3] = 1
		}
		if v%25 == 12 { // one to three carriers: Firth when all are cases or all controls
			for i := range row {
				row[i] = 0
			}
			for k := 0; k <= v%3; k++ {
				row[r.IntN(n)] = 1
			}
		}
		c.dos[v] = row
	}
	return c, pop
}

// writePhenoCovar writes pheno.txt (QT, BT) and covar.txt (AGE SEX PC1)
// with effects of a few variants and of the covariates, and some missing.
func writePhenoCovar(t *testing.T, dir string, c *cohort, pop []int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	var ph, cv, cs strings.Builder
	ph.WriteString("FID IID QT BT\n")
	cv.WriteString("FID IID AGE SEX PC1\n")
	cs.WriteString("FID IID AGE10 SEX PC1\n")
	for i := 0; i < c.n; i++ {
		age := 20 + r.IntN(60)
		sex := r.IntN(2)
		pc := r.NormFloat64() + float64(pop[i])
		g := func(v int) float64 {
			d := c.dos[v][i]
			if d < 0 {
				return 1
			}
			return float64(d)
		}
		qt := 0.02*float64(age) + 0.3*float64(sex) + 0.4*g(1) + 0.3*g(2) + r.NormFloat64()
		eta := -1 + 0.02*float64(age-50) + 0.5*g(1) + 0.8*g(3)
		bt := 1
		if r.Float64() < 1/(1+math.Exp(-eta)) {
			bt = 2
		}
		qs, bs := strconv.FormatFloat(qt, 'f', 5, 64), strconv.Itoa(bt)
		if i%97 == 5 {
			qs = "NA"
		}
		if i%89 == 7 {
			bs = "-9"
		}
		fmt.Fprintf(&ph, "f%d s%d %s %s\n", i, i, qs, bs)
		ages := strconv.Itoa(age)
		if i%211 == 11 {
			ages = "NA"
		}
		fmt.Fprintf(&cv, "f%d s%d %s %d %.5f\n", i, i, ages, sex, pc)
		if ages != "NA" {
			ages = strconv.FormatFloat(float64(age-50)/10, 'f', 1, 64)
		}
		fmt.Fprintf(&cs, "f%d s%d %s %d %.5f\n", i, i, ages, sex, pc)
	}
	os.WriteFile(filepath.Join(dir, "covar_std.txt"), []byte(cs.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "pheno.txt"), []byte(ph.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "covar.txt"), []byte(cv.String()), 0o644)
}

// glmRow is one parsed line of a plink2 --glm table.
type glmRow struct {
	fields map[string]string
}

func readGLM(t *testing.T, path string) (map[string]glmRow, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	header := strings.Split(sc.Text(), "\t")
	rows := map[string]glmRow{}
	var order []string
	for sc.Scan() {
		fs := strings.Split(sc.Text(), "\t")
		r := glmRow{fields: map[string]string{}}
		for i, h := range header {
			r.fields[h] = fs[i]
		}
		key := r.fields["ID"] + "/" + r.fields["TEST"]
		rows[key] = r
		order = append(order, key)
	}
	return rows, header
}

// runGLM runs our association for every phenotype column of the files and
// writes the tables under prefix.
func runGLM(t *testing.T, bfile, phenoPath, covarPath, prefix string, opt Options) []*Result {
	t.Helper()
	fs, err := plink.Open(bfile)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	phenos, err := ReadTable(phenoPath, fs.Samples, "PHENO", true)
	if err != nil {
		t.Fatal(err)
	}
	var covars []Column
	if covarPath != "" {
		covars, err = ReadTable(covarPath, fs.Samples, "COVAR", false)
		if err != nil {
			t.Fatal(err)
		}
	}
	var out []*Result
	for _, ph := range phenos {
		res, err := Run(fs, ph, covars, opt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := WriteFile(prefix, fs.Variants, res); err != nil {
			t.Fatal(err)
		}
		out = append(out, res)
	}
	return out
}

// cmpSpec are the tolerances of one comparison (relative differences,
// beyond the ±0.5 unit of plink2's sixth printed digit).
type cmpSpec struct {
	add, firth, covar float64 // ADD rows (non-Firth), Firth ADD rows, covariate rows
	// When loose > 0, ADD rows may exceed add up to loose, on at most
	// looseFrac of the rows (plink2's single-precision logistic fits).
	loose, looseFrac float64
}

// cmpStats summarises a comparison of two --glm tables.
type cmpStats struct {
	rows, exact, firth, addRows, addOver int
	maxRel, maxRelFirth, maxRelCovar     float64
}

// compareGLM checks ours against plink2's table: same rows, same OBS_CT,
// ERRCODE, A1 and FIRTH?, and numbers within spec.
func compareGLM(t *testing.T, oursPath, refPath string, spec cmpSpec) cmpStats {
	t.Helper()
	ours, oh := readGLM(t, oursPath)
	ref, rh := readGLM(t, refPath)
	if strings.Join(oh, "\t") != strings.Join(rh, "\t") {
		t.Fatalf("header\n ours %q\n plink2 %q", oh, rh)
	}
	if len(ours) != len(ref) {
		t.Fatalf("%d rows, plink2 %d", len(ours), len(ref))
	}
	var st cmpStats
	numCols := []string{"BETA", "SE", "T_STAT", "OR", "LOG(OR)_SE", "Z_STAT", "P"}
	bad := 0
	fail := func(format string, args ...any) {
		if bad++; bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	for key, rr := range ref {
		or, ok := ours[key]
		if !ok {
			t.Fatalf("row %s missing", key)
		}
		st.rows++
		for _, col := range []string{"#CHROM", "POS", "REF", "ALT", "A1", "OBS_CT", "ERRCODE", "FIRTH?"} {
			if or.fields[col] != rr.fields[col] {
				fail("%s %s: ours %q plink2 %q", key, col, or.fields[col], rr.fields[col])
			}
		}
		isFirth := rr.fields["FIRTH?"] == "Y"
		isAdd := rr.fields["TEST"] == "ADD"
		if isFirth && isAdd {
			st.firth++
		}
		same, rowMax := true, 0.0
		for _, col := range numCols {
			rs, ok := rr.fields[col]
			if !ok {
				continue
			}
			os := or.fields[col]
			if os != rs {
				same = false
			}
			if rs == "NA" || os == "NA" {
				if rs != os {
					fail("%s %s: ours %s plink2 %s", key, col, os, rs)
				}
				continue
			}
			a, _ := strconv.ParseFloat(os, 64)
			b, _ := strconv.ParseFloat(rs, 64)
			den := math.Max(math.Abs(b), 1e-300)
			if col == "T_STAT" || col == "Z_STAT" {
				den = math.Max(den, 1) // test statistics near 0: absolute
			}
			rel := math.Abs(a-b) / den
			rel = math.Max(0, rel-5e-6) // plink2 prints 6 significant digits
			if col == "P" {
				// plink2's t and normal tail approximations carry ~1e-6..1e-5
				// relative error on small p (ours agree with mpmath to 1e-10).
				rel = math.Max(0, rel-1e-5)
			}
			lim := spec.add
			switch {
			case !isAdd:
				lim = spec.covar
				st.maxRelCovar = math.Max(st.maxRelCovar, rel)
			case isFirth:
				lim = spec.firth
				st.maxRelFirth = math.Max(st.maxRelFirth, rel)
			default:
				st.maxRel = math.Max(st.maxRel, rel)
				rowMax = math.Max(rowMax, rel)
				if spec.loose > 0 {
					lim = spec.loose
				}
			}
			if rel > lim {
				fail("%s %s: ours %s plink2 %s (rel %.2g > %.2g)", key, col, os, rs, rel, lim)
			}
		}
		if isAdd && !isFirth && rr.fields["ERRCODE"] == "." {
			st.addRows++
			if rowMax > spec.add {
				st.addOver++
			}
		}
		if same {
			st.exact++
		}
	}
	if st.addRows > 0 && float64(st.addOver) > spec.looseFrac*float64(st.addRows) {
		t.Errorf("%s: %d of %d ADD rows differ by more than %.2g", refPath, st.addOver, st.addRows, spec.add)
	}
	return st
}

func TestGLMMatchesPlink2(t *testing.T) {
	plink2 := needTool(t, "plink2")
	dir := t.TempDir()
	if d := os.Getenv("GLM_KEEP"); d != "" { // keep the files for inspection
		dir = d
	}
	c, pop := structuredCohort(1200, 1500, 1)
	bfile := writeFileset(t, dir, "c", c)
	writePhenoCovar(t, dir, c, pop, 1)
	// Linear with raw covariates (plink2 regresses in double precision).
	runTool(t, dir, plink2, "--bfile", "c", "--pheno", "pheno.txt", "--pheno-name", "QT", "--covar", "covar.txt", "--glm", "--threads", "2", "--out", "ref")
	// plink2 2.00a3.5 fits logistic models in single precision, which costs
	// it up to ~1% on badly scaled covariates such as age in years; with
	// age in decades it stays within 1e-4 of the exact fit.
	runTool(t, dir, plink2, "--bfile", "c", "--pheno", "pheno.txt", "--pheno-name", "BT", "--covar", "covar_std.txt", "--glm", "--threads", "2", "--out", "ref")
	// Logistic without covariates (collapsed cells).
	runTool(t, dir, plink2, "--bfile", "c", "--pheno", "pheno.txt", "--pheno-name", "BT", "--glm", "allow-no-covars", "--threads", "2", "--out", "refnc")
	fs, err := plink.Open(bfile)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	phenos, err := ReadTable(filepath.Join(dir, "pheno.txt"), fs.Samples, "PHENO", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pheno            Column
		covar, ref, file string
		spec             cmpSpec
	}{
		{phenos[0], "covar.txt", "ref", "QT.glm.linear", cmpSpec{add: 1e-6, covar: 1e-6}},
		// plink2 2.00a3.5 fits logistic models in single precision and takes
		// the SE from the information matrix one iteration before the end:
		// on ~5% of variants its SEs come out up to 0.3% small (checked
		// against an independent double-precision fit and plink 1.9, see
		// TestLogisticMatchesPlink19), so 90% of ADD rows must agree to 1e-4
		// and all to 2e-2 (P amplifies SE differences).
		{phenos[1], "covar_std.txt", "ref", "BT.glm.logistic.hybrid", cmpSpec{add: 1e-4, firth: 1e-3, covar: 1e-2, loose: 2e-2, looseFrac: 0.10}},
		{phenos[1], "", "refnc", "BT.glm.logistic.hybrid", cmpSpec{add: 1e-4, firth: 1e-3, covar: 1e-2, loose: 2e-2, looseFrac: 0.10}},
	} {
		var covars []Column
		if tc.covar != "" {
			covars, err = ReadTable(filepath.Join(dir, tc.covar), fs.Samples, "COVAR", false)
			if err != nil {
				t.Fatal(err)
			}
		}
		res, err := Run(fs, tc.pheno, covars, Options{Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := WriteFile(filepath.Join(dir, "ours"), fs.Variants, res); err != nil {
			t.Fatal(err)
		}
		st := compareGLM(t, filepath.Join(dir, "ours."+tc.file), filepath.Join(dir, tc.ref+"."+tc.file), tc.spec)
		t.Logf("%s: %d rows, %d printed identically; ADD: %d rows, %d beyond %.0g, max rel %.2g; Firth: %d rows, max rel %.2g; covariates max rel %.2g; lambda %.4f",
			tc.file, st.rows, st.exact, st.addRows, st.addOver, tc.spec.add, st.maxRel, st.firth, st.maxRelFirth, st.maxRelCovar, res.Lambda())
		if st.firth == 0 && tc.spec.firth > 0 {
			t.Errorf("%s: no Firth fallback exercised", tc.file)
		}
	}
}

// TestLogisticMatchesPlink19 is the independent witness for the logistic
// fits: plink 1.9 --logistic (which, unlike plink2 2.00a3.5, reports the
// information matrix at the solution) must agree with every non-Firth ADD
// row to its 4 printed significant digits (OR, SE, Z and P).
func TestLogisticMatchesPlink19(t *testing.T) {
	plink19 := needTool(t, "plink1.9")
	dir := t.TempDir()
	c, pop := structuredCohort(1000, 600, 5)
	bfile := writeFileset(t, dir, "c", c)
	writePhenoCovar(t, dir, c, pop, 5)
	runTool(t, dir, plink19, "--bfile", "c", "--pheno", "pheno.txt", "--pheno-name", "BT", "--covar", "covar_std.txt",
		"--logistic", "--ci", "0.95", "--allow-no-sex", "--out", "p19")
	fs, err := plink.Open(bfile)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	phenos, err := ReadTable(filepath.Join(dir, "pheno.txt"), fs.Samples, "PHENO", true)
	if err != nil {
		t.Fatal(err)
	}
	covars, err := ReadTable(filepath.Join(dir, "covar_std.txt"), fs.Samples, "COVAR", false)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(fs, phenos[1], covars, Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]int{}
	for v, vr := range fs.Variants {
		byID[vr.ID] = v
	}
	f, err := os.Open(filepath.Join(dir, "p19.assoc.logistic"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	nt := len(res.Tests)
	compared, bad := 0, 0
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if fs[4] != "ADD" || fs[6] == "NA" {
			continue
		}
		v := byID[fs[1]]
		if res.Firth[v] || res.Err[v] != errNone {
			continue
		}
		k := v * nt
		ours := []float64{math.Exp(res.Beta[k]), res.SE[k], res.Stat[k], res.P[k]}
		for i, col := range []int{6, 7, 10, 11} {
			ref, _ := strconv.ParseFloat(fs[col], 64)
			// 4 significant digits: half a unit of the 4th digit.
			if math.Abs(ours[i]-ref) > 5.01e-4*math.Abs(ref)+1e-300 && math.Abs(ours[i]-ref) > 0.5e-3*math.Max(math.Abs(ref), 1e-3) {
				if bad++; bad <= 5 {
					t.Errorf("%s column %d: ours %.6g plink1.9 %s", fs[1], col, ours[i], fs[col])
				}
			}
		}
		compared++
	}
	if compared < 500 {
		t.Fatalf("only %d rows compared", compared)
	}
	t.Logf("%d ADD rows agree with plink 1.9 to its printed precision (%d mismatches)", compared, bad)
}

// TestGLMOnPlinkDummy runs the comparison on plink's own synthetic fileset
// (plink1.9 --dummy, 2% missing calls) with random phenotypes and
// covariates.
func TestGLMOnPlinkDummy(t *testing.T) {
	plink19 := needTool(t, "plink1.9")
	plink2 := needTool(t, "plink2")
	dir := t.TempDir()
	runTool(t, dir, plink19, "--dummy", "1000", "1500", "0.02", "--make-bed", "--out", "d")
	fam, err := os.ReadFile(filepath.Join(dir, "d.fam"))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(11, 11))
	var ph, cv strings.Builder
	ph.WriteString("FID IID QT BT\n")
	cv.WriteString("FID IID C1 C2\n")
	for _, line := range strings.Split(strings.TrimSpace(string(fam)), "\n") {
		f := strings.Fields(line)
		fmt.Fprintf(&ph, "%s %s %.5f %d\n", f[0], f[1], r.NormFloat64(), 1+r.IntN(2))
		fmt.Fprintf(&cv, "%s %s %.5f %d\n", f[0], f[1], r.NormFloat64(), r.IntN(2))
	}
	os.WriteFile(filepath.Join(dir, "pheno.txt"), []byte(ph.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "covar.txt"), []byte(cv.String()), 0o644)
	runTool(t, dir, plink2, "--bfile", "d", "--pheno", "pheno.txt", "--covar", "covar.txt", "--glm", "--threads", "2", "--out", "ref")
	runGLM(t, filepath.Join(dir, "d"), filepath.Join(dir, "pheno.txt"), filepath.Join(dir, "covar.txt"), filepath.Join(dir, "ours"), Options{Threads: 2})
	for _, tc := range []struct {
		file string
		spec cmpSpec
	}{
		{"QT.glm.linear", cmpSpec{add: 1e-6, covar: 1e-6}},
		{"BT.glm.logistic.hybrid", cmpSpec{add: 1e-4, firth: 1e-3, covar: 1e-2, loose: 2e-2, looseFrac: 0.10}},
	} {
		st := compareGLM(t, filepath.Join(dir, "ours."+tc.file), filepath.Join(dir, "ref."+tc.file), tc.spec)
		t.Logf("dummy %s: %d rows, %d printed identically; ADD max rel %.2g, %d of %d beyond %.0g", tc.file, st.rows, st.exact, st.maxRel, st.addOver, st.addRows, tc.spec.add)
	}
}
