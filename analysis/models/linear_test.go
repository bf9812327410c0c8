package models

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestLinearSimpleClosedForm checks simple regression against the textbook
// formulas: slope = Sxy/Sxx, intercept = ȳ − slope·x̄, SE(slope) = σ/√Sxx,
// SE(intercept) = σ·√(1/n + x̄²/Sxx), R² = 1 − RSS/TSS, with p-values and
// critical values from the closed-form Student t series.
func TestLinearSimpleClosedForm(t *testing.T) {
	type want struct{ b0, b1, r2, sigma, se0, se1 float64 }
	cases := []struct {
		name string
		x, y []float64
		hand *want // worked by hand, when given
	}{
		{
			name: "five points df=3",
			x:    []float64{1, 2, 3, 4, 5},
			y:    []float64{2, 4, 5, 4, 5},
			// x̄=3 ȳ=4 Sxx=10 Sxy=6 RSS=2.4 TSS=6 σ²=0.8
			hand: &want{b0: 2.2, b1: 0.6, r2: 0.6, sigma: math.Sqrt(0.8), se0: math.Sqrt(0.88), se1: math.Sqrt(0.08)},
		},
		{
			name: "four points df=2",
			x:    []float64{0, 1, 2, 3},
			y:    []float64{1, 3, 2, 5},
			// x̄=1.5 ȳ=2.75 Sxx=5 Sxy=5.5 fitted 1.1,2.2,3.3,4.4 RSS=2.7 TSS=8.75 σ²=1.35
			hand: &want{b0: 1.1, b1: 1.1, r2: 1 - 2.7/8.75, sigma: math.Sqrt(1.35), se0: math.Sqrt(1.35 * (0.25 + 2.25/5)), se1: math.Sqrt(1.35 / 5)},
		},
		{
			name: "three points df=1 negative slope",
			x:    []float64{-1, 0, 2},
			y:    []float64{3, 2.5, 0},
		},
		{
			name: "large offset in x (QR stability)",
			x:    []float64{1e6 + 0, 1e6 + 1, 1e6 + 2, 1e6 + 3, 1e6 + 4, 1e6 + 5, 1e6 + 6, 1e6 + 7},
			y:    []float64{2.1, 2.9, 4.2, 4.8, 6.1, 7.2, 7.9, 9.1},
		},
		{
			name: "noisy n=40 df=38",
			x:    seq(40, func(i int) float64 { return float64(i%7) + 0.1*float64(i) }),
			y:    seq(40, func(i int) float64 { return 5 - 0.3*float64(i%7) + math.Sin(float64(i)) }),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := len(c.x)
			d := Design{Names: []string{"x"}, Y: c.y}
			for _, v := range c.x {
				d.X = append(d.X, []float64{v})
			}
			fit, err := Linear(d)
			if err != nil {
				t.Fatal(err)
			}
			// Closed form, centred (exact to rounding even with an offset).
			var xbar, ybar float64
			for i := range c.x {
				xbar += c.x[i]
				ybar += c.y[i]
			}
			xbar /= float64(n)
			ybar /= float64(n)
			var sxx, sxy, tss float64
			for i := range c.x {
				sxx += (c.x[i] - xbar) * (c.x[i] - xbar)
				sxy += (c.x[i] - xbar) * (c.y[i] - ybar)
				tss += (c.y[i] - ybar) * (c.y[i] - ybar)
			}
			b1 := sxy / sxx
			b0 := ybar - b1*xbar
			var rss float64
			for i := range c.x {
				e := (c.y[i] - ybar) - b1*(c.x[i]-xbar) // centred: no cancellation
				rss += e * e
			}
			df := n - 2
			s2 := rss / float64(df)
			se1 := math.Sqrt(s2 / sxx)
			se0 := math.Sqrt(s2 * (1/float64(n) + xbar*xbar/sxx))
			r2 := 1 - rss/tss
			tq := studentTQuantile975(df)
			ll := -float64(n) / 2 * (math.Log(2*math.Pi*rss/float64(n)) + 1)

			const tol = 1e-10
			if c.hand != nil {
				h := c.hand
				check(t, "hand b0", b0, h.b0, 1e-12)
				check(t, "hand b1", b1, h.b1, 1e-12)
				check(t, "hand R2", r2, h.r2, 1e-12)
				check(t, "hand sigma", math.Sqrt(s2), h.sigma, 1e-12)
				check(t, "hand se0", se0, h.se0, 1e-12)
				check(t, "hand se1", se1, h.se1, 1e-12)
			}
			if fit.Kind != "linear" || fit.N != n || fit.DF != df || !fit.Converged || len(fit.Terms) != 2 {
				t.Fatalf("fit header %+v", fit)
			}
			if fit.Terms[0].Name != InterceptName || fit.Terms[1].Name != "x" {
				t.Errorf("term names %q %q", fit.Terms[0].Name, fit.Terms[1].Name)
			}
			for j, w := range []struct{ coef, se float64 }{{b0, se0}, {b1, se1}} {
				tm := fit.Terms[j]
				check(t, tm.Name+" coef", tm.Coef, w.coef, tol)
				check(t, tm.Name+" SE", tm.SE, w.se, tol)
				tstat := w.coef / w.se
				check(t, tm.Name+" t", tm.Stat, tstat, tol)
				check(t, tm.Name+" p", tm.P, 1-studentTAbsCDF(tstat, df), 1e-9)
				check(t, tm.Name+" lo", tm.Lo, w.coef-tq*w.se, tol)
				check(t, tm.Name+" hi", tm.Hi, w.coef+tq*w.se, tol)
				if tm.OR != 0 || tm.ORLo != 0 || tm.ORHi != 0 {
					t.Errorf("%s: odds ratios set on a linear fit", tm.Name)
				}
			}
			check(t, "R2", fit.R2, r2, 1e-10)
			check(t, "AdjR2", fit.AdjR2, 1-(1-r2)*float64(n-1)/float64(df), 1e-10)
			check(t, "Sigma", fit.Sigma, math.Sqrt(s2), 1e-10)
			check(t, "LogLik", fit.LogLik, ll, 1e-10)
			check(t, "NullLogLik", fit.NullLogLik, -float64(n)/2*(math.Log(2*math.Pi*tss/float64(n))+1), 1e-10)
			check(t, "AIC", fit.AIC, -2*ll+2*3, 1e-10)
		})
	}
}

func seq(n int, f func(int) float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = f(i)
	}
	return v
}

// TestLinearMultipleNormalEquations matches multiple regression against a
// direct solve of the normal equations XᵀXβ = Xᵀy with gonum, and the
// standard errors against σ²·(XᵀX)⁻¹ from a Cholesky inverse.
func TestLinearMultipleNormalEquations(t *testing.T) {
	cases := []struct {
		name  string
		n     int
		scale []float64 // per-predictor scale
		beta  []float64 // true coefficients incl. intercept
	}{
		{"n=25 k=2", 25, []float64{1, 1}, []float64{1, 2, -1}},
		{"n=200 k=4", 200, []float64{1, 3, 0.5, 10}, []float64{-2, 0.5, 0, 1.5, -0.1}},
		{"n=60 k=3 mixed scales", 60, []float64{1e-3, 1, 1e3}, []float64{0.3, 400, -2, 0.001}},
		{"n=12 k=6", 12, []float64{1, 1, 1, 1, 1, 1}, []float64{0, 1, 1, 1, 1, 1, 1}},
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(ci)+1, 7))
			k := len(c.scale)
			p := k + 1
			d := Design{Y: make([]float64, c.n)}
			for j := 0; j < k; j++ {
				d.Names = append(d.Names, "v"+string(rune('a'+j)))
			}
			xm := mat.NewDense(c.n, p, nil)
			for i := 0; i < c.n; i++ {
				row := make([]float64, k)
				y := c.beta[0]
				xm.Set(i, 0, 1)
				for j := range row {
					row[j] = c.scale[j] * (rng.NormFloat64() + 0.3*float64(j))
					if j > 0 {
						row[j] += 0.4 * row[0] * c.scale[j] / c.scale[0] // correlated
					}
					y += c.beta[j+1] * row[j]
					xm.Set(i, j+1, row[j])
				}
				d.X = append(d.X, row)
				d.Y[i] = y + rng.NormFloat64()
			}
			fit, err := Linear(d)
			if err != nil {
				t.Fatal(err)
			}

			var xtx mat.SymDense
			xtx.SymOuterK(1, xm.T())
			var xty mat.VecDense
			yv := mat.NewVecDense(c.n, d.Y)
			xty.MulVec(xm.T(), yv)
			var ch mat.Cholesky
			if !ch.Factorize(&xtx) {
				t.Fatal("XᵀX not positive definite")
			}
			var b mat.VecDense
			if err := ch.SolveVecTo(&b, &xty); err != nil {
				t.Fatal(err)
			}
			var inv mat.SymDense
			if err := ch.InverseTo(&inv); err != nil {
				t.Fatal(err)
			}
			var fitted, resid mat.VecDense
			fitted.MulVec(xm, &b)
			resid.SubVec(yv, &fitted)
			rss := mat.Dot(&resid, &resid)
			df := c.n - p
			s2 := rss / float64(df)
			var ybar, tss float64
			for _, v := range d.Y {
				ybar += v
			}
			ybar /= float64(c.n)
			for _, v := range d.Y {
				tss += (v - ybar) * (v - ybar)
			}
			tq := studentTQuantile975(df)
			for j := 0; j < p; j++ {
				tm := fit.Terms[j]
				se := math.Sqrt(s2 * inv.At(j, j))
				check(t, tm.Name+" coef", tm.Coef, b.AtVec(j), 1e-9)
				check(t, tm.Name+" SE", tm.SE, se, 1e-9)
				check(t, tm.Name+" t", tm.Stat, b.AtVec(j)/se, 1e-8)
				check(t, tm.Name+" p", tm.P, 1-studentTAbsCDF(b.AtVec(j)/se, df), 1e-9)
				check(t, tm.Name+" CI width", tm.Hi-tm.Lo, 2*tq*se, 1e-9)
			}
			check(t, "R2", fit.R2, 1-rss/tss, 1e-10)
			check(t, "Sigma", fit.Sigma, math.Sqrt(s2), 1e-10)
			if fit.DF != df || fit.N != c.n {
				t.Errorf("N, DF = %d, %d", fit.N, fit.DF)
			}
		})
	}
}

// TestLinearInterceptOnly: with no predictors the intercept is the mean,
// its SE the standard error of the mean, and R² = 0.
func TestLinearInterceptOnly(t *testing.T) {
	y := []float64{3, 7, 8, 1, 6}
	fit, err := Linear(Design{Y: y})
	if err != nil {
		t.Fatal(err)
	}
	// mean 5, Σ(y−5)² = 4+4+9+16+1 = 34, s² = 8.5
	check(t, "coef", fit.Terms[0].Coef, 5, 1e-12)
	check(t, "SE", fit.Terms[0].SE, math.Sqrt(8.5/5), 1e-12)
	check(t, "R2", fit.R2, 0, 1e-12)
	check(t, "AdjR2", fit.AdjR2, 0, 1e-12)
	check(t, "Sigma", fit.Sigma, math.Sqrt(8.5), 1e-12)
	check(t, "LogLik = NullLogLik", fit.LogLik, fit.NullLogLik, 1e-12)
}

// TestMaxLeverage: for one predictor the hat matrix diagonal is
// 1/n + (x−x̄)²/Σ(x−x̄)²; a person far from the others has leverage near 1,
// and a logistic fit weighs it by μ(1−μ) at the optimum.
func TestMaxLeverage(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	y := []float64{2.1, 3.9, 6.2, 8.1, 9.8, 12.2, 13.9, 16.1, 18.2, 19.8, 22.1, 24.3}
	d := Design{Names: []string{"x"}}
	var mean, sxx float64
	for i := range x {
		d.X = append(d.X, []float64{x[i]})
		mean += x[i] / float64(len(x))
	}
	d.Y = y
	for _, v := range x {
		sxx += (v - mean) * (v - mean)
	}
	want := 1/float64(len(x)) + (12-mean)*(12-mean)/sxx
	fit, err := Linear(d)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "max leverage", fit.MaxLeverage, want, 1e-12)

	// One person at 1000: their leverage is all but 1.
	d.X[11][0] = 1000
	if fit, err = Linear(d); err != nil {
		t.Fatal(err)
	}
	if fit.MaxLeverage < 0.999 {
		t.Errorf("an outlying person's leverage %v, want near 1", fit.MaxLeverage)
	}
	ys := []float64{0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0}
	lg, err := Logistic(Design{Names: d.Names, X: d.X, Y: ys})
	if err != nil {
		t.Fatal(err)
	}
	// Directly: hᵢ = wᵢ·xᵢᵀ(XᵀWX)⁻¹xᵢ with wᵢ = μᵢ(1−μᵢ) at the estimates.
	var s00, s01, s11 float64
	w := make([]float64, len(ys))
	for i, r := range d.X {
		mu := 1 / (1 + math.Exp(-(lg.Terms[0].Coef + lg.Terms[1].Coef*r[0])))
		w[i] = mu * (1 - mu)
		s00 += w[i]
		s01 += w[i] * r[0]
		s11 += w[i] * r[0] * r[0]
	}
	det := s00*s11 - s01*s01
	var hmax float64
	for i, r := range d.X {
		h := w[i] * (s11 - 2*s01*r[0] + s00*r[0]*r[0]) / det
		hmax = math.Max(hmax, h)
	}
	check(t, "logistic max leverage", lg.MaxLeverage, hmax, 1e-6)
}
