package release

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// benchTarget is the size of the judged cell; prefilled records keep out
// of [benchTarget-50, benchTarget+50] except the near neighbours.
const benchTarget = 50_000

// prefill writes n records of varied sizes (log-uniform in 21..10M) to a
// new history file, plus near neighbours of benchTarget when near.
func prefill(b *testing.B, n int, near bool) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "history.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339Nano)
	for i := 0; i < n; i++ {
		var size int64
		for size = 0; size == 0 || (size >= benchTarget-50 && size <= benchTarget+50); {
			size = int64(21 * math.Pow(10e6/21, rng.Float64()))
		}
		fmt.Fprintf(w, `{"n":%d,"desc":"cell %d","plan":{"q":"r%d"},"session":"old","time":%q}`+"\n", size, i, i, ts)
	}
	if near {
		for _, d := range []int{-10, 5, 15} {
			fmt.Fprintf(w, `{"n":%d,"desc":"near","plan":{"q":"near%d"},"session":"old","time":%q}`+"\n", benchTarget+d, d, ts)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return path
}

// benchSets serves small sets: the near neighbours overlap the new
// cells without being nested (so the new cells are released and
// recorded), or, for plans starting with {"q":"nested, are a subset of
// near neighbour -10's set.
type benchSets struct{ near, fresh, nested *roaring.Bitmap }

func newBenchSets() *benchSets {
	s := &benchSets{near: roaring.New(), fresh: roaring.New(), nested: roaring.New()}
	s.near.AddRange(0, 1000)
	s.fresh.AddRange(500, 1500)
	s.nested.AddRange(0, 995)
	return s
}

func (s *benchSets) PersonSet(_ context.Context, plan []byte) (*roaring.Bitmap, error) {
	switch {
	case strings.HasPrefix(string(plan), `{"q":"near`):
		return s.near, nil
	case strings.HasPrefix(string(plan), `{"q":"nested`):
		return s.nested, nil
	}
	return s.fresh, nil
}

func benchDifferencing(b *testing.B, n int) {
	cases := []struct {
		name     string
		near     bool
		plan     func(i int) string // the judged cell's plan
		released bool
		record   bool // whether each judged cell is appended (and fsynced)
	}{
		// A new cell: released and recorded (append + fsync).
		{"no-neighbour/new", false, func(i int) string { return fmt.Sprintf(`{"q":"new%d"}`, i) }, true, true},
		{"near-neighbours/new", true, func(i int) string { return fmt.Sprintf(`{"q":"new%d"}`, i) }, true, true},
		// A cell released before: released, nothing written.
		{"no-neighbour/seen", false, func(int) string { return `{"q":"same"}` }, true, false},
		// A new cell nested with a near neighbour: its set is built,
		// it is suppressed, nothing written.
		{"near-neighbours/nested", true, func(i int) string { return fmt.Sprintf(`{"q":"nested%d"}`, i) }, false, false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			path := prefill(b, n, c.near)
			t0 := time.Now()
			h, err := OpenHistory(path, "bench")
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			open := time.Since(t0)
			if want := n + 3*btoi(c.near); h.Len() != want {
				b.Fatalf("%d records, want %d", h.Len(), want)
			}
			p, sets, ctx := Defaults(), newBenchSets(), context.Background()
			times := make([]time.Duration, 0, b.N)
			before := h.Len()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				cell := &Cell{Stat: Count, Value: benchTarget, Persons: benchTarget, Plan: []byte(c.plan(i)), Desc: "bench"}
				t := time.Now()
				if err := p.Judge(ctx, &Decision{Cells: []*Cell{cell}}, h, sets); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(t))
				if cell.Suppressed() == c.released {
					b.Fatalf("cell status %q", cell.Status)
				}
			}
			b.StopTimer()
			if added := h.Len() - before; c.record && added != b.N || !c.record && added > 1 {
				b.Fatalf("%d records added in %d judgements", added, b.N)
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns/cell")
			b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds()), "p99-ns/cell")
			b.ReportMetric(float64(open.Milliseconds()), "open-ms")
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func BenchmarkDifferencing10k(b *testing.B)  { benchDifferencing(b, 10_000) }
func BenchmarkDifferencing100k(b *testing.B) { benchDifferencing(b, 100_000) }

// BenchmarkHistoryAppend is the append + fsync alone, for comparison.
func BenchmarkHistoryAppend(b *testing.B) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "h"), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	line := []byte(`{"n":50000,"desc":"bench","plan":{"q":"new1"},"session":"bench","time":"2026-01-01T00:00:00Z"}` + "\n")
	for i := 0; i < b.N; i++ {
		if _, err := f.Write(line); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJudgeCrosstab is primary and secondary suppression of an R×C
// crosstab with margins, a fifth of its inner cells small and a tenth zero.
func BenchmarkJudgeCrosstab(b *testing.B) {
	for _, n := range []int{5, 20, 50} {
		b.Run(fmt.Sprintf("%dx%d", n, n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(3, uint64(n)))
			vals := make([][]int64, n)
			for i := range vals {
				vals[i] = make([]int64, n)
				for j := range vals[i] {
					switch r := rng.Float64(); {
					case r < 0.1:
					case r < 0.3:
						vals[i][j] = 1 + rng.Int64N(20)
					default:
						vals[i][j] = 21 + rng.Int64N(1000)
					}
				}
			}
			p := Defaults()
			for i := 0; i < b.N; i++ {
				x := newCrosstab(vals)
				if err := p.Judge(context.Background(), x.d, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRowPartitions: a new row-level statistic (a mean with a Source)
// judged against a history of n row-level records of the same quantity,
// each with a Source, of sizes log-uniform in 21..10M: rowPairs matches
// sizes first, so a history flooded with means costs the check a pass
// over their sizes, not sets. The judged mean is released and recorded
// (append and fsync included). Reports the median and p99 per result.
func BenchmarkRowPartitions(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "history.jsonl")
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			w := bufio.NewWriter(f)
			rng := rand.New(rand.NewPCG(9, uint64(n)))
			ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339Nano)
			for i := 0; i < n; i++ {
				var size int64 // not benchTarget: no twin of the judged mean
				for size = benchTarget; size == benchTarget; {
					size = int64(21 * math.Pow(10e6/21, rng.Float64()))
				}
				fmt.Fprintf(w, `{"n":%d,"desc":"mean %d","plan":{"q":"m%d"},"session":"old","time":%q,"qty":"value_as_number","rows":%d,"src":{"s":%d}}`+"\n",
					size, i, i, ts, 3*size, i%7)
			}
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			f.Close()
			h, err := OpenHistory(path, "bench")
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			p, sets, ctx := Defaults(), randomSets{}, context.Background()
			times := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				plan := []byte(fmt.Sprintf(`{"q":"new%d"}`, i))
				persons := &Cell{Stat: Count, Value: benchTarget, Persons: benchTarget, Plan: plan, Desc: "bench"}
				rows := &Cell{Stat: Rows, Value: 3 * benchTarget, Persons: benchTarget, Of: persons, Plan: plan,
					Quantity: "value_as_number", RowCount: 3 * benchTarget, Source: []byte(`{"s":99}`)}
				t := time.Now()
				if err := p.Judge(ctx, &Decision{Cells: []*Cell{persons, rows}}, h, sets); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(t))
				if rows.Suppressed() {
					b.Fatalf("the mean was hidden: %q", rows.Status)
				}
			}
			b.StopTimer()
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns/result")
			b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds()), "p99-ns/result")
		})
	}
}

// randomSets gives each plan 1,000 consecutive persons of 10M starting
// at a place drawn from a seed of its text: sets of different plans
// overlap by chance only. (Sets of 1,000 persons scattered over 10M make
// both this audit and the counts' cost about 10–20 ms a cell: every
// container of every atom is a small array.)
type randomSets struct{}

func (randomSets) PersonSet(_ context.Context, plan []byte) (*roaring.Bitmap, error) {
	var seed uint64
	for _, c := range plan {
		seed = seed*131 + uint64(c)
	}
	at := rand.New(rand.NewPCG(seed, 1)).Uint64N(10_000_000 - 1000)
	b := roaring.New()
	b.AddRange(at, at+1000)
	return b, nil
}
