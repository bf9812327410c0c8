package release

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"

	"enclave/api/spec"
)

// A smoothed quantile (Cell.Window) is the mean of the values of about 21
// persons: those whose rows lie at the ranks around its own. The group's
// persons, which the quantile's Plan gives, are far too many for the
// differencing of sets to see what a window says of those few:
//
//   - Two windows that hold nearly the same persons differ by the values of
//     the persons swapped, whichever cohorts, columns and quantiles produced
//     them: quantiles at every rank over a background of persons with one
//     reading each, and again with one person added (the two cohorts padded
//     apart by 21 or more persons with readings far from the values at
//     issue), gave that person's LDL as a sum of differences in 44 to 144
//     cells (review 55).
//   - A window and a mean (or any row-level statistic) over nearly the same
//     persons differ the same way: a quantile whose window was exactly 21
//     persons of a block of glucose readings, and the mean of that block
//     and one person, gave that person's reading in 4 cells, and so their
//     steps on a day and their date of birth (review 56).
//
// So each released window is kept in the history with its persons and the
// value shown, and so are the persons of every released row-level
// statistic of at most smallStat persons (a window is compared only with
// sets of its size, give or take MinCount−1). Two of them are near when
// they differ by at most MinCount−1 persons in all and one of them holds at
// most maxSwap persons the other does not: a later window near a released
// window is hidden unless it shows the same value (a result run again; a
// subgroup's quartile among tied readings), and a window near a released
// statistic, or a statistic near a released window, is hidden.
//
// Windows of many persons each way apart are not held to this: the women's
// quartiles beside everyone's share half their persons, and swap the other
// half (a Describe by sex after one of everyone was hidden, review 56). A
// difference of windows that swaps three or more persons each way is a sum
// of those persons' values, which gives one person's only with the others'
// known: the README's known-values residual.

const (
	// smallStat is the most persons a row-level statistic may have for
	// its persons to be kept beside the windows.
	smallStat = 128
	// maxSwap is the most persons the smaller side of two near sets may
	// hold that the other does not.
	maxSwap = 2
)

// windowRec is a released window, or a released row-level statistic of at
// most smallStat persons (stat).
type windowRec struct {
	stat     bool
	table    string
	concepts []int64
	persons  *roaring.Bitmap
	value    float64 // a window's, as shown
}

// windowIndex is the released windows and small statistics and, per
// person, those that hold them.
type windowIndex struct {
	recs     []windowRec
	byPerson map[uint32][]int32
	windows  int // how many of recs are windows
	// sized is the windows' indexes by size (bySize), for the first
	// sizedLen records.
	sized    []int32
	sizedLen int
}

// add indexes a history record that holds persons: a window, or a small
// row-level statistic.
func (x *windowIndex) add(r *Record) {
	if len(r.Window) > 0 {
		x.insert(windowRec{table: r.Table, concepts: r.Concepts, persons: roaring.BitmapOf(r.Window...), value: derefValue(r.Value)})
	} else if len(r.Persons) > 0 {
		x.insert(windowRec{stat: true, table: r.Table, concepts: r.Concepts, persons: roaring.BitmapOf(r.Persons...)})
	}
}

func (x *windowIndex) insert(rec windowRec) {
	if x.byPerson == nil {
		x.byPerson = map[uint32][]int32{}
	}
	if !rec.stat {
		x.windows++
	}
	i := int32(len(x.recs))
	x.recs = append(x.recs, rec)
	it := rec.persons.Iterator()
	for it.HasNext() {
		p := it.Next()
		x.byPerson[p] = append(x.byPerson[p], i)
	}
}

func derefValue(v *float64) float64 {
	if v == nil {
		return math.NaN()
	}
	return *v
}

// windowKey is a window record's identity in the history.
func windowKey(r *Record) string {
	var b strings.Builder
	b.WriteString("w|")
	b.WriteString(r.Table)
	b.WriteByte('|')
	b.WriteString(strconv.FormatFloat(derefValue(r.Value), 'g', -1, 64))
	for _, p := range r.Window {
		b.WriteByte('|')
		b.WriteString(strconv.FormatUint(uint64(p), 10))
	}
	return b.String()
}

// tooNear reports whether a new window or statistic c (persons w, value v
// for a window) is near a released one, rec: of the same table (and
// concepts, when both are known, not disjoint), differing by at most
// limit persons in all, and by at most maxSwap on the smaller side. A
// window near a window is released when it shows the same value: that
// says only that the persons swapped have values about as large, which a
// count of persons with a reading in that range says too (the 0-or-≤20
// residual in the README). A statistic and a window are compared only
// when they differ (a mean over exactly a window's persons is its value
// again, near enough); statistics are not compared with statistics here.
func tooNear(c windowRec, rec windowRec, limit int64) bool {
	if c.stat && rec.stat || apart(c.table, rec.table) || disjoint(c.concepts, rec.concepts) {
		return false
	}
	shared := int64(c.persons.AndCardinality(rec.persons))
	mine, theirs := int64(c.persons.GetCardinality())-shared, int64(rec.persons.GetCardinality())-shared
	if mine+theirs > limit || min(mine, theirs) > maxSwap {
		return false
	}
	if c.stat || rec.stat {
		return mine+theirs > 0
	}
	return c.value != rec.value
}

// nearAny reports whether a released window or statistic is near c (see
// tooNear). Only those sharing persons with c can be: they are found by
// person.
func (x *windowIndex) nearAny(c windowRec, limit int64) bool {
	if len(x.recs) == 0 || c.stat && x.windows == 0 {
		return false
	}
	shared := map[int32]bool{}
	it := c.persons.Iterator()
	for it.HasNext() {
		for _, i := range x.byPerson[it.Next()] {
			if !shared[i] {
				shared[i] = true
				if tooNear(c, x.recs[i], limit) {
					return true
				}
			}
		}
	}
	return false
}

// windowed reports whether c is a released smoothed quantile with a window.
func windowed(c *Cell) bool {
	return c.Stat == Quantile && c.Window != nil && !c.Window.IsEmpty() && !c.Suppressed()
}

// shownAs is the value c shows, as its text gives it.
func shownAs(c *Cell) float64 { return shownValue(formatValue(c.Stat, c.Value, c.Digits)) }

// smallStatOf reports whether c is a released row-level statistic of at
// most smallStat persons, and its key.
func smallStatOf(c *Cell) (setKey, bool) {
	k, ok := setOf(c)
	return k, ok && k.qty != "" && k.size <= smallStat
}

// judgeWindows hides the smoothed quantiles and row-level statistics of d
// that are near a released window or statistic (in the history) or one of
// d's own shown before them (see tooNear). It returns the persons of d's
// small row-level statistics, for the history (encode), and whether it
// hid any cell.
func (h *History) judgeWindows(ctx context.Context, d *Decision, limit int64, sets SetSource) (map[*Cell]*roaring.Bitmap, bool, error) {
	hid := false
	small := map[*Cell]*roaring.Bitmap{}
	var shown windowIndex
	for _, c := range d.Cells {
		var rec windowRec
		switch k, ok := smallStatOf(c); {
		case windowed(c):
			rec = windowRec{table: c.Table, concepts: c.Concepts, persons: c.Window, value: shownAs(c)}
		case ok:
			bm, err := h.cache.get(ctx, sets, k.plan)
			if err != nil {
				return nil, false, err
			}
			small[c] = bm
			rec = windowRec{stat: true, table: c.Table, concepts: c.Concepts, persons: bm}
		default:
			continue
		}
		if shown.nearAny(rec, limit) || h.windows.nearAny(rec, limit) {
			c.Status = spec.Overlap
			if rec.stat {
				c.Status = spec.Difference
				delete(small, c)
			}
			hid = true
			continue
		}
		shown.insert(rec)
	}
	return small, hid, nil
}

// windowRecords is the history records of the released windows of cells.
func windowRecords(cells []*Cell) []Record {
	var out []Record
	for _, c := range cells {
		if !windowed(c) {
			continue
		}
		v := shownAs(c)
		out = append(out, Record{Size: int64(c.Window.GetCardinality()), Desc: "window of " + c.Desc,
			Table: c.Table, Concepts: c.Concepts, Window: c.Window.ToArray(), Value: &v})
	}
	return out
}

// auditWindows is how many of the most recent windows the combination
// audit (History.combined) takes as parts, beside its history records.
const auditWindows = 40

// A window's persons are a released sum of exactly those persons' values
// (21 times the value shown): two windows of 21 chosen persons each, and
// a mean over both and one more person, gave that person's LDL in 5 cells
// (review 57), past the near rule (the mean is 22 persons from each). So
// the most recent windows are parts in the combination audit as released
// counts are: a set that, with them, leaves 1–20 persons is hidden. They
// enter it under a plan of their own, windowPlan, which History.planSet
// reads.

// windowPlan is the audit's plan for window i of the index.
func windowPlan(i int) []byte { return fmt.Appendf(nil, `{"window":%d}`, i) }

// bySize is the indexes of the windows (not the small statistics) in
// size order, kept until more are added.
func (x *windowIndex) bySize() []int32 {
	if x.sizedLen == len(x.recs) && x.sized != nil {
		return x.sized
	}
	x.sized = x.sized[:0]
	for i, r := range x.recs {
		if !r.stat {
			x.sized = append(x.sized, int32(i))
		}
	}
	slices.SortStableFunc(x.sized, func(a, b int32) int {
		return cmp.Compare(x.recs[a].persons.GetCardinality(), x.recs[b].persons.GetCardinality())
	})
	x.sizedLen = len(x.recs)
	return x.sized
}

// isWindowPlan reports whether plan is a windowPlan.
func isWindowPlan(plan []byte) bool { return bytes.HasPrefix(plan, []byte(`{"window":`)) }

// audit is the plans of the most recent auditWindows windows.
func (x *windowIndex) audit() [][]byte {
	var plans [][]byte
	for i := len(x.recs) - 1; i >= 0 && len(plans) < auditWindows; i-- {
		if !x.recs[i].stat {
			plans = append(plans, windowPlan(i))
		}
	}
	return plans
}

// planSet is the person set of plan: a window's (windowPlan) from the index,
// any other's from the cache or sets.
func (h *History) planSet(ctx context.Context, sets SetSource, plan []byte) (*roaring.Bitmap, error) {
	var w struct {
		Window *int `json:"window"`
	}
	if isWindowPlan(plan) && json.Unmarshal(plan, &w) == nil && w.Window != nil {
		if i := *w.Window; i >= 0 && i < len(h.windows.recs) {
			return h.windows.recs[i].persons, nil
		}
	}
	return h.cache.get(ctx, sets, plan)
}

// recordCount is how many records the history holds, windows and small
// statistics included: what the audit's caches are keyed by.
func (h *History) recordCount() int { return len(h.recs) + len(h.windows.recs) }

// windowNote is the legend's text for a window hidden as near another.
func windowNote(limit int64) string {
	return fmt.Sprintf("* (overlap): a quantile whose window of values overlaps another's of the same group, or holds nearly the same persons (all but 1–%d) as a quantile or statistic of this result or an earlier release (the two would differ by those persons' values)", limit)
}
