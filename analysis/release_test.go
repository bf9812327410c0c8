package analysis_test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"enclave/api/spec"
	"enclave/release"
)

// TestDifferencing: persons aged 40–80, and the same less the few of them
// with a rare condition, differ by 1–20 persons: whichever is asked second
// is suppressed, in one session or in two sessions of the workspace.
func TestDifferencing(t *testing.T) {
	cut := dataCut(t)
	inAge := ageSQL("p", cut) + " BETWEEN 40 AND 80"
	inRare := "p.person_id IN (SELECT person_id FROM condition_occurrence WHERE condition_concept_id = 443601)"
	nA := queryInt(t, "SELECT count(*) FROM person p WHERE "+inAge)
	k := queryInt(t, "SELECT count(*) FROM person p WHERE "+inAge+" AND "+inRare)
	if k < 1 || k > 20 {
		t.Fatalf("fixture: %d persons aged 40–80 have the rare condition", k)
	}
	cohorts := func(e *env) (a, b spec.Handle) {
		all := e.persons()
		a = e.derive(all, spec.Step{Age: &spec.AgeStep{Min: 40, Max: 80}})
		rare := e.derive(all, spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cRare}}})
		b = e.derive(a, spec.Step{Minus: rare.ID})
		return a, b
	}
	check := func(t *testing.T, first, second spec.Cell, nFirst int64) {
		t.Helper()
		if v := released(t, "first", first); v != float64(nFirst) {
			t.Errorf("first count %v, want %d", v, nFirst)
		}
		if second.Status != spec.Difference || second.Value != nil || second.Text != "*" {
			t.Errorf("second count %+v, want suppressed as a difference", second)
		}
	}
	t.Run("whole then less a few", func(t *testing.T) {
		e := newEnv(t)
		a, b := cohorts(e)
		first := e.count(a)
		tab := e.table(spec.MCount, spec.CountArgs{Handle: b.ID})
		check(t, first, tab.Rows[0][1], nA)
		if !contains(tab.Notes, "differencing") {
			t.Errorf("notes %q do not explain the suppression", tab.Notes)
		}
	})
	t.Run("less a few then whole", func(t *testing.T) {
		e := newEnv(t)
		a, b := cohorts(e)
		first := e.count(b)
		check(t, first, e.count(a), nA-k)
	})
	t.Run("two sessions of one workspace", func(t *testing.T) {
		hp := filepath.Join(t.TempDir(), "history.jsonl")
		e1, e2 := newEnvAt(t, hp), newEnvAt(t, hp)
		a, _ := cohorts(e1)
		_, b := cohorts(e2)
		check(t, e1.count(a), e2.count(b), nA)
	})
	t.Run("far apart is fine", func(t *testing.T) {
		e := newEnv(t)
		a, _ := cohorts(e)
		c := e.derive(a, spec.Step{Sex: "female"})
		released(t, "40–80", e.count(a))
		released(t, "40–80 female", e.count(c))
	})
}

// TestErrors: each mistake is an error that names the problem, shows no
// data value, and leaves the server working.
// handleID matches a handle's id in a message.
var handleID = regexp.MustCompile(`\bh[0-9a-f]{6,}\b`)

func TestErrors(t *testing.T) {
	e := newEnv(t)
	all := e.persons()
	a1c := e.events("measurement", cHbA1c)
	t2d := e.derive(all, spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cT2D}}})
	bad := e.derive(a1c, where("value_as_number", "=", "abc"))
	nAll := queryInt(t, "SELECT count(*) FROM person")
	cases := []struct {
		name   string
		method string
		args   any
		want   string
	}{
		{"unknown concept", spec.MEvents, spec.EventsArgs{Table: "condition_occurrence", Concepts: []int64{cT2D, 999999999}}, "unknown concept id(s) 999999999"},
		{"unknown concept in With", spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{999999999}}}}, "unknown concept id(s) 999999999"},
		{"unknown table", spec.MEvents, spec.EventsArgs{Table: "no_such_table"}, `no table of events "no_such_table"`},
		{"vocabulary table", spec.MEvents, spec.EventsArgs{Table: "concept"}, `no table of events "concept"`},
		{"person table", spec.MEvents, spec.EventsArgs{Table: "person"}, `use omop.Persons()`},
		{"unknown column", spec.MDerive, spec.DeriveArgs{Base: a1c.ID, Step: where("no_such_column", "=", 1)}, `no column "no_such_column" in table measurement`},
		{"person_id in Where", spec.MDerive, spec.DeriveArgs{Base: a1c.ID, Step: where("person_id", "=", 1)}, "column person_id identifies persons or rows"},
		{"row id in Where", spec.MDerive, spec.DeriveArgs{Base: a1c.ID, Step: where("measurement_id", "in", 1, 2)}, "column measurement_id identifies persons or rows"},
		{"person_id in By", spec.MCount, spec.CountArgs{Handle: a1c.ID, By: []string{"person_id"}}, "column person_id identifies persons or rows"},
		{"person_id in By of a cohort", spec.MCount, spec.CountArgs{Handle: all.ID, By: []string{"person_id"}}, `cannot group persons by "person_id"`},
		{"single years of age", spec.MCount, spec.CountArgs{Handle: all.ID, By: []string{"age"}}, "group by age_decade or age_group"},
		{"bad age date", spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{Age: &spec.AgeStep{Min: 40, Max: 80, At: "2024-13-45"}}}, "2024-13-45 is not a calendar date"},
		{"bad date range", spec.MDerive, spec.DeriveArgs{Base: a1c.ID, Step: spec.Step{Within: &spec.Dates{From: "last spring"}}}, `"last spring" is not a date in the form YYYY-MM-DD`},
		{"bad count date", spec.MCount, spec.CountArgs{Handle: all.ID, At: "01/02/2020"}, "is not a date in the form YYYY-MM-DD"},
		{"cohort as events", spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{With: &spec.Has{Handle: t2d.ID}}}, "With/Without take events"},
		{"events as cohort", spec.MTable1, spec.Table1Args{Cohort: a1c.ID}, "needs a cohort of persons"},
		{"events step on a cohort", spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: where("year_of_birth", ">", 1950)}, "this step does not apply to a cohort"},
		{"cohort column", spec.MDescribe, spec.DescribeArgs{Handle: t2d.ID, Column: "value_as_number"}, `a cohort has no column "value_as_number"`},
		{"not numeric", spec.MDescribe, spec.DescribeArgs{Handle: a1c.ID, Column: "measurement_source_value"}, "column measurement_source_value is not numeric"},
		{"unknown handle", spec.MCount, spec.CountArgs{Handle: "h999"}, `no handle "h999"`},
		{"bad arguments", spec.MCount, map[string]any{"handle": all.ID, "colour": "red"}, "bad API arguments"},
		{"unknown method", "stats.magic", struct{}{}, `no enclave API method "stats.magic"`},
		{"engine error", spec.MCount, spec.CountArgs{Handle: bad.ID}, "query failed: a value has the wrong type"},
		{"bad model", spec.MRegress, spec.RegressArgs{Kind: "logistic", Cohort: all.ID, Formula: "age ~ gender"}, "a logistic model needs a binary outcome"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := e.call(c.method, c.args, nil)
			if err == nil {
				t.Fatalf("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, c.want) {
				t.Errorf("error %q, want %q", msg, c.want)
			}
			// No data value: the bad filter's "abc", or everyone's count
			// (handle ids, random hex, are left out of the search: one
			// held "abc").
			bare := handleID.ReplaceAllString(msg, "h…")
			if strings.Contains(msg, "internal error") || strings.Contains(bare, "abc") || strings.Contains(bare, fmt.Sprint(nAll)) {
				t.Errorf("error %q", msg)
			}
			// The server keeps working.
			if v := released(t, "after", e.count(all)); v != float64(nAll) {
				t.Errorf("count after the error: %v", v)
			}
		})
	}
}

func TestCollect(t *testing.T) {
	t.Run("rows taint", func(t *testing.T) {
		e := newEnv(t)
		t2d := e.derive(e.persons(), spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cT2D}}})
		if e.sess.Tainted() != "" {
			t.Fatal("tainted before any Collect")
		}
		var rows spec.Rows
		e.must(spec.MCollect, spec.CollectArgs{Handle: t2d.ID, Columns: []string{"person_id", "year_of_birth"}}, &rows)
		if e.sess.Tainted() == "" {
			t.Error("Collect did not taint the session")
		}
		want := queryInts(t, "SELECT person_id FROM condition_occurrence WHERE condition_concept_id = 201826 GROUP BY 1 ORDER BY 1")
		var got []int64
		for _, r := range rows.Data {
			id, _ := r[0].(float64) // JSON numbers
			got = append(got, int64(id))
		}
		if fmt.Sprint(rows.Columns) != "[person_id year_of_birth]" || !slices.Equal(sortedIDs(got), want) {
			t.Errorf("collected %d persons, want %d", len(got), len(want))
		}
	})
	t.Run("after taint every result is held and nothing is exported", func(t *testing.T) {
		// Which results a tainted worker asks for, of handles made before
		// the rows came too, and how many exports it requests, can encode
		// the rows (review 38).
		e := newEnv(t)
		all := e.persons()
		tab := e.table(spec.MCount, spec.CountArgs{Handle: all.ID})
		e.must(spec.MCollect, spec.CollectArgs{Handle: all.ID, Limit: 1}, &spec.Rows{})
		e.table(spec.MCount, spec.CountArgs{Handle: all.ID, By: []string{"gender"}})
		if r := e.sess.Recent(1); len(r) != 1 || !r[0].Held {
			t.Errorf("a count of a handle made before the rows came, after them: %+v", r)
		}
		err := e.call(spec.MExport, spec.ExportArgs{Ref: tab.Ref, Name: "t.csv"}, nil)
		if err == nil || !strings.Contains(err.Error(), "while the worker holds rows") {
			t.Errorf("export after taint: %v", err)
		}
	})
	t.Run("limit", func(t *testing.T) {
		e := newEnv(t, func(p *release.Policy) { p.CollectLimit = 50 })
		var rows spec.Rows
		e.must(spec.MCollect, spec.CollectArgs{Handle: e.persons().ID, Limit: 7}, &rows)
		if len(rows.Data) != 7 || len(rows.Columns) < 10 {
			t.Errorf("limit 7: %d rows of %d columns", len(rows.Data), len(rows.Columns))
		}
		e.must(spec.MCollect, spec.CollectArgs{Handle: e.persons().ID, Limit: 1000}, &rows)
		if len(rows.Data) != 50 {
			t.Errorf("limit 1000 under a policy of 50: %d rows", len(rows.Data))
		}
	})
	t.Run("events without filters", func(t *testing.T) {
		e := newEnv(t)
		var rows spec.Rows
		e.must(spec.MCollect, spec.CollectArgs{Handle: e.events("measurement").ID, Columns: []string{"measurement_concept_id", "value_as_number"}, Limit: 5}, &rows)
		if len(rows.Data) != 5 {
			t.Errorf("%d rows", len(rows.Data))
		}
	})
	t.Run("unknown column", func(t *testing.T) {
		e := newEnv(t)
		err := e.call(spec.MCollect, spec.CollectArgs{Handle: e.persons().ID, Columns: []string{"nope"}}, nil)
		if err == nil || !strings.Contains(err.Error(), `no column "nope"`) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("refused by policy", func(t *testing.T) {
		e := newEnv(t, func(p *release.Policy) { p.Collect = false })
		err := e.call(spec.MCollect, spec.CollectArgs{Handle: e.persons().ID, Limit: 5}, nil)
		if err == nil || !strings.Contains(err.Error(), "not allowed in this workspace") {
			t.Errorf("error %v", err)
		}
		if e.sess.Tainted() != "" {
			t.Errorf("a refused Collect tainted the session: %q", e.sess.Tainted())
		}
	})
}

// TestPersonSet rebuilds the person set of every released cell from the
// plan in the history file: each has the released size, and those of a
// count by gender are exactly the persons SQL finds.
func TestPersonSet(t *testing.T) {
	e := newEnv(t)
	all := e.persons()
	t2d := e.derive(all, spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cT2D}}})
	a1c := e.events("measurement", cHbA1c)
	e.table(spec.MCount, spec.CountArgs{Handle: t2d.ID, By: []string{"gender"}})
	e.table(spec.MCount, spec.CountArgs{Handle: a1c.ID, By: []string{"age_group", "gender"}})
	e.table(spec.MCount, spec.CountArgs{Handle: e.events("condition_occurrence").ID, By: []string{"condition_concept_id"}})
	e.table(spec.MCount, spec.CountArgs{Handle: e.events("condition_occurrence", cHTN).ID, By: []string{"year(condition_start_date)"}})
	e.table(spec.MTable1, spec.Table1Args{Cohort: t2d.ID})
	e.table(spec.MDescribe, spec.DescribeArgs{Handle: a1c.ID, Column: "value_as_number", By: []string{"race"}})
	e.table(spec.MIncidence, spec.IncidenceArgs{Cohort: all.ID, Outcome: t2d.ID, By: []string{"age_decade"}})
	e.plot(spec.MHistogram, spec.HistogramArgs{Handle: t2d.ID, Column: "age", Bins: 8})
	e.plot(spec.MHistogram, spec.HistogramArgs{Handle: a1c.ID, Column: "value_as_number", Bins: 22, Min: 4, Max: 15})
	e.plot(spec.MHistogram, spec.HistogramArgs{Handle: a1c.ID, Column: "age", Bins: 10, Min: 0, Max: 100})
	e.table(spec.MRegress, spec.RegressArgs{Kind: "linear", Cohort: t2d.ID, Formula: "mean(a) ~ age", Bind: map[string]string{"a": a1c.ID}})
	recs := e.historyRecords()
	if len(recs) < 50 {
		t.Fatalf("only %d records in the history", len(recs))
	}
	ctx := context.Background()
	t2dSQL := "SELECT DISTINCT c.person_id FROM condition_occurrence c JOIN person p USING (person_id) WHERE c.condition_concept_id = 201826"
	a1cSQL := "SELECT DISTINCT m.person_id FROM measurement m JOIN person p USING (person_id) WHERE m.measurement_concept_id = 3004410"
	exactSQL := map[string]string{
		"persons in all persons, with condition_occurrence with concept 201826":                 t2dSQL,
		"persons in all persons, with condition_occurrence with concept 201826 | gender=FEMALE": t2dSQL + " AND p.gender_concept_id = 8532",
		"persons in measurement with concept 3004410 | age_group=18–44, gender=FEMALE":          a1cSQL + " AND p.gender_concept_id = 8532 AND " + ageSQL("p", dataCut(t)) + " BETWEEN 18 AND 44",
		"persons in measurement with concept 3004410 | age_group=45–64":                         a1cSQL + " AND " + ageSQL("p", dataCut(t)) + " BETWEEN 45 AND 64",
		"persons in all persons, with condition_occurrence with concept 201826 | age_group=65+": t2dSQL + " AND " + ageSQL("p", dataCut(t)) + " >= 65",
	}
	exact, windows := 0, 0
	for _, r := range recs {
		if len(r.Window) > 0 {
			// A smoothed quantile's window: its persons, not a plan.
			if windows++; r.Size != int64(len(r.Window)) || r.Value == nil {
				t.Errorf("%s: %d persons in a window of size %d, value %v", r.Desc, len(r.Window), r.Size, r.Value)
			}
			continue
		}
		set, err := e.srv.PersonSet(ctx, r.Plan)
		if err != nil {
			t.Errorf("%s: %v", r.Desc, err)
			continue
		}
		if int64(set.GetCardinality()) != r.Size {
			t.Errorf("%s: the plan rebuilds %d persons, %d were released", r.Desc, set.GetCardinality(), r.Size)
		}
		if q, ok := exactSQL[r.Desc]; ok {
			want := queryInts(t, q+" ORDER BY 1")
			got := set.ToArray()
			ids := make([]int64, len(got))
			for i, v := range got {
				ids[i] = int64(v)
			}
			if !slices.Equal(ids, want) {
				t.Errorf("%s: plan gives %d persons, SQL %d (or other ones)", r.Desc, len(ids), len(want))
			}
			delete(exactSQL, r.Desc)
			exact++
		}
	}
	for d := range exactSQL {
		t.Errorf("no released cell %q in the history", d)
	}
	if windows == 0 {
		t.Error("no smoothed quantile's window in the history")
	}
	t.Logf("%d records rebuilt", len(recs))
}

// TestHandleIDsAreOpaque: handle ids say nothing of how many handles were
// made before them. A tainted worker made 305 handles without output,
// crashed (which ends taint) and a clean cell's next handle id, h308, gave
// a BMI of 30.5 (review 40).
func TestHandleIDsAreOpaque(t *testing.T) {
	e := newEnv(t)
	shape := regexp.MustCompile(`^h[0-9a-f]{12}$`)
	a, b := e.persons(), e.persons()
	for _, h := range []spec.Handle{a, b} {
		if !shape.MatchString(h.ID) {
			t.Errorf("handle id %q", h.ID)
		}
	}
	if a.ID == b.ID {
		t.Errorf("two handles share the id %q", a.ID)
	}
}
