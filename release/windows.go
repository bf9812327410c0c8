package release

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"

	"enclave/api/spec"
)

// A smoothed quantile (Cell.Window) is the mean of the values of about 21
// persons: those whose rows lie at the ranks around its own. Two such
// windows that hold nearly the same persons differ by those few persons'
// values, whichever cohorts, columns and quantiles produced them: quantiles
// at every rank over a background of persons with one reading each, and
// again with one person added (the two cohorts padded apart by 21 or more
// persons with readings far from the values at issue), gave that person's
// LDL as a sum of differences in 44 to 144 cells (review 55). The group's
// persons, which the quantile's Plan gives, are far too many for the
// differencing of sets to see it. So each released window is kept in the
// history with its persons and the value shown, and a window that differs
// from a released one of the same table by 0..MinCount−1 persons in all
// is hidden unless it shows the same value (the same persons, one reading
// more, would differ by that reading: rowsNear's rule, for a window).

// windowRec is a released window.
type windowRec struct {
	table    string
	concepts []int64
	persons  *roaring.Bitmap
	value    float64 // as shown
}

// windowIndex is the released windows and, per person, those that hold
// them.
type windowIndex struct {
	recs     []windowRec
	byPerson map[uint32][]int32
}

// add indexes a window record of the history.
func (x *windowIndex) add(r *Record) {
	x.insert(windowRec{table: r.Table, concepts: r.Concepts, persons: roaring.BitmapOf(r.Window...), value: derefValue(r.Value)})
}

func (x *windowIndex) insert(rec windowRec) {
	if x.byPerson == nil {
		x.byPerson = map[uint32][]int32{}
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

// nearWindow reports whether a window of persons w (table, concepts)
// showing value v is too near a released window rec: of the same table
// (and concepts, when both are known, not disjoint), differing by at most
// limit persons in all, and showing another value. The same value shown
// again tells nothing new: a result run again, and, most often, a
// subgroup's quartile among tied readings (HbA1c 7.2 for women and for
// everyone, the ties ordered by person). That it is shown says only
// that the persons in and out of the window have values about as large,
// which a count of persons with a reading in that range says too (the
// 0-or-≤20 residual in the README).
func nearWindow(w *roaring.Bitmap, table string, concepts []int64, v float64, rec windowRec, limit int64) bool {
	if apart(table, rec.table) || disjoint(concepts, rec.concepts) {
		return false
	}
	shared := int64(w.AndCardinality(rec.persons))
	diff := int64(w.GetCardinality()) + int64(rec.persons.GetCardinality()) - 2*shared
	return diff <= limit && v != rec.value
}

// windowed reports whether c is a released smoothed quantile with a window.
func windowed(c *Cell) bool {
	return c.Stat == Quantile && c.Window != nil && !c.Window.IsEmpty() && !c.Suppressed()
}

// shownAs is the value c shows, as its text gives it.
func shownAs(c *Cell) float64 { return shownValue(formatValue(c.Stat, c.Value, c.Digits)) }

// judgeWindows hides the smoothed quantiles of d whose windows are near a
// released window (in the history) or one of d's own shown before them. It
// reports whether it hid any.
func (h *History) judgeWindows(d *Decision, limit int64) bool {
	hid := false
	var shown windowIndex
	for _, c := range d.Cells {
		if !windowed(c) {
			continue
		}
		v := shownAs(c)
		if shown.nearAny(c.Window, c.Table, c.Concepts, v, limit) || h.windows.nearAny(c.Window, c.Table, c.Concepts, v, limit) {
			c.Status = spec.Overlap
			hid = true
			continue
		}
		shown.insert(windowRec{table: c.Table, concepts: c.Concepts, persons: c.Window, value: v})
	}
	return hid
}

// nearAny reports whether a released window is near w (see nearWindow).
// Only windows sharing enough persons with w can be: they are found by
// person.
func (x *windowIndex) nearAny(w *roaring.Bitmap, table string, concepts []int64, v float64, limit int64) bool {
	if len(x.recs) == 0 {
		return false
	}
	shared := map[int32]int64{}
	it := w.Iterator()
	for it.HasNext() {
		for _, i := range x.byPerson[it.Next()] {
			shared[i]++
		}
	}
	n := int64(w.GetCardinality())
	for i, s := range shared {
		rec := x.recs[i]
		if n+int64(rec.persons.GetCardinality())-2*s > limit {
			continue
		}
		if nearWindow(w, table, concepts, v, rec, limit) {
			return true
		}
	}
	return false
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

// windowNote is the legend's text for a window hidden as near another.
func windowNote(limit int64) string {
	return fmt.Sprintf("* (overlap): a quantile whose window of values overlaps another's of the same group, or holds the same persons, or all but 1–%d, as another quantile's of this result or an earlier release (the two would differ by those persons' values)", limit)
}
