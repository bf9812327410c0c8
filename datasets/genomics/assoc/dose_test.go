package assoc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"enclave/datasets/genomics/plink"
	"enclave/datasets/genomics/vcf"
)

// doseCohort writes dir/d.vcf.gz (bgzipped, indexed): n samples over
// chromosomes 1, X, Y (males only) and MT, imputation-like FORMAT GT:DS records (DS near the
// call for most samples, far from it for some, "." for a few, GT missing
// with a DS for a few; haploid DS on 0..1 for males on chrX and chrY and
// everyone on MT), some
// DS-only and GT-only autosomal records, a variant whose cases carry no
// ALT dosage (Firth) and a rare one; pheno.txt (QT, BT driven by the
// dosages of v1, v2 and an X variant), covar.txt (AGE10, PC1) and sex.txt.
// It returns the samples' sexes.
func doseCohort(t *testing.T, dir string, n, m int) []int {
	t.Helper()
	r := rand.New(rand.NewPCG(11, 13))
	sex := make([]int, n)
	for i := range sex {
		sex[i] = 1 + i%2
		if i%41 == 0 {
			sex[i] = 0
		}
	}
	chromOf := func(v int) string {
		switch {
		case v < m*4/5:
			return "1"
		case v < m*9/10:
			return "X"
		case v < m*19/20:
			return "Y"
		}
		return "MT"
	}
	haploid := func(v, i int) bool {
		c := chromOf(v)
		return c == "MT" || c == "Y" || (c == "X" && sex[i] == 1)
	}
	ds := make([][]float64, m) // VCF DS (haploid scale for haploid calls), NaN missing
	gt := make([][]string, m)
	for v := 0; v < m; v++ {
		f := 0.05 + 0.45*r.Float64()
		if v%17 == 9 {
			f = 0.01
		}
		ds[v], gt[v] = make([]float64, n), make([]string, n)
		for i := 0; i < n; i++ {
			a1, a2 := r.Float64() < f, r.Float64() < f
			g, d := "0", 0.0
			if a1 {
				g, d = "1", 1
			}
			if !haploid(v, i) {
				if a2 {
					g, d = g+"/1", d+1
				} else {
					g += "/0"
				}
			}
			top := map[bool]float64{true: 1, false: 2}[haploid(v, i)]
			switch x := r.Float64(); {
			case x < 0.35:
				d += 0.05 * (r.Float64() - 0.5)
			case x < 0.7:
				d += 0.9 * (r.Float64() - 0.5)
			}
			ds[v][i] = math.Round(1000*math.Min(top, math.Max(0, d))) / 1000
			switch x := r.Float64(); {
			case x < 0.04:
				ds[v][i] = math.NaN() // GT only
			case x < 0.08:
				g = map[bool]string{true: ".", false: "./."}[haploid(v, i)] // DS only
			case x < 0.09:
				g, ds[v][i] = map[bool]string{true: ".", false: "./."}[haploid(v, i)], math.NaN()
			}
			gt[v][i] = g
			if chromOf(v) == "Y" && sex[i] != 1 {
				gt[v][i], ds[v][i] = ".", math.NaN() // no chrY call but in males
			}
		}
	}
	// Phenotypes from the dosages (0..2 scale).
	dose := func(v, i int) float64 {
		d := ds[v][i]
		if math.IsNaN(d) {
			return 0.5
		}
		if haploid(v, i) {
			return 2 * d
		}
		return d
	}
	xv := m*4/5 + 1
	var ph, cv, sx strings.Builder
	ph.WriteString("#IID QT BT\n")
	cv.WriteString("#IID AGE10 PC1\n")
	sx.WriteString("#IID SEX\n")
	bt := make([]int, n)
	for i := 0; i < n; i++ {
		age := float64(r.IntN(60)-30) / 10
		pc := r.NormFloat64()
		qt := 0.2*age + 0.5*dose(1, i) + 0.3*dose(2, i) + 0.4*dose(xv, i) + r.NormFloat64()
		eta := -0.5 + 0.3*age + 0.6*dose(1, i) + 0.5*dose(xv, i)
		bt[i] = 1
		if r.Float64() < 1/(1+math.Exp(-eta)) {
			bt[i] = 2
		}
		fmt.Fprintf(&ph, "s%d %.5f %d\n", i, qt, bt[i])
		fmt.Fprintf(&cv, "s%d %.1f %.5f\n", i, age, pc)
		fmt.Fprintf(&sx, "s%d %d\n", i, sex[i])
	}
	// v5: rare, and no ALT dosage among the cases (Firth fallback).
	carriers := 0
	for i := 0; i < n; i++ {
		ds[5][i], gt[5][i] = 0, "0/0"
		if bt[i] == 1 && carriers < 12 {
			ds[5][i], gt[5][i] = 0.3+0.07*float64(carriers), "0/1"
			carriers++
		}
	}
	var b strings.Builder
	b.WriteString("##fileformat=VCFv4.2\n##contig=<ID=1>\n##contig=<ID=X>\n##contig=<ID=Y>\n##contig=<ID=MT>\n")
	b.WriteString("##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n##FORMAT=<ID=DS,Number=A,Type=Float,Description=\"Dosage\">\n")
	b.WriteString("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\ts%d", i)
	}
	b.WriteString("\n")
	for v := 0; v < m; v++ {
		format := "GT:DS"
		if chromOf(v) == "1" && v > 5 {
			switch v % 7 {
			case 3:
				format = "DS"
			case 4:
				format = "GT"
			}
		}
		fmt.Fprintf(&b, "%s\t%d\tv%d\tA\tG\t.\t.\t.\t%s", chromOf(v), 1000+10*v, v, format)
		for i := 0; i < n; i++ {
			d := "."
			if !math.IsNaN(ds[v][i]) {
				d = strconv.FormatFloat(ds[v][i], 'f', -1, 64)
			}
			switch format {
			case "GT:DS":
				fmt.Fprintf(&b, "\t%s:%s", gt[v][i], d)
			case "DS":
				fmt.Fprintf(&b, "\t%s", d)
			default:
				fmt.Fprintf(&b, "\t%s", gt[v][i])
			}
		}
		b.WriteString("\n")
	}
	for name, text := range map[string]string{"d.vcf": b.String(), "pheno.txt": ph.String(), "covar.txt": cv.String(), "sex.txt": sx.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runTool(t, dir, "bgzip", "-f", "d.vcf")
	runTool(t, dir, "tabix", "-f", "-p", "vcf", "d.vcf.gz")
	return sex
}

// readDoseVCF reads a VCF into an in-memory fileset with its dosages
// (withDosages) or with the hard calls plink2 derives from them only.
func readDoseVCF(t *testing.T, path string, sex []int, withDosages bool) *plink.Fileset {
	t.Helper()
	r, err := vcf.Open(path, vcf.Options{Dosage: true})
	if err != nil {
		t.Fatal(err)
	}
	var vs []plink.Variant
	var rows []byte
	var dose [][]uint16
	err = r.ScanDosage(func(v *plink.Variant, row []byte, d []uint16) error {
		vs = append(vs, *v)
		rows = append(rows, row...)
		if d != nil {
			d = append([]uint16(nil), d...)
		}
		dose = append(dose, d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	samples := append([]plink.Sample(nil), r.Samples...)
	for i := range samples {
		samples[i].Sex = sex[i]
	}
	fs, err := plink.NewInMemory(vs, samples, rows)
	if err != nil {
		t.Fatal(err)
	}
	if withDosages {
		if err := fs.SetDosages(dose); err != nil {
			t.Fatal(err)
		}
	}
	return fs
}

// TestDosageGLMMatchesPlink2: on a VCF with DS, linear and logistic
// (Firth fallback included) scans over chromosomes 1, X, Y and MT give the rows
// of plink2 --vcf FILE dosage=DS --glm; with the dosages left out (the
// hard calls alone) they do not.
func TestDosageGLMMatchesPlink2(t *testing.T) {
	plink2 := needTool(t, "plink2")
	needTool(t, "bgzip")
	needTool(t, "tabix")
	dir := t.TempDir()
	if d := os.Getenv("GLM_KEEP"); d != "" {
		dir = d
	}
	sex := doseCohort(t, dir, 1000, 150)
	runTool(t, dir, plink2, "--vcf", "d.vcf.gz", "dosage=DS", "--update-sex", "sex.txt", "--pheno", "pheno.txt",
		"--covar", "covar.txt", "--glm", "--threads", "2", "--out", "ref")
	fs := readDoseVCF(t, filepath.Join(dir, "d.vcf.gz"), sex, true)
	hard := readDoseVCF(t, filepath.Join(dir, "d.vcf.gz"), sex, false)
	phenos, err := ReadTable(filepath.Join(dir, "pheno.txt"), fs.Samples, "PHENO", true)
	if err != nil {
		t.Fatal(err)
	}
	covars, err := ReadTable(filepath.Join(dir, "covar.txt"), fs.Samples, "COVAR", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range phenos {
		res, err := Run(fs, ph, covars, Options{Threads: 2}.WithFileset(fs))
		if err != nil {
			t.Fatal(err)
		}
		prefix := filepath.Join(dir, "ours")
		if _, err := WriteFile(prefix, fs.Variants, res); err != nil {
			t.Fatal(err)
		}
		file := map[bool]string{false: ".QT.glm.linear", true: ".BT.glm.logistic.hybrid"}[res.Logistic]
		spec := cmpSpec{add: 1e-6, covar: 1e-6}
		if res.Logistic {
			spec = cmpSpec{add: 1e-4, firth: 1e-3, covar: 1e-2, loose: 2e-2, looseFrac: 0.10}
		}
		st := compareGLM(t, prefix+file, filepath.Join(dir, "ref"+file), spec)
		t.Logf("%s: %d rows (%d Firth), %d printed identically, ADD max rel %.2g", file, st.rows, st.firth, st.exact, st.maxRel)
		if res.Logistic && !res.Firth[5] {
			t.Errorf("v5 (no ALT dosage among the cases) not fitted with Firth")
		}
		ref, _ := readGLM(t, filepath.Join(dir, "ref"+file))
		xSex := ref[fmt.Sprintf("v%d/SEX", 150*4/5+1)]
		if xSex.fields == nil {
			t.Errorf("plink2's chrX rows have no SEX test")
		}
		// The hard calls alone (DS ignored) give other rows.
		hres, err := Run(hard, ph, covars, Options{Threads: 2}.WithFileset(hard))
		if err != nil {
			t.Fatal(err)
		}
		hprefix := filepath.Join(dir, "hard")
		if _, err := WriteFile(hprefix, hard.Variants, hres); err != nil {
			t.Fatal(err)
		}
		hrows, _ := readGLM(t, hprefix+file)
		differ := 0
		for key, rr := range ref {
			hr := hrows[key]
			if !strings.HasSuffix(key, "/ADD") || hr.fields == nil {
				continue
			}
			a, _ := strconv.ParseFloat(hr.fields["SE"], 64)
			if hr.fields["OBS_CT"] != rr.fields["OBS_CT"] || math.Abs(a/atof(rr.fields[seCol(res)])-1) > 1e-3 {
				differ++
			}
		}
		if differ < 50 {
			t.Errorf("%s: only %d ADD rows differ between hard calls and dosages", file, differ)
		}
	}
}

func seCol(r *Result) string {
	if r.Logistic {
		return "LOG(OR)_SE"
	}
	return "SE"
}

func atof(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}
