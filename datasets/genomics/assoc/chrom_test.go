package assoc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"enclave/datasets/genomics/plink"
)

// sexCohort is a fileset over chromosomes 1, X, Y and MT with males,
// females and samples of unknown sex, drawn with the calls each sex can
// have (haploid male X as 0/2 with a few heterozygous haploid calls,
// female calls on Y that plink2 must ignore), and a phenotype file with a
// quantitative trait driven by an X variant and sex, a binary trait, and
// a covariate file with age and sex (1 male, 2 female, NA unknown).
func sexCohort(t *testing.T, dir string, n int) {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 7))
	sex := make([]int, n)
	var fam strings.Builder
	for i := range sex {
		sex[i] = 1 + i%2
		if i%37 == 0 {
			sex[i] = 0
		}
		fmt.Fprintf(&fam, "f%d s%d 0 0 %d -9\n", i, i, sex[i])
	}
	chroms := []string{"1", "1", "X", "X", "X", "X", "Y", "Y", "MT", "MT"}
	var bim strings.Builder
	bed := []byte{0x6c, 0x1b, 0x01}
	dos := make([][]int8, len(chroms))
	for v, c := range chroms {
		fmt.Fprintf(&bim, "%s\tv%d\t0\t%d\tA\tG\n", c, v, 1000+v*10)
		maf := 0.12 + 0.07*float64(v%5)
		if v == 5 {
			maf = 0.7 // ALT is the major allele: A1 is REF
		}
		row := make([]byte, (n+3)/4)
		dos[v] = make([]int8, n)
		for i := range n {
			hap := c == "MT" || c == "Y" || (c == "X" && sex[i] == 1)
			var d int8
			if hap {
				if r.Float64() < maf {
					d = 2
				}
				if c == "X" && r.Float64() < 0.01 {
					d = 1 // heterozygous haploid
				}
			} else {
				for range 2 {
					if r.Float64() < maf {
						d++
					}
				}
			}
			if r.Float64() < 0.02 {
				d = -1
			}
			dos[v][i] = d
			row[i/4] |= map[int8]byte{2: 0, -1: 1, 1: 2, 0: 3}[d] << (2 * (i % 4))
		}
		bed = append(bed, row...)
	}
	var ph, cv strings.Builder
	ph.WriteString("FID IID QT BT\n")
	cv.WriteString("FID IID AGE SEX\n")
	for i := range n {
		x := math.Max(0, float64(dos[2][i]))
		male := 0.0
		if sex[i] == 1 {
			male = 1
		}
		age := 5 + r.NormFloat64()
		q := 0.4*x + 0.1*age + 0.5*male + r.NormFloat64()
		b := 1
		if r.Float64() < 1/(1+math.Exp(-(-0.4+0.5*x+0.3*male))) {
			b = 2
		}
		sx := "NA"
		if sex[i] != 0 {
			sx = fmt.Sprint(sex[i])
		}
		fmt.Fprintf(&ph, "f%d s%d %.5f %d\n", i, i, q, b)
		fmt.Fprintf(&cv, "f%d s%d %.4f %s\n", i, i, age, sx)
	}
	for name, data := range map[string]string{"s.bed": string(bed), "s.bim": bim.String(), "s.fam": fam.String(),
		"pheno.txt": ph.String(), "covar.txt": cv.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGLMSexChromosomesMatchPlink2: chrX (sex added as a covariate,
// unknown sex left out), chrY (males only, haploid dosage) and MT
// (haploid dosage) give plink2's rows, with and without sex among the
// covariates (plink2 --glm 'sex').
func TestGLMSexChromosomesMatchPlink2(t *testing.T) {
	plink2 := needTool(t, "plink2")
	dir := t.TempDir()
	sexCohort(t, dir, 1500)
	runTool(t, dir, plink2, "--bfile", "s", "--pheno", "pheno.txt", "--covar", "covar.txt", "--covar-name", "AGE",
		"--glm", "--threads", "2", "--out", "ref")
	runTool(t, dir, plink2, "--bfile", "s", "--pheno", "pheno.txt", "--covar", "covar.txt", "--covar-name", "AGE",
		"--glm", "sex", "--threads", "2", "--out", "refsex")
	for _, tc := range []struct {
		name, ref string
		covars    []string
		sexCovar  string
	}{
		{"auto sex on chrX", "ref", []string{"AGE"}, ""},
		{"sex among the covariates", "refsex", []string{"AGE", "SEX"}, "SEX"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bfile := filepath.Join(dir, "s")
			fs := openFileset(t, bfile)
			phenos, err := ReadTable(filepath.Join(dir, "pheno.txt"), fs.Samples, "PHENO", true)
			if err != nil {
				t.Fatal(err)
			}
			all, err := ReadTable(filepath.Join(dir, "covar.txt"), fs.Samples, "COVAR", false)
			if err != nil {
				t.Fatal(err)
			}
			covars, err := pickColumns(all, tc.covars)
			if err != nil {
				t.Fatal(err)
			}
			opt := Options{Threads: 2, SexCovariate: tc.sexCovar}.WithFileset(fs)
			for _, ph := range phenos {
				res, err := Run(fs, ph, covars, opt)
				if err != nil {
					t.Fatal(err)
				}
				prefix := filepath.Join(dir, "ours"+tc.ref)
				if _, err := WriteFile(prefix, fs.Variants, res); err != nil {
					t.Fatal(err)
				}
				file := map[bool]string{false: ".QT.glm.linear", true: ".BT.glm.logistic.hybrid"}[res.Logistic]
				spec := cmpSpec{add: 1e-6, covar: 1e-6}
				if res.Logistic {
					spec = cmpSpec{add: 1e-4, firth: 1e-3, covar: 1e-2, loose: 2e-2, looseFrac: 0.10}
				}
				st := compareGLM(t, prefix+file, filepath.Join(dir, tc.ref+file), spec)
				t.Logf("%s%s: %d rows, %d printed identically, ADD max rel %.2g", tc.ref, file, st.rows, st.exact, st.maxRel)
				// What plink2's rows say about the model, checked here too
				// so that a change in both cannot pass unnoticed.
				ours, _ := readGLM(t, prefix+file)
				if _, ok := ours["v6/SEX"]; ok {
					t.Errorf("chrY row has a SEX test")
				}
				if _, ok := ours["v2/SEX"]; !ok {
					t.Errorf("chrX row has no SEX test")
				}
				if _, ok := ours["v0/SEX"]; ok == (tc.sexCovar == "") {
					t.Errorf("chr1 SEX test present = %v with sex covariate %q", ok, tc.sexCovar)
				}
				males, known := 0, 0
				for _, s := range fs.Samples {
					if s.Sex == 1 {
						males++
					}
					if s.Sex != 0 {
						known++
					}
				}
				if obs := atoi(ours["v6/ADD"].fields["OBS_CT"]); obs > males || obs < males*9/10 {
					t.Errorf("chrY OBS_CT %d, %d males", obs, males)
				}
				if obs := atoi(ours["v2/ADD"].fields["OBS_CT"]); obs > known || obs < known*9/10 {
					t.Errorf("chrX OBS_CT %d, %d samples of known sex", obs, known)
				}
				if ours["v5/ADD"].fields["A1"] != "G" {
					t.Errorf("chrX v5: A1 %s, want the minor allele G", ours["v5/ADD"].fields["A1"])
				}
			}
		})
	}
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

func pickColumns(cols []Column, names []string) ([]Column, error) {
	var out []Column
	for _, n := range names {
		found := false
		for _, c := range cols {
			if c.Name == n {
				out = append(out, c)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("no column %s", n)
		}
	}
	return out, nil
}

func openFileset(t *testing.T, prefix string) *plink.Fileset {
	t.Helper()
	fs, err := plink.Open(prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}
