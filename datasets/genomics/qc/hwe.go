package qc

import (
	"math"
	"sort"
	"sync/atomic"
)

// Hardy–Weinberg exact tests, written from the published methods:
//
//   - Wigginton, Cutler & Abecasis (2005), "A note on exact tests of
//     Hardy–Weinberg equilibrium", Am J Hum Genet 76:887. Given n genotyped
//     individuals carrying a copies of one allele and b = 2n−a of the other,
//     the probability of h heterozygotes is
//     P(h) = 2^h n! a! b! / ((a−h)/2)! h! ((b−h)/2)! (2n)!,
//     and consecutive terms (h and h+2) have the ratio
//     P(h+2)/P(h) = (a−h)(b−h) / ((h+1)(h+2)).
//     The p-value is the total probability of the tables no more likely than
//     the observed one.
//   - Graffelman & Moreno (2013), "The mid p-value in exact tests for
//     Hardy–Weinberg equilibrium", Stat Appl Genet Mol Biol 12:433: the mid
//     p-value counts the tables exactly as likely as the observed one at half
//     weight.
//   - Graffelman & Weir (2016), "Testing for Hardy–Weinberg equilibrium at
//     biallelic genetic markers on the X chromosome", Heredity 116:558: with
//     nf females and nm hemizygous males, the joint probability of m male
//     copies and a female table with h heterozygotes, given the total count
//     of the allele, factors as W(m)·P_f(h), where W(m) is the hypergeometric
//     probability C(nm, m)·C(2nf, A−m)/C(2nf+nm, A) of the male/female split
//     and P_f is the autosomal distribution above over the females.
//
// Probabilities are summed relative to a reference term so that nothing
// overflows; two tables whose probabilities agree to within hweTieTolerance
// (relative) are treated as equally likely, since exact ties (symmetric
// tables) come out of floating-point arithmetic a few ulps apart.

const (
	// hweTieTolerance is the relative difference below which two table
	// probabilities count as equal.
	hweTieTolerance = 1e-9
	// hweNegligible ends a walk once the terms left can add no more than
	// this fraction of the tail sum: past the mode the ratio q of
	// consecutive terms only falls (the distribution is log-concave), so
	// the terms after r sum to less than r·q/(1−q) < r/(1−q).
	hweNegligible = 1e-16
	// hweRescale bounds relative terms before the sums are rescaled.
	hweRescale = 0x1p900
)

// HweP is the exact Hardy–Weinberg test p-value for a biallelic variant
// with the given heterozygote and homozygote counts; midp selects the
// mid-p variant (Graffelman & Moreno 2013). With no genotypes the test has
// one table: p is 1 (mid-p 0.5).
func HweP(obsHets, obsHom1, obsHom2 int, midp bool) float64 {
	n := obsHets + obsHom1 + obsHom2
	a := 2*min(obsHom1, obsHom2) + obsHets // copies of the rarer allele
	b := 2*n - a
	h0 := obsHets

	// Every term is kept relative to the observed table's probability,
	// which is obs in the current units (1 until a rescale).
	obs := 1.0
	tail, ties, total := 1.0, 1.0, 1.0
	rescale := func(r float64) float64 {
		obs *= 1 / hweRescale
		tail *= 1 / hweRescale
		ties *= 1 / hweRescale
		total *= 1 / hweRescale
		return r * (1 / hweRescale)
	}
	// Walk away from the observed table, towards more heterozygotes
	// (dir 2) and towards fewer (dir −2), with P(h±2)/P(h) as the ratio.
	for _, dir := range [2]int{2, -2} {
		r := obs
		for h := h0; dir > 0 && h+2 <= a || dir < 0 && h >= 2; h += dir {
			var ratio float64
			if dir > 0 {
				ratio = float64(a-h) * float64(b-h) / (float64(h+1) * float64(h+2))
			} else {
				ratio = float64(h) * float64(h-1) / (float64(a-h+2) * float64(b-h+2))
			}
			r *= ratio
			if r > hweRescale {
				r = rescale(r)
			}
			total += r
			if r <= obs*(1+hweTieTolerance) {
				tail += r
				if r >= obs*(1-hweTieTolerance) {
					ties += r
				}
			}
			if r == 0 || (ratio < 1 && r < tail*hweNegligible*(1-ratio)) {
				break
			}
		}
	}
	if midp {
		tail -= ties / 2
	}
	return tail / total
}

// logFactorials holds log k! for k < len; it grows to the largest sample
// seen and is shared read-only between goroutines.
var logFactorials atomic.Pointer[[]float64]

func logFactorialTable(n int) []float64 {
	if t := logFactorials.Load(); t != nil && len(*t) > n {
		return *t
	}
	t := make([]float64, max(n+1, 1024))
	for k := range t {
		t[k], _ = math.Lgamma(float64(k) + 1)
	}
	logFactorials.Store(&t)
	return t
}

// xchrTables is the set of chrX tables with a given allele total: m male
// copies and, among the nf females, h heterozygotes; a = total−m female
// copies, x = (a−h)/2 homozygotes for the allele, y = nf−x−h for the other.
// By Graffelman & Weir,
// P(m, h) = A! B! nf! nm! 2^h / (m! (nm−m)! x! h! y! (2nf+nm)!)
// with A, B the totals of the two alleles.
type xchrTables struct {
	nf, nm, total int
	lf            []float64
	logK          float64
}

func (t *xchrTables) logP(m, h int) float64 {
	a := t.total - m
	x := (a - h) / 2
	y := t.nf - x - h
	return t.logK + float64(h)*math.Ln2 - t.lf[m] - t.lf[t.nm-m] - t.lf[x] - t.lf[h] - t.lf[y]
}

// logW is log of the probability of m male copies, summed over female tables:
// C(nm, m)·C(2nf, a)/C(2nf+nm, total).
func (t *xchrTables) logW(m int) float64 {
	a, nt := t.total-m, 2*t.nf+t.nm
	lf := t.lf
	return lf[t.nm] - lf[m] - lf[t.nm-m] + lf[2*t.nf] - lf[a] - lf[2*t.nf-a] -
		(lf[nt] - lf[t.total] - lf[nt-t.total])
}

// HweXchrP is the exact Hardy–Weinberg test for a chrX variant jointly over
// female genotypes and male allele counts (Graffelman & Weir 2016): the
// p-value sums the probabilities of all (male count, female table) pairs
// with the observed allele total that are no more likely than the observed
// pair. male1/male2 are hemizygous males carrying allele 1/2; midp selects
// the mid-p variant.
//
// The column of each male count m holds the female tables with a = total−m
// copies; its mass is the hypergeometric W(m), and within it the table
// probabilities rise to one mode and fall again. So a column lighter than
// the observed table is wholly in the tail, and in any other column the
// tail is the two runs beyond where the probability drops below the
// observed one, found by bisection on the log probabilities and summed
// outwards until the terms no longer matter.
func HweXchrP(femaleHets, femaleHom1, femaleHom2, male1, male2 int, midp bool) float64 {
	nf := femaleHets + femaleHom1 + femaleHom2
	nm := male1 + male2
	total := 2*femaleHom1 + femaleHets + male1
	nt := 2*nf + nm
	t := xchrTables{nf: nf, nm: nm, total: total, lf: logFactorialTable(nt)}
	lf := t.lf
	t.logK = lf[total] + lf[nt-total] + lf[nf] + lf[nm] - lf[nt]
	logObs := t.logP(male1, femaleHets)
	tolUp := math.Log1p(hweTieTolerance)

	// Probabilities in units of the observed table's.
	sum, ties := 0.0, 0.0
	for m := max(0, total-2*nf); m <= min(nm, total); m++ {
		lw := t.logW(m) - logObs
		if lw < -tolUp {
			// No table in the column is as likely as the observed one.
			if lw > -40 {
				sum += math.Exp(lw)
			}
			continue
		}
		a := total - m
		b := 2*nf - a
		lo, hi := a%2, min(a, b)
		up := func(h int) float64 { // P(m, h+2)/P(m, h)
			return float64(a-h) * float64(b-h) / (float64(h+1) * float64(h+2))
		}
		down := func(h int) float64 { // P(m, h−2)/P(m, h)
			return float64(h) * float64(h-1) / (float64(a-h+2) * float64(b-h+2))
		}
		mode := lo
		if nf > 0 {
			mode = int(float64(a) * float64(b) / float64(max(2*nf-1, 1)))
		}
		mode = max(lo, min(hi, mode))
		mode -= (mode - lo) % 2
		for mode+2 <= hi && up(mode) > 1 {
			mode += 2
		}
		for mode-2 >= lo && down(mode) > 1 {
			mode -= 2
		}
		in := func(h int) bool { return t.logP(m, h)-logObs <= tolUp }
		// First table at or above the mode in the tail, and the first
		// below it; in(h) is monotone on each side of the mode.
		cu := bisectParity(mode, hi, in)
		cl := bisectParity(lo, mode-2, func(h int) bool { return !in(h) }) - 2
		add := func(start, stop, dir int, ratio func(int) float64) {
			if dir > 0 && start > stop || dir < 0 && start < stop {
				return
			}
			v := math.Exp(t.logP(m, start) - logObs)
			for h := start; ; h += dir {
				sum += v
				if v >= 1-hweTieTolerance {
					ties += v
				}
				if h == stop {
					return
				}
				r := ratio(h)
				v *= r
				if v == 0 || (r < 1 && v < hweNegligible*(1-r)) { // the tail sum is at least 1
					return
				}
			}
		}
		add(cu, hi, 2, up)
		add(cl, lo, -2, down)
	}
	if midp {
		sum -= ties / 2
	}
	return math.Min(1, sum*math.Exp(logObs))
}

// bisectParity returns the smallest h in lo, lo+2, …, hi with pred(h),
// where pred is false then true along that sequence, or hi+2 if none.
func bisectParity(lo, hi int, pred func(int) bool) int {
	if hi < lo {
		return lo
	}
	// index i stands for lo+2i
	n := (hi-lo)/2 + 1
	i := sort.Search(n, func(i int) bool { return pred(lo + 2*i) })
	return lo + 2*i
}
