package analysis_test

import (
	"cmp"
	"database/sql"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"enclave/analysis"
)

// smoothedByHand is what analysis.SmoothingSQL gives each group of rows,
// computed directly: per quantile its smoothed value, persons, first and
// last rank, the window's persons (smoothedWindow), its distinct values,
// least and greatest value, and the group's rows; then the distinct
// values, Σ|x|, the two largest per-person Σ|x| (NaN when there is no
// second person), the two largest per-person Σ(x − x̄)² and the group's. Numbers are float64, the window's persons []int64.
func smoothedByHand(vs []personValue, qs []float64) []any {
	var out []any
	for _, q := range qs {
		mean, persons, first, last, members := smoothedWindow(vs, q)
		d, _ := windowValues(vs, q)
		sorted := slices.SortedFunc(slices.Values(vs), func(a, b personValue) int { return cmp.Compare(a.v, b.v) })
		var list []float64
		for _, x := range sorted[first-1 : last] {
			list = append(list, x.v)
		}
		out = append(out, mean, float64(persons), float64(first), float64(last), members,
			float64(d), list, float64(len(vs)))
	}
	values := map[float64]bool{}
	per := map[int64]float64{}
	var abs float64
	for _, x := range vs {
		values[x.v] = true
		abs += math.Abs(x.v)
		per[x.pid] += math.Abs(x.v)
	}
	sums := slices.Sorted(func(yield func(float64) bool) {
		for _, s := range per {
			if !yield(-s) {
				return
			}
		}
	})
	second := math.NaN()
	if len(sums) > 1 {
		second = -sums[1]
	}
	// The spread: per person Σ(x − x̄)² about the group's mean, the two
	// largest, and the group's.
	mean := abs // every value is ≥ 0 here
	mean /= float64(len(vs))
	sq := map[int64]float64{}
	var total float64
	for _, x := range vs {
		sq[x.pid] += (x.v - mean) * (x.v - mean)
		total += (x.v - mean) * (x.v - mean)
	}
	ss := slices.Sorted(maps.Values(sq))
	slices.Reverse(ss)
	s2 := math.NaN()
	if len(ss) > 1 {
		s2 = ss[1]
	}
	return append(out, float64(len(values)), abs, -sums[0], second, ss[0], s2, total)
}

// idsOf reads the window's persons as SmoothingSQL lists them: ids joined
// by commas, in any order.
func idsOf(t *testing.T, x any) []int64 {
	s, _ := x.(string)
	var ids []int64
	for f := range strings.SplitSeq(s, ",") {
		var id int64
		if _, err := fmt.Sscan(f, &id); err != nil {
			t.Fatalf("window persons %q: %v", s, err)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// valuesOf reads a window's rows' values as SmoothingSQL lists them:
// numbers as text joined by commas, in any order.
func valuesOf(t *testing.T, x any) []float64 {
	s, _ := x.(string)
	var vs []float64
	for f := range strings.SplitSeq(s, ",") {
		var v float64
		if _, err := fmt.Sscan(f, &v); err != nil {
			t.Fatalf("window values %q: %v", s, err)
		}
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// TestSmoothingSQL runs the smoothed quantiles' SQL in DuckDB over random
// rows and checks every column against the definition computed by hand:
// groups of many and of a few persons, a NULL group key, persons with many
// rows (crowding a quantile's rank, so that its window must widen to reach
// 21 persons, and holding more than half of some window's rows, which
// hides it), ties in value, and no groups at all.
func TestSmoothingSQL(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(7, 11))
	groups := map[string][]personValue{} // by group key, as fmt prints it
	var all []personValue
	var values []string
	pid := int64(0)
	for gi, g := range []string{"8507", "8532", "NULL", "0"} {
		for range []int{400, 60, 25, 8}[gi] {
			pid++
			k := 1 + rng.IntN(3)
			if rng.IntN(10) == 0 {
				k = 30 + rng.IntN(40) // a person with many rows, side by side
			}
			base := float64(rng.IntN(40))
			for range k {
				pv := personValue{base + float64(rng.IntN(3)), pid} // whole values: ties
				key := map[bool]string{true: "<nil>", false: g}[g == "NULL"]
				groups[key] = append(groups[key], pv)
				all = append(all, pv)
				values = append(values, fmt.Sprintf("(%s, %v, %d)", g, pv.v, pv.pid))
			}
		}
	}
	for _, stmt := range []string{"CREATE TABLE src (g0 BIGINT, v DOUBLE, pid BIGINT)", "INSERT INTO src VALUES " + strings.Join(values, ", ")} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	qs := []float64{0.25, 0.5, 0.75}
	want := map[string][]any{}
	widened, held := false, false
	for k, vs := range groups {
		want[k] = smoothedByHand(vs, qs)
		for j := range qs {
			widened = widened || want[k][8*j+3].(float64)-want[k][8*j+2].(float64) > 2*analysis.QuantileWindow
			held = held || want[k][8*j+1] == 0.0
		}
	}
	if !widened || !held {
		t.Fatalf("widened %v, held for one person's rows %v: the rows must test both", widened, held)
	}
	check := func(t *testing.T, src string, groups int, want map[string][]any) {
		rows, err := db.Query(analysis.SmoothingSQL(src, groups, []string{"0.25", "0.5", "0.75"}, 21, true))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := 0
		for rows.Next() {
			vs := make([]any, groups+8*len(qs)+7)
			ptrs := make([]any, len(vs))
			for i := range vs {
				ptrs[i] = &vs[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			key := "<nil>"
			if groups > 0 {
				key = fmt.Sprint(vs[0])
			}
			w, ok := want[key]
			if !ok {
				t.Fatalf("group %s: not in the rows", key)
			}
			got++
			for j, x := range vs[groups:] {
				if list, ok := w[j].([]float64); ok {
					if got := valuesOf(t, x); !slices.Equal(got, list) {
						t.Errorf("group %s column %d: window values %v, by hand %v", key, j, got, list)
					}
					continue
				}
				if ids, ok := w[j].([]int64); ok {
					if got := idsOf(t, x); !slices.Equal(got, ids) {
						t.Errorf("group %s column %d: window persons %v, by hand %v", key, j, got, ids)
					}
					continue
				}
				wj := w[j].(float64)
				f := math.NaN()
				switch x := x.(type) {
				case int64:
					f = float64(x)
				case float64:
					f = x
				case nil:
				default: // a SUM's HUGEINT: the caller reads it as nothing
					t.Errorf("group %s column %d: %T, not a BIGINT or DOUBLE", key, j, x)
				}
				same := math.IsNaN(f) == math.IsNaN(wj) && (math.IsNaN(f) || math.Abs(f-wj) <= 1e-9*math.Max(1, math.Abs(wj)))
				if !same {
					t.Errorf("group %s column %d: SQL %v, by hand %v", key, j, f, wj)
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if got != len(want) {
			t.Errorf("%d groups, want %d", got, len(want))
		}
	}
	t.Run("by group", func(t *testing.T) { check(t, "SELECT g0, v, pid FROM src", 1, want) })
	t.Run("no groups", func(t *testing.T) {
		check(t, "SELECT v, pid FROM src", 0, map[string][]any{"<nil>": smoothedByHand(all, qs)})
	})
}
