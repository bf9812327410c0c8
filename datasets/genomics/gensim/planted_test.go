package gensim

import (
	"math"
	"testing"
)

// TestDosageHardyWeinberg checks that planted dosages follow Hardy–Weinberg
// proportions in every ancestry, as a steward's hardy QC would expect.
func TestDosageHardyWeinberg(t *testing.T) {
	const n = 20000
	for v, p := range PlantedVariants {
		for _, anc := range Ancestries {
			var counts [3]float64
			for id := int64(1); id <= n; id++ {
				counts[Dosage(7, id, anc, v)]++
			}
			af := p.AF[anc]
			want := [3]float64{(1 - af) * (1 - af) * n, 2 * af * (1 - af) * n, af * af * n}
			chi2 := 0.0
			for g := range counts {
				d := counts[g] - want[g]
				chi2 += d * d / want[g]
			}
			// 2 degrees of freedom: P(chi2 > 20) ≈ 5e-5.
			if chi2 > 20 || math.IsNaN(chi2) {
				t.Errorf("%s %s: genotype counts %v, expected about %v (chi2 %.1f)", p.ID, anc, counts, want, chi2)
			}
		}
	}
}

func TestDosageDeterministic(t *testing.T) {
	for id := int64(1); id < 100; id++ {
		if Dosage(3, id, "AFR", 0) != Dosage(3, id, "AFR", 0) {
			t.Fatal("Dosage is not a pure function of its arguments")
		}
	}
}
