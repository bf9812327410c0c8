package datasets

import (
	"strings"
	"testing"
)

func TestQueryChecks(t *testing.T) {
	person := &TableInfo{Name: "person", HasPerson: true, Columns: []Column{
		{Name: "person_id", Type: "BIGINT"}, {Name: "gender_concept_id", Type: "INTEGER", Concept: true},
		{Name: "year_of_birth", Type: "INTEGER"}}}
	cond := &TableInfo{Name: "condition_occurrence", HasPerson: true, Columns: []Column{
		{Name: "condition_occurrence_id", Type: "BIGINT"}, {Name: "person_id", Type: "BIGINT"},
		{Name: "condition_concept_id", Type: "INTEGER", Concept: true}, {Name: "condition_start_date", Type: "DATE"}}}
	vocab := &TableInfo{Name: "concept"}
	tables := map[string]*TableInfo{"person": person, "condition_occurrence": cond, "concept": vocab}
	noPerson := map[string]*TableInfo{"condition_occurrence": cond}

	if got, err := QueryTable(tables, "registered", " Condition_Occurrence "); err != nil || got != cond {
		t.Errorf("QueryTable: %v %v", got, err)
	}
	for name, want := range map[string]string{"drug_exposure": "no table", "concept": "has no person_id"} {
		if _, err := QueryTable(tables, "registered", name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("QueryTable(%s) = %v, want %q", name, err, want)
		}
	}

	cases := []struct {
		tables map[string]*TableInfo
		t      *TableInfo
		ref    string
		want   ColumnRef
		err    string
	}{
		{tables, cond, "condition_concept_id", ColumnRef{Column: cond.Columns[2]}, ""},
		{tables, cond, " YEAR( condition_start_date ) ", ColumnRef{Column: cond.Columns[3], Func: "year"}, ""},
		{tables, cond, "person.year_of_birth", ColumnRef{Column: person.Columns[2], Joined: true}, ""},
		{tables, person, "person.year_of_birth", ColumnRef{Column: person.Columns[2]}, ""},
		{tables, cond, "month(condition_concept_id)", ColumnRef{}, "not a date column"},
		{tables, cond, "visit_concept_id", ColumnRef{}, `no column "visit_concept_id" in table condition_occurrence`},
		{tables, cond, "person.race_concept_id", ColumnRef{}, `no column "person.race_concept_id" in table person`},
		{noPerson, cond, "person.year_of_birth", ColumnRef{}, "the registered tier has no person table"},
	}
	for _, c := range cases {
		got, err := ResolveColumn(c.tables, "registered", c.t, c.ref)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ResolveColumn(%q) = %+v, %v; want error %q", c.ref, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ResolveColumn(%q) = %+v, %v; want %+v", c.ref, got, err, c.want)
		}
	}

	for ref, want := range map[string]bool{
		"person_id": true, "condition_occurrence_id": true, "condition_concept_id": false,
		"condition_start_date": false, "visit_occurrence_id": true, "person.gender_concept_id": false, "person.person_id": true,
	} {
		if got := IsIdentifier(tables, cond, ref); got != want {
			t.Errorf("IsIdentifier(%q) = %v, want %v", ref, got, want)
		}
	}
	if !IsIdentifier(noPerson, cond, "person.gender_concept_id") {
		t.Error("without a person table, a person.*_id reference is an identifier")
	}
}
