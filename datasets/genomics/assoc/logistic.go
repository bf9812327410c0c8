package assoc

import (
	"fmt"
	"math"

	"enclave/datasets/genomics/plink"
)

// maxCells bounds the covariate patterns for which samples are collapsed
// into weighted cells (genotype × case status × pattern).
const maxCells = 16

// cellDesign lists the distinct covariate rows of the analysed samples, with
// one sample mask per (pattern, case status) for popcount tallies.
type cellDesign struct {
	patterns [][]float64      // distinct Z rows (intercept first)
	masks    [][2]*plink.Mask // [pattern][0 control, 1 case]
}

// rows is a logistic design: row r has predictors x_r = [z_r, g_r], weight
// (sample count) n_r and s_r cases. Rows with g_r NaN are skipped.
type rows struct {
	z    []float64 // nrow × q
	g    []float64
	n    []float64 // nil: every weight is 1
	s    []float64
	nrow int
}

// logWork is per-goroutine scratch for logistic tests.
type logWork struct {
	lin   *linWork
	g     []float64 // dense genotype (dosage, NaN missing) over analysed samples
	cells rows
	beta  []float64
	step  []float64
	grad  []float64
	hess  []float64
	inv   []float64
	x     []float64
	full  []float64 // unpacked .bed row
	gi    []uint8   // dense genotype index, 3 missing
	acc   []float64
	pa    passArgs
	sa    simdArgs
	hess2 []float64 // Firth step matrix X' diag((1+h)w) X
	inv2  []float64
}

func (m *model) newLogWork() *logWork {
	p := m.q + 1
	wk := &logWork{lin: m.newLinWork(), beta: make([]float64, p), step: make([]float64, p), grad: make([]float64, p),
		hess: make([]float64, p*p), inv: make([]float64, p*p), x: make([]float64, p),
		hess2: make([]float64, p*p), inv2: make([]float64, p*p)}
	if m.cells != nil {
		nc := 3 * len(m.cells.patterns)
		wk.cells = rows{z: make([]float64, nc*m.q), g: make([]float64, nc), n: make([]float64, nc), s: make([]float64, nc), nrow: nc}
		for pt, z := range m.cells.patterns {
			for gi := 0; gi < 3; gi++ {
				copy(wk.cells.z[(3*pt+gi)*m.q:], z)
			}
		}
	} else {
		wk.g = make([]float64, m.n)
		wk.gi = make([]uint8, m.n)
		wk.acc = make([]float64, m.q+1)
		wk.pa.shift = make([]float64, m.q)
	}
	return wk
}

// fitNull fits the covariate-only logistic model and decides whether the
// samples collapse into cells (never when m.noCells).
func (m *model) fitNull(name string) error {
	q := m.q
	// Distinct covariate patterns.
	var pats [][]float64
	patOf := make([]int, m.n)
	index := map[string]int{}
	key := make([]byte, 0, 8*q)
	for i := 0; i < m.n && len(pats) <= maxCells; i++ {
		zi := m.z[i*q : (i+1)*q]
		key = key[:0]
		for _, v := range zi {
			b := math.Float64bits(v)
			for s := 0; s < 64; s += 8 {
				key = append(key, byte(b>>s))
			}
		}
		k, ok := index[string(key)]
		if !ok {
			k = len(pats)
			index[string(key)] = k
			pats = append(pats, append([]float64(nil), zi...))
		}
		patOf[i] = k
	}
	if len(pats) <= maxCells && !m.noCells {
		cd := &cellDesign{patterns: pats, masks: make([][2]*plink.Mask, len(pats))}
		for pt := range pats {
			for y := 0; y < 2; y++ {
				cd.masks[pt][y] = plink.NewMask(m.nAll, func(i int) bool {
					k := m.idx[i]
					return k >= 0 && patOf[k] == pt && m.y[k] == float64(y)
				})
			}
		}
		m.cells = cd
	}
	// Null model: IRLS on Z with y (g column absent: use q predictors).
	d := rows{z: m.z, g: nil, s: m.y, nrow: m.n}
	beta := make([]float64, q)
	wk := &logWork{beta: beta, step: make([]float64, q), grad: make([]float64, q), hess: make([]float64, q*q), inv: make([]float64, q*q), x: make([]float64, q)}
	st := irls(&d, q, wk)
	if st.fail || st.unfinished {
		return fmt.Errorf("phenotype %s: the covariate-only logistic model does not converge: %w", name, ErrModel)
	}
	m.null = append([]float64(nil), beta...)
	if m.cells == nil {
		m.prepareDense()
	}
	return nil
}

type fitStatus struct {
	fail, unfinished bool
}

// irls maximises the logistic likelihood by Newton–Raphson from wk.beta
// (p predictors: q Z columns, plus g when d.g != nil). On return wk.inv
// holds the inverse information matrix at the solution. It fails like
// plink2's LogisticRegression: non-finite values, a non-positive-definite
// information matrix, or steps that grow instead of shrinking.
func irls(d *rows, p int, wk *logWork) fitStatus {
	const maxIter = 25
	beta, step, grad, hess := wk.beta, wk.step, wk.grad, wk.hess
	minDelta := math.Inf(1)
	for iter := 0; ; iter++ {
		if !infoGrad(d, p, beta, grad, hess) {
			return fitStatus{fail: true}
		}
		copy(wk.inv, hess)
		if !cholInverse(wk.inv, p) {
			return fitStatus{fail: true}
		}
		symMulVec(wk.inv, grad, step, p)
		delta, maxAbs := 0.0, 0.0
		for t := 0; t < p; t++ {
			beta[t] += step[t]
			delta += math.Abs(step[t])
			maxAbs = math.Max(maxAbs, math.Abs(beta[t]))
		}
		if math.IsNaN(delta) {
			return fitStatus{fail: true}
		}
		if iter > 3 && delta > 20 && delta > 2*minDelta {
			return fitStatus{fail: true}
		}
		minDelta = math.Min(minDelta, delta)
		if delta < 1e-10*(1+maxAbs) {
			if maxAbs > 6e4 {
				return fitStatus{fail: true}
			}
			// Information at the (converged) solution.
			if !infoGrad(d, p, beta, grad, hess) {
				return fitStatus{fail: true}
			}
			copy(wk.inv, hess)
			if !cholInverse(wk.inv, p) {
				return fitStatus{fail: true}
			}
			return fitStatus{}
		}
		if iter == maxIter {
			if maxAbs > 8e3 {
				return fitStatus{fail: true}
			}
			return fitStatus{unfinished: true}
		}
	}
}

// infoGrad computes the score X'(s - nμ) into grad and the information
// X'diag(nμ(1-μ))X into hess (full p×p) at beta.
func infoGrad(d *rows, p int, beta, grad, hess []float64) bool {
	q := len(beta)
	if d.g != nil {
		q = p - 1
	}
	clear(grad[:p])
	clear(hess[:p*p])
	bz := beta[:q]
	var bg float64
	if d.g != nil {
		bg = beta[q]
	}
	for r := 0; r < d.nrow; r++ {
		var gi float64
		if d.g != nil {
			gi = d.g[r]
			if gi != gi {
				continue
			}
		}
		nr := 1.0
		if d.n != nil {
			nr = d.n[r]
			if nr == 0 {
				continue
			}
		}
		zr := d.z[r*q : r*q+q : r*q+q]
		eta := gi * bg
		for t, v := range zr {
			eta += v * bz[t]
		}
		mu := 1 / (1 + math.Exp(-eta))
		w := nr * mu * (1 - mu)
		res := d.s[r] - nr*mu
		for a := 0; a < q; a++ {
			xa := zr[a]
			grad[a] += res * xa
			wa := w * xa
			ha := hess[a*p : a*p+a+1]
			for b := range ha {
				ha[b] += wa * zr[b]
			}
		}
		if d.g != nil {
			grad[q] += res * gi
			wg := w * gi
			hq := hess[q*p : q*p+q+1]
			for b := 0; b < q; b++ {
				hq[b] += wg * zr[b]
			}
			hq[q] += wg * gi
		}
	}
	for a := 0; a < p; a++ {
		for b := 0; b < a; b++ {
			hess[b*p+a] = hess[a*p+b]
		}
	}
	return !math.IsNaN(hess[p*p-1]) && !math.IsInf(hess[p*p-1], 0)
}

// logistic fits case status ~ 1 + covariates + g for one variant with
// plink2's logistic-Firth hybrid rules: Firth when the cases or the
// controls carry no ALT allele, or when plain logistic regression fails.
func (m *model) logistic(row []byte, wk *logWork, out *variantOut) {
	c, nT, ok := m.screen(row, out)
	if !ok {
		return
	}
	q := m.q
	p := q + 1
	// Predictor checks, as for linear regression (nothing to check for a
	// lone non-constant genotype column; the dense path also needs the
	// missing calls the gathering finds).
	if q > 1 || m.cells == nil {
		lw := wk.lin
		a, gSum := m.normalMatrix(row, c, lw)
		if e := m.checkPredictors(a, gSum, lw.cs, nT, lw); e != errNone {
			out.err = e
			return
		}
	}
	var d *rows
	var caseAlt, altTotal, caseObs int
	if m.cells != nil {
		d = &wk.cells
		for pt := range m.cells.patterns {
			for y := 0; y < 2; y++ {
				cc := plink.CountRowMasked(row, m.cells.masks[pt][y])
				for gi, k := range [3]int{cc.HomA2, cc.Het, cc.HomA1} {
					r := 3*pt + gi
					if y == 0 {
						d.n[r], d.s[r] = float64(k), 0
					} else {
						d.n[r] += float64(k)
						d.s[r] = float64(k)
					}
					d.g[r] = float64(gi)
				}
				if y == 1 {
					caseAlt += 2*cc.HomA1 + cc.Het
					caseObs += cc.NonMissing()
				}
				altTotal += 2*cc.HomA1 + cc.Het
			}
		}
	} else {
		cc := plink.CountRowMasked(row, m.caseMask)
		caseAlt, caseObs = 2*cc.HomA1+cc.Het, cc.NonMissing()
		altTotal = 2*c.HomA1 + c.Het
	}
	beta := wk.beta
	copy(beta, m.null)
	beta[q] = 0
	// Separation check on the tested allele A1 (ALT or REF).
	caseA1, a1Total := caseAlt, altTotal
	if out.a1IsRef {
		caseA1 = 2*caseObs - caseAlt
		a1Total = 2*nT - altTotal
	}
	useFirth := caseA1 == 0 || caseA1 == a1Total
	var st fitStatus
	if !useFirth {
		if d != nil {
			st = irls(d, p, wk)
		} else {
			st = m.denseFit(row, c, wk)
		}
		if st.fail {
			useFirth = true
			copy(beta, m.null)
			beta[q] = 0
		}
	}
	if useFirth {
		out.firth = true
		if d == nil {
			d = m.denseRows(row, wk)
		}
		st = firth(d, p, wk)
		if st.fail {
			out.err = ErrFirthConvergeFail
			return
		}
	}
	m.logisticReport(st, wk, out)
}

// logisticReport checks the fit of a variant (wk.beta, wk.inv) as plink2
// does and writes its rows into out.
func (m *model) logisticReport(st fitStatus, wk *logWork, out *variantOut) {
	q := m.q
	p := q + 1
	beta := wk.beta
	out.unfinished = st.unfinished
	inv := wk.inv
	// plink2's validParameters(): positive finite variances, no
	// near-perfectly correlated estimates.
	for t := 0; t < p; t++ {
		v := inv[t*p+t]
		if v < 1e-20 || math.IsNaN(v) || math.IsInf(v, 0) {
			out.err = ErrInvalidResult
			return
		}
	}
	for s := 1; s < p; s++ {
		for t := 0; t < s; t++ {
			if inv[s*p+t] > 0.99999*math.Sqrt(inv[s*p+s]*inv[t*p+t]) {
				out.err = ErrInvalidResult
				return
			}
		}
	}
	set := func(k, t int) {
		b := beta[t]
		se := math.Sqrt(inv[t*p+t])
		z := b / se
		out.beta[k], out.se[k], out.stat[k], out.p[k] = b, se, z, normP(z)
	}
	set(0, q)
	if out.a1IsRef {
		out.beta[0], out.stat[0] = -out.beta[0], -out.stat[0]
	}
	for j := 1; j < len(out.beta); j++ {
		set(j, j)
	}
}

// denseRows returns the per-sample design of a variant for the Firth fit,
// with missing genotypes as NaN.
func (m *model) denseRows(row []byte, wk *logWork) *rows {
	full := wk.fullRow(m.nAll)
	plink.UnpackFloat64(row, m.nAll, full)
	for i, k := range m.idx {
		if k >= 0 {
			wk.g[k] = full[i]
		}
	}
	return &rows{z: m.z, g: wk.g, s: m.y, nrow: m.n}
}

// fullRow returns scratch for a whole unpacked .bed row.
func (wk *logWork) fullRow(n int) []float64 {
	if cap(wk.full) < n {
		wk.full = make([]float64, n)
	}
	wk.full = wk.full[:n]
	return wk.full
}
