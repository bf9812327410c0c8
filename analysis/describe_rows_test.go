package analysis_test

import (
	"fmt"
	"testing"

	"enclave/api/spec"
)

// TestDescribeRowDifferencing is the attack of a researcher who wants one
// measurement's value: HbA1c over a date window, then over the same window
// and the next days, which add a row or two of persons already in it. The
// persons are the same, so person-set differencing sees nothing; the rows
// and the means differ by those rows' values. The second result must hide
// its rows and everything computed from them, and its persons with them,
// while a window further on (other rows altogether) is released.
func TestDescribeRowDifferencing(t *testing.T) {
	// Ground truth: the first day D of 2019 with 1–3 HbA1c rows, all of
	// persons with rows between the window's start and D's eve.
	const from = "2018-01-01"
	found := queryRows(t, fmt.Sprintf(`
		SELECT strftime(d - INTERVAL 1 DAY, '%%Y-%%m-%%d'), strftime(d, '%%Y-%%m-%%d'), n FROM (
		  SELECT m.measurement_date AS d, count(*) AS n,
		         bool_and(EXISTS (SELECT 1 FROM measurement w WHERE w.person_id = m.person_id
		           AND w.measurement_concept_id = %[1]d AND w.value_as_number IS NOT NULL
		           AND w.measurement_date BETWEEN DATE '%[2]s' AND m.measurement_date - INTERVAL 1 DAY)) AS inside
		  FROM measurement m
		  WHERE m.measurement_concept_id = %[1]d AND m.value_as_number IS NOT NULL
		    AND m.measurement_date BETWEEN DATE '2019-01-01' AND DATE '2019-12-31'
		  GROUP BY 1)
		WHERE inside AND n <= 3 ORDER BY 2 LIMIT 1`, cHbA1c, from))
	if len(found) != 1 {
		t.Fatalf("the fixture has no day in 2019 with 1–3 HbA1c rows all of persons measured since %s", from)
	}
	eve, day, extra := found[0][0].(string), found[0][1].(string), found[0][2].(int64)

	e := newEnv(t)
	hba1c := e.events("measurement", cHbA1c)
	describe := func(from, to string) *spec.Table {
		h := e.derive(hba1c, spec.Step{Within: &spec.Dates{From: from, To: to}})
		return e.table(spec.MDescribe, spec.DescribeArgs{Handle: h.ID, Column: "value_as_number"})
	}
	first := describe(from, eve)
	if len(first.Rows) != 1 {
		t.Fatalf("first: %d rows", len(first.Rows))
	}
	// persons, rows, mean, sd, q1, median, q3 (a quartile among a few
	// tied readings is hidden for them, ties.go)
	for i, c := range first.Rows[0] {
		if c.Value == nil && c.Status != spec.Ties {
			t.Fatalf("first window: column %q not released (%q)", first.Columns[i], c.Status)
		}
	}
	second := describe(from, day)
	r := second.Rows[0]
	// The persons are the same, and were released before: shown while
	// the rows are hidden they would say that the added rows are of
	// persons already in (with a person added, they would be hidden).
	if r[0].Value != nil || r[0].Status != spec.Difference {
		t.Errorf("persons shown %q (status %q) next to hidden rows, want hidden with them", r[0].Text, r[0].Status)
	}
	if r[1].Value != nil || r[1].Status != spec.Difference {
		t.Errorf("extended by %d row(s): rows shown %q (status %q), want hidden for differencing", extra, r[1].Text, r[1].Status)
	}
	for i, c := range r[2:] {
		if c.Value != nil {
			t.Errorf("extended by %d row(s): %s shown %q with its rows hidden", extra, second.Columns[i+2], c.Text)
		}
	}
	// Rows of another year: not nested with the first window's rows.
	other := describe("2020-01-01", "2020-12-31")
	for i, c := range other.Rows[0] {
		if c.Value == nil && c.Status == spec.Difference {
			t.Errorf("another year: %s hidden for differencing", other.Columns[i])
		}
	}
}
