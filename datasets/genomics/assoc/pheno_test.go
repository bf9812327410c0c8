package assoc

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"enclave/datasets/genomics/plink"
)

var testSamples = []plink.Sample{{FID: "f1", IID: "a"}, {FID: "f1", IID: "b"}, {FID: "f2", IID: "c"}}

func TestReadTable(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		binary     bool
		want       string // error substring, or "" for success
		check      func(t *testing.T, cols []Column)
	}{
		{name: "case/control 1/2 with 0 and -9 missing", binary: true,
			text: "FID IID BT QT\nf1 a 2 1.5\nf1 b 1 -9\nf2 c 0 NA\n",
			check: func(t *testing.T, cols []Column) {
				if !cols[0].Binary || cols[0].Values[0] != 1 || cols[0].Values[1] != 0 || !math.IsNaN(cols[0].Values[2]) {
					t.Errorf("BT = %+v", cols[0])
				}
				if cols[1].Binary || cols[1].Values[0] != 1.5 || !math.IsNaN(cols[1].Values[1]) || !math.IsNaN(cols[1].Values[2]) {
					t.Errorf("QT = %+v", cols[1])
				}
			}},
		{name: "covariates are never case/control", binary: false,
			text: "#FID IID SEX\nf1 a 1\nf1 b 2\n",
			check: func(t *testing.T, cols []Column) {
				if cols[0].Binary || cols[0].Values[1] != 2 || !math.IsNaN(cols[0].Values[2]) {
					t.Errorf("SEX = %+v", cols[0])
				}
			}},
		{name: "#IID header matches IID only",
			text: "#IID X\nc 3\n",
			check: func(t *testing.T, cols []Column) {
				if cols[0].Values[2] != 3 {
					t.Errorf("X = %+v", cols[0])
				}
			}},
		{name: "no header names columns PHENO1..", binary: true,
			text: "f1 a 3.5 1\n",
			check: func(t *testing.T, cols []Column) {
				if cols[0].Name != "PHENO1" || cols[1].Name != "PHENO2" {
					t.Errorf("names %s %s", cols[0].Name, cols[1].Name)
				}
			}},
		{name: "unknown sample", text: "FID IID X\nf1 a 1\nf9 z 2\n", want: "t.txt:3: sample \"f9 z\" is not in the .fam"},
		{name: "repeated sample", text: "FID IID X\nf1 a 1\nf1 a 2\n", want: "t.txt:3: sample \"a\" listed twice"},
		{name: "short line", text: "FID IID X Y\nf1 a 1\n", want: "t.txt:2: 3 fields, want 4"},
		{name: "not a number", text: "FID IID X\nf1 a one\n", want: "value \"one\" is not a number"},
		{name: "bad header", text: "#CHROM POS\n", want: "t.txt:1: unrecognised header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.txt")
			os.WriteFile(path, []byte(tc.text), 0o644)
			cols, err := ReadTable(path, testSamples, "PHENO", tc.binary)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrBadTable) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cols)
		})
	}
}

func TestRunRejectsUnusableModels(t *testing.T) {
	dir := t.TempDir()
	c, _ := structuredCohort(50, 20, 3)
	fs, err := plink.Open(writeFileset(t, dir, "c", c))
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	n := c.n
	col := func(name string, f func(i int) float64) Column {
		v := make([]float64, n)
		for i := range v {
			v[i] = f(i)
		}
		return Column{Name: name, Values: v}
	}
	qt := col("QT", func(i int) float64 { return float64(i % 7) })
	allCases := col("BT", func(int) float64 { return 1 })
	allCases.Binary = true
	age := col("AGE", func(i int) float64 { return float64(20 + i%50) })
	age2 := col("AGE2", func(i int) float64 { return 2*float64(20+i%50) + 1 })
	year := col("YEAR", func(i int) float64 { return 1900000 + float64(i%3) })
	for _, tc := range []struct {
		name   string
		pheno  Column
		covars []Column
		want   string
	}{
		{"all cases", allCases, nil, "all 50 samples are cases"},
		{"collinear covariates", qt, []Column{age, age2}, "CORR_TOO_HIGH"},
		{"badly scaled covariate", qt, []Column{year}, "UNSTABLE_SCALE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(fs, tc.pheno, tc.covars, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrModel) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
