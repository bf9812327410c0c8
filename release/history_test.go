package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"enclave/api/spec"
)

// fakeSets maps plans to person sets.
type fakeSets struct {
	mu    sync.Mutex
	sets  map[string]*roaring.Bitmap
	fail  map[string]error
	calls int
}

func newFakeSets() *fakeSets {
	return &fakeSets{sets: map[string]*roaring.Bitmap{}, fail: map[string]error{}}
}

// add registers the persons [lo, hi) minus drop under plan and returns a
// count cell for it.
func (f *fakeSets) add(plan string, lo, hi uint32, drop ...uint32) *Cell {
	b := roaring.New()
	b.AddRange(uint64(lo), uint64(hi))
	for _, d := range drop {
		b.Remove(d)
	}
	return f.addSet(plan, b)
}

func (f *fakeSets) addSet(plan string, b *roaring.Bitmap) *Cell {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets[plan] = b
	n := int64(b.GetCardinality())
	return &Cell{Stat: Count, Value: float64(n), Persons: n, Plan: []byte(plan), Desc: "persons of " + plan}
}

func (f *fakeSets) PersonSet(_ context.Context, plan []byte) (*roaring.Bitmap, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if err := f.fail[string(plan)]; err != nil {
		return nil, err
	}
	b, ok := f.sets[string(plan)]
	if !ok {
		return nil, fmt.Errorf("no plan %s", plan)
	}
	return b, nil
}

// plan is a JSON plan naming a query.
func plan(name string) string { return fmt.Sprintf(`{"q":%q}`, name) }

func openHistory(t testing.TB, path, session string, more ...string) *History {
	t.Helper()
	h, err := OpenHistory(path, session, more...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func judgeCells(t testing.TB, p Policy, h *History, sets SetSource, cells ...*Cell) {
	t.Helper()
	if err := p.Judge(context.Background(), &Decision{Cells: cells}, h, sets); err != nil {
		t.Fatal(err)
	}
}

func lines(t testing.TB, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func TestDifferencingAgainstHistory(t *testing.T) {
	tests := []struct {
		name   string
		second func(f *fakeSets) *Cell
		status string
	}{
		{"A minus 1", func(f *fakeSets) *Cell { return f.add(plan("B"), 0, 100, 42) }, spec.Difference},
		{"A minus 20", func(f *fakeSets) *Cell { return f.add(plan("B"), 20, 100) }, spec.Difference},
		{"A minus 21", func(f *fakeSets) *Cell { return f.add(plan("B"), 21, 100) }, spec.Released},
		{"A plus 1", func(f *fakeSets) *Cell { return f.add(plan("B"), 0, 101) }, spec.Difference},
		{"A plus 20", func(f *fakeSets) *Cell { return f.add(plan("B"), 0, 120) }, spec.Difference},
		{"A plus 21", func(f *fakeSets) *Cell { return f.add(plan("B"), 0, 121) }, spec.Released},
		{"99 not nested", func(f *fakeSets) *Cell { return f.add(plan("B"), 1, 101, 50) }, spec.Released},
		{"same persons, other plan", func(f *fakeSets) *Cell { return f.add(plan("B"), 0, 100) }, spec.Released},
		{"disjoint", func(f *fakeSets) *Cell { return f.add(plan("B"), 1000, 1095) }, spec.Released},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "history.jsonl")
			h := openHistory(t, path, "s1")
			f := newFakeSets()
			a := f.add(plan("A"), 0, 100)
			judgeCells(t, Defaults(), h, f, a)
			if a.Suppressed() {
				t.Fatalf("A suppressed: %q", a.Status)
			}
			b := tt.second(f)
			judgeCells(t, Defaults(), h, f, b)
			if b.Status != tt.status {
				t.Fatalf("B of %d persons: status %q, want %q", b.Persons, b.Status, tt.status)
			}
			if b.Status == spec.Difference && Defaults().SpecCell(b).Text != "*" {
				t.Errorf("differenced count shown as %q", Defaults().SpecCell(b).Text)
			}
			want := 1
			if !b.Suppressed() {
				want = 2
			}
			if h.Len() != want || lines(t, path) != want {
				t.Errorf("history has %d records (%d lines), want %d: suppressed cells are not recorded", h.Len(), lines(t, path), want)
			}
		})
	}
}

// TestDifferencingSwaps: B with one person, then B with another instead
// (same size, neither nested in the other), released with their means,
// give the difference of the two persons' values; 21 such pairs over
// other B's and the swapped-in persons' total gave a person's BMI (review
// 28). A set that a mean follows is differenced both ways; counts alone
// are not, since two counts of a swap give no small group's size.
func TestDifferencingSwaps(t *testing.T) {
	for _, tt := range []struct {
		name     string
		withMean bool
		second   [2]uint32
		drop     []uint32
		status   string
	}{
		{"means, one person swapped", true, [2]uint32{1, 101}, nil, spec.Difference},
		{"means, twenty swapped", true, [2]uint32{10, 110}, nil, spec.Difference},
		{"means, twenty-one swapped", true, [2]uint32{11, 111}, nil, spec.Released},
		{"means, two out and one in", true, [2]uint32{1, 101}, []uint32{50}, spec.Difference},
		{"counts, one person swapped", false, [2]uint32{1, 101}, nil, spec.Released},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := openHistory(t, filepath.Join(t.TempDir(), "history.jsonl"), "s1")
			f := newFakeSets()
			cells := func(c *Cell) []*Cell {
				if !tt.withMean {
					return []*Cell{c}
				}
				return []*Cell{c, {Stat: Mean, Value: 27.5, Persons: c.Persons, Of: c, Values: 50}}
			}
			a := f.add(plan("A"), 0, 100)
			judgeCells(t, Defaults(), h, f, cells(a)...)
			b := f.add(plan("B"), tt.second[0], tt.second[1], tt.drop...)
			judgeCells(t, Defaults(), h, f, cells(b)...)
			if a.Suppressed() || b.Status != tt.status {
				t.Errorf("A %q, B %q; want released, %q", a.Status, b.Status, tt.status)
			}
		})
	}
}

// TestDifferencingAgainstSmall: a count shown as ≤20 released no number,
// but the same persons and one more, 21, would give it: 20 women of a
// race, then 21 once one man is added. The ≤20 count is kept in the
// history for the nested check, and only for it.
func TestDifferencingAgainstSmall(t *testing.T) {
	tests := []struct {
		name   string
		second func(f *fakeSets) *Cell
		status string
	}{
		{"20 plus 1", func(f *fakeSets) *Cell { return f.add(plan("B"), 0, 21) }, spec.Difference},
		{"20 plus 20", func(f *fakeSets) *Cell { return f.add(plan("B"), 0, 40) }, spec.Difference},
		{"20 plus 21", func(f *fakeSets) *Cell { return f.add(plan("B"), 0, 41) }, spec.Released},
		{"21 not nested", func(f *fakeSets) *Cell { return f.add(plan("B"), 1, 22) }, spec.Released},
		{"20 minus 1, still small", func(f *fakeSets) *Cell { return f.add(plan("B"), 1, 20) }, spec.Small},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "history.jsonl")
			h := openHistory(t, path, "s1")
			f := newFakeSets()
			a := f.add(plan("A"), 0, 20)
			judgeCells(t, Defaults(), h, f, a)
			if a.Status != spec.Small || h.Len() != 1 || !h.recs[0].Small {
				t.Fatalf("A of 20: status %q, %d records, want small and kept", a.Status, h.Len())
			}
			b := tt.second(f)
			judgeCells(t, Defaults(), h, f, b)
			if b.Status != tt.status {
				t.Fatalf("B of %d persons: status %q, want %q", b.Persons, b.Status, tt.status)
			}
		})
	}
	// A kernel opening the history reads the small record back.
	path := filepath.Join(t.TempDir(), "history.jsonl")
	f := newFakeSets()
	judgeCells(t, Defaults(), openHistory(t, path, "s1"), f, f.add(plan("A"), 0, 20))
	b := f.add(plan("B"), 0, 21)
	judgeCells(t, Defaults(), openHistory(t, path, "s2"), f, b)
	if b.Status != spec.Difference {
		t.Errorf("another kernel: 21 after ≤20 has status %q", b.Status)
	}
}

// TestDifferencingHidesTheUnchanged: three bins released, then the same
// three by another plan with one person added to one of them. Hiding only
// that bin would say where the person is; once one cell is hidden against
// the history, the cells whose persons were released before go too. With
// nobody added, all three are shown again.
func TestDifferencingHidesTheUnchanged(t *testing.T) {
	for _, added := range []bool{true, false} {
		h := openHistory(t, filepath.Join(t.TempDir(), "history.jsonl"), "s1")
		f := newFakeSets()
		first := []*Cell{f.add(plan("a1"), 0, 100), f.add(plan("a2"), 100, 200), f.add(plan("a3"), 200, 300)}
		judgeCells(t, Defaults(), h, f, first...)
		hi := uint32(200)
		if added {
			hi = 201
		}
		second := []*Cell{f.add(plan("b1"), 0, 100), f.add(plan("b2"), 100, hi), f.add(plan("b3"), 200, 300)}
		second[1].Desc = "the bin a person may have been added to"
		judgeCells(t, Defaults(), h, f, second...)
		for i, c := range second {
			want := spec.Released
			if added {
				want = spec.Difference
			}
			if c.Status != want {
				t.Errorf("added %v: bin %d (%d persons) %q, want %q", added, i+1, c.Persons, c.Status, want)
			}
		}
	}
}

// TestDifferencingBuildsEachSetOnce: the linear audit needs the sets of
// the recent releases, but each is rebuilt from its plan once per kernel.
func TestDifferencingBuildsEachSetOnce(t *testing.T) {
	h := openHistory(t, filepath.Join(t.TempDir(), "h"), "s1")
	f := newFakeSets()
	judgeCells(t, Defaults(), h, f, f.add(plan("A"), 0, 100), f.add(plan("C"), 0, 1000))
	if f.calls != 0 {
		t.Errorf("%d sets built for two cells with no near neighbour", f.calls)
	}
	judgeCells(t, Defaults(), h, f, f.add(plan("D"), 5000, 5500))
	if f.calls != 3 {
		t.Errorf("%d sets built for a third release, want 3 (it and the two before)", f.calls)
	}
	judgeCells(t, Defaults(), h, f, f.add(plan("E"), 200, 290))
	if f.calls != 4 {
		t.Errorf("%d sets built after a fourth release, want 4: earlier sets are rebuilt", f.calls)
	}
}

// TestDifferencingRerun: a result run again (every cell released before,
// same plan and size) builds no set, in a fresh kernel too, and is released
// as it was.
func TestDifferencingRerun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h")
	f := newFakeSets()
	cells := func() []*Cell {
		return []*Cell{f.add(plan("A"), 0, 100), f.add(plan("B"), 0, 60), f.add(plan("C"), 60, 100)}
	}
	judgeCells(t, Defaults(), openHistory(t, path, "s1"), f, cells()...)
	before := f.calls
	again := cells()
	judgeCells(t, Defaults(), openHistory(t, path, "s2"), f, again...)
	if f.calls != before {
		t.Errorf("a rerun built %d sets", f.calls-before)
	}
	for _, c := range again {
		if c.Suppressed() {
			t.Errorf("%s suppressed on a rerun: %q", c.Plan, c.Status)
		}
	}
	// One person fewer than a released set is still caught.
	b := f.add(plan("B'"), 0, 60, 7)
	judgeCells(t, Defaults(), openHistory(t, path, "s3"), f, b)
	if b.Status != spec.Difference {
		t.Errorf("B less one: %q", b.Status)
	}
}

func TestDifferencingEqualPlansRecordedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h")
	h := openHistory(t, path, "s1")
	f := newFakeSets()
	for i := 0; i < 2; i++ {
		a := f.add(plan("A"), 0, 100)
		judgeCells(t, Defaults(), h, f, a)
		if a.Suppressed() {
			t.Fatalf("release %d of the same cell: %q", i+1, a.Status)
		}
	}
	if h.Len() != 1 || lines(t, path) != 1 {
		t.Errorf("%d records, %d lines; want 1", h.Len(), lines(t, path))
	}
	// Again after reopening, and with the plan written differently.
	h.Close()
	h2 := openHistory(t, path, "s2")
	for _, p := range []string{plan("A"), `{ "q": "A" }`} {
		f.add(p, 0, 100)
		a := f.add(p, 0, 100)
		judgeCells(t, Defaults(), h2, f, a)
		if a.Suppressed() {
			t.Fatalf("%s after reopen: %q", p, a.Status)
		}
	}
	if h2.Len() != 1 || lines(t, path) != 1 {
		t.Errorf("after reopen: %d records, %d lines; want 1", h2.Len(), lines(t, path))
	}
}

func TestDifferencingPlanWithMarkup(t *testing.T) {
	// encoding/json escapes <, > and & unless told not to: the stored plan
	// must be the plan, byte for byte, or a re-release after reopening is
	// recorded again and the set source is handed other bytes.
	path := filepath.Join(t.TempDir(), "h")
	h := openHistory(t, path, "s1")
	f := newFakeSets()
	p := `{"where":"age < 30 && sex <> 'F'"}`
	judgeCells(t, Defaults(), h, f, f.add(p, 0, 100))
	h.Close()
	h2 := openHistory(t, path, "s2")
	a := f.add(p, 0, 100)
	judgeCells(t, Defaults(), h2, f, a)
	if h2.Len() != 1 {
		t.Errorf("%d records after re-releasing the same cell, want 1", h2.Len())
	}
	// The stored plan rebuilds the set: B nested with it is differenced.
	b := f.add(plan("B"), 0, 95)
	judgeCells(t, Defaults(), h2, f, b)
	if b.Status != spec.Difference {
		t.Errorf("B status %q, want difference", b.Status)
	}
}

func TestDifferencingWithinDecision(t *testing.T) {
	tests := []struct {
		name  string
		order string
	}{{"superset first", "AB"}, {"subset first", "BA"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "h")
			h := openHistory(t, path, "s1")
			f := newFakeSets()
			cells := map[byte]*Cell{'A': f.add(plan("A"), 0, 100), 'B': f.add(plan("B"), 5, 100)}
			first, later := cells[tt.order[0]], cells[tt.order[1]]
			judgeCells(t, Defaults(), h, f, first, later)
			if first.Suppressed() || later.Status != spec.Difference {
				t.Errorf("first %q, later %q; want released, difference", first.Status, later.Status)
			}
			if h.Len() != 1 {
				t.Errorf("%d records, want 1", h.Len())
			}
		})
	}
	t.Run("margin re-suppressed after differencing", func(t *testing.T) {
		// A earlier release; now a table whose part is A minus 3: the part
		// is differenced, so the margin must hide another member.
		h := openHistory(t, filepath.Join(t.TempDir(), "h"), "s1")
		f := newFakeSets()
		judgeCells(t, Defaults(), h, f, f.add(plan("A"), 0, 100))
		p1 := f.add(plan("p1"), 3, 100)
		p2 := f.add(plan("p2"), 1000, 1200)
		p3 := f.add(plan("p3"), 2000, 2300)
		tot := &Cell{Stat: Count, Value: 97 + 200 + 300, Persons: 597}
		d := &Decision{Cells: []*Cell{p1, p2, p3, tot}, Margins: []Margin{{Total: tot, Parts: []*Cell{p1, p2, p3}}}}
		if err := Defaults().Judge(context.Background(), d, h, f); err != nil {
			t.Fatal(err)
		}
		if p1.Status != spec.Difference || p2.Status != spec.Secondary {
			t.Errorf("p1 %q, p2 %q; want difference, secondary", p1.Status, p2.Status)
		}
		checkMargins(t, d.Margins, func(c *Cell) string { return c.Desc })
		if h.Len() != 2 {
			t.Errorf("%d records, want 2 (A and p3)", h.Len())
		}
	})
}

// Two kernels of one workspace share the history: the second sees what
// the first released.
func TestDifferencingAcrossKernels(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ws", "history.jsonl")
	k1 := openHistory(t, path, "kernel1")
	k2 := openHistory(t, path, "kernel2") // opened before k1 releases
	f := newFakeSets()
	a := f.add(plan("A"), 0, 100)
	judgeCells(t, Defaults(), k1, f, a)
	half := f.add(plan("B"), 0, 90)
	judgeCells(t, Defaults(), k2, f, half)
	if a.Suppressed() || half.Status != spec.Difference {
		t.Errorf("kernel1 %q, kernel2 %q; want released, difference", a.Status, half.Status)
	}
	if k2.Len() != 1 {
		t.Errorf("kernel2 knows %d records, want 1", k2.Len())
	}
	c := f.add(plan("C"), 1000, 1500)
	judgeCells(t, Defaults(), k2, f, c)
	judgeCells(t, Defaults(), k1, f, f.add(plan("D"), 1000, 1490))
	if k1.Len() != 2 || lines(t, path) != 2 {
		t.Errorf("kernel1 knows %d records, file has %d; want 2", k1.Len(), lines(t, path))
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `"session":"kernel1"`) || !strings.Contains(string(b), `"session":"kernel2"`) {
		t.Errorf("records not labelled by session:\n%s", b)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("history file mode %v (%v), want 0600", fi.Mode(), err)
	}
}

// TestDifferencingAcrossWorkspaces: a researcher's kernels in two
// workspaces over the same data share a researcher history beside each
// workspace's own, so the second half of a pair released in another
// workspace is hidden. Another researcher's workspace does not see it,
// and a record written to both files is read once.
func TestDifferencingAcrossWorkspaces(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "home", "history", "r1", "cdr.jsonl")
	f := newFakeSets()
	a := f.add(plan("A"), 0, 100)
	judgeCells(t, Defaults(), openHistory(t, filepath.Join(dir, "ws1", "history.jsonl"), "k1", mine), f, a)
	b := f.add(plan("B"), 0, 101)
	judgeCells(t, Defaults(), openHistory(t, filepath.Join(dir, "ws2", "history.jsonl"), "k2", mine), f, b)
	if a.Suppressed() || b.Status != spec.Difference {
		t.Errorf("workspace 1: %q, workspace 2: %q; want released, difference", a.Status, b.Status)
	}
	theirs := filepath.Join(dir, "home", "history", "r2", "cdr.jsonl")
	c := f.add(plan("C"), 0, 101)
	judgeCells(t, Defaults(), openHistory(t, filepath.Join(dir, "ws3", "history.jsonl"), "k3", theirs), f, c)
	if c.Suppressed() {
		t.Errorf("another researcher's workspace: %q, want released", c.Status)
	}
	if h := openHistory(t, filepath.Join(dir, "ws1", "history.jsonl"), "k4", mine); h.Len() != 1 || lines(t, mine) != 1 {
		t.Errorf("workspace 1 with the researcher's history knows %d records (researcher file %d lines), want 1", h.Len(), lines(t, mine))
	}
}

// Two kernels releasing the halves of a differencing pair at the same
// moment: the lock lets exactly one through.
func TestDifferencingRace(t *testing.T) {
	for i := 0; i < 20; i++ {
		path := filepath.Join(t.TempDir(), "h")
		k1, k2 := openHistory(t, path, "k1"), openHistory(t, path, "k2")
		f := newFakeSets()
		a, b := f.add(plan("A"), 0, 100), f.add(plan("B"), 0, 99)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, kc := range []struct {
			h *History
			c *Cell
		}{{k1, a}, {k2, b}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[j] = Defaults().Judge(context.Background(), &Decision{Cells: []*Cell{kc.c}}, kc.h, f)
			}()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatal(errs)
		}
		if a.Suppressed() == b.Suppressed() {
			t.Fatalf("round %d: A %q, B %q; want exactly one released", i, a.Status, b.Status)
		}
		if lines(t, path) != 1 {
			t.Fatalf("round %d: %d records", i, lines(t, path))
		}
	}
}

func TestDifferencingSetSourceError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h")
	h := openHistory(t, path, "s1")
	f := newFakeSets()
	judgeCells(t, Defaults(), h, f, f.add(plan("A"), 0, 100))
	boom := errors.New("catalog unavailable")
	b := f.add(plan("B"), 0, 95)
	f.fail[plan("B")] = boom
	other := f.add(plan("C"), 5000, 6000)
	mean := &Cell{Stat: Mean, Value: 3, Persons: 1000}
	err := Defaults().Judge(context.Background(), &Decision{Cells: []*Cell{other, b, mean}}, h, f)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the set source's", err)
	}
	for _, c := range []*Cell{other, b, mean} {
		if !c.Suppressed() {
			t.Errorf("%q released after a history error", c.Desc)
		}
	}
	if h.Len() != 1 || lines(t, path) != 1 {
		t.Errorf("history changed by a failed decision: %d records", h.Len())
	}
	// No set source at all, with a near neighbour: also an error.
	c := f.add(plan("B2"), 0, 95)
	if err := Defaults().Judge(context.Background(), &Decision{Cells: []*Cell{c}}, h, nil); err == nil || !c.Suppressed() {
		t.Errorf("nil set source: err %v, status %q", err, c.Status)
	}
}

func TestHistoryReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h")
	h := openHistory(t, path, "s1")
	f := newFakeSets()
	judgeCells(t, Defaults(), h, f, f.add(plan("A"), 0, 100), f.add(plan("C"), 0, 5000))
	h.Close()
	h2 := openHistory(t, path, "s2")
	if h2.Len() != 2 {
		t.Fatalf("%d records after reopen, want 2", h2.Len())
	}
	f2 := newFakeSets() // a new kernel: rebuilds sets from the stored plans
	f2.add(plan("A"), 0, 100)
	b := f2.add(plan("B"), 0, 110)
	judgeCells(t, Defaults(), h2, f2, b)
	if b.Status != spec.Difference {
		t.Errorf("B after reopen: %q, want difference", b.Status)
	}
}

func TestHistoryFileDamage(t *testing.T) {
	t.Run("corrupt line", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "h")
		os.WriteFile(path, []byte("{\"n\":100,\"plan\":{}}\nnot json\n"), 0o600)
		if _, err := OpenHistory(path, "s"); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Fatalf("err = %v, want corrupt", err)
		}
	})
	t.Run("partial last line from a crashed writer", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "h")
		os.WriteFile(path, []byte(`{"n":100,"plan":{"q":"A"}}`+"\n"+`{"n":50,"pla`), 0o600)
		h := openHistory(t, path, "s")
		if h.Len() != 1 {
			t.Fatalf("%d records, want 1", h.Len())
		}
		f := newFakeSets()
		f.add(plan("A"), 0, 100)
		c := f.add(plan("C"), 1000, 2000)
		judgeCells(t, Defaults(), h, f, c)
		if c.Suppressed() {
			t.Fatalf("C %q", c.Status)
		}
		judgeCells(t, Defaults(), h, f, f.add(plan("D"), 5000, 6000))
		h2, err := OpenHistory(path, "s2")
		if err != nil {
			t.Fatalf("history unreadable after a crashed writer: %v", err)
		}
		defer h2.Close()
		if h2.Len() != 3 || h.Len() != 3 {
			t.Errorf("%d and %d records, want 3", h2.Len(), h.Len())
		}
	})
}

// TestPartitionRemainder: the total of a cohort and its female part are
// released; its male part would leave the small rest (everyone else) as
// the remainder, so it is hidden, in another kernel too, and across a
// reopen of the history.
func TestPartitionRemainder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	g := "cohort-x by gender"
	cell := func(n int64, level string) *Cell {
		return &Cell{Stat: Count, Value: float64(n), Persons: n, Plan: []byte(fmt.Sprintf(`{"n":%d,"l":%q}`, n, level)),
			Partitions: []Partition{{Group: g, Level: level}}}
	}
	judgeOne := func(h *History, c *Cell) {
		t.Helper()
		d := &Decision{Cells: []*Cell{c}}
		if err := Defaults().Judge(context.Background(), d, h, noSets{}); err != nil {
			t.Fatal(err)
		}
	}
	h1, err := OpenHistory(path, "k1")
	if err != nil {
		t.Fatal(err)
	}
	defer h1.Close()
	total, female := cell(586, ""), cell(353, "8532")
	judgeOne(h1, total)
	judgeOne(h1, female)
	if total.Suppressed() || female.Suppressed() {
		t.Fatalf("total %q female %q", total.Status, female.Status)
	}
	h2, err := OpenHistory(path, "k2")
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	male := cell(220, "8507") // leaves 13 persons of other genders
	judgeOne(h2, male)
	if male.Status != spec.Difference {
		t.Errorf("male part released though it leaves a remainder of 13: %q", male.Status)
	}
	big := cell(200, "8507b") // another level leaving 33: fine
	judgeOne(h2, big)
	if big.Suppressed() {
		t.Errorf("a part leaving a remainder of 33 was hidden: %q", big.Status)
	}
}

// noSets builds no person sets: the cells here have no near neighbours.
type noSets struct{}

func (noSets) PersonSet(context.Context, []byte) (*roaring.Bitmap, error) { return roaring.New(), nil }

// rowsResult is a row-level statistic over the persons [0, 50), from rows
// of quantity qty: its persons cell, its rows cell (marked with the
// quantity) and a mean that follows the rows cell, as stats.Describe makes
// them. Each result's persons have a plan of their own (another window).
func rowsResult(f *fakeSets, name, qty string, rows int64, src string) (persons, rowsCell, mean *Cell) {
	persons = f.add(plan(name), 0, 50)
	rowsCell = &Cell{Stat: Rows, Value: float64(rows), Persons: persons.Persons, Of: persons, Plan: persons.Plan,
		Quantity: qty, RowCount: rows}
	if src != "" {
		rowsCell.Source = []byte(`{"rows": "` + src + `"}`)
	}
	mean = &Cell{Stat: Mean, Value: 7.5, Persons: persons.Persons, Of: rowsCell}
	return persons, rowsCell, mean
}

// TestDifferencingRows: the same persons, the same quantity, other rows
// (one more day of measurements, however many rows it holds): the second
// result's rows and everything computed from them are hidden, though its
// persons equal the first's, whichever result made them. Rows that the
// same Source defines are the same rows (a genome scan with and without
// PCs); another Source, or none, is other rows (a phenotype with one
// person's readings above a cut-off left out, review 30).
func TestDifferencingRows(t *testing.T) {
	tests := []struct {
		name     string
		qty      string
		rows     int64
		persons  [2]uint32
		src      [2]string
		released bool
	}{
		{"the same source, another plan", "value_as_number", 300, [2]uint32{0, 50}, [2]string{"bmi", "bmi"}, true},
		{"another source", "value_as_number", 294, [2]uint32{0, 50}, [2]string{"bmi", "bmi below 38"}, false},
		{"another source, as many rows", "value_as_number", 300, [2]uint32{0, 50}, [2]string{"bmi", "bmi below 38"}, false},
		{"a source against none", "value_as_number", 300, [2]uint32{0, 50}, [2]string{"", "bmi"}, false},
		{"none against a source", "value_as_number", 300, [2]uint32{0, 50}, [2]string{"bmi", ""}, false},
		{"another source, the same plan", "value_as_number", 300, [2]uint32{0, 50}, [2]string{"age on 2023-06-03", "age on 2023-06-04"}, false},
		{"one row more", "value_as_number", 301, [2]uint32{0, 50}, [2]string{}, false},
		{"one row less", "value_as_number", 299, [2]uint32{0, 50}, [2]string{}, false},
		{"20 rows more", "value_as_number", 320, [2]uint32{0, 50}, [2]string{}, false},
		{"21 rows more (one person's day)", "value_as_number", 321, [2]uint32{0, 50}, [2]string{}, false},
		{"1,400 rows more", "value_as_number", 1700, [2]uint32{0, 50}, [2]string{}, false},
		{"as many rows, another plan", "value_as_number", 300, [2]uint32{0, 50}, [2]string{}, false},
		{"another quantity", "range_high", 301, [2]uint32{0, 50}, [2]string{}, true},
		{"other persons, as many", "value_as_number", 301, [2]uint32{100, 150}, [2]string{}, true},
		{"one person swapped for another", "value_as_number", 301, [2]uint32{1, 51}, [2]string{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := openHistory(t, filepath.Join(t.TempDir(), "history.jsonl"), "s1")
			f := newFakeSets()
			p1, r1, m1 := rowsResult(f, "first window", "value_as_number", 300, tt.src[0])
			judgeCells(t, Defaults(), h, f, p1, r1, m1)
			if r1.Suppressed() || m1.Suppressed() {
				t.Fatalf("first result suppressed: rows %q, mean %q", r1.Status, m1.Status)
			}
			second := "second window"
			if strings.HasSuffix(tt.name, "the same plan") {
				second = "first window"
			}
			p2, r2, m2 := rowsResult(f, second, tt.qty, tt.rows, tt.src[1])
			f.add(plan(second), tt.persons[0], tt.persons[1])
			judgeCells(t, Defaults(), h, f, p2, r2, m2)
			if got := !r2.Suppressed() && !m2.Suppressed(); got != tt.released {
				t.Errorf("%d rows of %s against 300: rows %q, mean %q; released %v, want %v", tt.rows, tt.qty, r2.Status, m2.Status, got, tt.released)
			}
			// In a fresh kernel of the workspace too, which reads the
			// first result (and its Source) from the file.
			if tt.released && tt.src[0] == "" {
				return
			}
			_, r3, m3 := rowsResult(f, "third window", tt.qty, tt.rows, tt.src[1])
			judgeCells(t, Defaults(), openHistory(t, h.files[0].path, "s2"), f, r3.Of, r3, m3)
			if got := !r3.Suppressed() && !m3.Suppressed(); got != tt.released {
				t.Errorf("another kernel: rows %q, mean %q; released %v, want %v", r3.Status, m3.Status, got, tt.released)
			}
		})
	}
}

// TestHeldResultsNotRecorded: a result made while the worker held rows is
// judged against the history but not recorded in it (nor can it be
// approved: airlock.Item.Results). Eight counts made or not by the bits
// of a person's reading, asked again (each with the person added) after a
// restart, were hidden exactly where a count had been made: the reading
// (review 36).
func TestHeldResultsNotRecorded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	h := openHistory(t, path, "s1")
	f := newFakeSets()
	band := f.add(plan("band"), 0, 100)
	if err := Defaults().Judge(context.Background(), &Decision{Cells: []*Cell{band}, Held: true}, h, f); err != nil {
		t.Fatal(err)
	}
	if band.Suppressed() || h.Len() != 0 || lines(t, path) != 0 {
		t.Fatalf("held count %q; history %d records, %d lines: a held result is not recorded", band.Status, h.Len(), lines(t, path))
	}
	// Judged, all the same: near a release, a held count is hidden.
	near := f.add(plan("band less 2"), 2, 100)
	judgeCells(t, Defaults(), h, f, f.add(plan("band again"), 0, 100))
	if err := Defaults().Judge(context.Background(), &Decision{Cells: []*Cell{near}, Held: true}, h, f); err != nil || near.Status != spec.Difference {
		t.Errorf("held count 2 persons off a release: %v %q", err, near.Status)
	}
	// The band with the person added, after the restart: released, as it
	// would be had the worker not made the held count.
	h2 := openHistory(t, filepath.Join(t.TempDir(), "history.jsonl"), "s2")
	if err := Defaults().Judge(context.Background(), &Decision{Cells: []*Cell{f.add(plan("band"), 0, 100)}, Held: true}, h2, f); err != nil {
		t.Fatal(err)
	}
	probe := f.add(plan("band or T"), 0, 101)
	judgeCells(t, Defaults(), h2, f, probe)
	if probe.Suppressed() {
		t.Errorf("probe %q: the held count decided it", probe.Status)
	}
}
