package assoc

import (
	"math"

	"enclave/datasets/genomics/dosage"
	"enclave/datasets/genomics/plink"
	"gonum.org/v1/gonum/stat/distuv"
)

// classSums are the genotype-weighted sums of the model rows
// u_i = [Q_i, y_i] over the non-missing analysed samples, and the sums over
// the analysed samples whose genotype is missing.
type classSums struct {
	gu        []float64 // Σ_T g u (g = ALT dosage)
	nMiss     int       // analysed samples with a missing call
	missIdx   []int32   // scratch: fileset indices with a missing call
	missOuter []float64 // Σ u u' over them (lower triangle, w×w)
}

func newClassSums(w int) *classSums {
	return &classSums{gu: make([]float64, w), missOuter: make([]float64, w*w)}
}

// gather fills cs for a packed row: one dense pass of the chunked kernel,
// then the (rare) missing calls one by one.
func (m *model) gather(row []byte, cs *classSums) {
	w := m.w
	clear(cs.gu)
	clear(cs.missOuter)
	m.uc.Dot(row, dosage.Dosage, cs.gu)
	cs.missIdx = dosage.Missing(row, m.nAll, cs.missIdx)
	cs.nMiss = 0
	for _, i := range cs.missIdx {
		k := m.idx[i]
		if k < 0 {
			continue
		}
		cs.nMiss++
		ui := m.u[int(k)*w : int(k)*w+w]
		for a, va := range ui {
			r := cs.missOuter[a*w : a*w+a+1]
			for b := range r {
				r[b] += va * ui[b]
			}
		}
	}
}

// linWork is per-goroutine scratch for linear tests.
type linWork struct {
	cs   *classSums
	gq   []float64 // Σ_T g Q
	a    []float64 // (q+1)² normal matrix in basis [g, Q]
	rhs  []float64
	beta []float64
	dot  []float64 // predictor dot products for the VIF check
	sums []float64
	tmp  []float64
}

func (m *model) newLinWork() *linWork {
	p := m.q + 1
	return &linWork{cs: newClassSums(m.w), gq: make([]float64, m.q), a: make([]float64, p*p), rhs: make([]float64, p),
		beta: make([]float64, p), dot: make([]float64, p*p), sums: make([]float64, p), tmp: make([]float64, p*p)}
}

// screen counts a variant's calls among the analysed samples and records
// its OBS_CT in out; it fails (with out.err set) when too few samples have
// a call for the q+1 predictors or every call is the same genotype.
func (m *model) screen(row []byte, out *variantOut) (c plink.Counts, nT int, ok bool) {
	c = plink.CountRowMasked(row, m.mask)
	nT = m.n - c.Missing
	out.obs = nT
	if nT <= m.q+1 {
		out.err = ErrSampleCt
		return c, nT, false
	}
	if (c.HomA1 == nT) || (c.Het == nT) || (c.HomA2 == nT) {
		out.err = ErrConstOmittedAllele
		return c, nT, false
	}
	return c, nT, true
}

// linear fits y ~ 1 + g + covariates over the samples with a genotype and
// writes the ADD row then one row per covariate into out (beta, se, t, p).
func (m *model) linear(row []byte, wk *linWork, out *variantOut) {
	c, nT, ok := m.screen(row, out)
	if !ok {
		return
	}
	a, gSum := m.normalMatrix(row, c, wk)
	m.linearSolve(a, gSum, nT, wk, out)
}

// linearSolve finishes a linear test from the Q-basis normal matrix a of
// [g, Q] over the nT samples with a genotype (wk.cs holding the sums).
func (m *model) linearSolve(a []float64, gSum float64, nT int, wk *linWork, out *variantOut) {
	q, w := m.q, m.w
	p := q + 1
	cs := wk.cs
	rhs := wk.rhs
	rhs[0] = cs.gu[q] // Σ_T g y
	yy := m.yty
	for t := 0; t < q; t++ {
		rhs[t+1] = m.qty[t]
	}
	if cs.nMiss > 0 {
		mo := cs.missOuter
		for t := 0; t < q; t++ {
			rhs[t+1] -= mo[q*w+t]
		}
		yy -= mo[q*w+q]
	}
	if e := m.checkPredictors(a, gSum, cs, nT, wk); e != errNone {
		out.err = e
		return
	}
	inv := wk.tmp
	copy(inv, a)
	if !cholInverse(inv, p) {
		out.err = ErrVIFInfinite
		return
	}
	beta := wk.beta
	symMulVec(inv, rhs, beta, p)
	rss := yy
	for t := 0; t < p; t++ {
		rss -= beta[t] * rhs[t]
	}
	df := float64(nT - p)
	sigma2 := rss / df
	tdist := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
	set := func(k int, b, v float64) {
		se := math.Sqrt(sigma2 * v)
		t := b / se
		out.beta[k], out.se[k], out.stat[k] = b, se, t
		out.p[k] = 2 * tdist.CDF(-math.Abs(t))
		if math.IsNaN(t) {
			out.p[k] = math.NaN()
		}
	}
	if out.a1IsRef {
		set(0, -beta[0], inv[0])
	} else {
		set(0, beta[0], inv[0])
	}
	if len(out.beta) > 1 {
		// Covariate coefficients: β_Z = R⁻¹ β_Q, Var = R⁻¹ Var_Q R⁻ᵀ.
		ri := m.rinv
		for j := 1; j < q; j++ {
			b := 0.0
			for l := j; l < q; l++ {
				b += ri[j*q+l] * beta[l+1]
			}
			v := 0.0
			for l := j; l < q; l++ {
				for s := j; s < q; s++ {
					v += ri[j*q+l] * inv[(l+1)*p+s+1] * ri[j*q+s]
				}
			}
			set(j, b, v)
		}
	}
}

// checkPredictors runs plink2's per-variant correlation/VIF check on the
// predictors [g, covariates] over the non-missing samples, rebuilding their
// raw dot products from the Q-basis normal matrix a: Z_T'Z_T = R'(Q_T'Q_T)R
// and Z_T'g = R'(Q_T'g).
func (m *model) checkPredictors(a []float64, gSum float64, cs *classSums, nT int, wk *linWork) ErrCode {
	q := m.q
	p := q + 1
	k := q // predictors without intercept: g + (q-1) covariates
	dot, sums := wk.dot[:k*k], wk.sums[:k]
	r := m.r
	// zg[j] = Σ_T z_j g = Σ_l R[l][j] (Q_T'g)_l ; zz[i][j] = R_i' (Q_T'Q_T) R_j
	// Index 0 of Z is the intercept: Σ_T z_j = zz[0][j].
	var zgBuf, zzBuf [17 * 17]float64
	var zgs []float64
	var zzs []float64
	if q*q <= len(zzBuf) {
		zgs, zzs = zgBuf[:q], zzBuf[:q*q]
	} else {
		zgs, zzs = make([]float64, q), make([]float64, q*q)
	}
	for j := 0; j < q; j++ {
		s := 0.0
		for l := 0; l <= j; l++ {
			s += r[l*q+j] * a[l+1]
		}
		zgs[j] = s
	}
	// M = Q_T'Q_T (in a, rows/cols 1..q); zz = R' M R.
	for i := 0; i < q; i++ {
		for j := 0; j <= i; j++ {
			s := 0.0
			for l := 0; l <= i; l++ {
				for t := 0; t <= j; t++ {
					s += r[l*q+i] * a[(l+1)*p+t+1] * r[t*q+j]
				}
			}
			zzs[i*q+j] = s
			zzs[j*q+i] = s
		}
	}
	// Predictor 0 = g, predictor c (1..q-1) = Z column c.
	sums[0] = gSum
	dot[0] = a[0]
	for c := 1; c < q; c++ {
		sums[c] = zzs[0*q+c]
		dot[c*k] = zgs[c]
		dot[c] = zgs[c]
		for d := 1; d <= c; d++ {
			dot[c*k+d] = zzs[c*q+d]
			dot[d*k+c] = zzs[c*q+d]
		}
	}
	return corrVIF(dot, sums, k, float64(nT), m.maxCorr, m.vifMax)
}

// normalMatrix gathers the sums of a row and returns the Q-basis normal
// matrix of [g, Q] over the samples with a call, [[g'g, g'Q], [Q'g, Q_T'Q_T]],
// and Σ_T g (for the predictor checks).
func (m *model) normalMatrix(row []byte, c plink.Counts, wk *linWork) ([]float64, float64) {
	m.gather(row, wk.cs)
	gSum := float64(2*c.HomA1 + c.Het)
	gg := float64(4*c.HomA1 + c.Het)
	return m.normalFrom(gg, wk), gSum
}

// normalFrom builds the normal matrix of normalMatrix from g'g and the
// sums in wk.cs.
func (m *model) normalFrom(gg float64, wk *linWork) []float64 {
	q, w := m.q, m.w
	p := q + 1
	cs := wk.cs
	gq := wk.gq
	copy(gq, cs.gu[:q])
	a := wk.a
	clear(a)
	a[0] = gg
	for t := 0; t < q; t++ {
		a[t+1] = gq[t]
		a[(t+1)*p] = gq[t]
		a[(t+1)*p+t+1] = 1
	}
	if cs.nMiss > 0 {
		mo := cs.missOuter
		for s := 0; s < q; s++ {
			for t := 0; t <= s; t++ {
				a[(s+1)*p+t+1] -= mo[s*w+t]
				if s != t {
					a[(t+1)*p+s+1] -= mo[s*w+t]
				}
			}
		}
	}
	return a
}
