package splitmix

import "testing"

// TestKnownValues checks Hash against the first outputs of the SplitMix64
// generator seeded with 0 (state advanced by the increment each step), as
// published with the algorithm's reference tests.
func TestKnownValues(t *testing.T) {
	want := []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f}
	var state uint64
	for i, w := range want {
		if got := Hash(state); got != w {
			t.Fatalf("output %d = %#x, want %#x", i, got, w)
		}
		state += 0x9e3779b97f4a7c15
	}
	if Mix(0) != 0 {
		t.Fatalf("Mix(0) = %#x, want 0", Mix(0))
	}
}
