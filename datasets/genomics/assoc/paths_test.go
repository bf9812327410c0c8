package assoc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"enclave/datasets/genomics/plink"
)

// TestLogisticPathsAgree checks that the three ways of fitting the same
// logistic models give the same numbers: collapsed cells vs per-sample
// IRLS (categorical covariates), and the vectorised vs scalar per-sample
// passes (continuous covariates, every sample analysed).
func TestLogisticPathsAgree(t *testing.T) {
	dir := t.TempDir()
	c, pop := structuredCohort(400, 300, 7)
	fs, err := plink.Open(writeFileset(t, dir, "c", c))
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	r := rand.New(rand.NewPCG(7, 7))
	n := c.n
	y := Column{Name: "Y", Binary: true, Values: make([]float64, n)}
	sex := Column{Name: "SEX", Values: make([]float64, n)}
	grp := Column{Name: "GRP", Values: make([]float64, n)}
	pc := Column{Name: "PC", Values: make([]float64, n)}
	for i := 0; i < n; i++ {
		sex.Values[i] = float64(r.IntN(2))
		grp.Values[i] = float64(pop[i])
		pc.Values[i] = r.NormFloat64()
		if r.Float64() < 1/(1+math.Exp(-0.5*sex.Values[i]+0.3*pc.Values[i])) {
			y.Values[i] = 1
		}
	}
	run := func(covars []Column, noCells, noSIMD bool) *Result {
		res, err := Run(fs, y, covars, Options{Threads: 2, noCells: noCells, noSIMD: noSIMD})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	same := func(what string, a, b *Result, tol float64) {
		t.Helper()
		for k := range a.Beta {
			v := k / len(a.Tests)
			if a.Err[v] != b.Err[v] || a.Firth[v] != b.Firth[v] {
				t.Fatalf("%s: variant %d: err %v/%v firth %v/%v", what, v, a.Err[v], b.Err[v], a.Firth[v], b.Firth[v])
			}
			if a.Err[v] != errNone {
				continue
			}
			for _, p := range [][2]float64{{a.Beta[k], b.Beta[k]}, {a.SE[k], b.SE[k]}} {
				if math.Abs(p[0]-p[1]) > tol*math.Max(1e-3, math.Abs(p[1])) {
					t.Fatalf("%s: variant %d test %s: %g vs %g", what, v, a.Tests[k%len(a.Tests)], p[0], p[1])
				}
			}
		}
	}
	cells := run([]Column{sex, grp}, false, false)
	dense := run([]Column{sex, grp}, true, false)
	same("cells vs per-sample", cells, dense, 1e-7)

	// A few covariates (the generated passes) and many (past them: the
	// blocked pass, as with age, sex, a cohort and 10 PCs).
	many := []Column{sex, pc}
	for k := 0; k < 10; k++ {
		c := Column{Name: fmt.Sprintf("X%d", k), Values: make([]float64, n)}
		for i := range c.Values {
			c.Values[i] = r.NormFloat64()
		}
		many = append(many, c)
	}
	for _, covars := range [][]Column{{sex, pc}, many} {
		vec := run(covars, false, false)
		scalar := run(covars, false, true)
		same(fmt.Sprintf("vectorised vs scalar, %d covariates", len(covars)), vec, scalar, 1e-7)
	}
	// Every width of the wide pass this CPU runs.
	saved := simdPassWide
	for k, pass := range simdPassWideAll {
		simdPassWide = pass
		vec := run(many, false, false)
		scalar := run(many, false, true)
		same(fmt.Sprintf("wide pass %d vs scalar", k), vec, scalar, 1e-7)
	}
	simdPassWide = saved
}
