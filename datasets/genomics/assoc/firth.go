package assoc

import "math"

// firth maximises the Firth-penalised logistic likelihood
// ℓ(β) + ½ log det I(β) from wk.beta, as logistf (and plink2's Firth
// fallback) does: steps (X' diag((1+h)w) X)⁻¹ U* with the modified score
// U*_j = Σ (s - nμ + n h (½ - μ)) x_j (the (1+h) weights of current plink2
// keep rare-variant fits from oscillating), capped at 5 and halved until the
// penalised likelihood rises. On return wk.inv is I(β)⁻¹ at the solution,
// whose diagonal gives the reported standard errors.
func firth(d *rows, p int, wk *logWork) fitStatus {
	const maxIter = 100
	beta, step := wk.beta, wk.step
	prev := make([]float64, p)
	ll, ok := firthEval(d, p, beta, wk)
	if !ok {
		return fitStatus{fail: true}
	}
	prevLL := math.Inf(-1)
	for iter := 0; iter < maxIter; iter++ {
		copy(wk.inv2, wk.hess2[:p*p])
		if !cholInverse(wk.inv2, p) {
			return fitStatus{fail: true}
		}
		symMulVec(wk.inv2, wk.grad, step, p)
		maxStep, maxGrad := 0.0, 0.0
		for t := 0; t < p; t++ {
			maxStep = math.Max(maxStep, math.Abs(step[t]))
			maxGrad = math.Max(maxGrad, math.Abs(wk.grad[t]))
		}
		if math.IsNaN(maxStep) {
			return fitStatus{fail: true}
		}
		// Converged when the Newton step and the modified score vanish
		// (logistf's xconv = gconv = 1e-5 at the least), or
		// when the penalised likelihood no longer moves and the step is
		// small: on the flat ridge of a one-carrier variant the Fisher-
		// scoring step can oscillate around the optimum.
		if (maxStep < 1e-9 && maxGrad < 1e-6) || (maxStep <= 1e-5 && maxGrad < 1e-5) || (maxStep < 1e-3 && math.Abs(ll-prevLL) <= 1e-14*math.Abs(ll)) {
			return fitStatus{}
		}
		prevLL = ll
		if maxStep > 5 {
			for t := range step[:p] {
				step[t] *= 5 / maxStep
			}
		}
		copy(prev, beta)
		var newLL float64
		for half := 0; ; half++ {
			for t := 0; t < p; t++ {
				beta[t] = prev[t] + step[t]
			}
			newLL, ok = firthEval(d, p, beta, wk)
			if ok && newLL > ll {
				break
			}
			if half == 30 {
				if !ok {
					return fitStatus{fail: true}
				}
				break // no ascent left within roundoff
			}
			for t := range step[:p] {
				step[t] /= 2
			}
		}
		ll = newLL
	}
	return fitStatus{unfinished: true}
}

// firthEval computes, at beta, the information I (wk.hess), its inverse
// (wk.inv), the modified score (wk.grad) and returns the penalised
// log-likelihood.
func firthEval(d *rows, p int, beta []float64, wk *logWork) (float64, bool) {
	q := p - 1
	hess, grad := wk.hess, wk.grad
	clear(hess[:p*p])
	ll := 0.0
	x := wk.x
	for r := 0; r < d.nrow; r++ {
		gi := d.g[r]
		nr := 1.0
		if d.n != nil {
			nr = d.n[r]
		}
		if gi != gi || nr == 0 {
			continue
		}
		eta := fillX(d, r, q, gi, beta, x)
		mu := 1 / (1 + math.Exp(-eta))
		ll += d.s[r]*logSigmoid(eta) + (nr-d.s[r])*logSigmoid(-eta)
		w := nr * mu * (1 - mu)
		for a := 0; a < p; a++ {
			wa := w * x[a]
			for b := 0; b <= a; b++ {
				hess[a*p+b] += wa * x[b]
			}
		}
	}
	for a := 0; a < p; a++ {
		for b := 0; b < a; b++ {
			hess[b*p+a] = hess[a*p+b]
		}
	}
	copy(wk.inv, hess)
	logdet, ok := cholInverseLogDet(wk.inv, p)
	if !ok || math.IsNaN(ll) {
		return 0, false
	}
	clear(grad[:p])
	hess2 := wk.hess2
	clear(hess2[:p*p])
	inv := wk.inv
	for r := 0; r < d.nrow; r++ {
		gi := d.g[r]
		nr := 1.0
		if d.n != nil {
			nr = d.n[r]
		}
		if gi != gi || nr == 0 {
			continue
		}
		eta := fillX(d, r, q, gi, beta, x)
		mu := 1 / (1 + math.Exp(-eta))
		// hat value of one sample: μ(1-μ) x' I⁻¹ x
		quad := 0.0
		for a := 0; a < p; a++ {
			s := 0.0
			for b := 0; b < p; b++ {
				s += inv[a*p+b] * x[b]
			}
			quad += x[a] * s
		}
		h := mu * (1 - mu) * quad
		u := d.s[r] - nr*mu + nr*h*(0.5-mu)
		w2 := nr * (1 + h) * mu * (1 - mu)
		for a := 0; a < p; a++ {
			grad[a] += u * x[a]
			wa := w2 * x[a]
			for b := 0; b <= a; b++ {
				hess2[a*p+b] += wa * x[b]
			}
		}
	}
	for a := 0; a < p; a++ {
		for b := 0; b < a; b++ {
			hess2[b*p+a] = hess2[a*p+b]
		}
	}
	return ll + 0.5*logdet, true
}

// fillX writes x = [z_r, g] and returns the linear predictor x'β.
func fillX(d *rows, r, q int, gi float64, beta, x []float64) float64 {
	copy(x, d.z[r*q:r*q+q])
	x[q] = gi
	eta := 0.0
	for t := 0; t <= q; t++ {
		eta += x[t] * beta[t]
	}
	return eta
}

// logSigmoid is log(1/(1+e^-x)) without overflow.
func logSigmoid(x float64) float64 {
	if x >= 0 {
		return -math.Log1p(math.Exp(-x))
	}
	return x - math.Log1p(math.Exp(x))
}
