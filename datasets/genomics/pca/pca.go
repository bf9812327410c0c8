package pca

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"enclave/datasets/genomics/plink"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// ErrPCA marks a fileset that cannot be decomposed as asked.
var ErrPCA = errors.New("pca")

// Genotypes is the packed genotype source; *plink.Fileset implements it.
type Genotypes interface {
	NumSamples() int
	NumVariants() int
	Row(v int) []byte
}

// Method chooses how the top eigenpairs are found.
type Method int

const (
	// Auto uses Exact up to ExactMaxSamples samples, Randomized beyond.
	Auto Method = iota
	// Exact builds the full GRM and diagonalises it (plink2 --pca).
	Exact
	// Randomized runs block subspace iteration on the GRM without
	// forming it (plink2 --pca approx plays the same role).
	Randomized
)

// ExactMaxSamples is the largest sample count Auto decomposes exactly.
const ExactMaxSamples = 4000

// Options control Run.
type Options struct {
	PCs      int         // number of components, default 10
	Threads  int         // goroutines, <= 0 means 2
	Method   Method      // Auto, Exact or Randomized
	Founders *plink.Mask // samples for allele frequencies; nil means all
	Iter     int         // subspace iterations (Randomized), default 12
	Seed     uint64      // random start (Randomized)
	// MeanImpute divides the GRM by the variant count instead of the
	// per-pair count of shared calls (plink2 --pca meanimpute); Randomized
	// always does.
	MeanImpute bool
}

// Result holds the top eigenpairs of the GRM.
type Result struct {
	Eigenvalues []float64   // descending
	Vectors     [][]float64 // Vectors[k][i]: unit-norm eigenvector k, sample i
	Variants    int         // variants used (non-monomorphic)
	Method      Method
}

// standard holds, per variant, the map from 2-bit code to standardised
// value: (g - 2p) / sqrt(2p(1-p)) with g the ALT dosage, 0 when missing.
type standard struct {
	vals [][4]float64 // per used variant, by .bed code
	used []int        // variant indices used
}

func standardise(g Genotypes, founders *plink.Mask, threads int) *standard {
	nv := g.NumVariants()
	vals := make([][4]float64, nv)
	ok := make([]bool, nv)
	plink.Parallel(nv, threads, func(lo, hi int) error {
		for v := lo; v < hi; v++ {
			c := plink.CountRowMasked(g.Row(v), founders)
			nm := c.NonMissing()
			if nm == 0 {
				continue
			}
			p := float64(2*c.HomA1+c.Het) / float64(2*nm)
			if p <= 0 || p >= 1 {
				continue
			}
			s := 1 / math.Sqrt(2*p*(1-p))
			vals[v] = [4]float64{(2 - 2*p) * s, 0, (1 - 2*p) * s, (0 - 2*p) * s}
			ok[v] = true
		}
		return nil
	})
	st := &standard{}
	for v := range ok {
		if ok[v] {
			st.vals = append(st.vals, vals[v])
			st.used = append(st.used, v)
		}
	}
	return st
}

// Run computes the top principal components of the standardised
// genotypes: eigenvalues and unit eigenvectors of the GRM, where X holds
// (g - 2p)/sqrt(2p(1-p)) per variant (p the ALT frequency among founders,
// missing calls 0) over the non-monomorphic variants, as plink2 --pca does.
// Exact divides each GRM entry X_i·X_j by the number of variants called in
// both samples (plink2's default); Randomized divides by the variant count
// M (plink2's "meanimpute"), identical when no call is missing.
func Run(g Genotypes, opt Options) (*Result, error) {
	if opt.PCs <= 0 {
		opt.PCs = 10
	}
	if opt.Threads <= 0 {
		opt.Threads = 2
	}
	if opt.Iter <= 0 {
		opt.Iter = 12
	}
	n := g.NumSamples()
	if opt.Founders == nil {
		opt.Founders = plink.FullMask(n)
	}
	if opt.PCs >= n {
		return nil, fmt.Errorf("%d PCs requested for %d samples: %w", opt.PCs, n, ErrPCA)
	}
	st := standardise(g, opt.Founders, opt.Threads)
	if len(st.used) <= opt.PCs {
		return nil, fmt.Errorf("%d non-monomorphic variants, need more than %d: %w", len(st.used), opt.PCs, ErrPCA)
	}
	method := opt.Method
	if method == Auto {
		method = Exact
		if n > ExactMaxSamples {
			method = Randomized
		}
	}
	var res *Result
	var err error
	if method == Exact {
		res, err = exact(g, st, opt)
	} else {
		res, err = randomized(g, st, opt)
	}
	if err != nil {
		return nil, err
	}
	res.Variants = len(st.used)
	res.Method = method
	// Sign convention: largest-magnitude loading positive, for stable output.
	for _, vec := range res.Vectors {
		big := 0.0
		for _, x := range vec {
			if math.Abs(x) > math.Abs(big) {
				big = x
			}
		}
		if big < 0 {
			for i := range vec {
				vec[i] = -vec[i]
			}
		}
	}
	return res, nil
}

const blockVariants = 256

// decodeBlock writes the standardised genotypes of used variants
// [lo, hi) into a (sample-major, n × (hi-lo)) matrix.
func decodeBlock(g Genotypes, st *standard, lo, hi, n int, a []float64) {
	w := hi - lo
	for j := lo; j < hi; j++ {
		row := g.Row(st.used[j])
		vals := st.vals[j]
		col := j - lo
		for b := 0; b < (n+3)/4; b++ {
			x := row[b]
			for k := 0; k < 4 && 4*b+k < n; k++ {
				a[(4*b+k)*w+col] = vals[(x>>(2*k))&3]
			}
		}
	}
}

// exact accumulates the GRM block by block (two goroutines, each owning a
// band of rows of the lower triangle) and diagonalises it.
func exact(g Genotypes, st *standard, opt Options) (*Result, error) {
	n := g.NumSamples()
	m := len(st.used)
	k := make([]float64, n*n)
	// Row bands with equal triangle area.
	split := int(float64(n) / math.Sqrt2)
	bands := [][2]int{{0, split}, {split, n}}
	if opt.Threads == 1 {
		bands = [][2]int{{0, n}}
	}
	a := make([]float64, n*blockVariants)
	for lo := 0; lo < m; lo += blockVariants {
		hi := min(lo+blockVariants, m)
		w := hi - lo
		decodeBlock(g, st, lo, hi, n, a[:n*w])
		var wg sync.WaitGroup
		for _, bd := range bands {
			r0, r1 := bd[0], bd[1]
			if r1 <= r0 {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				impl := blas64.Implementation()
				// K[r0:r1, 0:r0] += A[r0:r1] A[0:r0]'
				if r0 > 0 {
					impl.Dgemm(blas.NoTrans, blas.Trans, r1-r0, r0, w, 1, a[r0*w:], w, a, w, 1, k[r0*n:], n)
				}
				// K[r0:r1, r0:r1] lower += A[r0:r1] A[r0:r1]'
				impl.Dsyrk(blas.Lower, blas.NoTrans, r1-r0, w, 1, a[r0*w:], w, 1, k[r0*n+r0:], n)
			}()
		}
		wg.Wait()
	}
	// Like plink2 (without "meanimpute"), each entry is divided by the
	// number of variants where both samples have a call:
	// M - miss_i - miss_j + missBoth_ij.
	miss := make([]int, n)
	both := map[[2]int32]int{}
	var list []int32
	for _, v := range st.used {
		row := g.Row(v)
		list = list[:0]
		for b := 0; b < (n+3)/4; b++ {
			x := row[b]
			for kk := 0; kk < 4 && 4*b+kk < n; kk++ {
				if (x>>(2*kk))&3 == 1 {
					list = append(list, int32(4*b+kk))
				}
			}
		}
		for a, i := range list {
			miss[i]++
			for _, j := range list[:a] {
				both[[2]int32{i, j}]++ // i > j
			}
		}
	}
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			den := m - miss[i] - miss[j] + both[[2]int32{int32(i), int32(j)}]
			if i == j {
				den = m - miss[i]
			}
			if opt.MeanImpute {
				den = m
			}
			v := k[i*n+j] / float64(den)
			k[i*n+j] = v
			k[j*n+i] = v
		}
	}
	var es mat.EigenSym
	if !es.Factorize(mat.NewSymDense(n, k), true) {
		return nil, fmt.Errorf("GRM eigendecomposition did not converge: %w", ErrPCA)
	}
	vals := es.Values(nil)
	var vecs mat.Dense
	es.VectorsTo(&vecs)
	res := &Result{}
	for c := n - 1; c >= n-opt.PCs; c-- {
		res.Eigenvalues = append(res.Eigenvalues, vals[c])
		res.Vectors = append(res.Vectors, mat.Col(nil, c, &vecs))
	}
	return res, nil
}

// randomized runs block subspace iteration with l = PCs + 10 columns on the
// GRM, applied as X (X' Y) straight from the packed rows, then a
// Rayleigh–Ritz step.
func randomized(g Genotypes, st *standard, opt Options) (*Result, error) {
	n := g.NumSamples()
	l := opt.PCs + 10
	if l > n {
		l = n
	}
	r := rand.New(rand.NewPCG(opt.Seed, 0x9e3779b97f4a7c15))
	y := make([]float64, n*l) // row-major n × l
	for i := range y {
		y[i] = r.NormFloat64()
	}
	orthonormalise(y, n, l)
	ky := make([]float64, n*l)
	for it := 0; it < opt.Iter; it++ {
		applyGRM(g, st, y, ky, n, l, opt.Threads)
		copy(y, ky)
		orthonormalise(y, n, l)
	}
	applyGRM(g, st, y, ky, n, l, opt.Threads)
	// B = Y' K Y (l × l).
	b := make([]float64, l*l)
	for i := 0; i < n; i++ {
		yi, ki := y[i*l:(i+1)*l], ky[i*l:(i+1)*l]
		for p := 0; p < l; p++ {
			for q := 0; q < l; q++ {
				b[p*l+q] += yi[p] * ki[q]
			}
		}
	}
	for p := 0; p < l; p++ {
		for q := 0; q < p; q++ {
			v := (b[p*l+q] + b[q*l+p]) / 2
			b[p*l+q], b[q*l+p] = v, v
		}
	}
	var es mat.EigenSym
	if !es.Factorize(mat.NewSymDense(l, b), true) {
		return nil, fmt.Errorf("Ritz eigendecomposition did not converge: %w", ErrPCA)
	}
	vals := es.Values(nil)
	var u mat.Dense
	es.VectorsTo(&u)
	res := &Result{}
	for c := l - 1; c >= l-opt.PCs; c-- {
		res.Eigenvalues = append(res.Eigenvalues, vals[c])
		vec := make([]float64, n)
		for i := 0; i < n; i++ {
			s := 0.0
			for p := 0; p < l; p++ {
				s += y[i*l+p] * u.At(p, c)
			}
			vec[i] = s
		}
		res.Vectors = append(res.Vectors, vec)
	}
	return res, nil
}

// applyGRM computes out = X X' y / M for row-major n × l y, two passes over
// the packed rows: W = X' y by variant blocks in parallel, then
// out = X W by sample bands in parallel.
func applyGRM(g Genotypes, st *standard, y, out []float64, n, l, threads int) {
	m := len(st.used)
	colSum := make([]float64, l) // Σ_i y_i
	for i := 0; i < n; i++ {
		for p := 0; p < l; p++ {
			colSum[p] += y[i*l+p]
		}
	}
	w := make([]float64, m*l)
	plink.Parallel(m, threads, func(lo, hi int) error {
		acc := make([]float64, l)
		for j := lo; j < hi; j++ {
			row := g.Row(st.used[j])
			vals := st.vals[j]
			clear(acc)
			for b := 0; b < (n+3)/4; b++ {
				x := row[b]
				for k := 0; k < 4 && 4*b+k < n; k++ {
					v := vals[(x>>(2*k))&3]
					if v == 0 {
						continue
					}
					yi := y[(4*b+k)*l : (4*b+k+1)*l]
					for p, yv := range yi {
						acc[p] += v * yv
					}
				}
			}
			copy(w[j*l:(j+1)*l], acc)
		}
		return nil
	})
	clear(out)
	inv := 1 / float64(m)
	var wg sync.WaitGroup
	nb := (n + 3) / 4
	for t := 0; t < threads; t++ {
		b0, b1 := nb*t/threads, nb*(t+1)/threads
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < m; j++ {
				row := g.Row(st.used[j])
				vals := st.vals[j]
				wj := w[j*l : (j+1)*l]
				for b := b0; b < b1; b++ {
					x := row[b]
					for k := 0; k < 4 && 4*b+k < n; k++ {
						v := vals[(x>>(2*k))&3] * inv
						if v == 0 {
							continue
						}
						oi := out[(4*b+k)*l : (4*b+k+1)*l]
						for p, wv := range wj {
							oi[p] += v * wv
						}
					}
				}
			}
		}()
	}
	wg.Wait()
}

// orthonormalise makes the l columns of row-major n × l y orthonormal
// (modified Gram–Schmidt, twice).
func orthonormalise(y []float64, n, l int) {
	for pass := 0; pass < 2; pass++ {
		for c := 0; c < l; c++ {
			for d := 0; d < c; d++ {
				dot := 0.0
				for i := 0; i < n; i++ {
					dot += y[i*l+c] * y[i*l+d]
				}
				for i := 0; i < n; i++ {
					y[i*l+c] -= dot * y[i*l+d]
				}
			}
			norm := 0.0
			for i := 0; i < n; i++ {
				norm += y[i*l+c] * y[i*l+c]
			}
			norm = math.Sqrt(norm)
			if norm == 0 {
				norm = 1
			}
			for i := 0; i < n; i++ {
				y[i*l+c] /= norm
			}
		}
	}
}
