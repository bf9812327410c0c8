package release

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"enclave/api/spec"
)

// quantileCell is a released-looking smoothed median of the persons
// [lo, hi) but drop, plus add, in table, showing value.
func quantileCell(table string, value float64, lo, hi uint32, drop []uint32, add ...uint32) *Cell {
	w := roaring.New()
	w.AddRange(uint64(lo), uint64(hi))
	for _, d := range drop {
		w.Remove(d)
	}
	w.AddMany(add)
	return &Cell{Stat: Quantile, Value: value, Persons: 5000, Tail: 0.5, Near: 21, Digits: 2, Table: table, Window: w,
		Desc: "median of " + table}
}

// TestWindowsNearEarlierWindows: a smoothed quantile whose window holds
// the persons of a released window but for 1–20 of them, in all, is
// hidden, whichever query made it: review 55 swept quantiles at every
// rank over a background with and without one person and summed the
// differences to their LDL. A near window showing the same value (a
// result run again) is released; the same persons showing another value
// (their rows with one more) are not; other tables, far windows and
// windows that swap three or more persons each way are released.
func TestWindowsNearEarlierWindows(t *testing.T) {
	const target = 9999
	cases := []struct {
		name  string
		later *Cell
		want  string
	}{
		{"run again", quantileCell("measurement", 131.4, 100, 121, nil), spec.Released},
		{"same persons, another value", quantileCell("measurement", 131.5, 100, 121, nil), spec.Overlap},
		{"one person swapped for the target", quantileCell("measurement", 131.9, 100, 121, []uint32{120}, target), spec.Overlap},
		{"swapped, the same value shown", quantileCell("measurement", 131.4, 100, 121, []uint32{120}, target), spec.Released},
		{"a rank further", quantileCell("measurement", 131.6, 101, 122, nil), spec.Overlap},
		{"two persons further", quantileCell("measurement", 131.7, 102, 123, nil), spec.Overlap},
		{"three persons further: three swapped each way", quantileCell("measurement", 131.8, 103, 124, nil), spec.Released},
		{"two swapped for others", quantileCell("measurement", 131.8, 100, 121, []uint32{100, 101}, 9998, 9999), spec.Overlap},
		{"ten persons further", quantileCell("measurement", 133.0, 110, 131, nil), spec.Released},
		{"nine added", quantileCell("measurement", 133.0, 100, 130, nil), spec.Overlap},
		{"the target added", quantileCell("measurement", 131.2, 100, 121, nil, target), spec.Overlap},
		{"another table", quantileCell("observation", 7.5, 101, 122, nil), spec.Released},
		{"no table known", quantileCell("", 7.5, 101, 122, nil), spec.Overlap},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "history.jsonl")
			h := openHistory(t, path, "s1")
			first := quantileCell("measurement", 131.4, 100, 121, nil)
			judgeCells(t, Defaults(), h, newFakeSets(), first)
			if first.Status != spec.Released {
				t.Fatalf("first window: %s", first.Status)
			}
			judgeCells(t, Defaults(), h, newFakeSets(), tc.later)
			if tc.later.Status != tc.want {
				t.Errorf("later window: %s, want %s", tc.later.Status, tc.want)
			}
			// Another kernel of the workspace, opening the history
			// afresh, judges the same.
			again := *tc.later
			again.Status = spec.Released
			judgeCells(t, Defaults(), openHistory(t, path, "s2"), newFakeSets(), &again)
			if again.Status != tc.want {
				t.Errorf("in a new session: %s, want %s", again.Status, tc.want)
			}
		})
	}
}

// TestWindowsWithinOneResult: two windows of one result (Compare's groups
// A and A with T added) are held apart like a window and an earlier one;
// the first is shown.
func TestWindowsWithinOneResult(t *testing.T) {
	h := openHistory(t, filepath.Join(t.TempDir(), "history.jsonl"), "s1")
	a := quantileCell("measurement", 131.4, 100, 121, nil)
	at := quantileCell("measurement", 131.9, 100, 121, []uint32{120}, 9999)
	far := quantileCell("measurement", 140.0, 200, 221, nil)
	judgeCells(t, Defaults(), h, newFakeSets(), a, at, far)
	for _, c := range []struct {
		c    *Cell
		want string
	}{{a, spec.Released}, {at, spec.Overlap}, {far, spec.Released}} {
		if c.c.Status != c.want {
			t.Errorf("window of %d persons showing %v: %s, want %s", c.c.Window.GetCardinality(), c.c.Value, c.c.Status, c.want)
		}
	}
	if n := len(h.windows.recs); n != 2 {
		t.Errorf("%d windows recorded, want the 2 released", n)
	}
}

// TestWindowsAmongMany: the person index finds the one near window among
// thousands released, and a held decision's windows are not recorded.
func TestWindowsAmongMany(t *testing.T) {
	h := openHistory(t, filepath.Join(t.TempDir(), "history.jsonl"), "s1")
	var cells []*Cell
	for i := range uint32(3000) {
		cells = append(cells, quantileCell("measurement", float64(i), 100000+i*25, 100000+i*25+21, nil))
	}
	judgeCells(t, Defaults(), h, newFakeSets(), cells...)
	for _, c := range cells {
		if c.Status != spec.Released {
			t.Fatalf("%v: %s", c.Value, c.Status)
		}
	}
	held := &Decision{Held: true, Cells: []*Cell{quantileCell("measurement", 5, 500, 521, nil)}}
	if err := Defaults().Judge(t.Context(), held, h, newFakeSets()); err != nil {
		t.Fatal(err)
	}
	near := quantileCell("measurement", 1, 100000+1500*25+2, 100000+1500*25+23, nil)
	farFromAll := quantileCell("measurement", 1, 500, 521, nil)
	judgeCells(t, Defaults(), h, newFakeSets(), near)
	judgeCells(t, Defaults(), h, newFakeSets(), farFromAll)
	if near.Status != spec.Overlap || farFromAll.Status != spec.Released {
		t.Errorf("near window %s (want overlap), a held decision's window %s (want released)", near.Status, farFromAll.Status)
	}
}

// meanCell is a released mean over the persons [lo, hi) plus add, whose
// plan fakes registers, in table.
func meanCell(fakes *fakeSets, table string, lo, hi uint32, add ...uint32) *Cell {
	b := roaring.New()
	b.AddRange(uint64(lo), uint64(hi))
	b.AddMany(add)
	plan := plan(fmt.Sprintf("mean %s %d %d %v", table, lo, hi, add))
	c := fakes.addSet(plan, b)
	c.Stat, c.Value, c.Digits, c.Quantity, c.RowCount, c.Table = Mean, 88.55, 2, "value_as_number", c.Persons, table
	c.Desc = "mean of " + plan
	return c
}

// TestWindowsAndMeans is review 56's attack: a quantile whose window is
// exactly 21 persons of a block of readings, and the mean of that block
// and one person, gave that person's reading (22·mean − 21·window). Either
// order, the second is hidden; a mean over other persons, or over many
// more, is released, and so is a window beside them.
func TestWindowsAndMeans(t *testing.T) {
	const target = 9999
	cases := []struct {
		name          string
		first, second func(f *fakeSets) *Cell
		want          string
	}{
		{"window, then the block and the target", func(*fakeSets) *Cell { return quantileCell("measurement", 83.33, 100, 121, nil) },
			func(f *fakeSets) *Cell { return meanCell(f, "measurement", 100, 121, target) }, spec.Difference},
		{"the block and the target, then the window", func(f *fakeSets) *Cell { return meanCell(f, "measurement", 100, 121, target) },
			func(*fakeSets) *Cell { return quantileCell("measurement", 83.33, 100, 121, nil) }, spec.Overlap},
		{"window, then a mean of its persons but two", func(*fakeSets) *Cell { return quantileCell("measurement", 83.33, 100, 123, nil) },
			func(f *fakeSets) *Cell { return meanCell(f, "measurement", 102, 123) }, spec.Difference},
		{"window, then a mean of its persons and 30 more", func(*fakeSets) *Cell { return quantileCell("measurement", 83.33, 100, 121, nil) },
			func(f *fakeSets) *Cell { return meanCell(f, "measurement", 100, 151) }, spec.Released},
		{"window, then a mean of other persons", func(*fakeSets) *Cell { return quantileCell("measurement", 83.33, 100, 121, nil) },
			func(f *fakeSets) *Cell { return meanCell(f, "measurement", 200, 222) }, spec.Released},
		{"window, then a mean of another table", func(*fakeSets) *Cell { return quantileCell("measurement", 83.33, 100, 121, nil) },
			func(f *fakeSets) *Cell { return meanCell(f, "observation", 100, 121, target) }, spec.Released},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "history.jsonl")
			f := newFakeSets()
			first := tc.first(f)
			judgeCells(t, Defaults(), openHistory(t, path, "s1"), f, first)
			if first.Status != spec.Released {
				t.Fatalf("first: %s", first.Status)
			}
			// A new kernel of the workspace reads the first from the file.
			second := tc.second(f)
			judgeCells(t, Defaults(), openHistory(t, path, "s2"), f, second)
			if second.Status != tc.want {
				t.Errorf("second: %q, want %q", second.Status, tc.want)
			}
			// And the two in one result.
			f2 := newFakeSets()
			a, b := tc.first(f2), tc.second(f2)
			judgeCells(t, Defaults(), openHistory(t, filepath.Join(t.TempDir(), "history.jsonl"), "s3"), f2, a, b)
			if a.Status != spec.Released || b.Status != tc.want {
				t.Errorf("in one result: %q and %q, want released and %q", a.Status, b.Status, tc.want)
			}
		})
	}
}

// TestWindowsInTheCombinationAudit is review 57's attack: two windows of
// 21 chosen persons each are the sums of those persons' values, and a mean
// over both and one more person, 22 persons from each window, gave that
// person's LDL. With the windows among the audit's parts, the mean's
// persons are two windows and one person: hidden. Two windows and 25 more
// persons are released.
func TestWindowsInTheCombinationAudit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []uint32
		want  string
	}{
		{"two windows and a person", []uint32{9999}, spec.Difference},
		{"two windows and 17 persons", seq(9000, 17), spec.Difference},
		{"two windows and 25 persons", seq(9000, 25), spec.Released},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "history.jsonl")
			f := newFakeSets()
			w1 := quantileCell("measurement", 100.5, 100, 121, nil)
			w2 := quantileCell("measurement", 130.25, 200, 221, nil)
			judgeCells(t, Defaults(), openHistory(t, path, "s1"), f, w1)
			judgeCells(t, Defaults(), openHistory(t, path, "s1"), f, w2)
			b := roaring.New()
			b.AddRange(100, 121)
			b.AddRange(200, 221)
			b.AddMany(tc.extra)
			persons := f.addSet(plan(tc.name), b)
			mean := &Cell{Stat: Mean, Value: 117, Digits: 2, Persons: persons.Persons, Of: persons}
			judgeCells(t, Defaults(), openHistory(t, path, "s2"), f, persons, mean)
			if persons.Status != tc.want || mean.Suppressed() != (tc.want != spec.Released) {
				t.Errorf("persons %q, mean %q: want %q", persons.Status, mean.Status, tc.want)
			}
		})
	}
}

func seq(from uint32, n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = from + uint32(i)
	}
	return out
}

// TestWindowPairsBeyondTheAudit is review 58's attack: a window of 21
// persons, a count of 24 others, then results enough to push both out of
// the combination audit's sight (50 windows and 50 counts), then the
// three and one more person: the window and the count are two parts of
// it, found in the whole history as two counts are. With 25 more persons
// instead of one, it is released.
func TestWindowPairsBeyondTheAudit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []uint32
		want  string
	}{
		{"a window, a count and a person", []uint32{9999}, spec.Difference},
		{"a window, a count and 25 persons", seq(9000, 25), spec.Released},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := openHistory(t, filepath.Join(t.TempDir(), "history.jsonl"), "s1")
			f := newFakeSets()
			judgeCells(t, Defaults(), h, f, quantileCell("measurement", 105.33, 100, 121, nil))
			judgeCells(t, Defaults(), h, f, f.add(plan("D"), 200, 224))
			for i := range uint32(50) {
				judgeCells(t, Defaults(), h, f, quantileCell("measurement", float64(i), 20000+i*30, 20000+i*30+21, nil))
				judgeCells(t, Defaults(), h, f, f.add(plan(fmt.Sprint("filler ", i)), 40000+i*100, 40000+i*100+50+i))
			}
			b := roaring.New()
			b.AddRange(100, 121)
			b.AddRange(200, 224)
			b.AddMany(tc.extra)
			total := f.addSet(plan(tc.name), b)
			judgeCells(t, Defaults(), h, f, total)
			if total.Status != tc.want {
				t.Errorf("the total of %d persons: %q, want %q", total.Persons, total.Status, tc.want)
			}
		})
	}
}
