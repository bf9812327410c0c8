package release

import (
	"cmp"
	"context"
	"slices"
	"sort"

	"github.com/RoaringBitmap/roaring/v2"
)

// Three-release differencing over the whole history. The linear audit
// (combined) sees the workspace's recent and largest releases only, so
// releases in between push older ones out of its sight: "hypertensives
// born before 1960" and "hypertensive men and women born from 1960", then
// forty unrelated large counts, then "hypertensives" gave the 3 of
// neither sex by subtraction. The commonest such combination is two
// disjoint parts and their total; pairs looks for it in the whole history
// by size first, building sets only for records whose sizes fit.

// maxPairSets bounds the sets pairs builds for one cell (each is a query
// the first time; sets already built are free), and maxPairCands the
// pairs whose sizes fit that it lists. Pairs are tried most recent first:
// the parts of an attack are the releases just before the ones meant to
// push them out of the audit's window.
const (
	maxPairSets  = 16
	maxPairCands = 256
)

// pairs reports whether count k, with two count records of the history
// not both in the linear audit's window of recent releases, gives a group
// of 1..limit persons by subtraction: k the total of two disjoint records
// inside it (k = A + B + G), or k a part, with another record A, of a
// record T that holds both (T = A + k + G).
func (h *History) pairs(ctx context.Context, k setKey, limit int64, sets SetSource) (bool, error) {
	n := k.size
	cs := h.counts
	// Records at or past recent are in the audit's window.
	recent := int32(len(h.recs) - auditWindow)
	// A candidate: whole is the union of x and y and a few more (nil
	// stands for k).
	type split struct {
		whole, x, y *Record
		last        int32 // the later record's index
	}
	var cands []split
	totals, parts := 0, 0
	add := func(whole, x, y *Record, a, b int32) {
		if a < recent || b < recent {
			cands = append(cands, split{whole, x, y, max(a, b)})
		}
	}
	size := func(i int) int64 { return h.recs[cs[i]].Size }
	rec := func(i int) *Record { return &h.recs[cs[i]] }
	// k the total: a + b in [n-limit, n-1], a <= b. As a grows the range
	// of b falls, so two pointers walk it.
	first := func(min int64) int { return sort.Search(len(cs), func(j int) bool { return size(j) >= min }) }
	hi := first(n) - 1
	for i := 0; i < len(cs) && 2*size(i) <= n-1 && totals < maxPairCands; i++ {
		a := size(i)
		for hi >= 0 && size(hi) > n-1-a {
			hi--
		}
		for j := hi; j > i && size(j) >= n-limit-a && totals < maxPairCands; j-- {
			add(nil, rec(i), rec(j), cs[i], cs[j])
			totals++
		}
	}
	// k a part: t - a in [n+1, n+limit]. As t grows the range of a grows.
	lo := 0
	for i := first(n + 2); i < len(cs) && parts < maxPairCands; i++ {
		t := size(i)
		for lo < i && size(lo) < t-n-limit {
			lo++
		}
		for j := lo; j < i && size(j) <= t-n-1 && parts < maxPairCands; j++ {
			add(rec(i), rec(j), nil, cs[j], cs[i])
			parts++
		}
	}
	// A window is a part as a count is (see windowPairs); its set is
	// known, and the candidates with one have a budget of sets of their
	// own, so that many windows cannot spend the counts'.
	if wp := h.windowPairs(n, limit); len(wp) > 0 {
		if bad, err := h.anySplit(ctx, k.plan, wp, maxPairSets, sets); err != nil || bad {
			return bad, err
		}
	}
	if len(cands) == 0 {
		return false, nil
	}
	slices.SortFunc(cands, func(x, y split) int { return cmp.Compare(y.last, x.last) })
	plans := make([]splitPlans, len(cands))
	for i, c := range cands {
		plans[i] = splitPlans{planOf(c.whole), planOf(c.x), planOf(c.y)}
	}
	return h.anySplit(ctx, k.plan, plans, maxPairSets, sets)
}

// windowPairs is the candidates of pairs in which a released window is
// one of the two parts of a cell of n persons: its total, with another
// window or a released count (k = W + A + G). A window is the sum of its
// persons' values: a window of 21 persons, a Describe of 24 others, forty
// results of filler that pushed the window out of the audit's sight, and
// a Describe of the three and one more person gave that person's LDL
// (review 58).
func (h *History) windowPairs(n, limit int64) []splitPlans {
	ws := h.windows.bySize()
	size := func(i int) int64 { return int64(h.windows.recs[ws[i]].persons.GetCardinality()) }
	cs := h.counts
	csize := func(j int) int64 { return h.recs[cs[j]].Size }
	var out []splitPlans
	for i := 0; i < len(ws) && size(i) < n && len(out) < maxPairCands; i++ {
		a := size(i)
		lo, hi := n-limit-a, n-1-a // the other part's size
		// Other windows (each pair once: the other no smaller).
		for j := sort.Search(len(ws), func(j int) bool { return size(j) >= max(lo, a) }); j < len(ws) && size(j) <= hi && len(out) < maxPairCands; j++ {
			if j != i {
				out = append(out, splitPlans{nil, windowPlan(int(ws[i])), windowPlan(int(ws[j]))})
			}
		}
		for j := sort.Search(len(cs), func(j int) bool { return csize(j) >= lo }); j < len(cs) && csize(j) <= hi && len(out) < maxPairCands; j++ {
			out = append(out, splitPlans{nil, windowPlan(int(ws[i])), h.recs[cs[j]].Plan})
		}
	}
	return out
}

// planOf is r's plan, nil for nil (the judged cell's).
func planOf(r *Record) []byte {
	if r == nil {
		return nil
	}
	return r.Plan
}

// splitPlans is a candidate of pairs and rowPairs: whole holds x and y,
// which are disjoint (by plan; nil stands for the judged cell's set).
type splitPlans struct{ whole, x, y []byte }

// anySplit reports whether some candidate, in order, is one: x and y
// inside whole and disjoint. It builds at most maxSets sets not built
// before (each is a query the first time) and stops when that budget is
// spent; mine is the judged cell's plan.
func (h *History) anySplit(ctx context.Context, mine []byte, cands []splitPlans, maxSets int, sets SetSource) (bool, error) {
	own, err := h.cache.get(ctx, sets, mine)
	if err != nil {
		return false, err
	}
	built := 0
	// set is p's persons (the cell's for nil); ok is false once the
	// budget of sets to build is spent and p's is not built yet.
	set := func(p []byte) (*roaring.Bitmap, bool, error) {
		if p == nil {
			return own, true, nil
		}
		if b, ok := h.cache.sets[string(p)]; ok {
			return b, true, nil
		}
		if isWindowPlan(p) { // known: no query
			b, err := h.planSet(ctx, sets, p)
			return b, err == nil, err
		}
		if built == maxSets {
			return nil, false, nil
		}
		built++
		b, err := h.cache.get(ctx, sets, p)
		return b, err == nil, err
	}
	inside := func(x, y *roaring.Bitmap) bool { return x.AndCardinality(y) == x.GetCardinality() }
	for _, c := range cands {
		w, ok, err := set(c.whole)
		if err != nil || !ok {
			return false, err
		}
		x, ok, err := set(c.x)
		if err != nil || !ok {
			return false, err
		}
		if !inside(x, w) {
			continue
		}
		y, ok, err := set(c.y)
		if err != nil || !ok {
			return false, err
		}
		if inside(y, w) && !x.Intersects(y) {
			return true, nil
		}
	}
	return false, nil
}
