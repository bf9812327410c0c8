package sqlagg

import (
	"context"
	"slices"
	"testing"
)

// TestEventRows: the queries that read what an events handle reads are
// recognised, with their table, concepts and the columns they read; every
// other shape is not (the rules then take it for other rows).
func TestEventRows(t *testing.T) {
	db := openTestDB(t)
	cases := []struct {
		query    string
		concepts []int64
		reads    string // the column the first derived item reads, "" if none qualifies
	}{
		{"SELECT median(value_as_number) FROM measurement WHERE measurement_concept_id = 3004249", []int64{3004249}, "value_as_number"},
		{"SELECT avg(m.value_as_number) FROM measurement m WHERE m.measurement_concept_id IN (3004249, 3025315)", []int64{3004249, 3025315}, "value_as_number"},
		{"SELECT avg(m.value_as_number) FROM measurement m WHERE m.measurement_concept_id IN (3004249, 3004249)", []int64{3004249}, "value_as_number"},
		{"SELECT p.gender_concept_id, avg(m.value_as_number) FROM measurement m JOIN person p ON p.person_id = m.person_id WHERE 3004249 = m.measurement_concept_id AND m.value_as_number IS NOT NULL GROUP BY 1", []int64{3004249}, "value_as_number"},
		{"SELECT p.gender_concept_id, avg(m.value_as_number) FROM person p JOIN measurement m USING (person_id) WHERE m.measurement_concept_id = 3004249 GROUP BY p.gender_concept_id", []int64{3004249}, "value_as_number"},
		// Unqualified names in a join, each of one table (review 62).
		{"SELECT gender_concept_id, avg(value_as_number) FROM measurement JOIN person USING (person_id) WHERE measurement_concept_id = 3004249 GROUP BY gender_concept_id", []int64{3004249}, "value_as_number"},
		// A NOT NULL test of another column leaves rows out.
		{"SELECT avg(m.value_as_number) FROM measurement m WHERE m.measurement_concept_id = 3004249 AND m.unit_concept_id IS NOT NULL", []int64{3004249}, ""},
		// Not the shape.
		{"SELECT avg(m.value_as_number) FROM measurement m WHERE m.measurement_concept_id IN (3004249, 3025315) AND m.measurement_concept_id = 3004249", nil, ""},
		{"SELECT avg(m.value_as_number) FROM measurement m WHERE m.measurement_concept_id = 3004249 AND m.value_as_number > 100", nil, ""},
		{"SELECT avg(m.value_as_number) FROM measurement m WHERE m.measurement_concept_id = 3004249 AND m.person_id IN (SELECT person_id FROM condition_occurrence)", nil, ""},
		{"SELECT m.unit_concept_id, avg(m.value_as_number) FROM measurement m WHERE m.measurement_concept_id = 3004249 GROUP BY 1", nil, ""},
		{"SELECT avg(m.value_as_number) FROM measurement m", nil, ""},
		{"SELECT avg(m.value_as_number) FROM measurement m LEFT JOIN person p ON p.person_id = m.person_id WHERE m.measurement_concept_id = 3004249", nil, ""},
		{"WITH x AS (SELECT * FROM measurement) SELECT avg(x.value_as_number) FROM measurement x WHERE x.measurement_concept_id = 3004249", nil, ""},
	}
	for _, tc := range cases {
		p, err := Rewrite(context.Background(), db, tc.query, testSchema)
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		ev := p.Events
		if (ev != nil) != (tc.concepts != nil) || ev != nil && (ev.Table != "measurement" || !slices.Equal(ev.Concepts, tc.concepts)) {
			t.Errorf("%s: events %+v, want concepts %v", tc.query, ev, tc.concepts)
			continue
		}
		var part Part
		for _, it := range p.Items {
			if it.Kind == KindDerived {
				part = it.Parts[0]
				break
			}
		}
		col, ok := ev.Reads(part.Arg)
		if ok != (tc.reads != "") || col != tc.reads {
			t.Errorf("%s: reads %q (%v), want %q", tc.query, col, ok, tc.reads)
		}
	}
}
