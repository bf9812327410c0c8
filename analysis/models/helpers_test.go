package models

import (
	"math"
	"math/rand/v2"
	"testing"
)

// close reports whether got is within tol of want, absolutely or relative
// to |want| (whichever is looser).
func close(got, want, tol float64) bool {
	if math.IsNaN(got) || math.IsNaN(want) {
		return false
	}
	d := math.Abs(got - want)
	return d <= tol || d <= tol*math.Abs(want)
}

func check(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if !close(got, want, tol) {
		t.Errorf("%s = %.15g, want %.15g (tol %g)", what, got, want, tol)
	}
}

// studentTAbsCDF returns P(|T| ≤ t) for Student's t with an integer number
// of degrees of freedom nu, by the finite closed-form series of Abramowitz
// & Stegun 26.7.3–26.7.4 (independent of gonum's incomplete beta).
func studentTAbsCDF(t float64, nu int) float64 {
	th := math.Atan(math.Abs(t) / math.Sqrt(float64(nu)))
	s, c := math.Sin(th), math.Cos(th)
	c2 := c * c
	if nu%2 == 0 {
		sum, term := 1.0, 1.0
		for k := 2; k <= nu-2; k += 2 {
			term *= float64(k-1) / float64(k) * c2
			sum += term
		}
		return s * sum
	}
	if nu == 1 {
		return 2 * th / math.Pi
	}
	sum, term := 1.0, 1.0
	for k := 3; k <= nu-2; k += 2 {
		term *= float64(k-1) / float64(k) * c2
		sum += term
	}
	return 2 / math.Pi * (th + s*c*sum)
}

// studentTQuantile975 solves P(|T| ≤ t) = 0.95 by bisection.
func studentTQuantile975(nu int) float64 {
	lo, hi := 0.0, 1e3
	for range 200 {
		mid := (lo + hi) / 2
		if studentTAbsCDF(mid, nu) < 0.95 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

func TestStudentTHelpers(t *testing.T) {
	// Textbook two-sided 5% critical values.
	for nu, want := range map[int]float64{1: 12.706204736174707, 2: 4.302652729749464, 3: 3.182446305284263, 10: 2.228138851986274, 30: 2.042272456301238} {
		check(t, "t quantile", studentTQuantile975(nu), want, 1e-12)
	}
}

// logisticData draws n persons with k standard-normal predictors (the
// second correlated with the first) and y ~ Bernoulli(logistic(b0 + x·b)).
func logisticData(n int, beta []float64, seed uint64) Design {
	rng := rand.New(rand.NewPCG(seed, 99))
	k := len(beta) - 1
	d := Design{X: make([][]float64, n), Y: make([]float64, n)}
	for j := 0; j < k; j++ {
		d.Names = append(d.Names, "x"+string(rune('1'+j)))
	}
	for i := range d.X {
		row := make([]float64, k)
		eta := beta[0]
		for j := range row {
			row[j] = rng.NormFloat64()
			if j == 1 {
				row[j] = 0.5*row[0] + row[j]
			}
			eta += beta[j+1] * row[j]
		}
		d.X[i] = row
		if rng.Float64() < 1/(1+math.Exp(-eta)) {
			d.Y[i] = 1
		}
	}
	return d
}
