package models

import (
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// odd returns n distinctive non-integer values (so a leaked value would be
// recognisable in an error message).
func odd(n int, start, step float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = start + step*float64(i) + 0.0625*float64(i%3)
	}
	return v
}

// cols builds a design from named columns.
func cols(y []float64, names []string, columns ...[]float64) Design {
	d := Design{Names: names, Y: y}
	for i := range y {
		row := make([]float64, len(columns))
		for j, c := range columns {
			row[j] = c[i]
		}
		d.X = append(d.X, row)
	}
	return d
}

func binary(n int, f func(i int) bool) []float64 {
	v := make([]float64, n)
	for i := range v {
		if f(i) {
			v[i] = 1
		}
	}
	return v
}

func TestErrors(t *testing.T) {
	const n = 24
	x1 := odd(n, 10.125, 1.375)
	x2 := odd(n, -3.3125, 0.8125)
	for i := range x2 {
		x2[i] += 5.5 * math.Sin(float64(i)) // not collinear with x1
	}
	ylin := odd(n, 100.3125, -2.6875)
	for i := range ylin {
		ylin[i] += 7.25 * math.Cos(float64(i)*1.3)
	}
	ybin := binary(n, func(i int) bool { return (i*7)%5 < 2 })
	sum := make([]float64, n)
	for i := range sum {
		sum[i] = x1[i] + 2*x2[i]
	}
	constant := make([]float64, n)
	for i := range constant {
		constant[i] = 7.4375
	}
	male := binary(n, func(i int) bool { return i%2 == 0 })
	female := binary(n, func(i int) bool { return i%2 == 1 })
	withNaN := append([]float64(nil), x2...)
	withNaN[5], withNaN[9] = math.NaN(), math.NaN()
	withInf := append([]float64(nil), x2...)
	withInf[3] = math.Inf(-1)
	yNaN := append([]float64(nil), ylin...)
	yNaN[0] = math.NaN()
	yTwo := append([]float64(nil), ybin...)
	yTwo[4], yTwo[7] = 2, 0.5

	// Separation data.
	sepX := odd(n, 1.125, 0.5)
	sepY := binary(n, func(i int) bool { return i >= n/2 })
	// Quasi-complete: all exposed persons are cases; unexposed mixed.
	exposed := binary(n, func(i int) bool { return i%3 == 0 })
	quasiY := binary(n, func(i int) bool { return i%3 == 0 || i%4 == 1 })
	// Quasi-complete on a continuous predictor: the boundary value has
	// both outcomes.
	tieX := make([]float64, n)
	tieY := make([]float64, n)
	for i := range tieX {
		tieX[i] = 40.5 + float64(i/2)
		if i/2 > 5 || i == 11 {
			tieY[i] = 1
		}
	}
	// A binary predictor separating within an otherwise ordinary model.
	smoker := binary(n, func(i int) bool { return i%4 == 0 })
	smokY := binary(n, func(i int) bool { return i%4 == 0 || i%5 == 2 || i%7 == 3 })

	// Perfect linear fit.
	exact := make([]float64, n)
	for i := range exact {
		exact[i] = 3.25 + 1.5*x1[i] - 0.75*x2[i]
	}

	type fitter func(Design) (*Fit, error)
	cases := []struct {
		name      string
		fit       fitter
		d         Design
		kind      error
		predictor string
		substr    string
	}{
		{"too few rows", Linear, cols(ylin[:3], []string{"a", "b", "c"}, x1[:3], x2[:3], sum[:3]), ErrTooFewRows, "", "needs more persons than parameters: 3 rows, 4 parameters"},
		{"rows equal parameters", Logistic, cols([]float64{0, 1, 1}, []string{"a", "b"}, x1[:3], x2[:3]), ErrTooFewRows, "", "needs more persons than parameters: 3 rows, 3 parameters"},
		{"no rows", Linear, Design{}, ErrTooFewRows, "", "0 rows, 1 parameters"},
		{"constant predictor", Linear, cols(ylin, []string{"x1", "x2"}, x1, constant), ErrCollinear, "x2", `predictor "x2" is collinear with the others (or constant); drop it`},
		{"constant predictor logistic", Logistic, cols(ybin, []string{"k", "x1"}, constant, x1), ErrCollinear, "k", `predictor "k" is collinear`},
		{"collinear sum", Linear, cols(ylin, []string{"x1", "x2", "x3"}, x1, x2, sum), ErrCollinear, "x3", `predictor "x3" is collinear with the others (or constant); drop it`},
		{"collinear sum logistic", Logistic, cols(ybin, []string{"x1", "x3", "x2"}, x1, sum, x2), ErrCollinear, "x2", `predictor "x2" is collinear`},
		{"duplicated column", Linear, cols(ylin, []string{"x1", "x1copy"}, x1, x1), ErrCollinear, "x1copy", `"x1copy" is collinear`},
		{"dummy trap", Logistic, cols(ybin, []string{"male", "female"}, male, female), ErrCollinear, "female", `"female" is collinear`},
		{"outcome not 0/1", Logistic, cols(yTwo, []string{"x1"}, x1), ErrOutcome, "", "outcome must be coded 0/1: 2 of 24 values are neither 0 nor 1"},
		{"continuous outcome to logistic", Logistic, cols(ylin, []string{"x1"}, x1), ErrOutcome, "", "24 of 24 values"},
		{"outcome constant linear", Linear, cols(constant, []string{"x1"}, x1), ErrOutcome, "", "outcome is constant"},
		{"outcome constant logistic", Logistic, cols(make([]float64, n), []string{"x1"}, x1), ErrOutcome, "", "outcome is constant"},
		{"complete separation", Logistic, cols(sepY, []string{"age", "score"}, x2, sepX), ErrSeparation, "score", `separation, most likely by predictor "score"`},
		{"quasi-complete separation, binary", Logistic, cols(quasiY, []string{"age", "exposed"}, x1, exposed), ErrSeparation, "exposed", `predictor "exposed"`},
		{"quasi-complete separation, tied boundary", Logistic, cols(tieY, []string{"dose"}, tieX), ErrSeparation, "dose", `predictor "dose"`},
		{"separation by one of three", Logistic, cols(smokY, []string{"age", "smoker", "bmi"}, x1, smoker, x2), ErrSeparation, "smoker", `predictor "smoker"`},
		{"NaN predictor", Linear, cols(ylin, []string{"age", "bmi"}, x1, withNaN), ErrNonFinite, "bmi", `predictor "bmi" has 2 non-finite values`},
		{"Inf predictor", Logistic, cols(ybin, []string{"ldl", "age"}, withInf, x1), ErrNonFinite, "ldl", `predictor "ldl" has 1 non-finite values`},
		{"NaN outcome", Linear, cols(yNaN, []string{"x1"}, x1), ErrNonFinite, "", "outcome has 1 non-finite values"},
		{"X shorter than Y", Linear, Design{Names: []string{"x1"}, X: cols(ylin, []string{"x1"}, x1).X[:20], Y: ylin}, ErrDesign, "", "20 rows of predictors but 24 outcomes"},
		{"ragged row", Logistic, func() Design {
			d := cols(ybin, []string{"x1", "x2"}, x1, x2)
			d.X[6] = d.X[6][:1]
			return d
		}(), ErrDesign, "", "1 of 24 rows do not have one value per predictor name (2 names)"},
		{"more names than columns", Linear, func() Design {
			d := cols(ylin, []string{"x1"}, x1)
			d.Names = []string{"x1", "x2"}
			return d
		}(), ErrDesign, "", "24 of 24 rows"},
		{"duplicate name", Linear, cols(ylin, []string{"x", "x"}, x1, x2), ErrDesign, "x", `"x" appears more than once`},
		{"empty name", Linear, cols(ylin, []string{""}, x1), ErrDesign, "", "empty name"},
		{"reserved name", Logistic, cols(ybin, []string{"(intercept)"}, x1), ErrDesign, "(intercept)", "reserved"},
		{"perfect linear fit", Linear, cols(exact, []string{"x1", "x2"}, x1, x2), ErrPerfectFit, "", "reproduce the outcome exactly"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fit, err := c.fit(c.d)
			if err == nil {
				t.Fatalf("no error; fit %+v", fit)
			}
			if fit != nil {
				t.Errorf("fit returned alongside error")
			}
			msg := err.Error()
			if !errors.Is(err, c.kind) {
				t.Errorf("error %q is not %v", msg, c.kind)
			}
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error %T is not *Error", err)
			}
			if me.Predictor != c.predictor {
				t.Errorf("Predictor = %q, want %q (%s)", me.Predictor, c.predictor, msg)
			}
			if !strings.Contains(msg, c.substr) {
				t.Errorf("message %q does not contain %q", msg, c.substr)
			}
			if !strings.HasPrefix(msg, "linear regression: ") && !strings.HasPrefix(msg, "logistic regression: ") {
				t.Errorf("message %q lacks the model prefix", msg)
			}
			assertNoDataValues(t, msg, c.d)
		})
	}
}

// assertNoDataValues fails if msg contains any non-integer data value of d
// in a usual formatting.
func assertNoDataValues(t *testing.T, msg string, d Design) {
	t.Helper()
	seen := map[string]bool{}
	vals := append([]float64(nil), d.Y...)
	for _, row := range d.X {
		vals = append(vals, row...)
	}
	for _, v := range vals {
		if v == math.Trunc(v) || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		for _, s := range []string{strconv.FormatFloat(v, 'g', -1, 64), strconv.FormatFloat(v, 'f', 2, 64), strconv.FormatFloat(v, 'g', 4, 64)} {
			if seen[s] {
				continue
			}
			seen[s] = true
			if strings.Contains(msg, s) {
				t.Errorf("message %q leaks data value %s", msg, s)
			}
		}
	}
}

// TestFitExportsNoPerPersonValues guards the release rule: a Fit holds no
// per-person values, so every field is a scalar except Terms, whose length
// is the number of parameters whatever the number of persons.
func TestFitExportsNoPerPersonValues(t *testing.T) {
	scalar := func(k reflect.Kind) bool {
		switch k {
		case reflect.Bool, reflect.Int, reflect.Float64, reflect.String:
			return true
		}
		return false
	}
	ft := reflect.TypeFor[Fit]()
	for i := range ft.NumField() {
		f := ft.Field(i)
		if f.Name == "Terms" {
			continue
		}
		if !scalar(f.Type.Kind()) {
			t.Errorf("Fit.%s has type %s; only scalars may be exported", f.Name, f.Type)
		}
	}
	tt := reflect.TypeFor[Term]()
	for i := range tt.NumField() {
		if f := tt.Field(i); !scalar(f.Type.Kind()) {
			t.Errorf("Term.%s has type %s", f.Name, f.Type)
		}
	}
	for _, n := range []int{50, 5000} {
		d := logisticData(n, []float64{0, 0.5, 0.5}, 9)
		for _, fit := range []func(Design) (*Fit, error){Linear, Logistic} {
			f, err := fit(d)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Terms) != 3 {
				t.Errorf("n=%d: %d terms, want 3", n, len(f.Terms))
			}
		}
	}
}

// TestInputNotModified: fitting must not alter the caller's design.
func TestInputNotModified(t *testing.T) {
	d := logisticData(200, []float64{0.2, 1, -0.5}, 5)
	snapshot := Design{Names: append([]string(nil), d.Names...), Y: append([]float64(nil), d.Y...)}
	for _, row := range d.X {
		snapshot.X = append(snapshot.X, append([]float64(nil), row...))
	}
	if _, err := Logistic(d); err != nil {
		t.Fatal(err)
	}
	if _, err := Linear(d); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, snapshot) {
		t.Error("design modified by the fit")
	}
}
