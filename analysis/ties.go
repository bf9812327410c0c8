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
// consecutive ranks, so its value, the mean of the rows there, is a sum of
// how many of them hold each value. With two values that is how many rows
// lie below the boundary between them; with more, and values far apart
// (1931, 1932 and 1950), it can say how many hold each value in between,
// a block of at most 19 rows; and with a rank known from an earlier count
// (everyone born in 1931) it says the rest. A cohort built as blocks of
// known years around a group (persons born in 1931 and 1933 around those
// born in 1932 with a condition) put the group's count in a quartile, 1–20
// included, in 2 to 4 cells (review 59).
//
// So, for a window of 2 to maxTiedValues distinct values with ties:
//   - it is hidden (spec.Ties) when its value alone tells the size of a
//     block between its first and last value: every way of filling its
//     rows with its values that gives the value shown gives that block
//     the same size (decoded);
//   - for one row per person, each boundary between two of its values
//     splits the group into the persons below and those above, counts the
//     quantile shows with a rank, which pass the count rules as cells not
//     shown (rankCells: small, or a small difference from an earlier
//     release, hides the quantile). They are not compared with each other,
//     since their differences are the blocks that decoded found untold;
//   - for several rows per person, where a person-level count is not what
//     the rank tells, it is hidden when a boundary may lie within
//     MinCount−1 rows of either end of the group (smallRank).
//
// Windows of more values tell nothing so direct: the README's known-values
// residual covers what they tell about persons whose values are known. Lab
// values to 0.1 over a few hundred persons hold 4 or 5 values per window;
// hiding every such window hid most of their medians.

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
	n           int64     // the group's rows
}

// tiesOf reads a quantile's smoothingSQL columns.
func tiesOf(cols []any) (tiedWindow, error) {
	w := tiedWindow{mean: toFloat(cols[0]), first: toInt(cols[2]), last: toInt(cols[3]), values: toInt(cols[5]), n: toInt(cols[7])}
	if w.values < 2 || w.values > maxTiedValues {
		return w, nil
	}
	text, _ := cols[6].(string)
	for f := range strings.SplitSeq(text, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return w, &datasets.Error{Safe: "a quantile's window could not be read", Err: fmt.Errorf("window value %q: %w", f, err)}
		}
		w.list = append(w.list, v)
	}
	slices.Sort(w.list)
	w.list = slices.Compact(w.list)
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

// cuts are the boundaries between the window's values: each halfway
// between two of them.
func (w tiedWindow) cuts() []float64 {
	if !w.tied() {
		return nil
	}
	var out []float64
	for i := 1; i < len(w.list); i++ {
		out = append(out, w.list[i-1]+(w.list[i]-w.list[i-1])/2)
	}
	return out
}

// decoded reports whether the value shown (to digits decimals) tells how
// many rows of the window hold some value between its first and last:
// whether every filling of its rows with its values (each at least once)
// whose mean rounds to the value shown gives that value the same count.
func (w tiedWindow) decoded(shown float64, digits int) bool {
	d := len(w.list)
	if !w.tied() || d < 3 || w.rows() > maxDecodedRows {
		return false
	}
	tol := 0.5*math.Pow(10, -float64(digits)) + 1e-9*math.Max(1, math.Abs(shown))
	n := int(w.rows())
	counts := make([]int, d)
	seen := make([]int, d) // per inner value: its count in every filling so far, or -1
	for i := range seen {
		seen[i] = -2 // none yet
	}
	var fill func(j, left int, sum float64)
	fill = func(j, left int, sum float64) {
		if j == d-1 {
			counts[j] = left
			if math.Abs((sum+float64(left)*w.list[j])/float64(n)-shown) > tol {
				return
			}
			for i := 1; i < d-1; i++ {
				switch seen[i] {
				case -2:
					seen[i] = counts[i]
				case counts[i]:
				default:
					seen[i] = -1
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
	for i := 1; i < d-1; i++ {
		if seen[i] >= 0 {
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

// rankCells adds to t, not shown, the counts a quantile c among tied
// values tells (see above): for each cut, the persons of its group below
// it and those at or above it, whose person sets planOf gives; c needs
// them all.
func (s *Server) rankCells(ctx context.Context, t *built, c *release.Cell, cuts []float64, desc string, planOf func(cut float64, below bool) ([]byte, error)) error {
	for _, cut := range cuts {
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
			c.Needs = append(c.Needs, t.add(&release.Cell{Stat: release.Count, Value: float64(n), Persons: n, Plan: plan, Rank: true,
				Desc: fmt.Sprintf("persons of %s %s %s (a quantile's rank, not shown)", desc, word, strconv.FormatFloat(cut, 'g', -1, 64))}))
		}
	}
	return nil
}

// judgeTies applies the rules above to quantile c (shown to c.Digits),
// whose window is w, over a group whose rows are one per person when
// single; planOf gives the persons on one side of a cut.
func (s *Server) judgeTies(ctx context.Context, t *built, c *release.Cell, w tiedWindow, single bool, desc string, planOf func(cut float64, below bool) ([]byte, error)) error {
	limit := int64(s.sess.Policy.MinCount - 1)
	switch {
	case c.Status != "" || !w.tied():
	case w.decoded(c.Value, c.Digits) || !single && w.smallRank(limit):
		c.Status = spec.Ties
	case single:
		return s.rankCells(ctx, t, c, w.cuts(), desc, planOf)
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
	q := plan.Quantiles[i]
	where := []string{"v >= ?"}
	if p.Below {
		where[0] = "v < ?"
	}
	args := []any{p.Cut}
	for g, v := range normaliseValues(p.Key) {
		where = append(where, "g"+strconv.Itoa(g)+" IS NOT DISTINCT FROM ?")
		args = append(args, v)
	}
	return s.idSet(ctx, "SELECT DISTINCT pid FROM ("+q.Source+") AS __enclave_q WHERE "+strings.Join(where, " AND "), args)
}
