package release

import (
	"math"

	"github.com/RoaringBitmap/roaring/v2"
)

// Linear differencing. The nested-pair check (History.nested) catches
// "cohort" minus "cohort without one person". Three or more releases
// combine too: "diabetic women" and "diabetic men" released by a
// comparison, then "diabetics" counted later, give the diabetics of
// unknown sex by subtraction, though no two of the sets are a near pair.
//
// The audit treats every released count as a sum over atoms: the groups
// of persons who belong to exactly the same released sets. A combination
// of released counts (with any coefficients) that equals the size of a
// union of atoms holding 1..limit persons discloses that small group. So
// a new cell is held back when its row makes such a union computable
// that the rows already released did not.
//
// Empty atoms are treated as known to be empty (an analyst may know that
// no one is both female and male), which is the cautious reading.

// Bounds of the audit, so a cell's check stays a few milliseconds: the
// sets considered (the cell, the same result's earlier cells, the
// workspace's most recent releases and its largest) and the atoms they may split into.
// Sets that would split the atoms beyond maxAtoms are left out.
const (
	auditWindow    = 40   // most recent history records
	auditResults   = 16   // most recent results, whose first records are also taken
	auditPerTable  = 4    // first records of each of those results
	auditLargest   = 8    // largest history records
	auditSameCell  = 16   // earlier cells of the same result
	auditSameLevel = 16   // and, beyond them, of the cell's own level (and as many records)
	levelScan      = 4096 // most recent records searched for the cell's level
	maxAtoms       = 1024
	maxSmallEnum   = 14  // small atoms enumerated as unions; beyond, singles and pairs
	maxPairAtoms   = 128 // small atoms whose pairs are tried
)

// atomSplit is the partition of the persons of a family of sets into
// atoms; in[i][j] says whether atom j lies inside set i.
type atomSplit struct {
	sizes []int64
	in    [][]bool
}

// atoms is a partition of the persons of a family of sets into atoms:
// bms[j] are atom j's persons, in[i][j] whether atom j lies in set i. Its
// bitmaps are never changed in place, so a copy of the slices is a copy.
type atoms struct {
	bms []*roaring.Bitmap
	in  [][]bool
	// all is the union of the atoms. Bitmaps of an atoms value are never
	// changed once made: a copy of the struct (History.base) shares them.
	all *roaring.Bitmap
}

// refine adds set s to the family, splitting the atoms it cuts; it
// returns false, leaving a unchanged, when that would make more than
// maxAtoms atoms. An atom s does not cut is kept as it is (the same
// bitmap): only cut atoms are copied.
func (a *atoms) refine(s *roaring.Bitmap) bool {
	var next []*roaring.Bitmap
	var origin []int // atom each new atom came from
	var inside []bool
	// The atoms are disjoint: once they hold all of s, the rest miss it.
	left := s.GetCardinality()
	for j, at := range a.bms {
		n, common := at.GetCardinality(), uint64(0)
		if left > 0 {
			common = at.AndCardinality(s)
			left -= common
		}
		switch common {
		case 0:
			next, origin, inside = append(next, at), append(origin, j), append(inside, false)
		case n:
			next, origin, inside = append(next, at), append(origin, j), append(inside, true)
		default:
			next, origin, inside = append(next, roaring.And(at, s)), append(origin, j), append(inside, true)
			next, origin, inside = append(next, roaring.AndNot(at, s)), append(origin, j), append(inside, false)
		}
	}
	var covered *roaring.Bitmap // persons in no earlier set
	if a.all == nil {
		covered = s.Clone()
	} else {
		covered = roaring.AndNot(s, a.all)
	}
	if !covered.IsEmpty() {
		next, origin, inside = append(next, covered), append(origin, -1), append(inside, true)
	}
	if len(next) > maxAtoms {
		return false
	}
	in := make([][]bool, 0, len(a.in)+1)
	for _, old := range a.in {
		row := make([]bool, len(next))
		for j, o := range origin {
			row[j] = o >= 0 && old[o]
		}
		in = append(in, row)
	}
	if a.all == nil {
		a.all = s.Clone()
	} else if !covered.IsEmpty() {
		a.all = roaring.Or(a.all, covered)
	}
	a.bms, a.in = next, append(in, inside)
	return true
}

// split is the atoms' sizes and membership, with the rows reordered so
// that set last comes first (revealsSmall's new set).
func (a *atoms) split(last int) atomSplit {
	sp := atomSplit{sizes: make([]int64, len(a.bms))}
	for j, b := range a.bms {
		sp.sizes[j] = int64(b.GetCardinality())
	}
	sp.in = append(sp.in, a.in[last])
	for i, row := range a.in {
		if i != last {
			sp.in = append(sp.in, row)
		}
	}
	return sp
}

// splitAtoms refines the union of sets into atoms, adding sets in order
// and leaving out a set that would make more than maxAtoms atoms; it
// returns the split (rows in the order taken) and how many sets it took.
func splitAtoms(sets []*roaring.Bitmap) (atomSplit, int) {
	var a atoms
	taken := 0
	for _, s := range sets {
		if a.refine(s) {
			taken++
		}
	}
	sp := a.split(0)
	if len(a.in) > 0 {
		sp.in = a.in
	}
	return sp, taken
}

// revealsSmall reports whether the released sets (rows of sp other than
// row 0) together with set 0 let someone compute the size of a union of
// atoms holding 1..limit persons, where the other rows alone did not.
func revealsSmall(sp atomSplit, limit int64) bool { return reveals(sp, limit, 1) }

// GroupsRevealSmall reports whether some combination of the given sets'
// sizes (with any coefficients) is the size of a group of 1..limit
// persons: the question for a model whose 0/1 terms are these sets, since
// its estimates are such combinations of the groups' means (has(A) and
// has(A plus one person) together isolate that person; a binary outcome
// within a level of a categorical term is that level's count of cases). A
// family that splits into more than maxAtoms groups cannot be checked and
// counts as revealing.
func GroupsRevealSmall(sets []*roaring.Bitmap, limit int64) bool {
	sp, taken := splitAtoms(sets)
	if taken < len(sets) {
		return true
	}
	return reveals(sp, limit, len(sp.in))
}

// reveals reports whether the sets of sp (its rows) let someone compute
// the size of a union of atoms holding 1..limit persons that rows
// known..end alone did not (known = len(sp.in): nothing was known).
func reveals(sp atomSplit, limit int64, known int) bool {
	var small []int // atoms of 1..limit persons
	for j, n := range sp.sizes {
		if n >= 1 && n <= limit {
			small = append(small, j)
		}
	}
	if len(small) == 0 || len(sp.in) < 2 {
		return false
	}
	withNew := determinedSpan(sp, small, 0)
	without := determinedSpan(sp, small, known)
	// One more set adds at most one dimension: none, nothing new.
	if len(withNew.rows) == len(without.rows) {
		return false
	}
	// A union of atoms the sets determine lies on the atoms where the
	// determined space is not zero.
	var supp []int // positions in small
	for t := range small {
		for _, row := range withNew.rows {
			if math.Abs(row[t]) > eps {
				supp = append(supp, t)
				break
			}
		}
	}
	persons := func(v []float64) int64 {
		var n int64
		for t, x := range v {
			if math.Abs(x) > eps {
				n += sp.sizes[small[t]]
			}
		}
		return n
	}
	check := func(v []float64) bool {
		n := persons(v)
		return n >= 1 && n <= limit && withNew.contains(v) && !without.contains(v)
	}
	v := make([]float64, len(small))
	if len(supp) <= maxSmallEnum {
		for mask := 1; mask < 1<<len(supp); mask++ {
			clear(v)
			for i, t := range supp {
				v[t] = float64(mask >> i & 1)
			}
			if check(v) {
				return true
			}
		}
		return false
	}
	// Too many to enumerate: the reduced basis rows, which are such
	// unions in the usual case (a total less its parts), and any new row
	// with no negative weight over 1..limit persons, which bounds each
	// group it weighs;
	// then single atoms and, while few, pairs.
	for _, row := range withNew.rows {
		if nonNegative(row) && persons(row) <= limit && !without.contains(row) {
			return true
		}
	}
	for a, ta := range supp {
		clear(v)
		v[ta] = 1
		if check(v) {
			return true
		}
		if len(supp) > maxPairAtoms {
			continue
		}
		for _, tb := range supp[a+1:] {
			clear(v)
			v[ta], v[tb] = 1, 1
			if check(v) {
				return true
			}
		}
	}
	return false
}

// nonNegative reports whether v has a positive weight and no negative one.
func nonNegative(v []float64) bool {
	pos := false
	for _, x := range v {
		if x < -eps {
			return false
		}
		pos = pos || x > eps
	}
	return pos
}

// span is a basis of a space of vectors over the small atoms, in reduced
// row echelon form: rows[i] has a 1 at pivot[i] and 0 at the other pivots.
type span struct {
	rows  [][]float64
	pivot []int
}

const eps = 1e-9

// contains reports whether v lies in the span.
func (s span) contains(v []float64) bool {
	r := append([]float64(nil), v...)
	for i, row := range s.rows {
		if f := r[s.pivot[i]]; f != 0 {
			for t := range r {
				r[t] -= f * row[t]
			}
		}
	}
	for _, x := range r {
		if math.Abs(x) > eps {
			return false
		}
	}
	return true
}

// determinedSpan is the space of combinations of the small atoms that
// rows from..end of sp determine: the row space of those sets intersected
// with the coordinates of the small atoms. Eliminating the other atoms
// first leaves, as the rows whose leading entry is a small atom, a basis
// of that intersection.
func determinedSpan(sp atomSplit, small []int, from int) span {
	isSmall := make([]bool, len(sp.sizes))
	for _, j := range small {
		isSmall[j] = true
	}
	// Columns: the other atoms first, then the small ones.
	var cols []int
	for j := range sp.sizes {
		if !isSmall[j] {
			cols = append(cols, j)
		}
	}
	bigCols := len(cols)
	cols = append(cols, small...)
	var m [][]float64
	for _, in := range sp.in[from:] {
		row := make([]float64, len(cols))
		for c, j := range cols {
			if in[j] {
				row[c] = 1
			}
		}
		m = append(m, row)
	}
	var out span
	r := 0
	for c := 0; c < len(cols) && r < len(m); c++ {
		p := -1
		for i := r; i < len(m); i++ {
			if math.Abs(m[i][c]) > eps && (p < 0 || math.Abs(m[i][c]) > math.Abs(m[p][c])) {
				p = i
			}
		}
		if p < 0 {
			continue
		}
		m[r], m[p] = m[p], m[r]
		f := m[r][c]
		for t := range m[r] {
			m[r][t] /= f
		}
		for i := range m {
			if i != r && math.Abs(m[i][c]) > eps {
				g := m[i][c]
				for t := range m[i] {
					m[i][t] -= g * m[r][t]
				}
			}
		}
		if c >= bigCols {
			out.rows = append(out.rows, m[r][bigCols:])
			out.pivot = append(out.pivot, c-bigCols)
		}
		r++
	}
	// Later pivots cleared their column in the rows kept earlier, since the
	// rows slices share m's storage: the kept rows are fully reduced.
	return out
}
