package qc

import (
	"math"
	"math/big"
	"testing"
)

// exactHwe enumerates every table with big rationals: the p-value is the
// mass of the tables no more likely than the observed one, and the mid-p
// counts the tables exactly as likely at half weight.
func exactHwe(t *testing.T, tables map[[2]int]*big.Rat, obs [2]int) (p, midp float64) {
	t.Helper()
	po := tables[obs]
	tail, ties := new(big.Rat), new(big.Rat)
	for _, v := range tables {
		switch v.Cmp(po) {
		case -1:
			tail.Add(tail, v)
		case 0:
			ties.Add(ties, v)
		}
	}
	pp := new(big.Rat).Add(tail, ties)
	mp := new(big.Rat).Add(tail, new(big.Rat).Quo(ties, big.NewRat(2, 1)))
	p, _ = pp.Float64()
	midp, _ = mp.Float64()
	return p, midp
}

func fact(n int) *big.Int { return new(big.Int).MulRange(1, int64(max(n, 1))) }

// chrXTables is Graffelman & Weir's joint distribution, written out term by
// term: P = A! B! nf! nm! 2^h / (m! (nm−m)! x! h! y! (2nf+nm)!).
func chrXTables(nf, nm, total int) map[[2]int]*big.Rat {
	out := map[[2]int]*big.Rat{}
	nt := 2*nf + nm
	for m := 0; m <= nm; m++ {
		a := total - m
		if a < 0 || a > 2*nf {
			continue
		}
		for h := a % 2; h <= min(a, 2*nf-a); h += 2 {
			x := (a - h) / 2
			y := nf - x - h
			num := new(big.Int).Mul(fact(total), fact(nt-total))
			num.Mul(num, fact(nf)).Mul(num, fact(nm)).Lsh(num, uint(h))
			den := new(big.Int).Mul(fact(m), fact(nm-m))
			den.Mul(den, fact(x)).Mul(den, fact(h)).Mul(den, fact(y)).Mul(den, fact(nt))
			out[[2]int{m, h}] = new(big.Rat).SetFrac(num, den)
		}
	}
	return out
}

func close6(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

// TestHweExact checks both tests against exact enumeration on every small
// table, ties (symmetric tables) included. Autosomal tables are the chrX
// tables without males.
func TestHweExact(t *testing.T) {
	checked := 0
	for nf := 0; nf <= 9; nf++ {
		for nm := 0; nm <= 7; nm++ {
			for het := 0; het <= nf; het++ {
				for h1 := 0; h1 <= nf-het; h1++ {
					h2 := nf - het - h1
					for m1 := 0; m1 <= nm; m1++ {
						total := 2*h1 + het + m1
						p, midp := exactHwe(t, chrXTables(nf, nm, total), [2]int{m1, het})
						if got := HweXchrP(het, h1, h2, m1, nm-m1, false); !close6(got, p) {
							t.Errorf("HweXchrP(%d,%d,%d,%d,%d) = %v, exact %v", het, h1, h2, m1, nm-m1, got, p)
						}
						if got := HweXchrP(het, h1, h2, m1, nm-m1, true); !close6(got, midp) {
							t.Errorf("HweXchrP(%d,%d,%d,%d,%d, midp) = %v, exact %v", het, h1, h2, m1, nm-m1, got, midp)
						}
						if nm == 0 {
							if got := HweP(het, h1, h2, false); !close6(got, p) {
								t.Errorf("HweP(%d,%d,%d) = %v, exact %v", het, h1, h2, got, p)
							}
							if got := HweP(het, h1, h2, true); !close6(got, midp) {
								t.Errorf("HweP(%d,%d,%d, midp) = %v, exact %v", het, h1, h2, got, midp)
							}
						}
						checked++
					}
				}
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d tables checked", checked)
	}
}

// TestHweTiny: strong departures in large samples give p-values far below
// 1e-100; the walk from the observed table rescales instead of overflowing.
// The log10 values are from summing lgamma-based log probabilities.
func TestHweTiny(t *testing.T) {
	for _, c := range []struct {
		het, hom1, hom2 int
		log10p          float64
	}{
		{300, 900, 900, -259.50903},
		{250, 900, 900, -288.35257},
		{1700, 100, 100, -295.04686}, // excess heterozygotes
		{100, 1800, 100, -91.23397},
		{300, 1500, 200, -81.99729},
	} {
		p := HweP(c.het, c.hom1, c.hom2, false)
		if got := math.Log10(p); math.Abs(got-c.log10p) > 1e-4 {
			t.Errorf("HweP(%d,%d,%d) = %g, want 1e%.5f", c.het, c.hom1, c.hom2, p, c.log10p)
		}
	}
	// Below the float64 range the p-value is 0, not NaN.
	if p := HweP(10, 1000, 1000, false); p != 0 {
		t.Errorf("HweP(10,1000,1000) = %g, want 0 (true p ≈ 1e-578)", p)
	}
}
