package models

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

const (
	// maxIter is the most IRLS (Newton) updates Logistic makes.
	maxIter = 50
	// devTol: converged when |D_new − D_old| / (|D_new| + 0.1) < devTol
	// (the deviance criterion of R's glm, with a tighter tolerance).
	devTol = 1e-10
	// maxHalvings bounds the step-halving when a Newton step raises the
	// deviance.
	maxHalvings = 30
	// shiftTol: at a true optimum the next Newton step changes no person's
	// linear predictor by more than rounding; if it would still move some
	// linear predictor by more than this, the coefficients are running off
	// to infinity (separation). Under separation the step moves the
	// separated persons' linear predictors by about 1 per iteration.
	shiftTol = 1e-2
	// satTol: a fitted probability within this of 0 or 1 is "numerically
	// 0 or 1"; used to classify a fit that ran out of iterations.
	satTol = 1e-10
)

// Logistic fits logit P(y=1) = Xβ with an intercept by maximum likelihood,
// using iteratively reweighted least squares (Newton–Raphson with step
// halving), at most 50 iterations, converged when the relative change of
// the deviance is below 1e-10.
//
// Standard errors are from the inverse information (XᵀWX)⁻¹ at the
// estimate; Wald z = coef/SE with two-sided normal p-values; the 95% CI is
// coef ± 1.959964·SE, and OR, ORLo, ORHi are their exponentials.
//
// Y must be coded 0/1 and not constant. Complete or quasi-complete
// separation (no finite maximum-likelihood estimate: coefficients that keep
// diverging, fitted probabilities driven to 0 or 1) is an ErrSeparation
// error naming the predictor that contributes most to the divergence.
func Logistic(d Design) (*Fit, error) {
	const model = "logistic"
	pr, err := prepare(model, d)
	if err != nil {
		return nil, err
	}
	n, p := pr.n, pr.p
	var n1 float64
	bad := 0
	for _, v := range pr.y {
		switch v {
		case 1:
			n1++
		case 0:
		default:
			bad++
		}
	}
	if bad > 0 {
		return nil, newErr(ErrOutcome, "", model, "outcome must be coded 0/1: %d of %d values are neither 0 nor 1", bad, n)
	}
	if n1 == 0 || n1 == float64(n) {
		return nil, newErr(ErrOutcome, "", model, "outcome is constant (only one of the two classes occurs); there is nothing to model")
	}

	// Rank of the unweighted design.
	var qr mat.QR
	qr.Factorize(pr.matrix())
	if err := pr.checkRank(upperR(&qr, p)); err != nil {
		return nil, err
	}

	// Start from the intercept-only MLE: its deviance is the null deviance.
	ybar := n1 / float64(n)
	n0 := float64(n) - n1
	nullLL := n1*math.Log(ybar) + n0*math.Log1p(-ybar)

	f := &irls{pr: pr, aw: make([]float64, n*p), rhs: make([]float64, n)}
	beta := make([]float64, p)
	beta[0] = math.Log(ybar / (1 - ybar))
	eta := matVec(pr.a, n, p, beta, nil)
	dev := deviance(pr.y, eta)

	betaNew := make([]float64, p)
	etaNew := make([]float64, n)
	var (
		step      []float64
		iter      int
		converged bool
		stalled   bool
	)
	for {
		var ok bool
		step, ok = f.newtonStep(eta)
		if !ok {
			// Weights have underflowed: fitted probabilities are exactly
			// 0 or 1.
			return nil, separationErr(pr, beta)
		}
		if converged || stalled || iter == maxIter {
			break
		}
		iter++
		t := 1.0
		var devNew float64
		for h := 0; ; h++ {
			for j := range betaNew {
				betaNew[j] = beta[j] + t*step[j]
			}
			matVec(pr.a, n, p, betaNew, etaNew)
			devNew = deviance(pr.y, etaNew)
			if devNew <= dev || math.Abs(devNew-dev) < devTol*(math.Abs(devNew)+0.1) {
				break
			}
			if h == maxHalvings {
				stalled = true
				break
			}
			t /= 2
		}
		if stalled {
			iter-- // no update made; step and f.qr are still those at beta
			break
		}
		rel := math.Abs(devNew-dev) / (math.Abs(devNew) + 0.1)
		beta, betaNew = betaNew, beta
		eta, etaNew = etaNew, eta
		dev = devNew
		if rel < devTol {
			converged = true
		}
	}

	// step is now the Newton step at the final beta, and f.qr the QR of the
	// weighted design there. At an optimum the step is negligible.
	var maxShift, minP float64
	minP = 1
	for i := 0; i < n; i++ {
		r := pr.a[i*p : (i+1)*p]
		var s float64
		for j, v := range r {
			s += v * step[j]
		}
		maxShift = math.Max(maxShift, math.Abs(s))
		mu, q := probs(eta[i])
		minP = math.Min(minP, math.Min(mu, q))
	}
	if stalled && maxShift <= shiftTol {
		converged = true // at the optimum to rounding
	}
	switch {
	case maxShift > shiftTol && (converged || iter == maxIter):
		return nil, separationErr(pr, step)
	case !converged && minP < satTol:
		return nil, separationErr(pr, beta)
	case !converged:
		return nil, newErr(ErrNoConvergence, "", model, "did not converge in %d iterations", iter)
	}

	rf := upperR(&f.qr, p)
	cov, ok := unscaledCov(rf)
	if !ok {
		return nil, separationErr(pr, beta)
	}
	beta, uv := pr.toRaw(beta, cov)
	terms := make([]Term, p)
	for j := range terms {
		se := math.Sqrt(uv[j])
		z := beta[j] / se
		lo, hi := beta[j]-z975*se, beta[j]+z975*se
		terms[j] = Term{
			Name: pr.names[j],
			Coef: beta[j],
			SE:   se,
			Stat: z,
			P:    math.Erfc(math.Abs(z) / math.Sqrt2), // 2·(1−Φ(|z|)), accurate in the tail
			Lo:   lo,
			Hi:   hi,
			OR:   math.Exp(beta[j]),
			ORLo: math.Exp(lo),
			ORHi: math.Exp(hi),
		}
	}
	ll := -dev / 2 // the saturated log-likelihood of 0/1 data is 0
	clear(eta)
	return &Fit{
		Kind:       model,
		N:          n,
		DF:         n - p,
		Terms:      terms,
		LogLik:     ll,
		NullLogLik: nullLL,
		AIC:        dev + 2*float64(p),
		Iter:       iter,
		Converged:  true,
		// f.aw is √W·X at the final step, whose QR gave rf.
		MaxLeverage: maxLeverage(f.aw, n, p, rf),
	}, nil
}

// irls holds the scratch space of the weighted least-squares steps.
type irls struct {
	pr  *prepared
	aw  []float64 // √W·X, n×p row-major
	rhs []float64 // √W·(working residual) = (y−μ)/√w
	qr  mat.QR
}

// newtonStep returns the Newton step δ = (XᵀWX)⁻¹Xᵀ(y−μ) at linear
// predictor eta, as the least-squares solution of √W·X δ ≈ (y−μ)/√w, and
// leaves the QR of √W·X in f.qr. ok is false if that system is singular.
func (f *irls) newtonStep(eta []float64) (step []float64, ok bool) {
	pr := f.pr
	n, p := pr.n, pr.p
	for i := 0; i < n; i++ {
		e := math.Exp(-math.Abs(eta[i]))
		sw := math.Sqrt(e) / (1 + e) // √(μ(1−μ))
		if sw == 0 {
			return nil, false
		}
		// (y−μ)/√w: for y=1 it is √((1−μ)/μ), for y=0 −√(μ/(1−μ)).
		var r float64
		switch {
		case pr.y[i] == 1 && eta[i] >= 0:
			r = math.Sqrt(e)
		case pr.y[i] == 1:
			r = 1 / math.Sqrt(e)
		case eta[i] >= 0:
			r = -1 / math.Sqrt(e)
		default:
			r = -math.Sqrt(e)
		}
		f.rhs[i] = r
		src := pr.a[i*p : (i+1)*p]
		dst := f.aw[i*p : (i+1)*p]
		for j, v := range src {
			dst[j] = sw * v
		}
	}
	f.qr.Factorize(mat.NewDense(n, p, f.aw))
	return solveQR(&f.qr, f.rhs, p)
}

// probs returns μ = logistic(η) and 1−μ, each without cancellation.
func probs(eta float64) (mu, q float64) {
	e := math.Exp(-math.Abs(eta))
	if eta >= 0 {
		return 1 / (1 + e), e / (1 + e)
	}
	return e / (1 + e), 1 / (1 + e)
}

// deviance returns −2·log-likelihood of 0/1 outcomes y at linear predictor
// eta.
func deviance(y, eta []float64) float64 {
	var s float64
	for i, v := range eta {
		if y[i] == 1 {
			s += softplus(-v) // −log μ
		} else {
			s += softplus(v) // −log(1−μ)
		}
	}
	return 2 * s
}

// softplus returns log(1+exp(t)) without overflow.
func softplus(t float64) float64 {
	return math.Max(t, 0) + math.Log1p(math.Exp(-math.Abs(t)))
}

// separationErr names the predictor whose coefficient contributes most,
// on the scale of the data, to the diverging direction dir.
func separationErr(pr *prepared, dir []float64) error {
	best, bestJ := 0.0, -1
	for j := 1; j < pr.p; j++ {
		var ss float64 // the design is centred
		for i := 0; i < pr.n; i++ {
			c := pr.a[i*pr.p+j]
			ss += c * c
		}
		if s := math.Abs(dir[j]) * math.Sqrt(ss/float64(pr.n)); s > best {
			best, bestJ = s, j
		}
	}
	const advice = "coefficients diverge and there is no finite estimate"
	if bestJ < 0 {
		return newErr(ErrSeparation, "", pr.model, "complete or quasi-complete separation: the predictors perfectly predict the outcome for some persons; %s", advice)
	}
	name := pr.names[bestJ]
	return newErr(ErrSeparation, name, pr.model,
		"complete or quasi-complete separation, most likely by predictor %q: it perfectly predicts the outcome for some persons, so %s; drop or recode %q (e.g. merge sparse categories)",
		name, advice, name)
}
