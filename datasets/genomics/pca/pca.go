package pca

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"enclave/datasets/genomics/dosage"
	"enclave/datasets/genomics/plink"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
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
	// Auto uses Exact when the GRM is cheap to form (at most
	// ExactMaxSamples samples and N²·M/2 ≤ ExactMaxWork), Randomized
	// otherwise.
	Auto Method = iota
	// Exact builds the full GRM and diagonalises it (plink2 --pca).
	Exact
	// Randomized runs a randomised block Krylov method on the
	// mean-imputed GRM without forming it (plink2 --pca approx plays the
	// same role).
	Randomized
)

// Limits of Auto's exact path: the GRM costs N²·M/2 multiply-adds and
// its diagonalisation O(N³).
const (
	ExactMaxSamples = 4000
	ExactMaxWork    = 2e10
)

// Options control Run.
type Options struct {
	PCs      int         // number of components, default 10
	Threads  int         // goroutines, <= 0 means GOMAXPROCS
	Method   Method      // Auto, Exact or Randomized
	Founders *plink.Mask // samples for allele frequencies; nil means all
	// Freqs, when set, gives each variant's ALT frequency (plink2
	// --read-freq) instead of counting it among Founders: from a larger
	// population, so that which variants are used, and how each is
	// scaled, does not depend on the samples decomposed. A variant whose
	// frequency is 0 or 1 is not used.
	Freqs []float64
	Iter  int    // block Krylov steps (Randomized), default 14
	Seed  uint64 // random start (Randomized)
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
	// Diagonal is each sample's GRM diagonal (self-relatedness), on the
	// same scale as Eigenvalues: its sum is the GRM's trace, the total
	// the eigenvalues are shares of, and one sample's part of it is how
	// much of the variance is theirs alone.
	Diagonal []float64
}

// Trace is the sum of the GRM's diagonal: the sum of all its eigenvalues.
func (r *Result) Trace() float64 { return floats.Sum(r.Diagonal) }

// standard holds, per variant, the map from 2-bit code to standardised
// value: (g - 2p) / sqrt(2p(1-p)) with g the ALT dosage, 0 when missing.
type standard struct {
	vals [][4]float64 // per used variant, by .bed code
	used []int        // variant indices used
}

func standardise(g Genotypes, founders *plink.Mask, freqs []float64, threads int) *standard {
	nv := g.NumVariants()
	vals := make([][4]float64, nv)
	ok := make([]bool, nv)
	plink.Parallel(nv, threads, func(lo, hi int) error {
		for v := lo; v < hi; v++ {
			var p float64
			if freqs != nil {
				p = freqs[v]
			} else {
				c := plink.CountRowMasked(g.Row(v), founders)
				nm := c.NonMissing()
				if nm == 0 {
					continue
				}
				p = float64(2*c.HomA1+c.Het) / float64(2*nm)
			}
			if !(p > 0 && p < 1) {
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
// or Options.Freqs; missing calls 0) over the variants with 0 < p < 1, as
// plink2 --pca does.
// Exact divides each GRM entry X_i·X_j by the number of variants called in
// both samples (plink2's default); Randomized divides by the variant count
// M (plink2's "meanimpute"), identical when no call is missing.
func Run(g Genotypes, opt Options) (*Result, error) {
	if opt.PCs <= 0 {
		opt.PCs = 10
	}
	if opt.Threads <= 0 {
		opt.Threads = runtime.GOMAXPROCS(0)
	}
	if opt.Iter <= 0 {
		opt.Iter = 14 // within ~0.5% of the exact eigenvalues even on structureless data
	}
	n := g.NumSamples()
	if opt.Founders == nil {
		opt.Founders = plink.FullMask(n)
	}
	if opt.PCs >= n {
		return nil, fmt.Errorf("%d PCs requested for %d samples: %w", opt.PCs, n, ErrPCA)
	}
	if opt.Freqs != nil && len(opt.Freqs) != g.NumVariants() {
		return nil, fmt.Errorf("%d frequencies for %d variants: %w", len(opt.Freqs), g.NumVariants(), ErrPCA)
	}
	st := standardise(g, opt.Founders, opt.Freqs, opt.Threads)
	if len(st.used) <= opt.PCs {
		return nil, fmt.Errorf("%d non-monomorphic variants, need more than %d: %w", len(st.used), opt.PCs, ErrPCA)
	}
	method := opt.Method
	if method == Auto {
		method = Exact
		if n > ExactMaxSamples || float64(n)*float64(n)*float64(len(st.used))/2 > ExactMaxWork {
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
	res := &Result{Diagonal: make([]float64, n)}
	for i := range res.Diagonal {
		res.Diagonal[i] = k[i*n+i]
	}
	for c := n - 1; c >= n-opt.PCs; c-- {
		res.Eigenvalues = append(res.Eigenvalues, vals[c])
		res.Vectors = append(res.Vectors, mat.Col(nil, c, &vecs))
	}
	return res, nil
}

// randomized runs a randomised block Krylov method (Musco & Musco 2015)
// with blocks of l ≥ PCs + 10 columns on the mean-imputed GRM, applied as
// X (X' Y) with the dense dosage kernel over the packed rows and over a
// sample-major transposed copy: Y_{i+1} = orth(K Y_i) for Iter steps, then a
// Rayleigh–Ritz step on the span of all blocks. Keeping every block makes
// the Ritz values converge even when the top of the spectrum is flat (no
// population structure), where plain subspace iteration stalls.
func randomized(g Genotypes, st *standard, opt Options) (*Result, error) {
	n := g.NumSamples()
	// Block size: PCs + 10, rounded up to the kernel's column granularity
	// (the extra columns cost nothing and speed convergence).
	kw := dosage.Width()
	l := (opt.PCs + 10 + kw - 1) / kw * kw
	if l > n {
		l = n
	}
	op := newGRMOperator(g, st, n, l, opt.Threads)
	r := rand.New(rand.NewPCG(opt.Seed, 0x9e3779b97f4a7c15))
	y := make([]float64, n*l) // row-major n × l
	for i := range y {
		y[i] = r.NormFloat64()
	}
	orthonormalise(y, n, l)
	// Basis blocks Y_i and their images K Y_i.
	var ys, kys [][]float64
	for it := 0; it <= opt.Iter; it++ {
		ky := make([]float64, n*l)
		op.apply(y, ky)
		ys = append(ys, y)
		kys = append(kys, ky)
		if it == opt.Iter {
			break
		}
		y = append([]float64(nil), ky...)
		orthonormalise(y, n, l)
	}
	// Orthonormalise the columns of [Y_0 ... Y_q] by modified Gram–Schmidt,
	// tracking Q = V C so that K Q = (K V) C, and dropping columns that are
	// (numerically) in the span of the earlier ones.
	L := len(ys) * l
	col := func(blocks [][]float64, c int) []float64 {
		b, k := blocks[c/l], c%l
		v := make([]float64, n)
		for i := 0; i < n; i++ {
			v[i] = b[i*l+k]
		}
		return v
	}
	var qs, kqs [][]float64 // orthonormal columns and their images
	for c := 0; c < L; c++ {
		v, kv := col(ys, c), col(kys, c)
		norm0 := math.Sqrt(floats.Dot(v, v))
		for pass := 0; pass < 2; pass++ {
			for d := range qs {
				h := floats.Dot(qs[d], v)
				floats.AddScaled(v, -h, qs[d])
				floats.AddScaled(kv, -h, kqs[d])
			}
		}
		nv := math.Sqrt(floats.Dot(v, v))
		if nv < 1e-8*norm0 || nv == 0 {
			continue
		}
		for i := range v {
			v[i] /= nv
			kv[i] /= nv
		}
		qs = append(qs, v)
		kqs = append(kqs, kv)
	}
	k := len(qs)
	if k < opt.PCs {
		return nil, fmt.Errorf("Krylov basis has rank %d < %d PCs: %w", k, opt.PCs, ErrPCA)
	}
	b := make([]float64, k*k)
	for p := 0; p < k; p++ {
		for q := 0; q <= p; q++ {
			v := (floats.Dot(qs[p], kqs[q]) + floats.Dot(qs[q], kqs[p])) / 2
			b[p*k+q], b[q*k+p] = v, v
		}
	}
	var es mat.EigenSym
	if !es.Factorize(mat.NewSymDense(k, b), true) {
		return nil, fmt.Errorf("Ritz eigendecomposition did not converge: %w", ErrPCA)
	}
	vals := es.Values(nil)
	var u mat.Dense
	es.VectorsTo(&u)
	res := &Result{Diagonal: meanImputedDiagonal(g, st, n, opt.Threads)}
	for c := k - 1; c >= k-opt.PCs; c-- {
		res.Eigenvalues = append(res.Eigenvalues, vals[c])
		vec := make([]float64, n)
		for p := 0; p < k; p++ {
			floats.AddScaled(vec, u.At(p, c), qs[p])
		}
		res.Vectors = append(res.Vectors, vec)
	}
	return res, nil
}

// meanImputedDiagonal is the diagonal of the mean-imputed GRM X X'/M: each
// sample's sum of squared standardised genotypes over the used variants
// (a missing call adds 0), divided by M.
func meanImputedDiagonal(g Genotypes, st *standard, n, threads int) []float64 {
	return perSample(g, st, n, threads, func(j int) (sq [4]float64) {
		for c, x := range st.vals[j] {
			sq[c] = x * x
		}
		return sq
	})
}

// Deviations is each sample's squared distance from the samples' mean row
// of standardised genotypes (a missing call standardised to 0, as in the
// mean-imputed GRM), over the variants Run would use with freqs (nil: the
// samples' own), divided by their number. It says how much of the
// samples' spread around their centre is one sample's alone: the PCA's
// components describe a sample that holds much of it.
func Deviations(g Genotypes, freqs []float64, threads int) ([]float64, error) {
	if freqs != nil && len(freqs) != g.NumVariants() {
		return nil, fmt.Errorf("%d frequencies for %d variants: %w", len(freqs), g.NumVariants(), ErrPCA)
	}
	n := g.NumSamples()
	st := standardise(g, plink.FullMask(n), freqs, threads)
	if len(st.used) == 0 {
		return nil, fmt.Errorf("no non-monomorphic variants: %w", ErrPCA)
	}
	all := plink.FullMask(n)
	return perSample(g, st, n, threads, func(j int) (sq [4]float64) {
		c := plink.CountRowMasked(g.Row(st.used[j]), all)
		v := st.vals[j]
		mean := (float64(c.HomA1)*v[0] + float64(c.Het)*v[2] + float64(c.HomA2)*v[3]) / float64(n)
		for k, x := range v {
			sq[k] = (x - mean) * (x - mean)
		}
		return sq
	}), nil
}

// perSample sums, over the used variants j, table(j)[code of sample i]
// for each sample i, divided by the number of variants.
func perSample(g Genotypes, st *standard, n, threads int, table func(j int) [4]float64) []float64 {
	m := len(st.used)
	parts := make([][]float64, plink.Workers(m, threads))
	for w := range parts {
		parts[w] = make([]float64, n)
	}
	plink.ParallelWorkers(0, m, threads, func(w, lo, hi int) error {
		part := parts[w]
		for j := lo; j < hi; j++ {
			row := g.Row(st.used[j])
			t := table(j)
			for i := 0; i < n; i++ {
				part[i] += t[(row[i>>2]>>(2*(i&3)))&3]
			}
		}
		return nil
	})
	out := parts[0]
	for _, part := range parts[1:] {
		floats.Add(out, part)
	}
	floats.Scale(1/float64(m), out)
	return out
}

// grmOperator applies the mean-imputed GRM K = X X'/M to n × l blocks.
// X holds x_ij = a_j g_ij + b_j for a call (a = 1/sd, b = -2p/sd) and 0 for
// a missing one, so both products reduce to dosage-weighted sums over packed
// rows plus corrections for the (few) missing calls:
//
//	(X'Y)_j = a_j Σ_i g_ij Y_i + b_j (Σ_i Y_i - Σ_{i missing at j} Y_i)
//	(X W)_i = Σ_j g_ij a_j W_j + Σ_j b_j W_j - Σ_{j missing at i} b_j W_j
//
// The second sum runs over the sample-major transposed genotypes.
type grmOperator struct {
	g          Genotypes
	st         *standard
	n, m, l    int
	threads    int
	a, b       []float64
	varMiss    [][]int32 // per used variant: samples with a missing call
	sampleMiss [][]int32 // per sample: used variants with a missing call
	tr         []byte    // sample-major packed genotypes, trBytes per sample
	trBytes    int
	yk, vk     *dosage.Chunked
}

func newGRMOperator(g Genotypes, st *standard, n, l, threads int) *grmOperator {
	m := len(st.used)
	op := &grmOperator{g: g, st: st, n: n, m: m, l: l, threads: threads,
		a: make([]float64, m), b: make([]float64, m), varMiss: make([][]int32, m), sampleMiss: make([][]int32, n),
		trBytes: (m + 3) / 4}
	for j := range st.used {
		v := st.vals[j]
		op.a[j] = v[0] - v[2] // value(2) - value(1)
		op.b[j] = v[3]        // value(0)
	}
	// Transpose: thread t owns samples [lo, hi) and writes their rows.
	op.tr = make([]byte, n*op.trBytes)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for t := 0; t < threads; t++ {
		lo, hi := n*t/threads, n*(t+1)/threads
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[int][]int32{}
			for j, v := range st.used {
				row := g.Row(v)
				jb, js := j/4, uint(2*(j%4))
				for i := lo; i < hi; i++ {
					code := (row[i>>2] >> (2 * (i & 3))) & 3
					op.tr[i*op.trBytes+jb] |= code << js
					if code == 1 {
						op.sampleMiss[i] = append(op.sampleMiss[i], int32(j))
						local[j] = append(local[j], int32(i))
					}
				}
			}
			mu.Lock()
			for j, is := range local {
				op.varMiss[j] = append(op.varMiss[j], is...)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	// Padding codes of the transposed rows must read as missing-free zeros:
	// code 3 (dosage 0) for variant slots past m.
	for i := 0; i < n; i++ {
		for j := m; j < 4*op.trBytes; j++ {
			op.tr[i*op.trBytes+j/4] |= 3 << (2 * (j % 4))
		}
	}
	op.yk = dosage.NewChunked(l, n)
	op.vk = dosage.NewChunked(l, m)
	return op
}

// blockBytes is the cache-blocking width in packed bytes: 512 bytes cover
// 2048 samples (or variants), whose kernel rows (l ≤ 32 columns) stay in L2.
const blockBytes = 512

func (op *grmOperator) apply(y, out []float64) {
	n, m, l := op.n, op.m, op.l
	colSum := make([]float64, l)
	op.yk.Clear()
	for i := 0; i < n; i++ {
		for p := 0; p < l; p++ {
			v := y[i*l+p]
			colSum[p] += v
			op.yk.Set(i, p, v)
		}
	}
	bw := make([]float64, m*l) // b_j W_j
	op.vk.Clear()
	rowBytes := (n + 3) / 4
	plink.Parallel(m, op.threads, func(lo, hi int) error {
		// acc[(j-lo)*l+p] accumulates Σ_i g_ij Y_ip over sample blocks, so
		// each block of Y stays in cache while all variants pass over it.
		acc := make([]float64, (hi-lo)*l)
		for off := 0; off < rowBytes; off += blockBytes {
			end := min(off+blockBytes, rowBytes)
			for j := lo; j < hi; j++ {
				row := op.g.Row(op.st.used[j])
				op.yk.DotRange(row[off:end], off, dosage.Dosage, acc[(j-lo)*l:(j-lo+1)*l])
			}
		}
		for j := lo; j < hi; j++ {
			aj, bj := op.a[j], op.b[j]
			a := acc[(j-lo)*l : (j-lo+1)*l]
			for p := 0; p < l; p++ {
				s := colSum[p]
				for _, i := range op.varMiss[j] {
					s -= y[int(i)*l+p]
				}
				w := aj*a[p] + bj*s
				bw[j*l+p] = bj * w
				op.vk.Set(j, p, aj*w) // row j: disjoint per goroutine
			}
		}
		return nil
	})
	c := make([]float64, l)
	for j := 0; j < m; j++ {
		for p := 0; p < l; p++ {
			c[p] += bw[j*l+p]
		}
	}
	inv := 1 / float64(m)
	clear(out)
	var wg sync.WaitGroup
	for t := 0; t < op.threads; t++ {
		lo, hi := n*t/op.threads, n*(t+1)/op.threads
		wg.Add(1)
		go func() {
			defer wg.Done()
			for off := 0; off < op.trBytes; off += blockBytes {
				end := min(off+blockBytes, op.trBytes)
				for i := lo; i < hi; i++ {
					tr := op.tr[i*op.trBytes : (i+1)*op.trBytes]
					op.vk.DotRange(tr[off:end], off, dosage.Dosage, out[i*l:(i+1)*l])
				}
			}
			for i := lo; i < hi; i++ {
				o := out[i*l : (i+1)*l]
				for p := 0; p < l; p++ {
					s := o[p] + c[p]
					for _, j := range op.sampleMiss[i] {
						s -= bw[int(j)*l+p]
					}
					o[p] = s * inv
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
