package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"

	"enclave/analysis/sqlagg"
	"enclave/api/spec"
	"enclave/datasets"
	"enclave/release"
)

// A smoothed quantile among tied values is a rank. Its window is a run of
// consecutive ranks f…l, so its value, the mean of the rows there, is
// Σ k_j·v_j / (l−f+1) over the window's values v_1 < … < v_d held by k_j of
// its rows. In the ranks R_j (rows below v_(j+1)) that is a constant plus
// Σ (v_(j+1) − v_j)·R_j: one weighted sum of the boundaries' ranks.
//
//   - With two values it is the one rank R_1 exactly. Blocks of known
//     years around a group (persons born in 1931 and 1933 around those
//     born in 1932 with a condition) put the group's count in a quartile,
//     1–20 included, in 2 to 4 cells (review 59). For one row per person
//     the persons below the boundary and those above are counts the
//     quantile shows, which pass the count rules as cells not shown
//     (rankCells: small, or a small difference from an earlier release,
//     hides the quantile; later releases are differenced against them).
//     For several rows per person, where a person-level count is not what
//     the rank tells, it is hidden when the boundary may lie within
//     MinCount−1 rows of either end of the group (smallRank).
//   - With more, the sum with one rank known from elsewhere (a count of
//     everyone born in 1950, released before or after, whole or in parts)
//     gives the rest when they are few: the blocks between, of at most 19
//     rows (review 61: 3 cells for a count of 4, 2 for a person's LDL).
//     So such a window is hidden (spec.Ties) when, with its first or its
//     last block's rows known, every filling of its rows with its values
//     that gives the value shown gives some block between the same size
//     (decoded): always with three values; with four or five on a regular
//     grid (lab values to 0.1), rarely. No rank of it is recorded: it
//     tells none alone, and two ranks of one window differ by at most 19,
//     so a later release of the second is differenced against the first.
//
// Windows of more values tell nothing so direct: the README's known-values
// residual covers what they tell about persons whose values are known.

// maxTiedValues is the most distinct values of a window whose blocks are
// read from its value; maxDecodedRows the most rows of a window that
// decoded fills every way (a window widened for one person's many rows
// holds more: the README's residual).
const (
	maxTiedValues  = 5
	maxDecodedRows = 64
)

// tiedWindow is what smoothingSQL says of a quantile's window's values.
type tiedWindow struct {
	mean        float64
	first, last int64     // the window's ranks
	values      int64     // distinct values of its rows
	list        []float64 // those values, ascending, when at most maxTiedValues
	counts      []int     // and how many of its rows hold each
	n           int64     // the group's rows
}

// tiesOf reads a quantile's smoothingSQL columns.
func tiesOf(cols []any) (tiedWindow, error) {
	w := tiedWindow{mean: toFloat(cols[0]), first: toInt(cols[2]), last: toInt(cols[3]), values: toInt(cols[5]), n: toInt(cols[7])}
	if w.values < 2 || w.values > maxTiedValues {
		return w, nil
	}
	text, _ := cols[6].(string)
	var all []float64
	for f := range strings.SplitSeq(text, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return w, &datasets.Error{Safe: "a quantile's window could not be read", Err: fmt.Errorf("window value %q: %w", f, err)}
		}
		all = append(all, v)
	}
	slices.Sort(all)
	for i, v := range all {
		if i == 0 || v != all[i-1] {
			w.list, w.counts = append(w.list, v), append(w.counts, 0)
		}
		w.counts[len(w.counts)-1]++
	}
	return w, nil
}

// rows is how many rows the window holds.
func (w tiedWindow) rows() int64 {
	if w.last < w.first || w.first < 1 {
		return 0
	}
	return w.last - w.first + 1
}

// tied reports whether the window holds 2 to maxTiedValues values, some on
// several rows.
func (w tiedWindow) tied() bool {
	return len(w.list) >= 2 && int64(len(w.list)) < w.rows()
}

// decoded reports whether the value shown (to digits decimals), with the
// rows of the window's first or last value known, tells how many rows
// hold some value between: whether, among the fillings of its rows with
// its values (each at least once) whose mean rounds to the value shown,
// those with the window's own count of the first (or of the last) value
// give an inner value the same count every time. A window of three values
// always does; one whose value no filling gives is taken to.
func (w tiedWindow) decoded(shown float64, digits int) bool {
	d := len(w.list)
	if !w.tied() || d < 3 || w.rows() > maxDecodedRows {
		return false
	}
	tol := 0.5*math.Pow(10, -float64(digits)) + 1e-9*math.Max(1, math.Abs(shown))
	n := int(w.rows())
	// inner[e][k][i]: over the fillings whose end e (0 first, 1 last) holds
	// k rows, inner value i's count in all of them, or -1 once they differ.
	inner := [2]map[int][]int{{}, {}}
	counts := make([]int, d)
	found := false
	var fill func(j, left int, sum float64)
	fill = func(j, left int, sum float64) {
		if j == d-1 {
			counts[j] = left
			if math.Abs((sum+float64(left)*w.list[j])/float64(n)-shown) > tol {
				return
			}
			found = true
			for e, k := range [2]int{counts[0], counts[d-1]} {
				seen, ok := inner[e][k]
				if !ok {
					inner[e][k] = slices.Clone(counts[1 : d-1])
					continue
				}
				for i, c := range counts[1 : d-1] {
					if seen[i] != c {
						seen[i] = -1
					}
				}
			}
			return
		}
		for k := 1; k <= left-(d-1-j); k++ {
			counts[j] = k
			fill(j+1, left-k, sum+float64(k)*w.list[j])
		}
	}
	fill(0, n, 0)
	if !found {
		return true
	}
	for e, k := range [2]int{w.counts[0], w.counts[d-1]} {
		seen, ok := inner[e][k]
		if !ok || slices.ContainsFunc(seen, func(c int) bool { return c >= 0 }) {
			return true
		}
	}
	return false
}

// smallRank reports whether a boundary of the window may lie within limit
// rows of either end of the group: the rows below it, or above it, a count
// of 1 to limit.
func (w tiedWindow) smallRank(limit int64) bool {
	return w.tied() && (w.first <= limit || w.n-w.last+1 <= limit)
}

// rankCells adds to t, not shown, the counts a quantile c among two tied
// values tells (see above): the persons of its group below cut and those
// at or above it, whose person sets planOf gives; c needs both.
func (s *Server) rankCells(ctx context.Context, t *built, c *release.Cell, cut float64, desc string, planOf func(cut float64, below bool) ([]byte, error)) error {
	for _, below := range []bool{true, false} {
		plan, err := planOf(cut, below)
		if err != nil {
			return err
		}
		set, err := s.PersonSet(ctx, plan)
		if err != nil {
			return err
		}
		word := map[bool]string{true: "below", false: "at or above"}[below]
		n := int64(set.GetCardinality())
		c.Needs = append(c.Needs, t.add(&release.Cell{Stat: release.Count, Value: float64(n), Persons: n, Plan: plan,
			Desc: fmt.Sprintf("persons of %s %s %s (a quantile's rank, not shown)", desc, word, strconv.FormatFloat(cut, 'g', -1, 64))}))
	}
	return nil
}

// judgeTies applies the rules above to quantile c (shown to c.Digits),
// whose window is w, over a group whose rows are one per person when
// single; planOf gives the persons on one side of a cut.
func (s *Server) judgeTies(ctx context.Context, t *built, c *release.Cell, w tiedWindow, single bool, desc string, planOf func(cut float64, below bool) ([]byte, error)) error {
	switch {
	case c.Status != "" || !w.tied():
	case len(w.list) > 2:
		if w.decoded(c.Value, c.Digits) {
			c.Status = spec.Ties
		}
	case single:
		return s.rankCells(ctx, t, c, w.list[0]+(w.list[1]-w.list[0])/2, desc, planOf)
	case w.smallRank(int64(s.sess.Policy.MinCount - 1)):
		c.Status = spec.Ties
	}
	return nil
}

// valueSide restricts h (a handle of rows with a value of name, or a
// cohort when name is age) to the rows whose value is below cut (lt) or at
// or above it.
func valueSide(h *handle, name, at string, cut float64, lt bool) *handle {
	if name == "age" && h.events == nil {
		// Ages are whole years: below cut is at most ⌊cut⌋.
		age := &cohortPlan{Op: "age", Min: -1000, Max: int(math.Floor(cut)), At: at}
		if !lt {
			age = &cohortPlan{Op: "age", Min: int(math.Floor(cut)) + 1, Max: 1000, At: at}
		}
		return &handle{cohort: &cohortPlan{Op: "and", A: h.cohort, B: age}, desc: h.desc}
	}
	e := *h.events
	op := ">="
	if lt {
		op = "<"
	}
	e.Where = append(append([]filterPlan(nil), e.Where...), filterPlan{Column: name, Op: op, Values: []any{cut}})
	return &handle{events: &e, desc: h.desc}
}

// rankPlan is the plan of a %sql quantile's rank cell (Cell.Plan
// {"rank": …}): the persons of group Key of quantile item Item of query
// SQL whose value lies below Cut (Below) or at or above it.
type rankPlan struct {
	SQL   string  `json:"sql"`
	Item  int     `json:"item"`
	Key   []any   `json:"key"`
	Cut   float64 `json:"cut"`
	Below bool    `json:"below,omitempty"`
}

// sqlRankPlan is the plan of the persons of group key of %sql query q's
// quantile item on one side of a cut.
func sqlRankPlan(q string, item int, key []any) func(cut float64, below bool) ([]byte, error) {
	return func(cut float64, below bool) ([]byte, error) {
		return json.Marshal(map[string]rankPlan{"rank": {SQL: q, Item: item, Key: key, Cut: cut, Below: below}})
	}
}

// rankSet is the person set of a rankPlan: the rows of the quantile's
// Source in its group, on one side of the cut.
func (s *Server) rankSet(ctx context.Context, p rankPlan) (*roaring.Bitmap, error) {
	plan, err := s.rewrite(ctx, p.SQL)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(plan.Quantiles, func(q sqlagg.Quantile) bool { return q.Item == p.Item && !q.Spread })
	if i < 0 || plan.Quantiles[i].Groups != len(p.Key) {
		return nil, fmt.Errorf("analysis: rank plan: the query has no quantile item %d of %d groups", p.Item, len(p.Key))
	}
	// The Source is in the tier's own SQL (as %sql runs it), which takes
	// no arguments: the cut is written in (a number), and the group is
	// picked here.
	q := plan.Quantiles[i]
	if math.IsNaN(p.Cut) || math.IsInf(p.Cut, 0) {
		return nil, fmt.Errorf("analysis: rank plan: cut %v", p.Cut)
	}
	op := " >= "
	if p.Below {
		op = " < "
	}
	cols := []string{"pid"}
	for g := range q.Groups {
		cols = append(cols, "g"+strconv.Itoa(g))
	}
	rows, err := s.runSQL(ctx, "SELECT DISTINCT "+strings.Join(cols, ", ")+" FROM ("+q.Source+") AS __enclave_q WHERE v"+op+strconv.FormatFloat(p.Cut, 'f', -1, 64), true)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	want := groupKeyOf(normaliseValues(p.Key))
	bm := roaring.New()
	for rows.Next() {
		vals, err := scanValues(rows, len(cols))
		if err != nil {
			return nil, err
		}
		key := make([]any, q.Groups)
		for g := range key {
			key[g] = normaliseKey(vals[1+g])
		}
		if groupKeyOf(key) != want {
			continue
		}
		if err := addID(bm, toInt(vals[0]), "person id"); err != nil {
			return nil, err
		}
	}
	return bm, rows.Err()
}
