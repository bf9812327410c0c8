package pca

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

// writeCohort writes dir/c.{bed,bim,fam}: n samples from three populations
// with diverged allele frequencies and some missing calls, m variants.
func writeCohort(t *testing.T, dir string, n, m int, seed uint64, missRate float64) string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 3))
	pop := make([]int, n)
	for i := range pop {
		pop[i] = r.IntN(3)
	}
	var bim, fam strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&fam, "f%d s%d 0 0 %d -9\n", i, i, 1+i%2)
	}
	rb := (n + 3) / 4
	bed := []byte{0x6c, 0x1b, 0x01}
	for v := 0; v < m; v++ {
		fmt.Fprintf(&bim, "1\trs%d\t0\t%d\tA\tG\n", v, 100+v)
		base := 0.05 + 0.9*r.Float64()
		var ps [3]float64
		for k := range ps {
			ps[k] = math.Min(0.99, math.Max(0.01, base+0.12*r.NormFloat64()))
		}
		row := make([]byte, rb)
		for i := 0; i < n; i++ {
			var code byte
			switch {
			case r.Float64() < missRate:
				code = 1
			default:
				d := 0
				for a := 0; a < 2; a++ {
					if r.Float64() < ps[pop[i]] {
						d++
					}
				}
				code = [3]byte{3, 2, 0}[d]
			}
			row[i/4] |= code << (2 * (i % 4))
		}
		bed = append(bed, row...)
	}
	return writeFileset(t, filepath.Join(dir, "c"), bed, bim.String(), fam.String())
}

// openCohort opens writeCohort's fileset in a test directory.
func openCohort(t *testing.T, n, m int, seed uint64, missRate float64) *plink.Fileset {
	t.Helper()
	fs, err := plink.Open(writeCohort(t, t.TempDir(), n, m, seed, missRate))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

// writeFileset writes base.{bed,bim,fam} and returns base.
func writeFileset(t *testing.T, base string, bed []byte, bim, fam string) string {
	t.Helper()
	for ext, data := range map[string][]byte{".bed": bed, ".bim": []byte(bim), ".fam": []byte(fam)} {
		if err := os.WriteFile(base+ext, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return base
}

func readEigen(t *testing.T, prefix string) ([]float64, [][]float64) {
	t.Helper()
	raw, err := os.ReadFile(prefix + ".eigenval")
	if err != nil {
		t.Fatal(err)
	}
	var vals []float64
	for _, f := range strings.Fields(string(raw)) {
		v, _ := strconv.ParseFloat(f, 64)
		vals = append(vals, v)
	}
	f, err := os.Open(prefix + ".eigenvec")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	k := len(strings.Fields(sc.Text())) - 2
	vecs := make([][]float64, k)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		for c := 0; c < k; c++ {
			v, _ := strconv.ParseFloat(fs[2+c], 64)
			vecs[c] = append(vecs[c], v)
		}
	}
	return vals, vecs
}

func corr(a, b []float64) float64 {
	var sa, sb, saa, sbb, sab float64
	n := float64(len(a))
	for i := range a {
		sa += a[i]
		sb += b[i]
		saa += a[i] * a[i]
		sbb += b[i] * b[i]
		sab += a[i] * b[i]
	}
	return (sab - sa*sb/n) / math.Sqrt((saa-sa*sa/n)*(sbb-sb*sb/n))
}

func TestPCAMatchesPlink2(t *testing.T) {
	plink2, err := exec.LookPath("plink2")
	if err != nil {
		t.Skip("plink2 not installed")
	}
	dir := t.TempDir()
	bfile := writeCohort(t, dir, 800, 2000, 1, missRate())
	for _, args := range [][]string{
		{"--pca", "10", "--out", "ref"},
		{"--pca", "10", "meanimpute", "--out", "refmean"},
	} {
		cmd := exec.Command(plink2, append([]string{"--bfile", "c", "--threads", "2"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("plink2: %v\n%s", err, out)
		}
	}
	fs, err := plink.Open(bfile)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	for _, tc := range []struct {
		method Method
		mean   bool
		ref    string
		top    int // PCs that must match (randomised: the structured ones)
	}{
		{Exact, false, "ref", 10},
		{Exact, true, "refmean", 10},
		{Randomized, true, "refmean", 2},
	} {
		refVals, refVecs := readEigen(t, filepath.Join(dir, tc.ref))
		res, err := Run(fs, Options{PCs: 10, Method: tc.method, MeanImpute: tc.mean, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		prefix := filepath.Join(dir, fmt.Sprintf("ours%d%v", tc.method, tc.mean))
		if err := WriteFiles(prefix, fs.Samples, res); err != nil {
			t.Fatal(err)
		}
		vals, vecs := readEigen(t, prefix)
		for k := 0; k < tc.top; k++ {
			rel := math.Abs(vals[k]-refVals[k]) / refVals[k]
			r := math.Abs(corr(vecs[k], refVecs[k]))
			if rel > 0.01 || (k < 5 && r < 0.99) {
				t.Errorf("method %d PC%d: eigenvalue %g plink2 %g (rel %.2g), |r| %.5f", tc.method, k+1, vals[k], refVals[k], rel, r)
			}
			if k < 5 {
				t.Logf("method %d PC%d: eigenvalue %g plink2 %g (rel %.2g), |r| %.6f", tc.method, k+1, vals[k], refVals[k], rel, r)
			}
		}
	}
}

func missRate() float64 {
	if s := os.Getenv("PCA_MISS"); s != "" {
		v, _ := strconv.ParseFloat(s, 64)
		return v
	}
	return 0.01
}

// TestPCAFreqs: frequencies given (plink2 --read-freq) scale the
// genotypes instead of the samples' own, so a variant no sample carries
// is still used (its column constant); the samples' own frequencies
// given back reproduce the default run.
func TestPCAFreqs(t *testing.T) {
	fs := openCohort(t, 200, 300, 3, 0)
	own := make([]float64, len(fs.Variants))
	mono := 0
	for v := range own {
		c := plink.CountRowMasked(fs.Row(v), plink.FullMask(len(fs.Samples)))
		own[v] = float64(c.A1Count()) / float64(2*c.NonMissing())
		if own[v] == 0 || own[v] == 1 {
			mono++
		}
	}
	def, err := Run(fs, Options{PCs: 3, Method: Exact})
	if err != nil {
		t.Fatal(err)
	}
	given, err := Run(fs, Options{PCs: 3, Method: Exact, Freqs: own})
	if err != nil {
		t.Fatal(err)
	}
	for k := range def.Eigenvalues {
		if math.Abs(def.Eigenvalues[k]-given.Eigenvalues[k]) > 1e-9*def.Eigenvalues[k] {
			t.Errorf("eigenvalue %d: %v by default, %v with the same frequencies given", k+1, def.Eigenvalues[k], given.Eigenvalues[k])
		}
	}
	// Frequencies of a wider population: every variant is used.
	wide := make([]float64, len(own))
	for v := range wide {
		wide[v] = 0.25
	}
	res, err := Run(fs, Options{PCs: 3, Method: Exact, Freqs: wide})
	if err != nil || res.Variants != len(fs.Variants) {
		t.Fatalf("with frequencies given: %v, %d of %d variants used (%d monomorphic here)", err, res.Variants, len(fs.Variants), mono)
	}
	if _, err := Run(fs, Options{PCs: 3, Freqs: wide[1:]}); err == nil {
		t.Error("frequencies of fewer variants than the fileset's were taken")
	}
}

// TestPCADiagonal: the GRM diagonal each method reports is each sample's
// sum of squared standardised genotypes over the variants (by the variants
// called, for Exact; by all of them, mean-imputed, for Randomized), and
// its sum bounds the eigenvalues: they are shares of it.
func TestPCADiagonal(t *testing.T) {
	fs := openCohort(t, 120, 400, 5, 0.02)
	n, m := len(fs.Samples), len(fs.Variants)
	// By hand: frequencies among all samples, missing calls add 0.
	sum := make([]float64, n)
	called := make([]int, n)
	used := 0
	for v := 0; v < m; v++ {
		row := fs.Row(v)
		c := plink.CountRowMasked(row, plink.FullMask(n))
		p := float64(c.A1Count()) / float64(2*c.NonMissing())
		if p <= 0 || p >= 1 {
			continue
		}
		used++
		sd := math.Sqrt(2 * p * (1 - p))
		for i := 0; i < n; i++ {
			code := plink.Code(row, i)
			if code == 1 {
				continue
			}
			g := [4]float64{2, 0, 1, 0}[code]
			sum[i] += (g - 2*p) * (g - 2*p) / (sd * sd)
			called[i]++
		}
	}
	for _, tc := range []struct {
		method Method
		den    func(i int) float64
	}{
		{Exact, func(i int) float64 { return float64(called[i]) }},
		{Randomized, func(int) float64 { return float64(used) }},
	} {
		res, err := Run(fs, Options{PCs: 4, Method: tc.method, Threads: 2, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Diagonal) != n {
			t.Fatalf("method %d: %d diagonal entries for %d samples", tc.method, len(res.Diagonal), n)
		}
		for i := range res.Diagonal {
			if want := sum[i] / tc.den(i); math.Abs(res.Diagonal[i]-want) > 1e-9*want {
				t.Fatalf("method %d, sample %d: diagonal %v, by hand %v", tc.method, i, res.Diagonal[i], want)
			}
		}
		top := 0.0
		for _, ev := range res.Eigenvalues {
			top += ev
		}
		if tr := res.Trace(); !(top < tr) || res.Eigenvalues[0] < tr/float64(n) {
			t.Errorf("method %d: top eigenvalues sum to %v of a trace of %v (largest %v)", tc.method, top, tr, res.Eigenvalues[0])
		}
	}
}

// TestPCADeviations: each sample's squared distance from the samples' mean
// standardised row, by hand; and a sample among copies of one row holds
// all of the spread.
func TestPCADeviations(t *testing.T) {
	fs := openCohort(t, 90, 300, 7, 0.02)
	n, m := len(fs.Samples), len(fs.Variants)
	freqs := make([]float64, m)
	for v := range freqs {
		freqs[v] = 0.05 + 0.9*float64(v)/float64(m)
	}
	got, err := Deviations(fs, freqs, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, n)
	x := make([]float64, n)
	for v := 0; v < m; v++ {
		p := freqs[v]
		sd := math.Sqrt(2 * p * (1 - p))
		mean := 0.0
		for i := 0; i < n; i++ {
			x[i] = 0
			if code := plink.Code(fs.Row(v), i); code != 1 {
				x[i] = ([4]float64{2, 0, 1, 0}[code] - 2*p) / sd
			}
			mean += x[i] / float64(n)
		}
		for i := range want {
			want[i] += (x[i] - mean) * (x[i] - mean) / float64(m)
		}
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9*want[i] {
			t.Fatalf("sample %d: %v, by hand %v", i, got[i], want[i])
		}
	}
	if _, err := Deviations(fs, freqs[1:], 2); err == nil {
		t.Error("frequencies of fewer variants than the fileset's were taken")
	}

	// 25 samples homozygous for the common allele everywhere and one
	// carrier of a rare allele: the carrier is all of the spread.
	var fam, bim strings.Builder
	const pad = 25
	for i := 0; i <= pad; i++ {
		fmt.Fprintf(&fam, "f%d s%d 0 0 1 -9\n", i, i)
	}
	bed := []byte{0x6c, 0x1b, 0x01}
	rb := (pad + 1 + 3) / 4
	for v := 0; v < 3; v++ {
		fmt.Fprintf(&bim, "1\tr%d\t0\t%d\tA\tG\n", v, 10+v)
		row := make([]byte, rb)
		for i := 0; i <= pad; i++ {
			code := byte(3) // no ALT
			if i == pad && v == 1 {
				code = 2 // het
			}
			row[i/4] |= code << (2 * (i % 4))
		}
		bed = append(bed, row...)
	}
	pf, err := plink.Open(writeFileset(t, filepath.Join(t.TempDir(), "pad"), bed, bim.String(), fam.String()))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	dev, err := Deviations(pf, []float64{0.02, 0.02, 0.02}, 1)
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, d := range dev {
		total += d
	}
	if share := dev[pad] / total; math.Abs(share-float64(pad)/float64(pad+1)) > 1e-12 {
		t.Errorf("the one carrier among %d copies holds %v of the spread, want %v", pad, share, float64(pad)/float64(pad+1))
	}
}
