package assoc

import (
	"math"

	"enclave/datasets/genomics/plink"
	"gonum.org/v1/gonum/stat/distuv"
)

// classSums are the sums of the model rows u_i = [Q_i, y_i] over the
// samples of each genotype class, gathered from a packed row.
type classSums struct {
	flip              bool      // minor-coded dosage h = 2 - ALT dosage (REF is the minor allele)
	nHet, nHom, nMiss int       // het, minor-homozygous and missing counts
	het, hom          []float64 // Σ u over hets and over minor homozygotes
	miss              []float64 // Σ u over samples with a missing genotype
	missOuter         []float64 // Σ u u' over samples with a missing genotype (w×w)
}

func newClassSums(w int) *classSums {
	return &classSums{het: make([]float64, w), hom: make([]float64, w), miss: make([]float64, w), missOuter: make([]float64, w*w)}
}

// gather visits only the samples that are not homozygous for the major
// allele (the minor-allele carriers and the missing), reading the packed
// row byte by byte and skipping bytes of four major homozygotes.
func (m *model) gather(row []byte, c plink.Counts, cs *classSums) {
	w := m.w
	clear(cs.het)
	clear(cs.hom)
	clear(cs.miss)
	if c.Missing > 0 {
		clear(cs.missOuter)
	}
	// ALT (A1) count vs REF count decides which homozygote is skipped.
	cs.flip = 2*c.HomA1+c.Het > 2*c.HomA2+c.Het
	major, minorHom := byte(plink.CodeHomA2), byte(plink.CodeHomA1)
	cs.nHom = c.HomA1
	if cs.flip {
		major, minorHom = plink.CodeHomA1, plink.CodeHomA2
		cs.nHom = c.HomA2
	}
	cs.nHet, cs.nMiss = c.Het, c.Missing
	skip := major | major<<2 | major<<4 | major<<6
	idx := m.idx
	u := m.u
	nAll := m.nAll
	for b, x := range row {
		if x == skip {
			continue
		}
		base := 4 * b
		for j := 0; j < 4; j++ {
			code := (x >> (2 * j)) & 3
			if code == major {
				continue
			}
			i := base + j
			if i >= nAll {
				break
			}
			k := idx[i]
			if k < 0 {
				continue
			}
			ui := u[int(k)*w : int(k)*w+w : int(k)*w+w]
			switch code {
			case plink.CodeHet:
				acc := cs.het[:w:w]
				for t, v := range ui {
					acc[t] += v
				}
			case minorHom:
				acc := cs.hom[:w:w]
				for t, v := range ui {
					acc[t] += v
				}
			default: // missing
				acc := cs.miss[:w:w]
				for t, v := range ui {
					acc[t] += v
				}
				mo := cs.missOuter
				for a, va := range ui {
					r := mo[a*w : a*w+a+1]
					for bb := range r {
						r[bb] += va * ui[bb]
					}
				}
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

// linear fits y ~ 1 + g + covariates over the samples with a genotype and
// writes the ADD row then one row per covariate into out (beta, se, t, p).
func (m *model) linear(row []byte, wk *linWork, out *variantOut) {
	c := plink.CountRowMasked(row, m.mask)
	q, w := m.q, m.w
	p := q + 1
	nT := m.n - c.Missing
	out.obs = nT
	if nT <= p {
		out.err = ErrSampleCt
		return
	}
	if (c.HomA1 == nT) || (c.Het == nT) || (c.HomA2 == nT) {
		out.err = ErrConstOmittedAllele
		return
	}
	cs := wk.cs
	m.gather(row, c, cs)
	// Sums over T (non-missing analysed samples) in basis [Q, y].
	// h = minor-coded dosage; g = h, or 2 - h when flipped.
	hSum := float64(cs.nHet + 2*cs.nHom)
	hh := float64(cs.nHet + 4*cs.nHom)
	gq := wk.gq
	var gy float64
	for t := 0; t < q; t++ {
		gq[t] = cs.het[t] + 2*cs.hom[t]
	}
	gy = cs.het[q] + 2*cs.hom[q]
	gSum, gg := hSum, hh
	if cs.flip {
		// Σ_T g x = 2 Σ_T x - Σ_T h x, with Σ_T x = Σ_S x - Σ_miss x.
		for t := 0; t < q; t++ {
			gq[t] = 2*(m.qsum[t]-cs.miss[t]) - gq[t]
		}
		gy = 2*(0-cs.miss[q]) - gy // y is centred over S: Σ_S y = 0
		gSum = 2*float64(nT) - hSum
		gg = 4*float64(nT) - 4*hSum + hh
	}
	a, rhs := wk.a, wk.rhs
	clear(a)
	a[0] = gg
	for t := 0; t < q; t++ {
		a[t+1] = gq[t]
		a[(t+1)*p] = gq[t]
		a[(t+1)*p+t+1] = 1
	}
	rhs[0] = gy
	yy := m.yty
	for t := 0; t < q; t++ {
		rhs[t+1] = m.qty[t]
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
			rhs[s+1] -= mo[q*w+s]
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
