package release

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"enclave/api/spec"
)

// TestDifferencingRowPartitions: P (30 persons) and Z (60 others) and
// their union (and more blocks), each a mean over rows of one quantity. When the three do
// not read the same rows (P's every reading, Z's and P ∪ Z's from 2020
// on), the union less Z is P from 2020 on, and beside P's every reading
// it gives the readings of whoever had earlier ones (review 31): the
// third released, whichever it is, is hidden. The same Source throughout
// is one table of means, released; so are sets that are not a partition.
func TestDifferencingRowPartitions(t *testing.T) {
	P, Z, X := [2]uint32{0, 30}, [2]uint32{100, 160}, [2]uint32{200, 225}
	union := func(rs ...[2]uint32) *roaring.Bitmap {
		b := roaring.New()
		for _, r := range rs {
			b.AddRange(uint64(r[0]), uint64(r[1]))
		}
		return b
	}
	type stat struct {
		name string
		set  *roaring.Bitmap
		src  string
	}
	tests := []struct {
		name     string
		stats    []stat
		released bool // the last
	}{
		{"P every reading, Z and P∪Z from 2020", []stat{{"P", union(P), "all"}, {"Z", union(Z), "2020"}, {"PZ", union(P, Z), "2020"}}, false},
		{"the union second", []stat{{"P", union(P), "all"}, {"PZ", union(P, Z), "2020"}, {"Z", union(Z), "2020"}}, false},
		{"the part that differs last", []stat{{"Z", union(Z), "2020"}, {"PZ", union(P, Z), "2020"}, {"P", union(P), "all"}}, false},
		{"the other part differs", []stat{{"P", union(P), "2020"}, {"Z", union(Z), "all"}, {"PZ", union(P, Z), "2020"}}, false},
		{"one Source", []stat{{"P", union(P), "all"}, {"Z", union(Z), "all"}, {"PZ", union(P, Z), "all"}}, true},
		{"not a partition: 25 more in the whole", []stat{{"P", union(P), "all"}, {"Z", union(Z), "2020"}, {"PZX", union(P, Z, X), "2020"}}, true},
		{"not a partition: the parts overlap", []stat{{"P", union(P, [2]uint32{100, 125}), "all"}, {"Z", union(Z), "2020"}, {"PZ", union(P, Z), "2020"}}, true},
		{"no Source: not compared", []stat{{"P", union(P), ""}, {"Z", union(Z), "2020"}, {"PZ", union(P, Z), "2020"}}, true},
		// Four blocks (review 32): P + Y + Z − the union is P.
		{"four blocks", []stat{{"P", union(P), "all"}, {"Y", union(X), "2020"}, {"Z", union(Z), "2020"}, {"PYZ", union(P, X, Z), "2020"}}, false},
		{"four blocks, the odd one last", []stat{{"Y", union(X), "2020"}, {"Z", union(Z), "2020"}, {"PYZ", union(P, X, Z), "2020"}, {"P", union(P), "all"}}, false},
		{"four blocks, one Source", []stat{{"P", union(P), "all"}, {"Y", union(X), "all"}, {"Z", union(Z), "all"}, {"PYZ", union(P, X, Z), "all"}}, true},
		// A difference, not a union: P ∪ Z less Z, beside P.
		{"a difference", []stat{{"PZ", union(P, Z), "2020"}, {"Z", union(Z), "2020"}, {"P", union(P), "all"}}, false},
		// Overlapping sets whose combination is no earlier set: released.
		{"no combination", []stat{{"P", union(P), "all"}, {"Z", union(Z), "2020"}, {"PZ'", union(P, [2]uint32{100, 140}, X), "2020"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := openHistory(t, filepath.Join(t.TempDir(), "history.jsonl"), "s1")
			f := newFakeSets()
			for i, st := range tt.stats {
				persons := f.addSet(plan(st.name), st.set)
				rows := &Cell{Stat: Rows, Value: float64(3 * persons.Persons), Persons: persons.Persons, Of: persons, Plan: persons.Plan,
					Quantity: "value_as_number", RowCount: 3 * persons.Persons}
				if st.src != "" {
					rows.Source = []byte(`{"rows": "` + st.src + `"}`)
				}
				mean := &Cell{Stat: Mean, Value: 27.5, Persons: persons.Persons, Of: rows}
				judgeCells(t, Defaults(), h, f, persons, rows, mean)
				last := i == len(tt.stats)-1
				if got := !rows.Suppressed() && !mean.Suppressed(); last && got != tt.released {
					t.Errorf("%s: rows %q, mean %q; released %v, want %v", st.name, rows.Status, mean.Status, got, tt.released)
				} else if !last && !got {
					t.Fatalf("%s (not the last) hidden: rows %q", st.name, rows.Status)
				}
				if last && !tt.released && rows.Status != spec.Difference {
					t.Errorf("%s: status %q, want %q", st.name, rows.Status, spec.Difference)
				}
			}
		})
	}
}

// TestDifferencingRowsOfOtherTables: the same wearers' rows of activity
// and of sleep are different rows, whatever their Sources, and both are
// released; two readings of one table's rows are not.
func TestDifferencingRowsOfOtherTables(t *testing.T) {
	for _, tt := range []struct {
		tables   [2]string
		released bool
	}{
		{[2]string{"activity_summary", "sleep_daily_summary"}, true},
		{[2]string{"activity_summary", "activity_summary"}, false},
		{[2]string{"activity_summary", ""}, false}, // a table not known (%sql): compared
	} {
		h := openHistory(t, filepath.Join(t.TempDir(), "history.jsonl"), "s1")
		f := newFakeSets()
		var last *Cell
		for i, tbl := range tt.tables {
			persons := f.add(plan(fmt.Sprint("wearers ", i)), 0, 50)
			last = &Cell{Stat: Rows, Value: 1500, Persons: 50, Of: persons, Plan: persons.Plan, Quantity: "rows", RowCount: 1500,
				Source: []byte(fmt.Sprintf(`{"rows": %q}`, fmt.Sprint(tbl, i))), Table: tbl}
			judgeCells(t, Defaults(), h, f, persons, last)
		}
		if last.Suppressed() == tt.released {
			t.Errorf("rows of %v: the second %q, want released %v", tt.tables, last.Status, tt.released)
		}
	}
}
