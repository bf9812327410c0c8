package analysis_test

import (
	"fmt"
	"strings"
	"testing"

	"enclave/api/spec"
)

// Concepts of the synthetic cohort (datasets/synth).
const (
	cT2D      = 201826  // type 2 diabetes
	cHTN      = 320128  // essential hypertension
	cRare     = 443601  // a condition of 19 persons in the fixture
	cHbA1c    = 3004410 // HbA1c measurement
	cBMI      = 3038553 // BMI measurement
	cSBP      = 3004249 // systolic blood pressure
	cWarfarin = 1310149 // a drug of 17 persons in the fixture
)

// base are the handles the cases of TestHandlesMatchSQL start from.
type base struct{ all, t2dEv, htnEv, t2d, htn, fem, a1c, a1cHigh, htn2020 spec.Handle }

func newBase(e *env) base {
	var b base
	b.all = e.persons()
	b.t2dEv = e.events("condition_occurrence", cT2D)
	b.htnEv = e.events("condition_occurrence", cHTN)
	b.t2d = e.derive(b.all, spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cT2D}}})
	b.htn = e.derive(b.all, spec.Step{With: &spec.Has{Handle: b.htnEv.ID}})
	b.fem = e.derive(b.all, spec.Step{Sex: "female"})
	b.a1c = e.events("measurement", cHbA1c)
	b.a1cHigh = e.derive(b.a1c, spec.Step{Where: &spec.Filter{Column: "value_as_number", Op: ">=", Values: []any{6.5}}})
	b.htn2020 = e.derive(b.htnEv, spec.Step{Within: &spec.Dates{From: "2020-01-01", To: "2021-12-31"}})
	return b
}

func where(col, op string, v ...any) spec.Step {
	return spec.Step{Where: &spec.Filter{Column: col, Op: op, Values: v}}
}

var toPersons = spec.Step{Persons: true}

// TestHandlesMatchSQL builds cohorts with every derivation step and checks
// that stats.count of each equals a count written independently in SQL.
func TestHandlesMatchSQL(t *testing.T) {
	cut := dataCut(t)
	inT2D := "p.person_id IN (SELECT person_id FROM condition_occurrence WHERE condition_concept_id = 201826)"
	inHTN := "p.person_id IN (SELECT person_id FROM condition_occurrence WHERE condition_concept_id = 320128)"
	persons := func(where string) string { return "SELECT count(*) FROM person p WHERE " + where }
	cases := []struct {
		name string
		mk   func(e *env, b base) spec.Handle
		sql  string
	}{
		{"all", func(e *env, b base) spec.Handle { return b.all }, persons("TRUE")},
		{"with table+concepts", func(e *env, b base) spec.Handle { return b.t2d }, persons(inT2D)},
		{"with events handle", func(e *env, b base) spec.Handle { return b.htn }, persons(inHTN)},
		{"events persons", func(e *env, b base) spec.Handle { return e.derive(b.t2dEv, toPersons) }, persons(inT2D)},
		{"without", func(e *env, b base) spec.Handle {
			return e.derive(b.all, spec.Step{Without: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cT2D}}})
		}, persons("NOT " + inT2D)},
		{"age at data cut", func(e *env, b base) spec.Handle {
			return e.derive(b.all, spec.Step{Age: &spec.AgeStep{Min: 40, Max: 80}})
		}, persons(ageSQL("p", cut) + " BETWEEN 40 AND 80")},
		{"age at a date", func(e *env, b base) spec.Handle {
			return e.derive(b.all, spec.Step{Age: &spec.AgeStep{Min: 18, Max: 44, At: "2015-06-30"}})
		}, persons(ageSQL("p", "2015-06-30") + " BETWEEN 18 AND 44")},
		{"female", func(e *env, b base) spec.Handle { return b.fem }, persons("p.gender_concept_id = 8532")},
		{"male", func(e *env, b base) spec.Handle { return e.derive(b.all, spec.Step{Sex: "Male"}) }, persons("p.gender_concept_id = 8507")},
		{"and", func(e *env, b base) spec.Handle { return e.derive(b.fem, spec.Step{And: b.t2d.ID}) },
			persons("p.gender_concept_id = 8532 AND " + inT2D)},
		{"or", func(e *env, b base) spec.Handle { return e.derive(b.t2d, spec.Step{Or: b.htn.ID}) },
			persons("(" + inT2D + " OR " + inHTN + ")")},
		{"minus", func(e *env, b base) spec.Handle { return e.derive(b.htn, spec.Step{Minus: b.t2d.ID}) },
			persons(inHTN + " AND NOT " + inT2D)},
		{"of", func(e *env, b base) spec.Handle {
			return e.derive(e.derive(b.a1c, spec.Step{Of: b.fem.ID}), toPersons)
		}, "SELECT count(DISTINCT m.person_id) FROM measurement m JOIN person p USING (person_id) WHERE m.measurement_concept_id = 3004410 AND p.gender_concept_id = 8532"},
		{"of twice", func(e *env, b base) spec.Handle {
			return e.derive(e.derive(e.derive(b.a1c, spec.Step{Of: b.fem.ID}), spec.Step{Of: b.t2d.ID}), toPersons)
		}, "SELECT count(DISTINCT m.person_id) FROM measurement m JOIN person p USING (person_id) WHERE m.measurement_concept_id = 3004410 AND p.gender_concept_id = 8532 AND " + inT2D},
		{"where >=", func(e *env, b base) spec.Handle { return e.derive(b.a1cHigh, toPersons) },
			"SELECT count(DISTINCT person_id) FROM measurement WHERE measurement_concept_id = 3004410 AND value_as_number >= 6.5"},
		{"where between", func(e *env, b base) spec.Handle {
			return e.derive(e.derive(b.a1c, where("value_as_number", "between", 5.7, 6.4)), toPersons)
		}, "SELECT count(DISTINCT person_id) FROM measurement WHERE measurement_concept_id = 3004410 AND value_as_number BETWEEN 5.7 AND 6.4"},
		{"where in", func(e *env, b base) spec.Handle {
			return e.derive(e.derive(e.events("condition_occurrence"), where("condition_concept_id", "in", cT2D, cHTN)), toPersons)
		}, persons("(" + inT2D + " OR " + inHTN + ")")},
		{"where not in, is not null", func(e *env, b base) spec.Handle {
			m := e.derive(e.events("measurement"), where("measurement_concept_id", "not in", cHbA1c, cBMI))
			return e.derive(e.derive(m, where("value_as_number", "is not null")), toPersons)
		}, "SELECT count(DISTINCT person_id) FROM measurement WHERE measurement_concept_id NOT IN (3004410, 3038553) AND value_as_number IS NOT NULL"},
		{"within", func(e *env, b base) spec.Handle { return e.derive(b.htn2020, toPersons) },
			"SELECT count(DISTINCT person_id) FROM condition_occurrence WHERE condition_concept_id = 320128 AND condition_start_date BETWEEN DATE '2020-01-01' AND DATE '2021-12-31'"},
		{"with a filtered events handle", func(e *env, b base) spec.Handle {
			return e.derive(b.fem, spec.Step{With: &spec.Has{Handle: b.a1cHigh.ID}})
		}, persons("p.gender_concept_id = 8532 AND p.person_id IN (SELECT person_id FROM measurement WHERE measurement_concept_id = 3004410 AND value_as_number >= 6.5)")},
		{"without a dated handle", func(e *env, b base) spec.Handle {
			return e.derive(b.htn, spec.Step{Without: &spec.Has{Handle: b.htn2020.ID}})
		}, persons(inHTN + " AND p.person_id NOT IN (SELECT person_id FROM condition_occurrence WHERE condition_concept_id = 320128 AND condition_start_date BETWEEN DATE '2020-01-01' AND DATE '2021-12-31')")},
		{"fitbit", func(e *env, b base) spec.Handle {
			return e.derive(e.derive(e.events("activity_summary"), where("steps", ">", 10000)), toPersons)
		}, "SELECT count(DISTINCT person_id) FROM activity_summary WHERE steps > 10000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A fresh session per case: cases nested with each other and
			// differing by a few persons would otherwise be suppressed as
			// differences (tested in TestDifferencing).
			e := newEnv(t)
			h := c.mk(e, newBase(e))
			want := queryInt(t, c.sql)
			if want < 21 {
				t.Fatalf("test cohort %s has only %d persons: pick a larger one", c.name, want)
			}
			got := e.count(h)
			if v := released(t, c.name, got); v != float64(want) {
				t.Errorf("count %v, SQL %d", v, want)
			}
			if got.Text != thousands(want) {
				t.Errorf("text %q, want %q", got.Text, thousands(want))
			}
			// The description is built from the researcher's names only.
			if h.Kind != spec.KindCohort || h.Desc == "" || strings.Contains(h.Desc, fmt.Sprint(want)) {
				t.Errorf("handle %+v", h)
			}
			for _, v := range []string{"6.5", "5.7", "10000"} {
				if strings.Contains(h.Desc, v) {
					t.Errorf("description %q shows the filter value %s", h.Desc, v)
				}
			}
		})
	}
	e := newEnv(t)
	b := newBase(e)
	if b.t2dEv.Kind != spec.KindEvents || b.t2dEv.Table != "condition_occurrence" || b.t2d.Kind != spec.KindCohort || b.t2d.Table != "" {
		t.Errorf("handle kinds: %+v %+v", b.t2dEv, b.t2d)
	}
}
