package release

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"enclave/api/spec"
)

// TestLinearDifferencing: releases judged one after another in a fresh
// workspace history; the last one's status is what an analyst would see.
// Persons are numbered; each release is a union of ranges.
func TestLinearDifferencing(t *testing.T) {
	type rel struct {
		name   string
		ranges [][2]uint32
	}
	tests := []struct {
		name string
		rels []rel
		want string // status of the last release
	}{
		{"diabetics by sex, then all diabetics with 5 of unknown sex",
			[]rel{{"F", [][2]uint32{{0, 500}}}, {"M", [][2]uint32{{500, 1000}}}, {"All", [][2]uint32{{0, 1005}}}},
			spec.Difference},
		{"all first, then the two sexes: the second sex is held",
			[]rel{{"All", [][2]uint32{{0, 1005}}}, {"F", [][2]uint32{{0, 500}}}, {"M", [][2]uint32{{500, 1000}}}},
			spec.Difference},
		{"by sex, then all with 100 of unknown sex",
			[]rel{{"F", [][2]uint32{{0, 500}}}, {"M", [][2]uint32{{500, 1000}}}, {"All", [][2]uint32{{0, 1100}}}},
			spec.Released},
		{"sexes cover the total exactly",
			[]rel{{"F", [][2]uint32{{0, 500}}}, {"M", [][2]uint32{{500, 1000}}}, {"All", [][2]uint32{{0, 1000}}}},
			spec.Released},
		{"four age bands and a total that has 3 with no age",
			[]rel{{"a1", [][2]uint32{{0, 300}}}, {"a2", [][2]uint32{{300, 600}}}, {"a3", [][2]uint32{{600, 900}}},
				{"a4", [][2]uint32{{900, 1200}}}, {"All", [][2]uint32{{0, 1203}}}},
			spec.Difference},
		{"overlapping cohorts whose difference is two small groups on either side",
			[]rel{{"X", [][2]uint32{{0, 1003}}}, {"Y", [][2]uint32{{3, 1008}}}, {"Z", [][2]uint32{{5000, 6000}}}},
			spec.Released},
		{"union and intersection: |X|+|Y|-|X∪Y| is the overlap of 4",
			[]rel{{"X", [][2]uint32{{0, 504}}}, {"Y", [][2]uint32{{500, 1000}}}, {"XY", [][2]uint32{{0, 1000}}}},
			spec.Difference},
		{"union and a large overlap",
			[]rel{{"X", [][2]uint32{{0, 600}}}, {"Y", [][2]uint32{{500, 1000}}}, {"XY", [][2]uint32{{0, 1000}}}},
			spec.Released},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := openHistory(t, filepath.Join(t.TempDir(), "h"), "s1")
			f := newFakeSets()
			var last *Cell
			for i, r := range tt.rels {
				b := roaring.New()
				for _, rg := range r.ranges {
					b.AddRange(uint64(rg[0]), uint64(rg[1]))
				}
				last = f.addSet(plan(r.name), b)
				judgeCells(t, Defaults(), h, f, last)
				if i < len(tt.rels)-1 && last.Suppressed() {
					t.Fatalf("%s (%d persons) held: %q", r.name, last.Persons, last.Status)
				}
			}
			if last.Status != tt.want {
				t.Errorf("%d persons: %q, want %q", last.Persons, last.Status, tt.want)
			}
		})
	}
}

// TestLinearDifferencingInOneResult: a comparison that releases both
// groups and the total in one result is audited cell by cell too.
func TestLinearDifferencingInOneResult(t *testing.T) {
	h := openHistory(t, filepath.Join(t.TempDir(), "h"), "s1")
	f := newFakeSets()
	x, y, all := f.add(plan("X"), 0, 400), f.add(plan("Y"), 400, 900), f.add(plan("All"), 0, 907)
	judgeCells(t, Defaults(), h, f, x, y, all)
	shown := 0
	for _, c := range []*Cell{x, y, all} {
		if !c.Suppressed() {
			shown++
		}
	}
	if shown == 3 {
		t.Errorf("all three released: the 7 outside both groups are their difference")
	}
}

func TestSplitAtomsBound(t *testing.T) {
	// Sets that cut persons into ever finer atoms: the split stops before
	// exceeding maxAtoms and says how many sets it took.
	var sets []*roaring.Bitmap
	for k := 0; k < 14; k++ {
		b := roaring.New()
		for p := uint32(0); p < 1<<14; p++ {
			if p>>k&1 == 1 {
				b.Add(p)
			}
		}
		sets = append(sets, b)
	}
	sp, taken := splitAtoms(sets)
	if len(sp.sizes) > maxAtoms || taken != 10 {
		t.Errorf("%d atoms from %d sets, want ≤ %d from 10", len(sp.sizes), taken, maxAtoms)
	}
	var n int64
	for _, s := range sp.sizes {
		n += s
	}
	if want := int64(1<<14 - 1<<4); n != want { // persons in one of the 10 sets taken
		t.Errorf("atoms hold %d persons, want %d", n, want)
	}
}

// TestRevealsSmallManyAtoms: with more small atoms than are enumerated,
// a total less one of its parts is still found.
func TestRevealsSmallManyAtoms(t *testing.T) {
	const parts = 16
	build := func(sliver int64) atomSplit {
		// Atom 0: 100 persons; atoms 1..parts: slivers. Set 0 is atom 0
		// alone; set i is atom 0 with sliver i.
		sp := atomSplit{sizes: []int64{100}}
		for i := 0; i < parts; i++ {
			sp.sizes = append(sp.sizes, sliver)
		}
		for i := 0; i <= parts; i++ {
			row := make([]bool, parts+1)
			row[0] = true
			if i > 0 {
				row[i] = true
			}
			sp.in = append(sp.in, row)
		}
		return sp
	}
	if !revealsSmall(build(3), 20) {
		t.Errorf("slivers of 3 persons: not found")
	}
	if revealsSmall(build(25), 20) {
		t.Errorf("slivers of 25 persons: held")
	}
}

// TestLinearDifferencingOldTotal: the total a part is subtracted from may
// be older than the window of recent releases.
func TestLinearDifferencingOldTotal(t *testing.T) {
	h := openHistory(t, filepath.Join(t.TempDir(), "h"), "s1")
	f := newFakeSets()
	judgeCells(t, Defaults(), h, f, f.add(plan("All"), 0, 1005))
	for i := 0; i < auditWindow+10; i++ { // unrelated releases
		judgeCells(t, Defaults(), h, f, f.add(plan(fmt.Sprint("other", i)), 10000+uint32(i)*100, 10000+uint32(i)*100+50))
	}
	judgeCells(t, Defaults(), h, f, f.add(plan("F"), 0, 500))
	m := f.add(plan("M"), 500, 1000)
	judgeCells(t, Defaults(), h, f, m)
	if m.Status != spec.Difference {
		t.Errorf("M after an old total: %q, want difference (5 of unknown sex)", m.Status)
	}
}

// BenchmarkLinearAudit: results of ten counts judged against a full window of recent
// releases, each a cohort of about 100,000 of a million persons cut by
// age band and sex, sets already built (the per-cell cost after the first).
func BenchmarkLinearAudit(b *testing.B) {
	h := openHistory(b, filepath.Join(b.TempDir(), "h"), "s1")
	f := newFakeSets()
	for i := 0; i < auditWindow+auditLargest; i++ {
		lo := uint32(i%8) * 100000
		bm := roaring.New()
		for p := lo; p < lo+100000; p++ {
			if p%uint32(2+i%3) == 0 {
				bm.Add(p)
			}
		}
		judgeCells(b, Defaults(), h, f, f.addSet(plan(fmt.Sprint("r", i)), bm))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A result of 10 cells: the history's atoms are split once.
		var cells []*Cell
		for k := 0; k < 10; k++ {
			lo := uint32(50000 + 70000*k)
			cells = append(cells, f.add(plan(fmt.Sprint("new", i, "/", k)), lo, lo+60000))
		}
		if err := Defaults().Judge(context.Background(), &Decision{Cells: cells}, h, f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10)/1e6, "ms/cell")
}

// TestTriangleBehindALargeTable is review 29's attack: A∪T, A∪G, then one
// table of 200 cells, then G∪T. (A∪T) − (A∪G) + (G∪T) is twice T, one
// person; the table's cells pushed the first two out of the audit's
// window. One result counts for at most auditPerTable records of it.
func TestTriangleBehindALargeTable(t *testing.T) {
	h := openHistory(t, filepath.Join(t.TempDir(), "h"), "s1")
	f := newFakeSets()
	set := func(name string, ranges ...[2]uint64) *Cell {
		b := roaring.New()
		for _, r := range ranges {
			b.AddRange(r[0], r[1])
		}
		return f.addSet(plan(name), b)
	}
	A, G, T := [2]uint64{0, 300}, [2]uint64{1000, 1300}, [2]uint64{5000, 5001}
	for _, c := range []*Cell{set("A∪T", A, T), set("A∪G", A, G)} {
		judgeCells(t, Defaults(), h, f, c)
		if c.Suppressed() {
			t.Fatalf("%s: %q", c.Desc, c.Status)
		}
	}
	var table []*Cell
	for i := range 200 { // each larger than A∪G, so not among the largest either
		lo := uint64(10_000 + 1000*i)
		table = append(table, set(fmt.Sprintf("table cell %d", i), [2]uint64{lo, lo + 700}))
	}
	judgeCells(t, Defaults(), h, f, table...)
	last := set("G∪T", G, T)
	judgeCells(t, Defaults(), h, f, last)
	if last.Status != spec.Difference {
		t.Errorf("G∪T after the large table: %q, want %q", last.Status, spec.Difference)
	}
}
