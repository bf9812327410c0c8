package models

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// table2x2 builds the persons of a 2×2 table: x=0 with a0 cases (y=1) and
// b0 non-cases, x=1 with a1 cases and b1 non-cases.
func table2x2(a0, b0, a1, b1 int) Design {
	d := Design{Names: []string{"exposed"}}
	add := func(count int, x, y float64) {
		for range count {
			d.X = append(d.X, []float64{x})
			d.Y = append(d.Y, y)
		}
	}
	// Interleave a little so the order is not sorted by outcome.
	add(b1, 1, 0)
	add(a0, 0, 1)
	add(a1, 1, 1)
	add(b0, 0, 0)
	return d
}

// TestLogistic2x2ClosedForm: with one binary predictor the MLE is closed
// form: intercept = log odds among the unexposed, slope = log odds ratio,
// SE(slope) = √(1/a0+1/b0+1/a1+1/b1), SE(intercept) = √(1/a0+1/b0), and the
// log-likelihood is Σ count·log(fitted group proportion).
func TestLogistic2x2ClosedForm(t *testing.T) {
	cases := []struct {
		name           string
		a0, b0, a1, b1 int
	}{
		{"balanced", 10, 20, 30, 15},
		{"small cells", 1, 5, 7, 2},
		{"rare outcome", 3, 97, 12, 88},
		{"no effect", 25, 25, 40, 40},
		{"protective, a single case", 30, 10, 1, 25},
		{"large", 812, 4188, 1344, 3656},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fit, err := Logistic(table2x2(c.a0, c.b0, c.a1, c.b1))
			if err != nil {
				t.Fatal(err)
			}
			a0, b0, a1, b1 := float64(c.a0), float64(c.b0), float64(c.a1), float64(c.b1)
			n := a0 + b0 + a1 + b1
			want := []struct{ coef, se float64 }{
				{math.Log(a0 / b0), math.Sqrt(1/a0 + 1/b0)},
				{math.Log(a1 * b0 / (b1 * a0)), math.Sqrt(1/a0 + 1/b0 + 1/a1 + 1/b1)},
			}
			for j, w := range want {
				tm := fit.Terms[j]
				z := w.coef / w.se
				check(t, tm.Name+" coef", tm.Coef, w.coef, 1e-8)
				check(t, tm.Name+" SE", tm.SE, w.se, 1e-8)
				check(t, tm.Name+" z", tm.Stat, z, 1e-8)
				check(t, tm.Name+" p", tm.P, 2*normalUpper(math.Abs(z)), 1e-8)
				check(t, tm.Name+" lo", tm.Lo, w.coef-1.959963984540054*w.se, 1e-8)
				check(t, tm.Name+" hi", tm.Hi, w.coef+1.959963984540054*w.se, 1e-8)
				check(t, tm.Name+" OR", tm.OR, math.Exp(w.coef), 1e-8)
				check(t, tm.Name+" ORLo", tm.ORLo, math.Exp(w.coef-1.959963984540054*w.se), 1e-8)
				check(t, tm.Name+" ORHi", tm.ORHi, math.Exp(w.coef+1.959963984540054*w.se), 1e-8)
			}
			xlogy := func(k, p float64) float64 { return k * math.Log(p) }
			ll := xlogy(a0, a0/(a0+b0)) + xlogy(b0, b0/(a0+b0)) + xlogy(a1, a1/(a1+b1)) + xlogy(b1, b1/(a1+b1))
			m1 := (a0 + a1) / n
			null := xlogy(a0+a1, m1) + xlogy(b0+b1, 1-m1)
			check(t, "LogLik", fit.LogLik, ll, 1e-9)
			check(t, "NullLogLik", fit.NullLogLik, null, 1e-9)
			check(t, "AIC", fit.AIC, -2*ll+4, 1e-9)
			if fit.Kind != "logistic" || fit.N != int(n) || fit.DF != int(n)-2 || !fit.Converged || fit.Iter < 1 || fit.Iter > maxIter {
				t.Errorf("fit header %+v", *fit)
			}
			if fit.R2 != 0 || fit.AdjR2 != 0 || fit.Sigma != 0 {
				t.Errorf("linear-only fields set: %+v", *fit)
			}
		})
	}
}

// normalUpper is 1−Φ(z) by a route other than the code's (Φ from erf).
func normalUpper(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) }

// TestLogisticInterceptOnly: intercept = logit(ȳ), SE = √(1/n₁ + 1/n₀).
func TestLogisticInterceptOnly(t *testing.T) {
	y := []float64{1, 0, 0, 1, 0, 0, 0, 1, 0, 0}
	fit, err := Logistic(Design{Y: y})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "coef", fit.Terms[0].Coef, math.Log(3.0/7.0), 1e-12)
	check(t, "SE", fit.Terms[0].SE, math.Sqrt(1.0/3+1.0/7), 1e-12)
	check(t, "LogLik", fit.LogLik, fit.NullLogLik, 1e-12)
}

// bruteNewton maximises the logistic log-likelihood by plain Newton
// iterations on the raw design [1 X] with the Hessian solved by Cholesky,
// and returns β and √diag((XᵀWX)⁻¹) at the end.
func bruteNewton(t *testing.T, d Design) (beta, se []float64) {
	t.Helper()
	n, p := len(d.Y), len(d.Names)+1
	x := mat.NewDense(n, p, nil)
	for i, row := range d.X {
		x.Set(i, 0, 1)
		for j, v := range row {
			x.Set(i, j+1, v)
		}
	}
	b := mat.NewVecDense(p, nil)
	var inv mat.SymDense
	for range 100 {
		grad := mat.NewVecDense(p, nil)
		h := mat.NewSymDense(p, nil)
		for i := 0; i < n; i++ {
			xi := x.RawRowView(i)
			eta := mat.Dot(mat.NewVecDense(p, xi), b)
			mu := 1 / (1 + math.Exp(-eta))
			w := mu * (1 - mu)
			for j := 0; j < p; j++ {
				grad.SetVec(j, grad.AtVec(j)+xi[j]*(d.Y[i]-mu))
				for k := j; k < p; k++ {
					h.SetSym(j, k, h.At(j, k)+w*xi[j]*xi[k])
				}
			}
		}
		var ch mat.Cholesky
		if !ch.Factorize(h) {
			t.Fatal("information matrix not positive definite")
		}
		var step mat.VecDense
		if err := ch.SolveVecTo(&step, grad); err != nil {
			t.Fatal(err)
		}
		b.AddVec(b, &step)
		if err := ch.InverseTo(&inv); err != nil {
			t.Fatal(err)
		}
	}
	beta = make([]float64, p)
	se = make([]float64, p)
	for j := range beta {
		beta[j] = b.AtVec(j)
		se[j] = math.Sqrt(inv.At(j, j))
	}
	return beta, se
}

// gradientAt returns the score Xᵀ(y−μ) at coefficients beta (raw scale).
func gradientAt(d Design, beta []float64) []float64 {
	g := make([]float64, len(beta))
	for i, row := range d.X {
		eta := beta[0]
		for j, v := range row {
			eta += beta[j+1] * v
		}
		r := d.Y[i] - 1/(1+math.Exp(-eta))
		g[0] += r
		for j, v := range row {
			g[j+1] += v * r
		}
	}
	return g
}

// TestLogisticContinuous compares continuous-predictor fits with a
// brute-force Newton solution and checks the score vanishes at the
// estimate.
func TestLogisticContinuous(t *testing.T) {
	// Overlapping classes with a steep slope: finite MLE with some fitted
	// probabilities extremely close to 0 and 1 (must not be mistaken for
	// separation).
	steep := Design{Names: []string{"dose"}}
	for i := -20; i <= 20; i++ {
		y := 0.0
		if i > 0 {
			y = 1
		}
		if i == 1 || i == -2 {
			y = 1 - y
		}
		steep.X = append(steep.X, []float64{float64(i)})
		steep.Y = append(steep.Y, y)
	}
	// The same over a wide range: fitted probabilities down to ~1e-100.
	wide := Design{Names: []string{"dose"}}
	for i := -200; i <= 200; i++ {
		y := 0.0
		if i > 0 {
			y = 1
		}
		if i == 1 || i == -1 {
			y = 1 - y
		}
		wide.X = append(wide.X, []float64{float64(i) / 4})
		wide.Y = append(wide.Y, y)
	}
	cases := []struct {
		name string
		d    Design
	}{
		{"n=300 k=1", logisticData(300, []float64{-0.5, 1.2}, 1)},
		{"n=1000 k=3", logisticData(1000, []float64{0.3, 0.8, -0.5, 0.2}, 2)},
		{"n=500 k=5 rare outcome", logisticData(500, []float64{-2.5, 0.7, 0.4, -0.3, 0, 0.5}, 3)},
		{"steep slope, overlap", steep},
		{"steep slope, wide range", wide},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fit, err := Logistic(c.d)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float64, len(fit.Terms))
			for j, tm := range fit.Terms {
				got[j] = tm.Coef
			}
			// Score ≈ 0, on the scale of Σ|x_ij| (so offsets don't matter).
			g := gradientAt(c.d, got)
			for j, gj := range g {
				var scale float64
				for _, row := range c.d.X {
					if j == 0 {
						scale++
					} else {
						scale += math.Abs(row[j-1])
					}
				}
				if math.Abs(gj) > 1e-9*scale {
					t.Errorf("score[%d] = %g (scale %g)", j, gj, scale)
				}
			}
			bb, bse := bruteNewton(t, c.d)
			for j, tm := range fit.Terms {
				check(t, tm.Name+" coef vs Newton", tm.Coef, bb[j], 1e-8)
				check(t, tm.Name+" SE vs Newton", tm.SE, bse[j], 1e-7)
			}
			if !fit.Converged || fit.Iter > 25 {
				t.Errorf("converged=%v after %d iterations", fit.Converged, fit.Iter)
			}
			if fit.LogLik <= fit.NullLogLik-1e-9 {
				t.Errorf("LogLik %g below null %g", fit.LogLik, fit.NullLogLik)
			}
		})
	}
}

// TestShiftInvariance: adding a constant to a predictor (here 1e6, like a
// date or a lab value far from zero) leaves the slopes, their SEs and the
// log-likelihood unchanged and moves the intercept by −slope·shift. A
// solver working on the raw XᵀWX (condition ~1e16 here) cannot do this.
func TestShiftInvariance(t *testing.T) {
	const shift = 1e6
	for _, model := range []struct {
		name string
		fit  func(Design) (*Fit, error)
	}{{"linear", Linear}, {"logistic", Logistic}} {
		t.Run(model.name, func(t *testing.T) {
			d := logisticData(400, []float64{0.1, 1, -1}, 4)
			if model.name == "linear" {
				for i := range d.Y {
					d.Y[i] += 2 * d.X[i][1]
				}
			}
			base, err := model.fit(d)
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range d.X {
				row[0] += shift
			}
			moved, err := model.fit(d)
			if err != nil {
				t.Fatal(err)
			}
			for j := 1; j < len(base.Terms); j++ {
				check(t, base.Terms[j].Name+" coef", moved.Terms[j].Coef, base.Terms[j].Coef, 1e-9)
				check(t, base.Terms[j].Name+" SE", moved.Terms[j].SE, base.Terms[j].SE, 1e-9)
				check(t, base.Terms[j].Name+" P", moved.Terms[j].P, base.Terms[j].P, 1e-9)
			}
			check(t, "intercept", moved.Terms[0].Coef, base.Terms[0].Coef-shift*base.Terms[1].Coef, 1e-9)
			check(t, "LogLik", moved.LogLik, base.LogLik, 1e-9)
			check(t, "R2", moved.R2, base.R2, 1e-9)
		})
	}
}

func BenchmarkLogistic20000x6(b *testing.B) {
	d := logisticData(20000, []float64{-1, 0.5, -0.3, 0.2, 0.8, -0.6, 0.1}, 42)
	b.ReportAllocs()
	for b.Loop() {
		fit, err := Logistic(d)
		if err != nil || !fit.Converged {
			b.Fatal(err)
		}
	}
}

func BenchmarkLinear20000x6(b *testing.B) {
	d := logisticData(20000, []float64{-1, 0.5, -0.3, 0.2, 0.8, -0.6, 0.1}, 42)
	for i := range d.Y {
		d.Y[i] += d.X[i][0] + float64(i%7)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Linear(d); err != nil {
			b.Fatal(err)
		}
	}
}
