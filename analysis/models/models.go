package models

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Design is a model's data: one row per person.
type Design struct {
	Names []string    // predictor names, in column order, WITHOUT the intercept (added by the fit)
	X     [][]float64 // n rows × len(Names)
	Y     []float64   // n outcomes (0/1 for logistic)
}

// Term is the estimate for one model parameter.
type Term struct {
	Name                      string
	Coef, SE, Stat, P, Lo, Hi float64 // Stat = t (linear) or z (logistic); Lo/Hi = 95% CI of Coef
	OR, ORLo, ORHi            float64 // logistic only: exp(Coef) and exp of the CI (0 for linear)
}

// Fit is a fitted model. It holds aggregate statistics only: nothing in it
// has one entry per person.
type Fit struct {
	Kind      string  // "linear" or "logistic"
	N         int     // rows used
	DF        int     // residual degrees of freedom n - p (p includes the intercept)
	Terms     []Term  // "(intercept)" first, then Names
	R2, AdjR2 float64 // linear
	Sigma     float64 // linear residual standard error
	// LogLik and NullLogLik are the maximised log-likelihoods of the model
	// and of the intercept-only model; AIC = -2·LogLik + 2k. For logistic
	// models k = p. For linear models they are the Gaussian log-likelihoods
	// at the maximum-likelihood variance RSS/n and k = p+1 (σ counts as a
	// parameter), as R's logLik/AIC for lm.
	LogLik, NullLogLik, AIC float64
	Iter                    int  // IRLS iterations (logistic); 1 for linear (one direct QR solve)
	Converged               bool // always true for linear
	// MaxLeverage is the largest diagonal element of the hat matrix
	// (weighted at the optimum for logistic models): the weight of one
	// person's own outcome in their fitted value, near 1 for a person far
	// from all the others, whose outcome the estimates then carry. It is
	// one number over all persons, for the release rules, not to be shown.
	MaxLeverage float64
}

// InterceptName is the name of the intercept term, always Terms[0].
const InterceptName = "(intercept)"

// Error kinds. Every error returned by Linear and Logistic is an *Error
// whose Kind is one of these, so errors.Is(err, ErrCollinear) and the like
// work.
var (
	ErrDesign        = errors.New("malformed design")
	ErrNonFinite     = errors.New("non-finite value")
	ErrTooFewRows    = errors.New("too few persons")
	ErrCollinear     = errors.New("collinear or constant predictor")
	ErrOutcome       = errors.New("unusable outcome")
	ErrPerfectFit    = errors.New("perfect fit")
	ErrSeparation    = errors.New("separation")
	ErrNoConvergence = errors.New("no convergence")
)

// Error is a fitting error. Its message contains only counts and names,
// never a data value, so it may be shown to the analyst.
type Error struct {
	Kind      error  // one of the Err* sentinels
	Predictor string // the predictor concerned ("" for the outcome or the design as a whole)
	msg       string
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the error's Kind.
func (e *Error) Unwrap() error { return e.Kind }

func newErr(kind error, predictor, model, format string, args ...any) *Error {
	return &Error{Kind: kind, Predictor: predictor, msg: model + " regression: " + fmt.Sprintf(format, args...)}
}

// nearConstTol: a column whose centred norm is at most this fraction of its
// raw norm varies only in its last few bits and counts as constant.
const nearConstTol = 1e-13

// collinearTol is the relative size below which a centred column's
// component orthogonal to the preceding columns (|R_jj| / ‖x_j − x̄_j‖)
// marks it as collinear (1 − R²_j ≤ 1e-14 when regressed on the others);
// it is the tolerance R's lm uses (there relative to the raw column).
const collinearTol = 1e-7

// z975 is the 0.975 quantile of the standard normal (1.959964).
var z975 = distuv.UnitNormal.Quantile(0.975)

// prepared is a validated design with the intercept column added.
//
// The predictors are centred (a_ij = x_ij − mean_j): the fit is the same
// model, but the centred design is far better conditioned when a predictor
// sits far from zero (calendar years, dates, lab values), so coefficients,
// residual sums of squares and standard errors keep their accuracy. Only
// the intercept differs; toRaw maps estimates back to the original
// parametrisation.
type prepared struct {
	model    string    // "linear" or "logistic", for messages
	n, p     int       // rows, parameters (incl. intercept)
	names    []string  // InterceptName, then the predictors
	a        []float64 // n×p row-major centred design, column 0 all ones
	mean     []float64 // column means of the raw design (mean[0] = 0)
	constant []bool    // column is constant (all values equal, to ~500 ulps)
	y        []float64 // copy of the outcome
}

// prepare checks the shape and values of d that both models need and builds
// the design matrix with an intercept. It does not check the outcome coding.
func prepare(model string, d Design) (*prepared, error) {
	k := len(d.Names)
	seen := make(map[string]bool, k)
	for _, name := range d.Names {
		switch {
		case name == "":
			return nil, newErr(ErrDesign, "", model, "a predictor has an empty name")
		case name == InterceptName:
			return nil, newErr(ErrDesign, name, model, "predictor name %q is reserved for the intercept", name)
		case seen[name]:
			return nil, newErr(ErrDesign, name, model, "predictor name %q appears more than once", name)
		}
		seen[name] = true
	}
	n := len(d.Y)
	if len(d.X) != n && !(k == 0 && len(d.X) == 0) {
		return nil, newErr(ErrDesign, "", model, "design has %d rows of predictors but %d outcomes", len(d.X), n)
	}
	bad := 0
	for _, row := range d.X {
		if len(row) != k {
			bad++
		}
	}
	if bad > 0 {
		return nil, newErr(ErrDesign, "", model, "%d of %d rows do not have one value per predictor name (%d names)", bad, n, k)
	}
	if c := countNonFinite(d.Y); c > 0 {
		return nil, newErr(ErrNonFinite, "", model, "outcome has %d non-finite values (NaN or ±Inf); drop or impute those persons", c)
	}
	for j, name := range d.Names {
		c := 0
		for _, row := range d.X {
			if v := row[j]; math.IsNaN(v) || math.IsInf(v, 0) {
				c++
			}
		}
		if c > 0 {
			return nil, newErr(ErrNonFinite, name, model, "predictor %q has %d non-finite values (NaN or ±Inf); drop or impute those persons", name, c)
		}
	}
	p := k + 1
	if n <= p {
		return nil, newErr(ErrTooFewRows, "", model, "needs more persons than parameters: %d rows, %d parameters", n, p)
	}
	pr := &prepared{
		model:    model,
		n:        n,
		p:        p,
		names:    append([]string{InterceptName}, d.Names...),
		a:        make([]float64, n*p),
		mean:     make([]float64, p),
		constant: make([]bool, p),
		y:        append([]float64(nil), d.Y...),
	}
	for j := 1; j < p; j++ {
		var sum, ss float64
		allEqual := true
		for _, row := range d.X {
			v := row[j-1]
			sum += v
			ss += v * v
			allEqual = allEqual && v == d.X[0][j-1]
		}
		m := sum / float64(n)
		var c float64 // second pass: corrects the mean's rounding
		for _, row := range d.X {
			c += row[j-1] - m
		}
		m += c / float64(n)
		pr.mean[j] = m
		var css float64
		for i, row := range d.X {
			v := row[j-1] - m
			pr.a[i*p+j] = v
			css += v * v
		}
		pr.constant[j] = allEqual || math.Sqrt(css) <= nearConstTol*math.Sqrt(ss)
	}
	for i := 0; i < n; i++ {
		pr.a[i*p] = 1
	}
	return pr, nil
}

func countNonFinite(v []float64) int {
	c := 0
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			c++
		}
	}
	return c
}

// outcomeConstant reports whether all outcomes are equal.
func (pr *prepared) outcomeConstant() bool {
	for _, v := range pr.y[1:] {
		if v != pr.y[0] {
			return false
		}
	}
	return true
}

// matrix returns the design as a gonum matrix sharing pr.a.
func (pr *prepared) matrix() *mat.Dense { return mat.NewDense(pr.n, pr.p, pr.a) }

// checkRank reports the first predictor (in column order) that is constant
// or whose component orthogonal to the intercept and the preceding
// predictors is negligible relative to its own (centred) norm, given the R
// factor of a QR factorisation of pr's design (possibly augmented by
// further columns on the right).
func (pr *prepared) checkRank(r *mat.TriDense) error {
	for j := 1; j < pr.p; j++ {
		var ss float64
		for i := 0; i < pr.n; i++ {
			v := pr.a[i*pr.p+j]
			ss += v * v
		}
		norm := math.Sqrt(ss)
		if pr.constant[j] || norm == 0 || math.Abs(r.At(j, j)) <= collinearTol*norm {
			name := pr.names[j]
			return newErr(ErrCollinear, name, pr.model, "predictor %q is collinear with the others (or constant); drop it", name)
		}
	}
	return nil
}

// upperR returns the leading p×p upper triangle of the R factor of a QR
// factorisation.
func upperR(qr *mat.QR, p int) *mat.TriDense {
	var full mat.Dense
	qr.RTo(&full)
	r := mat.NewTriDense(p, mat.Upper, nil)
	for i := 0; i < p; i++ {
		for j := i; j < p; j++ {
			r.SetTri(i, j, full.At(i, j))
		}
	}
	return r
}

// unscaledCov returns (RᵀR)⁻¹ = R⁻¹R⁻ᵀ as a dense p×p matrix. ok is false
// when R is exactly singular.
func unscaledCov(r *mat.TriDense) (c *mat.Dense, ok bool) {
	p, _ := r.Triangle()
	var inv mat.TriDense
	if err := inv.InverseTri(r); err != nil {
		var cond mat.Condition
		if !errors.As(err, &cond) || math.IsInf(float64(cond), 1) {
			return nil, false
		}
		// Merely ill-conditioned (e.g. predictors on very different
		// scales): the triangular inverse is still accurate.
	}
	c = mat.NewDense(p, p, nil)
	c.Mul(&inv, inv.T())
	for _, v := range c.RawMatrix().Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, false
		}
	}
	return c, true
}

// toRaw maps coefficients and their (unscaled) covariance from the centred
// parametrisation to the original one: the slopes are unchanged and the
// intercept is β₀ = β₀ᶜ − Σ_j mean_j·β_jᶜ, so with t = (1, −mean₁, …),
// Var(β₀) = tᵀ C t. It returns the coefficients and their variances.
func (pr *prepared) toRaw(betaC []float64, c *mat.Dense) (beta, variance []float64) {
	p := pr.p
	beta = append([]float64(nil), betaC...)
	variance = make([]float64, p)
	t := make([]float64, p)
	t[0] = 1
	for j := 1; j < p; j++ {
		t[j] = -pr.mean[j]
		beta[0] -= pr.mean[j] * betaC[j]
		variance[j] = c.At(j, j)
	}
	var v0 float64
	for j := 0; j < p; j++ {
		for k := 0; k < p; k++ {
			v0 += t[j] * c.At(j, k) * t[k]
		}
	}
	variance[0] = math.Max(v0, 0)
	return beta, variance
}

// solveQR solves the least-squares problem min ‖A x − b‖ given A's QR
// factorisation. A mere ill-conditioning warning from gonum is ignored (the
// rank was checked beforehand); exact singularity is reported as !ok.
func solveQR(qr *mat.QR, b []float64, p int) (x []float64, ok bool) {
	var dst mat.VecDense
	if err := qr.SolveVecTo(&dst, false, mat.NewVecDense(len(b), b)); err != nil {
		var c mat.Condition
		if !errors.As(err, &c) || math.IsInf(float64(c), 1) {
			return nil, false
		}
	}
	x = make([]float64, p)
	for j := range x {
		x[j] = dst.AtVec(j)
		if math.IsNaN(x[j]) || math.IsInf(x[j], 0) {
			return nil, false
		}
	}
	return x, true
}

// matVec returns A·b for the n×p row-major matrix a.
func matVec(a []float64, n, p int, b []float64, dst []float64) []float64 {
	if dst == nil {
		dst = make([]float64, n)
	}
	for i := 0; i < n; i++ {
		r := a[i*p : (i+1)*p]
		var s float64
		for j, v := range r {
			s += v * b[j]
		}
		dst[i] = s
	}
	return dst
}

// maxLeverage returns max over rows of hᵢ = ‖R⁻ᵀxᵢ‖², where rows is an n×p
// row-major design and r the R factor of its QR: the diagonal of the hat
// matrix X(XᵀX)⁻¹Xᵀ = QQᵀ, by forward substitution through Rᵀ.
func maxLeverage(rows []float64, n, p int, r *mat.TriDense) float64 {
	z := make([]float64, p)
	var h float64
	for i := 0; i < n; i++ {
		x := rows[i*p : (i+1)*p]
		var hi float64
		for j := 0; j < p; j++ {
			s := x[j]
			for k := 0; k < j; k++ {
				s -= r.At(k, j) * z[k]
			}
			z[j] = s / r.At(j, j)
			hi += z[j] * z[j]
		}
		h = math.Max(h, hi)
	}
	return h
}
