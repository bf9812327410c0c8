package analysis_test

import (
	"fmt"
	"testing"

	"enclave/api/spec"
)

const cLDL = 3028437 // LDL cholesterol measurement

// ldlSingles is the fixture's persons with exactly one LDL reading: their
// readings, ascending, with each person.
func ldlSingles(t *testing.T) (vals []float64, pids []int64) {
	t.Helper()
	rows := queryRows(t, fmt.Sprintf(`SELECT value_as_number, person_id FROM measurement WHERE measurement_concept_id = %[1]d
		AND value_as_number IS NOT NULL AND person_id IN (SELECT person_id FROM measurement WHERE measurement_concept_id = %[1]d
		GROUP BY person_id HAVING count(*) = 1) ORDER BY 1, 2`, cLDL))
	for _, r := range rows {
		vals = append(vals, r[0].(float64))
		pids = append(pids, r[1].(int64))
	}
	return vals, pids
}

// TestDescribeSpreadOfOneFarPerson is review 60's one-cell attack on a
// person's LDL: the persons whose only LDL reading lies in a narrow band
// (padding of known range) and one person far above it. The sd is then
// mostly that person's deviation (95–97% of the squared deviations in the
// review), and with the mean it gave their reading. The sd is held to the
// dominance rules over each person's share of the squared deviations; the
// padding alone, and everyone's LDL, keep theirs.
func TestDescribeSpreadOfOneFarPerson(t *testing.T) {
	vals, pids := ldlSingles(t)
	if len(vals) < 200 {
		t.Fatalf("%d persons with one LDL reading in the fixture", len(vals))
	}
	// A band of 60 persons around the median of the singles, over at
	// least 6 values (not the few-values table), and the highest reading.
	mid := len(vals) / 2
	lo, hi := vals[mid-30], vals[mid+29]
	distinct := map[float64]bool{}
	for _, v := range vals[mid-30 : mid+30] {
		distinct[v] = true
	}
	top, target := vals[len(vals)-1], pids[len(pids)-1]
	if len(distinct) < 6 || top-hi < 40 || vals[len(vals)-2] == top {
		t.Fatalf("the fixture's LDL band [%v, %v] holds %d values, the highest reading %v", lo, hi, len(distinct), top)
	}
	e := newEnv(t)
	ldl := e.events("measurement", cLDL)
	only := func(lo, hi float64) spec.Handle { // persons whose LDL readings all lie in [lo, hi]
		c := e.derive(e.persons(), spec.Step{With: &spec.Has{Handle: e.derive(ldl, where("value_as_number", "between", lo, hi)).ID}})
		c = e.derive(c, spec.Step{Without: &spec.Has{Handle: e.derive(ldl, where("value_as_number", "<", lo)).ID}})
		return e.derive(c, spec.Step{Without: &spec.Has{Handle: e.derive(ldl, where("value_as_number", ">", hi)).ID}})
	}
	describe := func(c spec.Handle) []spec.Cell {
		tab := e.table(spec.MDescribe, spec.DescribeArgs{Handle: e.derive(ldl, spec.Step{Of: c.ID}).ID, Column: "value_as_number"})
		if len(tab.Rows) != 1 {
			t.Fatalf("Describe: %d rows", len(tab.Rows))
		}
		return tab.Rows[0] // persons, rows, mean, sd, q1, median, q3
	}
	pad := only(lo, hi)
	far := e.derive(pad, spec.Step{Or: only(top, top).ID})
	r := describe(far)
	if r[3].Value != nil || r[3].Status != spec.Dominance {
		t.Errorf("padding of [%v, %v] and person %d (LDL %v): sd %q (status %q), want hidden as dominated", lo, hi, target, top, r[3].Text, r[3].Status)
	}
	if r[0].Value == nil || r[2].Value == nil {
		t.Errorf("padding and one person: persons %q, mean %q, want shown (the mean is the padding's sum and theirs, unknown)", r[0].Text, r[2].Text)
	}
	// An honest Describe of the padding alone, and of everyone's LDL (on
	// a fresh history: beside the first, the padding differs by one).
	e = newEnv(t)
	ldl = e.events("measurement", cLDL)
	if r := describe(only(lo, hi)); r[3].Value == nil {
		t.Errorf("the padding alone: sd hidden (%q)", r[3].Status)
	}
	if r := describe(e.persons()); r[3].Value == nil {
		t.Errorf("everyone's LDL: sd hidden (%q)", r[3].Status)
	}
}

// TestDescribeFewValuesIsATableOfCounts is review 60's other route: a
// Describe of age over a cohort of 4 single years released its count,
// mean, sd and quartiles, which decode to how many persons have each age,
// hidden counts of 9 to 19 included. Over 4 or 5 values the statistics are
// released only when every value is held by 21 persons or more, as the
// table of counts would be; and padding of 3 known LDL values with one
// person (4 values, one of them one person's) gave that person's reading.
func TestDescribeFewValuesIsATableOfCounts(t *testing.T) {
	const at = "2020-01-01"
	ages := queryRows(t, `SELECT a, count(*), count(*) FILTER (WHERE gender_concept_id = 8507) FROM (
		SELECT 2020 - year_of_birth - CASE WHEN month_of_birth * 100 + day_of_birth > 101 THEN 1 ELSE 0 END AS a, gender_concept_id FROM person)
		GROUP BY a ORDER BY a`)
	count := map[int64][2]int64{}
	for _, r := range ages {
		count[r[0].(int64)] = [2]int64{r[1].(int64), r[2].(int64)}
	}
	// Four years all of 21 persons or more, and four of which the men of
	// one number 1–20.
	wide, thin := int64(-1), int64(-1)
	for a := int64(20); a < 80; a++ {
		allBig, menSmall, menBig := true, false, true
		for y := a; y < a+4; y++ {
			allBig = allBig && count[y][0] >= 21
			menSmall = menSmall || count[y][1] >= 1 && count[y][1] <= 20
			menBig = menBig && count[y][1] >= 1
		}
		if allBig && wide < 0 {
			wide = a
		}
		if menSmall && menBig && thin < 0 {
			thin = a
		}
	}
	if wide < 0 || thin < 0 {
		t.Fatalf("the fixture has no run of 4 ages of 21 persons or more (%d), or with 1–20 men in one (%d)", wide, thin)
	}
	e := newEnv(t)
	describe := func(c spec.Handle) []spec.Cell {
		tab := e.table(spec.MDescribe, spec.DescribeArgs{Handle: c.ID, Column: "age", At: at})
		return tab.Rows[0] // persons, (no rows), mean, sd, q1, median, q3
	}
	band := func(c spec.Handle, a int64) spec.Handle {
		return e.derive(c, spec.Step{Age: &spec.AgeStep{Min: int(a), Max: int(a) + 3, At: at}})
	}
	men := e.derive(e.persons(), spec.Step{Sex: "male"})
	r := describe(band(men, thin))
	for i, c := range r[2:] {
		if c.Value != nil {
			t.Errorf("men aged %d–%d (one age of 1–20 men): statistic %d shown %q", thin, thin+3, i, c.Text)
		}
	}
	if r := describe(band(e.persons(), wide)); r[2].Value == nil || r[3].Value == nil {
		t.Errorf("everyone aged %d–%d (each age of 21 or more): mean %q, sd %q, want shown", wide, wide+3, r[2].Status, r[3].Status)
	}
}

// TestSQLSpreadAndFewValues is review 60's %sql form: count, avg, stddev
// and median of a column over padding of 3 known values and one person
// gave their day, month and year of birth, one query each. Over 4 values
// the mean and sd are hidden (a %sql query's value counts are not known,
// so as any table of 4 or 5 values); over more, a far person's sd is held
// to the dominance rules over the squared deviations.
func TestSQLSpreadAndFewValues(t *testing.T) {
	vals, _ := ldlSingles(t)
	mid := len(vals) / 2
	lo, hi, top := vals[mid-30], vals[mid+29], vals[len(vals)-1]
	singles := fmt.Sprintf(`measurement_concept_id = %[1]d AND value_as_number IS NOT NULL AND person_id IN (
		SELECT person_id FROM measurement WHERE measurement_concept_id = %[1]d GROUP BY person_id HAVING count(*) = 1)`, cLDL)
	e := newEnv(t)
	row := firstRow(t, e.sql(fmt.Sprintf("SELECT count(*) AS n, avg(value_as_number) AS m, stddev(value_as_number) AS sd FROM measurement WHERE %s AND (value_as_number BETWEEN %v AND %v OR value_as_number = %v)", singles, lo, hi, top)))
	if !shownNumber(row[0]) || !shownNumber(row[1]) || shownNumber(row[2]) {
		t.Errorf("padding of [%v, %v] and the one reading of %v: n, mean, sd = %q, want the sd alone hidden", lo, hi, top, row)
	}
	// HbA1c: its values lie far from zero, so Σ|x| is many times the
	// squared deviations; the far reading's share is of the latter.
	a1c := queryRows(t, fmt.Sprintf(`SELECT value_as_number, count(*) FROM measurement WHERE measurement_concept_id = %d
		AND value_as_number IS NOT NULL GROUP BY 1 ORDER BY 1`, cHbA1c))
	// The five lowest values, and the one highest reading, far above.
	last := a1c[len(a1c)-1]
	if len(a1c) < 10 || last[1].(int64) != 1 {
		t.Fatalf("the fixture's HbA1c has %d values, or no single highest reading", len(a1c))
	}
	band := []float64{a1c[0][0].(float64), a1c[4][0].(float64)}
	row = firstRow(t, newEnv(t).sql(fmt.Sprintf("SELECT count(*) AS n, avg(value_as_number) AS m, stddev(value_as_number) AS sd FROM measurement WHERE measurement_concept_id = %d AND (value_as_number BETWEEN %v AND %v OR value_as_number = %v)",
		cHbA1c, band[0], band[1], last[0])))
	if !shownNumber(row[0]) || shownNumber(row[2]) {
		t.Errorf("HbA1c in [%v, %v] and the one reading of %v: n, mean, sd = %q, want the sd hidden", band[0], band[1], last[0], row)
	}
	// Three years of birth and the one person born in another.
	years := queryRows(t, "SELECT year_of_birth FROM person GROUP BY 1 HAVING count(*) >= 30 ORDER BY 1 LIMIT 3")
	far := queryRows(t, "SELECT year_of_birth FROM person GROUP BY 1 HAVING count(*) = 1 ORDER BY 1 LIMIT 1")
	if len(years) < 3 || len(far) < 1 {
		t.Fatalf("the fixture has no 3 years of 30 persons and a year of one")
	}
	q := fmt.Sprintf("SELECT count(*) AS n, avg(year_of_birth) AS m, stddev(year_of_birth) AS sd FROM person WHERE year_of_birth IN (%d, %d, %d, %d)",
		years[0][0], years[1][0], years[2][0], far[0][0])
	if row := firstRow(t, e.sql(q)); !shownNumber(row[0]) || shownNumber(row[1]) || shownNumber(row[2]) {
		t.Errorf("3 years and one person: n, mean, sd = %q, want the mean and sd hidden (4 values)", row)
	}
}
