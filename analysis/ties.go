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
	"enclave/release"
)

// A smoothed quantile among tied values is a rank. Its window is a run of
// consecutive ranks, so its value, the mean of the rows there, says how
// many of them hold each value when the window holds only a few: with two,
// how many rows lie below the boundary between them; with three or more,
// also how many hold each value in between, a count of 1–20 since the
// window has about 21 rows. A cohort built as blocks of known values around
// a group (persons born in 1931 and 1933 around those born in 1932 with a
// condition) put the group's count in a quartile that way, 1–20 included,
// in 2 to 4 cells (review 59).
//
// So a quantile whose window holds 3 to maxTiedValues distinct values, some
// of them on more than one row, is hidden (spec.Ties), and one whose window
// holds two is shown only when the counts below and above the boundary pass
// the count rules like any count (not small, not a small difference from
// an earlier release), as cells not shown that the quantile follows.
// Windows of many distinct values (a lab value to 0.1 in a large cohort, a
// continuous measure) tell nothing so direct: the README's known-values
// residual covers what they tell about persons whose values are known.

// maxTiedValues is the most distinct values a window may hold for the
// counts of each to be read from its value.
const maxTiedValues = 5

// tiedWindow is what smoothingSQL says of a quantile's window's values.
type tiedWindow struct {
	mean        float64
	first, last int64 // the window's ranks
	values      int64 // distinct values of its rows
	lo, hi      float64
	n           int64 // the group's rows
}

// tiesOf reads a quantile's smoothingSQL columns.
func tiesOf(cols []any) tiedWindow {
	return tiedWindow{mean: toFloat(cols[0]), first: toInt(cols[2]), last: toInt(cols[3]),
		values: toInt(cols[5]), lo: toFloat(cols[6]), hi: toFloat(cols[7]), n: toInt(cols[8])}
}

// rows is how many rows the window holds.
func (w tiedWindow) rows() int64 {
	if w.last < w.first || w.first < 1 {
		return 0
	}
	return w.last - w.first + 1
}

// counted reports whether the window's value tells how many rows hold each
// value in between its least and greatest: 3 to maxTiedValues values, tied.
func (w tiedWindow) counted() bool {
	return w.values >= 3 && w.values <= maxTiedValues && w.values < w.rows()
}

// boundary is, for a window of two values, the rank of the last row of the
// lesser (how many rows of the group lie below the greater) and a cut
// strictly between the two; ok is false for any other window.
func (w tiedWindow) boundary() (below int64, cut float64, ok bool) {
	if w.values != 2 || !(w.hi > w.lo) || math.IsNaN(w.mean) {
		return 0, 0, false
	}
	n := w.rows()
	low := int64(math.Round(float64(n) * (w.hi - w.mean) / (w.hi - w.lo)))
	low = min(max(low, 1), n-1)
	return w.first - 1 + low, w.lo + (w.hi-w.lo)/2, true
}

// smallRank reports whether a window of two tied values has 1 to limit
// rows of its group below the boundary between them, or above it. A %sql
// quantile is held to this (its plan has no rows to cut), where a
// Describe's ranks pass every count rule (rankCells).
func (w tiedWindow) smallRank(limit int64) bool {
	below, _, ok := w.boundary()
	return ok && (below <= limit || w.n-below <= limit)
}

// rankCells adds to t, not shown, the counts a Describe quantile of two
// tied values tells: the persons of group plan g (h's rows with a value,
// restricted by where) whose value of name is below cut, and those at or
// above it; the quantile c needs both. below is the rows under cut.
func (s *Server) rankCells(ctx context.Context, t *built, c *release.Cell, h *handle, name, at string, vars []variable, key []any, fixed []bool, cut float64, desc string) error {
	for _, side := range []struct {
		lt   bool
		word string
	}{{true, "below"}, {false, "at or above"}} {
		hs := valueSide(h, name, at, cut, side.lt)
		plan := planFor(hs, at, vars, key, fixed).bytes()
		set, err := s.PersonSet(ctx, plan)
		if err != nil {
			return err
		}
		n := int64(set.GetCardinality())
		rc := t.add(&release.Cell{Stat: release.Count, Value: float64(n), Persons: n, Plan: plan,
			Desc: fmt.Sprintf("persons of %s %s %s (a quantile's rank, not shown)", desc, side.word, strconv.FormatFloat(cut, 'g', -1, 64))})
		c.Needs = append(c.Needs, rc)
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

// sqlRankCells is rankCells for a %sql quantile: item of query q, group key.
func (s *Server) sqlRankCells(ctx context.Context, t *built, c *release.Cell, q string, item int, key []any, cut float64, desc string) error {
	for _, below := range []bool{true, false} {
		plan, err := json.Marshal(map[string]rankPlan{"rank": {SQL: q, Item: item, Key: key, Cut: cut, Below: below}})
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
	rows, err := s.db.QueryContext(ctx, "SELECT DISTINCT pid FROM ("+q.Source+") AS __enclave_q WHERE "+strings.Join(where, " AND "), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	bm := roaring.New()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		if err := addID(bm, id, "person id"); err != nil {
			return nil, err
		}
	}
	return bm, rows.Err()
}
