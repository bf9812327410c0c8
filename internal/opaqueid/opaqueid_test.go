package opaqueid

import (
	"regexp"
	"testing"
)

func TestNew(t *testing.T) {
	shape := regexp.MustCompile(`^h[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := Unused("h", func(s string) bool { return seen[s] })
		if !shape.MatchString(id) || seen[id] {
			t.Fatalf("id %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
	// A taken id is never returned: with every id but the next ones
	// taken, Unused keeps drawing.
	first := New("x")
	n := 0
	if id := Unused("x", func(s string) bool { n++; return n < 3 || s == first }); id == first || n < 3 {
		t.Errorf("Unused gave %q after %d draws", id, n)
	}
}
