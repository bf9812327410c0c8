package release

import (
	"bytes"
	"cmp"
	"context"
	"slices"

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

// maxRowPairSets bounds the sets rowPairs builds for one cell, and
// maxRowPairCands the triples whose sizes fit that it lists, most recent
// first, as pairs does for counts.
const (
	maxRowPairSets  = 16
	maxRowPairCands = 256
)

// rowStat is a row-level statistic rowPairs compares: a history record or
// an earlier cell of the decision (order: later is more recent).
type rowStat struct {
	size  int64
	plan  []byte
	src   []byte
	order int
}

// rowPairs reports whether row-level statistic k (which has a Source)
// forms, with two others of its quantity, a partition whose parts do not
// all read the same rows: k the union of two disjoint statistics, or k a
// part, with another, of a statistic that holds both.
func (h *History) rowPairs(ctx context.Context, k setKey, earlier []*Cell, sets SetSource) (bool, error) {
	if len(k.src) == 0 {
		return false, nil
	}
	var stats []rowStat
	for _, i := range h.byQty[k.qty] {
		r := &h.recs[i]
		if len(r.Source) > 0 {
			stats = append(stats, rowStat{r.Size, r.Plan, r.Source, int(i)})
		}
	}
	for j, e := range earlier {
		if ek, ok := setOf(e); ok && ek.qty == k.qty && len(ek.src) > 0 {
			stats = append(stats, rowStat{ek.size, ek.plan, ek.src, len(h.recs) + j})
		}
	}
	bySize := map[int64][]int{}
	for i, s := range stats {
		bySize[s.size] = append(bySize[s.size], i)
	}
	same := func(a, b, c []byte) bool { return bytes.Equal(a, b) && bytes.Equal(b, c) }
	// A triple: whole = x ∪ y, disjoint (-1 stands for k).
	type triple struct{ whole, x, y, last int }
	var cands []triple
	for i, x := range stats {
		if len(cands) >= maxRowPairCands {
			break
		}
		// k the whole: x and y inside it, |x| + |y| = |k|.
		if x.size < k.size {
			for _, j := range bySize[k.size-x.size] {
				if j > i && !same(k.src, x.src, stats[j].src) {
					cands = append(cands, triple{-1, i, j, max(x.order, stats[j].order)})
				}
			}
		}
		// k a part of x, with y: |k| + |y| = |x|.
		if x.size > k.size {
			for _, j := range bySize[x.size-k.size] {
				if j != i && !same(x.src, k.src, stats[j].src) {
					cands = append(cands, triple{i, -1, j, max(x.order, stats[j].order)})
				}
			}
		}
	}
	if len(cands) == 0 {
		return false, nil
	}
	slices.SortFunc(cands, func(a, b triple) int { return cmp.Compare(b.last, a.last) })
	mine, err := h.cache.get(ctx, sets, k.plan)
	if err != nil {
		return false, err
	}
	built := 0
	set := func(i int) (*roaring.Bitmap, bool, error) {
		if i < 0 {
			return mine, true, nil
		}
		p := stats[i].plan
		if b, ok := h.cache.sets[string(p)]; ok {
			return b, true, nil
		}
		if built == maxRowPairSets {
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
