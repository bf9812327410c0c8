// Package catalogtest is the conformance suite every datasets.Catalog
// backend must pass: the same questions asked of a reference catalog (the
// DuckDB one) and of the catalog under test must get identical answers —
// tables and columns, concept search, descendant expansion, mapping to
// standard, aggregate cells (keys, rows, distinct persons, values) and the
// person sets of cells.
//
// Cases are a table; the concepts they use are taken from the data (the
// most frequent conditions, measurements with values), so the suite runs on
// any OMOP tier: the synthetic cohort or the Eunomia datasets.
//
// Trust level: test code.
package catalogtest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"enclave/datasets"
)

// Case is one aggregate question.
type Case struct {
	Name string
	Q    datasets.Query
}

// Options tune the suite to the backend under test.
type Options struct {
	// MaxRows, when not 0, passes over tables with more rows than this
	// when choosing the events and the numbers the cases ask about: the
	// BigQuery emulator joins a table with person in time proportional to
	// their rows multiplied (GiBleed's 65,719 condition eras take minutes a
	// query).
	MaxRows int64
}

// Cases builds the aggregate questions for the data in ref: fixed shapes
// over the concepts the data holds.
func Cases(ctx context.Context, t testing.TB, ref datasets.Catalog, opts Options) []Case {
	t.Helper()
	small := func(table string) bool {
		if opts.MaxRows == 0 {
			return true
		}
		r, err := ref.Aggregate(ctx, datasets.Query{Table: table, Agg: datasets.CountRows})
		if err != nil {
			t.Fatalf("catalogtest: rows of %s: %v", table, err)
		}
		return len(r.Cells) == 0 || r.Cells[0].Rows <= opts.MaxRows
	}
	top := func(table, col string, n int, where ...datasets.Filter) []any {
		r, err := ref.Aggregate(ctx, datasets.Query{Table: table, GroupBy: []string{col}, Where: where, Agg: datasets.CountRows})
		if err != nil {
			t.Fatalf("catalogtest: top %s.%s: %v", table, col, err)
		}
		cells := slices.Clone(r.Cells)
		slices.SortStableFunc(cells, func(a, b datasets.Cell) int { return int(b.Rows - a.Rows) })
		var out []any
		for _, c := range cells {
			if c.Key[0] != nil && len(out) < n {
				out = append(out, c.Key[0])
			}
		}
		return out
	}
	// The events: condition occurrences, or, in a dataset without them
	// (Eunomia GiBleed ships eras), the first table that has some.
	// A table over MaxRows is taken only when no smaller one will do, and
	// then without the cases that join it with person.
	var ev eventTable
	var conds []any
	joinable := false
	for _, smallOnly := range []bool{true, false} {
		for _, e := range eventTables {
			if ev.table != "" || (smallOnly && !small(e.table)) {
				continue
			}
			if conds = top(e.table, e.concept, 3); len(conds) >= 2 {
				ev, joinable = e, smallOnly
			}
		}
	}
	// Numbers: measurement values, else observation values, else the
	// persons' years of birth.
	var num numericColumn
	var meas []any
	for _, n := range numericColumns {
		if n.concept == "" {
			num = n
			break
		}
		if !small(n.table) {
			continue
		}
		if meas = top(n.table, n.concept, 2, datasets.Filter{Column: n.value, Op: "is not null"}); len(meas) >= 1 {
			num = n
			break
		}
	}
	if ev.table == "" {
		t.Fatalf("catalogtest: no events table of the data has two concepts (tried %v)", eventTables)
	}
	var onMeas []datasets.Filter
	if num.concept != "" {
		onMeas = []datasets.Filter{{Column: num.concept, Op: "=", Values: []any{meas[0]}}}
	}
	cases := []Case{
		{"persons", datasets.Query{Table: "person"}},
		{"persons by gender", datasets.Query{Table: "person", GroupBy: []string{"gender_concept_id"}}},
		{"persons by race and ethnicity", datasets.Query{Table: "person", GroupBy: []string{"race_concept_id", "ethnicity_concept_id"}}},
		{"event rows", datasets.Query{Table: ev.table, Agg: datasets.CountRows}},
		{"top concepts by year of start", datasets.Query{Table: ev.table, GroupBy: []string{"year(" + ev.start + ")"},
			Where: []datasets.Filter{{Column: ev.concept, Op: "in", Values: conds}}}},
		{"month of start", datasets.Query{Table: ev.table, GroupBy: []string{"month(" + ev.start + ")"}}},
		{"descendants of the top concept", datasets.Query{Table: ev.table,
			Where: []datasets.Filter{{Column: ev.concept, Op: "descendant of", Values: conds[:1]}}}},
		{"start since 2015 (date as text)", datasets.Query{Table: ev.table,
			Where: []datasets.Filter{{Column: ev.start, Op: ">=", Values: []any{"2015-01-01"}}}}},
		{"start before 2010 (date as time)", datasets.Query{Table: ev.table,
			Where: []datasets.Filter{{Column: ev.start, Op: "<", Values: []any{time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)}}}}},
		{"not in top concepts", datasets.Query{Table: ev.table, Where: []datasets.Filter{{Column: ev.concept, Op: "not in", Values: conds}}}},
		{"empty", datasets.Query{Table: ev.table, Where: []datasets.Filter{{Column: ev.concept, Op: "=", Values: []any{-1}}}}},
	}
	if joinable {
		cases = append(cases,
			Case{"gender x event concept", datasets.Query{Table: ev.table, GroupBy: []string{"person.gender_concept_id", ev.concept}}},
			Case{"born 1950-1980, not the top concept", datasets.Query{Table: ev.table, GroupBy: []string{"person.gender_concept_id"},
				Where: []datasets.Filter{{Column: "person.year_of_birth", Op: "between", Values: []any{1950, 1980}},
					{Column: ev.concept, Op: "!=", Values: conds[:1]}}}})
	} else {
		t.Logf("catalogtest: %s has more than %d rows: the cases that join it with person are left out", ev.table, opts.MaxRows)
	}
	if ev.end != "" {
		cases = append(cases, Case{"no end date", datasets.Query{Table: ev.table, Where: []datasets.Filter{{Column: ev.end, Op: "is null"}}}})
	}
	gender := "person.gender_concept_id"
	if num.table == "person" {
		gender = "gender_concept_id"
	}
	for _, agg := range []datasets.AggFunc{datasets.Sum, datasets.Mean, datasets.Min, datasets.Max, datasets.StdDev, datasets.Median} {
		cases = append(cases, Case{fmt.Sprintf("%s of %s.%s by gender", agg, num.table, num.value), datasets.Query{Table: num.table,
			GroupBy: []string{gender}, Where: onMeas, Agg: agg, Of: num.value}})
	}
	if num.concept != "" {
		cases = append(cases, Case{"median of values by concept, no group filter", datasets.Query{Table: num.table,
			GroupBy: []string{num.concept}, Where: []datasets.Filter{{Column: num.concept, Op: "in", Values: meas}},
			Agg: datasets.Median, Of: num.value}})
	} else {
		cases = append(cases, Case{"median of year of birth by race, no group filter", datasets.Query{Table: num.table,
			GroupBy: []string{"race_concept_id"}, Agg: datasets.Median, Of: num.value}})
	}
	return cases
}

// eventTable is a table of dated events with a concept (end "" when the
// table has no end date).
type eventTable struct{ table, concept, start, end string }

var eventTables = []eventTable{
	{"condition_occurrence", "condition_concept_id", "condition_start_date", "condition_end_date"},
	{"condition_era", "condition_concept_id", "condition_era_start_date", "condition_era_end_date"},
	{"drug_exposure", "drug_concept_id", "drug_exposure_start_date", "drug_exposure_end_date"},
	{"visit_occurrence", "visit_concept_id", "visit_start_date", "visit_end_date"},
	{"observation", "observation_concept_id", "observation_date", ""},
}

// numericColumn is a column of numbers, with the concept that says what
// they measure ("" for a person's own column).
type numericColumn struct{ table, concept, value string }

var numericColumns = []numericColumn{
	{"measurement", "measurement_concept_id", "value_as_number"},
	{"observation", "observation_concept_id", "value_as_number"},
	{"person", "", "year_of_birth"},
}

// Errors are queries both backends must refuse, with the same safe text.
var Errors = []Case{
	{"unknown table", datasets.Query{Table: "no_such_table"}},
	{"unknown column", datasets.Query{Table: "person", GroupBy: []string{"no_such_column"}}},
	{"group by person_id", datasets.Query{Table: "condition_occurrence", GroupBy: []string{"person_id"}}},
	{"filter on a row id", datasets.Query{Table: "condition_occurrence", Where: []datasets.Filter{{Column: "condition_occurrence_id", Op: "=", Values: []any{1}}}}},
	{"vocabulary table", datasets.Query{Table: "concept"}},
	{"bad operator", datasets.Query{Table: "person", Where: []datasets.Filter{{Column: "year_of_birth", Op: "like", Values: []any{1}}}}},
	{"between needs two", datasets.Query{Table: "person", Where: []datasets.Filter{{Column: "year_of_birth", Op: "between", Values: []any{1}}}}},
	{"mean of text", datasets.Query{Table: "person", Agg: datasets.Mean, Of: "gender_source_value"}},
	{"five groups", datasets.Query{Table: "person", GroupBy: []string{"gender_concept_id", "race_concept_id", "ethnicity_concept_id", "year_of_birth", "month_of_birth"}}},
}

// Run asks ref and got the same questions and fails t on any difference.
func Run(t *testing.T, ref, got datasets.Catalog, opts Options) {
	ctx := context.Background()
	t.Run("tier", func(t *testing.T) {
		if ref.Tier() != got.Tier() {
			t.Fatalf("tier %s, want %s", got.Tier(), ref.Tier())
		}
	})
	t.Run("tables", func(t *testing.T) {
		want, err := ref.Tables(ctx)
		if err != nil {
			t.Fatal(err)
		}
		have, err := got.Tables(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if w, h := fmt.Sprint(want), fmt.Sprint(have); w != h {
			t.Fatalf("tables differ:\n got %s\nwant %s", h, w)
		}
	})
	for _, c := range Cases(ctx, t, ref, opts) {
		t.Run("aggregate/"+c.Name, func(t *testing.T) {
			want, err := ref.Aggregate(ctx, c.Q)
			if err != nil {
				t.Fatalf("reference: %v", err)
			}
			have, err := got.Aggregate(ctx, c.Q)
			if err != nil {
				t.Fatalf("%s (%s)", err, datasets.AuditText(err))
			}
			if d := diffCells(want.Cells, have.Cells); d != "" {
				t.Fatal(d)
			}
			// The person sets of the largest and the smallest cell.
			cells := slices.Clone(want.Cells)
			slices.SortStableFunc(cells, func(a, b datasets.Cell) int { return int(b.Persons - a.Persons) })
			if len(cells) > 2 {
				cells = []datasets.Cell{cells[0], cells[len(cells)-1]}
			}
			for _, cell := range cells {
				ws, err := ref.PersonSet(ctx, c.Q, cell.Key)
				if err != nil {
					t.Fatalf("reference person set %v: %v", cell.Key, err)
				}
				hs, err := got.PersonSet(ctx, c.Q, cell.Key)
				if err != nil {
					t.Fatalf("person set %v: %s (%s)", cell.Key, err, datasets.AuditText(err))
				}
				if !ws.Equals(hs) || int64(hs.GetCardinality()) != cell.Persons {
					t.Fatalf("person set of %v: %d persons, want %d (cell says %d)", cell.Key, hs.GetCardinality(), ws.GetCardinality(), cell.Persons)
				}
			}
		})
	}
	for _, c := range Errors {
		t.Run("refused/"+c.Name, func(t *testing.T) {
			_, werr := ref.Aggregate(ctx, c.Q)
			_, herr := got.Aggregate(ctx, c.Q)
			if werr == nil || herr == nil {
				t.Fatalf("reference error %v, got error %v: both must refuse", werr, herr)
			}
			if werr.Error() != herr.Error() {
				t.Fatalf("safe text %q, want %q", herr, werr)
			}
		})
	}
	concepts := []datasets.ConceptQuery{
		{Text: "diabetes"}, {Text: "diabetes", StandardOnly: true, Limit: 5}, {Text: "heart", Domain: "condition"},
		{Vocabulary: "Gender"}, {Text: "50%_"}, {Text: "8507"}, {Domain: "Measurement", Limit: 20},
	}
	for _, q := range concepts {
		t.Run(fmt.Sprintf("concepts/%+v", q), func(t *testing.T) {
			want, err := ref.SearchConcepts(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			have, err := got.SearchConcepts(ctx, q)
			if err != nil {
				t.Fatalf("%s (%s)", err, datasets.AuditText(err))
			}
			if w, h := fmt.Sprint(want), fmt.Sprint(have); w != h {
				t.Fatalf("concepts differ:\n got %s\nwant %s", h, w)
			}
		})
	}
	t.Run("descendants and mapping", func(t *testing.T) {
		// Up to eight standard condition concepts that have descendants
		// in the reference and four that have none (the expansion of
		// each is one query on the backend under test).
		cs, err := ref.SearchConcepts(ctx, datasets.ConceptQuery{Domain: "Condition", StandardOnly: true, Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			t.Fatal("no condition concepts in the vocabulary")
		}
		var ids []int64
		wants := map[int64][]int64{}
		expanded, leaves := 0, 0
		for _, c := range cs {
			want, err := ref.Descendants(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case len(want) > 1 && expanded < 8:
				expanded++
			case len(want) <= 1 && leaves < 4:
				leaves++
			default:
				continue
			}
			ids = append(ids, c.ID)
			wants[c.ID] = want
		}
		if expanded == 0 {
			t.Fatal("no condition concept has descendants: the case compares nothing")
		}
		for _, id := range ids {
			have, err := got.Descendants(ctx, id)
			if err != nil {
				t.Fatalf("%s (%s)", err, datasets.AuditText(err))
			}
			if !slices.Equal(wants[id], have) {
				t.Fatalf("descendants of %d: %v, want %v", id, have, wants[id])
			}
		}
		wantAll, err := ref.Descendants(ctx, ids...)
		if err != nil {
			t.Fatal(err)
		}
		haveAll, err := got.Descendants(ctx, ids...)
		if err != nil || !slices.Equal(wantAll, haveAll) {
			t.Fatalf("descendants of all: %d ids (err %v), want %d", len(haveAll), err, len(wantAll))
		}
		src, err := ref.SearchConcepts(ctx, datasets.ConceptQuery{Text: "a", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var all []int64
		for _, c := range src {
			all = append(all, c.ID)
		}
		wm, err := ref.MapToStandard(ctx, all...)
		if err != nil {
			t.Fatal(err)
		}
		hm, err := got.MapToStandard(ctx, all...)
		if err != nil {
			t.Fatalf("%s (%s)", err, datasets.AuditText(err))
		}
		if w, h := fmt.Sprint(wm), fmt.Sprint(hm); w != h || len(wm) == 0 {
			t.Fatalf("mapping of %d concepts: %d mapped, want %d (and some)", len(all), len(hm), len(wm))
		}
	})
}

// diffCells compares cells exactly (keys, rows, persons) and values to
// 1e-9 relative: the two engines may add floating-point numbers in
// another order.
func diffCells(want, have []datasets.Cell) string {
	if len(want) != len(have) {
		return fmt.Sprintf("%d cells, want %d:\n got %v\nwant %v", len(have), len(want), have, want)
	}
	for i := range want {
		w, h := want[i], have[i]
		if fmt.Sprint(w.Key) != fmt.Sprint(h.Key) || w.Rows != h.Rows || w.Persons != h.Persons || !close(w.Value, h.Value) {
			return fmt.Sprintf("cell %d: got %+v, want %+v", i, h, w)
		}
	}
	return ""
}

func close(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}
