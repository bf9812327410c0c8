package release

import (
	"fmt"
	"path/filepath"
	"testing"

	"enclave/api/spec"
)

// TestPairsBeyondTheWindow is review 24's attack: two disjoint parts of a
// total, then enough unrelated large releases to push them out of the
// linear audit's window, then the total (or the total first and the
// second part last): the parts are found in the whole history by size.
func TestPairsBeyondTheWindow(t *testing.T) {
	tests := []struct {
		name  string
		order []string // A, B and T in release order; fillers go before the last
		total uint32   // T is [0, total): A [0, 400) and B [400, 744) inside it
		want  string
	}{
		{"parts, fillers, total 3 more", []string{"A", "B", "T"}, 747, spec.Difference},
		{"total, a part, fillers, the other part", []string{"T", "A", "B"}, 747, spec.Difference},
		{"parts, fillers, total 21 more", []string{"A", "B", "T"}, 765, spec.Released},
		{"parts, fillers, total with nobody more", []string{"A", "B", "T"}, 744, spec.Released},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := openHistory(t, filepath.Join(t.TempDir(), "h"), "s1")
			f := newFakeSets()
			cells := map[string]func() *Cell{
				"A": func() *Cell { return f.add(plan("A"), 0, 400) },
				"B": func() *Cell { return f.add(plan("B"), 400, 744) },
				"T": func() *Cell { return f.add(plan("T"), 0, tt.total) },
			}
			for i, name := range tt.order {
				if i == len(tt.order)-1 {
					for j := range 2 * auditWindow {
						lo := uint32(100000 + 10000*j)
						judgeCells(t, Defaults(), h, f, f.add(plan(fmt.Sprint("filler", j)), lo, lo+2500))
					}
				}
				c := cells[name]()
				judgeCells(t, Defaults(), h, f, c)
				if i < len(tt.order)-1 && c.Suppressed() {
					t.Fatalf("%s hidden (%s) before the last release", name, c.Status)
				}
				if i == len(tt.order)-1 && c.Status != tt.want {
					t.Errorf("%s last, after %d fillers: %q, want %q", name, 2*auditWindow, c.Status, tt.want)
				}
			}
		})
	}
}
