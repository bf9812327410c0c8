package models

import (
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// perfectFitTol: a residual sum of squares at or below this fraction of the
// total sum of squares means the outcome is an exact linear function of the
// predictors (up to rounding), leaving no residual variance to test against.
const perfectFitTol = 1e-20

// Linear fits y = Xβ + ε by ordinary least squares with an intercept.
//
// The coefficients come from a QR decomposition of the design; standard
// errors are sqrt of the diagonal of σ²(XᵀX)⁻¹ with σ² = RSS/(n−p); t
// statistics are tested against Student's t on n−p degrees of freedom
// (two-sided) and the 95% intervals use its 0.975 quantile.
func Linear(d Design) (*Fit, error) {
	const model = "linear"
	pr, err := prepare(model, d)
	if err != nil {
		return nil, err
	}
	if pr.outcomeConstant() {
		return nil, newErr(ErrOutcome, "", model, "outcome is constant; there is nothing to model")
	}
	n, p := pr.n, pr.p

	// QR of the augmented matrix [X | y]: its R holds R_X, Q_Xᵀy (column
	// p, rows < p) and ±‖y − Xβ̂‖ (the last diagonal element), so the
	// residual sum of squares comes out without subtracting fitted values
	// from the outcome (which cancels badly when predictors have a large
	// offset).
	aug := mat.NewDense(n, p+1, nil)
	aug.Slice(0, n, 0, p).(*mat.Dense).Copy(pr.matrix())
	aug.SetCol(p, pr.y)
	var qr mat.QR
	qr.Factorize(aug)
	r := upperR(&qr, p+1)
	if err := pr.checkRank(r); err != nil {
		return nil, err
	}
	betaC := make([]float64, p)
	for j := p - 1; j >= 0; j-- { // back substitution R_X β = Q_Xᵀy
		s := r.At(j, p)
		for k := j + 1; k < p; k++ {
			s -= r.At(j, k) * betaC[k]
		}
		betaC[j] = s / r.At(j, j)
	}
	cov, ok := unscaledCov(r.SliceTri(0, p).(*mat.TriDense))
	if !ok {
		return nil, newErr(ErrCollinear, "", model, "the design is singular; drop collinear predictors")
	}
	beta, uv := pr.toRaw(betaC, cov)
	rss := r.At(p, p) * r.At(p, p)
	var mean, tss float64
	for _, v := range pr.y {
		mean += v
	}
	mean /= float64(n)
	for _, v := range pr.y {
		tss += (v - mean) * (v - mean)
	}
	if rss <= perfectFitTol*tss {
		return nil, newErr(ErrPerfectFit, "", model, "the predictors reproduce the outcome exactly (no residual variance); the model cannot be tested")
	}

	df := n - p
	sigma2 := rss / float64(df)
	tdist := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(df)}
	tq := tdist.Quantile(0.975)
	terms := make([]Term, p)
	for j := range terms {
		se := math.Sqrt(sigma2 * uv[j])
		t := beta[j] / se
		terms[j] = Term{
			Name: pr.names[j],
			Coef: beta[j],
			SE:   se,
			Stat: t,
			P:    2 * tdist.Survival(math.Abs(t)),
			Lo:   beta[j] - tq*se,
			Hi:   beta[j] + tq*se,
		}
	}

	fn := float64(n)
	gaussLL := func(ss float64) float64 {
		return -0.5 * fn * (math.Log(2*math.Pi*ss/fn) + 1)
	}
	r2 := 1 - rss/tss
	ll := gaussLL(rss)
	return &Fit{
		Kind:        model,
		N:           n,
		DF:          df,
		Terms:       terms,
		R2:          r2,
		AdjR2:       1 - (1-r2)*float64(n-1)/float64(df),
		Sigma:       math.Sqrt(sigma2),
		LogLik:      ll,
		NullLogLik:  gaussLL(tss),
		AIC:         -2*ll + 2*float64(p+1),
		Iter:        1,
		Converged:   true,
		MaxLeverage: maxLeverage(pr.a, n, p, r.SliceTri(0, p).(*mat.TriDense)),
	}, nil
}
