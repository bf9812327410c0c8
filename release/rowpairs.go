package release

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"sort"

	"github.com/RoaringBitmap/roaring/v2"
)

// Partitions of row-level statistics read from other rows. rowsNear stops
// the same persons' statistic over other rows. But a statistic over P ∪ Z
// (two disjoint blocks), beside one over Z alone from the same rows, gives
// P's by subtraction: P's HbA1c readings from 2020 on came out of "P and
// Z from 2020 on" less "Z from 2020 on", and beside "P, every reading" it
// gave the one person whose earlier readings were the difference (a genome
// scan with Z as a covariate, then every variant's beta; a mean, then the
// reading left out, review 31). So three row-level statistics of one
// quantity, one over the union of the other two's disjoint persons, must
// read the same rows: each carries a Source and the three are one. Sizes
// are compared first; sets are built only for triples whose sizes fit.
// Statistics without a Source (%sql, a Describe grouped by a row's
// column) are not compared here: their rows are known only by their plan,
// and a ROLLUP's total beside its groups would always look like another
// reading of them (see the README's residuals).

// QueryRows reports whether src, a row-level statistic's Source, names the
// rows of one group of one %sql query (a JSON object whose first member is
// "sql_rows"): equal ones read the same rows, but unlike an events plan's
// they do not say which rows other persons would have, so they take no
// part in partitions (rowPairs, rowSpan) here.
func QueryRows(src []byte) bool {
	return bytes.HasPrefix(bytes.TrimSpace(src), []byte(`{"sql_rows"`))
}

// partitionable reports whether a statistic of Source src is compared in
// partitions: it has one, and it is not a query's.
func partitionable(src []byte) bool { return len(src) > 0 && !QueryRows(src) }

// maxRowPairSets bounds the sets rowPairs builds for one cell, and
// maxRowPairCands the triples whose sizes fit that it lists, most recent
// first, as pairs does for counts.
const (
	maxRowPairSets  = 16
	maxRowPairCands = 256
)

// rowIndex is the history's row-level statistics of one quantity that
// carry a Source, by size, and their distinct sizes in order (built when
// first needed, then kept in order as records come).
type rowIndex struct {
	bySize map[int64][]int32
	sizes  []int64
	recent []int32 // every record, in the order released
}

func (ri *rowIndex) add(size int64, i int32) {
	ri.recent = append(ri.recent, i)
	ri.bySize[size] = append(ri.bySize[size], i)
	if ri.sizes != nil && len(ri.bySize[size]) == 1 {
		at, _ := slices.BinarySearch(ri.sizes, size)
		ri.sizes = slices.Insert(ri.sizes, at, size)
	}
}

// sorted returns the distinct sizes in order.
func (ri *rowIndex) sorted() []int64 {
	if ri.sizes == nil {
		ri.sizes = make([]int64, 0, len(ri.bySize))
		for n := range ri.bySize {
			ri.sizes = append(ri.sizes, n)
		}
		slices.Sort(ri.sizes)
	}
	return ri.sizes
}

// rowStat is a row-level statistic rowPairs compares: a history record or
// an earlier cell of the decision (order: later is more recent).
type rowStat struct {
	size     int64
	plan     []byte
	src      []byte
	table    string
	concepts []int64
	order    int
}

// rowPairs reports whether row-level statistic k (which has a Source)
// forms, with two others of its quantity, a partition whose parts do not
// all read the same rows: k the union of two disjoint statistics, or k a
// part, with another, of a statistic that holds both. Sizes that fit are
// found by walking the history's distinct sizes with two pointers; the
// decision's earlier cells are few and looked up.
func (h *History) rowPairs(ctx context.Context, k setKey, earlier []*Cell, sets SetSource) (bool, error) {
	if !partitionable(k.src) {
		return false, nil
	}
	ri := h.rowSizes[k.qty]
	if ri == nil {
		ri = &rowIndex{bySize: map[int64][]int32{}}
	}
	var local []rowStat
	for j, e := range earlier {
		if ek, ok := setOf(e); ok && ek.qty == k.qty && partitionable(ek.src) {
			local = append(local, rowStat{ek.size, ek.plan, ek.src, ek.table, ek.concepts, len(h.recs) + j})
		}
	}
	if len(ri.bySize)+len(local) < 2 {
		return false, nil
	}
	// withSize calls f for every statistic of size n.
	withSize := func(n int64, f func(rowStat)) {
		for _, i := range ri.bySize[n] {
			if r := &h.recs[i]; !apart(r.Table, k.table) && !disjoint(r.Concepts, k.concepts) {
				f(rowStat{r.Size, r.Plan, r.Source, r.Table, r.Concepts, int(i)})
			}
		}
		for _, l := range local {
			if l.size == n && !apart(l.table, k.table) && !disjoint(l.concepts, k.concepts) {
				f(l)
			}
		}
	}
	same := func(a, b, c []byte) bool { return bytes.Equal(a, b) && bytes.Equal(b, c) }
	// A triple: whole = x ∪ y, disjoint (nil whole or x stands for k).
	type triple struct {
		whole, x, y *rowStat
		last        int
	}
	var cands []triple
	full := func() bool { return len(cands) >= maxRowPairCands }
	// union: k the whole of statistics of sizes a and b (a + b = |k|).
	union := func(a, b int64) {
		withSize(a, func(x rowStat) {
			withSize(b, func(y rowStat) {
				if (a < b || y.order > x.order) && !full() && !same(k.src, x.src, y.src) {
					cands = append(cands, triple{nil, &x, &y, max(x.order, y.order)})
				}
			})
		})
	}
	// part: k a part, with one of size b, of one of size w (w − b = |k|).
	part := func(w, b int64) {
		withSize(w, func(x rowStat) {
			withSize(b, func(y rowStat) {
				if y.order != x.order && !full() && !same(x.src, k.src, y.src) {
					cands = append(cands, triple{&x, nil, &y, max(x.order, y.order)})
				}
			})
		})
	}
	sizes := ri.sorted()
	n := k.size
	// Both in the history: two pointers over the distinct sizes.
	for i, j := 0, sort.Search(len(sizes), func(j int) bool { return sizes[j] >= n })-1; i <= j && !full(); {
		switch a, b := sizes[i], sizes[j]; {
		case a+b < n:
			i++
		case a+b > n:
			j--
		default:
			union(a, b)
			i, j = i+1, j-1
		}
	}
	for i, j := sort.Search(len(sizes), func(j int) bool { return sizes[j] > n }), 0; i < len(sizes) && !full(); i++ {
		for j < len(sizes) && sizes[j] < sizes[i]-n {
			j++
		}
		if j < len(sizes) && sizes[j] == sizes[i]-n {
			part(sizes[i], sizes[j])
		}
	}
	// One or both of the decision's earlier cells: sizes looked up.
	for _, l := range local {
		if l.size < n {
			union(l.size, n-l.size)
		}
		if l.size > n {
			part(l.size, l.size-n)
		}
		part(l.size+n, l.size) // l the other part of a larger whole
	}
	if len(cands) == 0 {
		return false, nil
	}
	slices.SortFunc(cands, func(a, b triple) int { return cmp.Compare(b.last, a.last) })
	plans := make([]splitPlans, len(cands))
	for i, c := range cands {
		plans[i] = splitPlans{c.whole.planOrNil(), c.x.planOrNil(), c.y.planOrNil()}
	}
	return h.anySplit(ctx, k.plan, plans, maxRowPairSets, sets)
}

// planOrNil is s's plan, nil for nil (the judged cell's).
func (s *rowStat) planOrNil() []byte {
	if s == nil {
		return nil
	}
	return s.plan
}

// rowWindow is how many of the most recent row-level statistics of a
// quantity (with a Source) rowSpan combines with a new one.
const rowWindow = 40

// rowSpan is the linear audit for row-level statistics. Three releases
// are not the limit: P with every reading, then P2, Z and P ∪ P2 ∪ Z with
// one of P's readings left out gave it as P + P2 + Z − the union (review
// 32; sums from means over under 100 integer readings are exact). A new
// statistic whose persons are a combination (any coefficients) of the
// persons of recent statistics of its quantity, but not of those that read
// the same rows (its Source), makes a combination of releases that holds
// every person as often as it takes them away, from rows of different
// Sources: the difference between the two readings of those persons' rows,
// which may be one person's. It is hidden. The window is the decision's
// earlier cells and the quantity's rowWindow most recent records; rowPairs
// covers the whole history for three.
func (h *History) rowSpan(ctx context.Context, k setKey, earlier []*Cell, sets SetSource) (bool, error) {
	if !partitionable(k.src) {
		return false, nil
	}
	type member struct {
		plan, src []byte
	}
	var ms []member
	for _, e := range earlier {
		if ek, ok := setOf(e); ok && ek.qty == k.qty && partitionable(ek.src) && !apart(ek.table, k.table) && !disjoint(ek.concepts, k.concepts) {
			ms = append(ms, member{ek.plan, ek.src})
		}
	}
	if ri := h.rowSizes[k.qty]; ri != nil {
		for j := len(ri.recent) - 1; j >= 0 && j >= len(ri.recent)-rowWindow; j-- {
			if r := &h.recs[ri.recent[j]]; !apart(r.Table, k.table) && !disjoint(r.Concepts, k.concepts) {
				ms = append(ms, member{r.Plan, r.Source})
			}
		}
	}
	other := false
	for _, m := range ms {
		other = other || !bytes.Equal(m.src, k.src)
	}
	if !other {
		return false, nil
	}
	mine, err := h.cache.get(ctx, sets, k.plan)
	if err != nil {
		return false, err
	}
	bms := make([]*roaring.Bitmap, len(ms))
	for i, m := range ms {
		if bms[i], err = h.cache.get(ctx, sets, m.plan); err != nil {
			return false, err
		}
	}
	// Only sets linked to the new one through shared persons can enter a
	// combination that gives it: take them, in the window's order.
	taken := make([]bool, len(ms))
	reach := mine.Clone()
	for grew := true; grew; {
		grew = false
		for i, b := range bms {
			if !taken[i] && b.Intersects(reach) {
				taken[i], grew = true, true
				reach.Or(b)
			}
		}
	}
	var a atoms
	a.refine(mine)
	var same []int // rows of a (after the new one) that read k's rows
	rows := []int{}
	for i, m := range ms {
		if !taken[i] {
			continue
		}
		if !a.refine(bms[i]) {
			continue
		}
		rows = append(rows, len(a.in)-1)
		if bytes.Equal(m.src, k.src) {
			same = append(same, len(a.in)-1)
		}
	}
	if len(rows) == 0 {
		return false, nil
	}
	u := make([]float64, len(a.bms))
	for j, in := range a.in[0] {
		if in {
			u[j] = 1
		}
	}
	return spanOf(a, rows).contains(u) && !spanOf(a, same).contains(u), nil
}

// spanOf is the span of rows of a's sets, over all its atoms.
func spanOf(a atoms, rows []int) span {
	sp := atomSplit{sizes: make([]int64, len(a.bms))}
	for _, i := range rows {
		sp.in = append(sp.in, a.in[i])
	}
	all := make([]int, len(a.bms))
	for j := range all {
		all[j] = j
	}
	return determinedSpan(sp, all, 0)
}
