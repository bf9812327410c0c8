package analysis

import (
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

// smoothRow is one row of smoothingSQL's source.
type smoothRow struct {
	g   any // the group key (nil: NULL)
	v   float64
	pid int64
}

// smoothedByHand is smoothingSQL's definition computed directly, per group
// key (fmt %v of g): per quantile its smoothed value, persons, first and
// last rank; then the distinct values, Σ|x| and the two largest per-person
// Σ|x|.
func smoothedByHand(rows []smoothRow, qs []float64, minPersons int) map[string][]float64 {
	groups := map[string][]smoothRow{}
	for _, r := range rows {
		k := fmt.Sprint(r.g)
		groups[k] = append(groups[k], r)
	}
	out := map[string][]float64{}
	for k, rs := range groups {
		slices.SortFunc(rs, func(a, b smoothRow) int {
			if c := cmpFloat(a.v, b.v); c != 0 {
				return c
			}
			return int(a.pid - b.pid)
		})
		n := len(rs)
		var res []float64
		for _, q := range qs {
			c := math.Round(q*float64(n-1) + 1)
			nearest := map[int64]float64{}
			for i, r := range rs {
				d := math.Abs(float64(i+1) - c)
				if m, ok := nearest[r.pid]; !ok || d < m {
					nearest[r.pid] = d
				}
			}
			ds := slices.Sorted(func(yield func(float64) bool) {
				for _, d := range nearest {
					if !yield(d) {
						return
					}
				}
			})
			w := float64(n)
			if len(ds) >= minPersons {
				w = ds[minPersons-1]
			}
			w = math.Max(QuantileWindow, w)
			var sum float64
			var first, last, count int
			who := map[int64]bool{}
			for i, r := range rs {
				if math.Abs(float64(i+1)-c) <= w {
					sum += r.v
					count++
					who[r.pid] = true
					if first == 0 {
						first = i + 1
					}
					last = i + 1
				}
			}
			res = append(res, sum/float64(count), float64(len(who)), float64(first), float64(last))
		}
		values := map[float64]bool{}
		per := map[int64]float64{}
		var abs float64
		for _, r := range rs {
			values[r.v] = true
			abs += math.Abs(r.v)
			per[r.pid] += math.Abs(r.v)
		}
		sums := slices.Sorted(func(yield func(float64) bool) {
			for _, s := range per {
				if !yield(-s) {
					return
				}
			}
		})
		top2 := math.NaN()
		if len(sums) > 1 {
			top2 = -sums[1]
		}
		out[k] = append(res, float64(len(values)), abs, -sums[0], top2)
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestSmoothingSQL runs smoothingSQL in DuckDB over random rows and checks
// every column against the definition computed by hand: groups of a few
// and of many persons, a NULL group key, persons with many rows (some
// crowding a quantile's rank, so the window must widen to minPersons
// persons), ties in value, and no groups at all.
func TestSmoothingSQL(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(7, 11))
	var rows []smoothRow
	pid := int64(0)
	for gi, g := range []any{int64(8507), int64(8532), nil, int64(0)} {
		persons := []int{400, 60, 25, 8}[gi]
		for range persons {
			pid++
			k := 1 + rng.IntN(3)
			if rng.IntN(10) == 0 {
				k = 30 + rng.IntN(40) // one person with many rows
			}
			base := float64(rng.IntN(40))
			for range k {
				// Whole values tie; a heavy person's rows sit together.
				rows = append(rows, smoothRow{g, base + float64(rng.IntN(3)), pid})
			}
		}
	}
	if _, err := db.Exec("CREATE TABLE src (g0 BIGINT, v DOUBLE, pid BIGINT)"); err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, r := range rows {
		g := "NULL"
		if r.g != nil {
			g = fmt.Sprint(r.g)
		}
		vals = append(vals, fmt.Sprintf("(%s, %v, %d)", g, r.v, r.pid))
	}
	if _, err := db.Exec("INSERT INTO src VALUES " + strings.Join(vals, ", ")); err != nil {
		t.Fatal(err)
	}
	qs := []float64{0.25, 0.5, 0.75}
	qtext := []string{"0.25", "0.5", "0.75"}
	const minPersons = 21
	check := func(t *testing.T, groups int, want map[string][]float64) {
		src := "SELECT g0, v, pid FROM src"
		if groups == 0 {
			src = "SELECT v, pid FROM src"
		}
		res, err := db.Query(duckSQL.smoothingSQL(src, groups, qtext, minPersons, true))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		got := 0
		for res.Next() {
			width := groups + smoothedWidth*len(qs) + 4
			vs, err := scanValues(res, width)
			if err != nil {
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
				f := math.NaN()
				if x != nil {
					f = toFloat(x)
				}
				same := math.IsNaN(f) == math.IsNaN(w[j]) && (math.IsNaN(f) || math.Abs(f-w[j]) <= 1e-9*math.Max(1, math.Abs(w[j])))
				if !same {
					t.Errorf("group %s column %d: SQL %v, by hand %v", key, j, f, w[j])
				}
			}
		}
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		if got != len(want) {
			t.Errorf("%d groups, want %d", got, len(want))
		}
	}
	byGroup := smoothedByHand(rows, qs, minPersons)
	widened := false
	for _, w := range byGroup {
		for k := range qs {
			widened = widened || w[4*k+3]-w[4*k+2] > 2*QuantileWindow
		}
	}
	if !widened {
		t.Fatal("no window in the rows widens past QuantileWindow ranks: the fixture does not test it")
	}
	t.Run("by group", func(t *testing.T) { check(t, 1, byGroup) })
	all := slices.Clone(rows)
	for i := range all {
		all[i].g = nil
	}
	t.Run("no groups", func(t *testing.T) { check(t, 0, smoothedByHand(all, qs, minPersons)) })
}
