package analysis_test

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"enclave/api/spec"
)

// TestSQLQuantileWindowSwap is review 55's step: the median of a cohort
// whose window holds a target, then of the same cohort without the target
// and padded by 22 persons with readings far below and above (so that the
// two cohorts are 23 persons apart and the median falls at the same
// place). The two windows differ by the target and one neighbour, and so
// do their values; summed over every rank such differences gave a
// person's LDL. Here it is BMI, of persons with one reading. The second
// median is hidden; a median whose window holds other persons (the cohort
// moved 30 ranks up) is released.
func TestSQLQuantileWindowSwap(t *testing.T) {
	singles := fmt.Sprintf(`measurement_concept_id = %[1]d AND value_as_number IS NOT NULL AND person_id IN (
		SELECT person_id FROM measurement WHERE measurement_concept_id = %[1]d GROUP BY person_id HAVING count(*) = 1)`, cBMI)
	rows := queryRows(t, "SELECT value_as_number FROM measurement WHERE "+singles+" ORDER BY 1")
	vals := make([]float64, len(rows))
	for i, r := range rows {
		vals[i] = r[0].(float64)
	}
	// unique reports whether vals[i] is no one else's: leaving it out
	// leaves out one person.
	unique := func(i int) bool {
		return (i == 0 || vals[i-1] != vals[i]) && (i+1 == len(vals) || vals[i+1] != vals[i])
	}
	// The target m, with 50 persons below and above it in the cohort
	// and 11 more beyond either end to pad with, and a reading unlike
	// that of the neighbour who replaces it in the padded cohort's
	// window, so that the two medians differ as shown.
	m := -1
	for i := 61; i+62+30 <= len(vals); i++ {
		if unique(i) && vals[10] < vals[i-50] && vals[i+50] < vals[len(vals)-11] && math.Abs(vals[i]-vals[i+11]) >= 0.5 {
			m = i
			break
		}
	}
	if m < 0 {
		t.Fatalf("the fixture has no BMI target among %d persons with one reading", len(vals))
	}
	// The persons whose reading lies in vals[lo..hi], without the target
	// when out, and with the 11 lowest and 11 highest when padded.
	median := func(e *env, lo, hi int, out, padded bool) string {
		where := fmt.Sprintf("value_as_number BETWEEN %v AND %v", vals[lo], vals[hi])
		if out {
			where += fmt.Sprintf(" AND value_as_number <> %v", vals[m])
		}
		if padded {
			where = fmt.Sprintf("(%s OR value_as_number <= %v OR value_as_number >= %v)", where, vals[10], vals[len(vals)-11])
		}
		return firstRow(t, e.sql("SELECT median(value_as_number) AS md FROM measurement WHERE "+singles+" AND "+where))[0]
	}
	e := newEnv(t)
	with := median(e, m-50, m+50, false, false)
	if !shownNumber(with) {
		t.Fatalf("the cohort's median: %q, want released", with)
	}
	if without := median(e, m-50, m+50, true, true); shownNumber(without) {
		t.Errorf("padded cohort without the target: median %s released beside %s (their windows differ by the target and a neighbour)", without, with)
	}
	if moved := median(e, m-20, m+80, false, false); !shownNumber(moved) {
		t.Errorf("the cohort 30 ranks up: median %q hidden, want released", moved)
	}
	// Run again, the first result is released as before.
	if again := median(e, m-50, m+50, false, false); again != with {
		t.Errorf("the first query again: %q, want %q", again, with)
	}
}

// TestQuantileWindowsHonestSequence: a researcher's Describes of one
// reading over a cohort, its subgroups and a sub-cohort (HbA1c of all,
// by sex, of diabetics, by age group, by sex and age group; age by sex)
// keep their quartiles: a window near an earlier one is hidden only when
// it shows another value, and here few do. Each Describe is also run
// alone, in a workspace of its own: what it shows there and not in the
// sequence is the window rule's cost.
func TestQuantileWindowsHonestSequence(t *testing.T) {
	type step struct {
		handle func(e *env) spec.Handle
		column string
		by     []string
	}
	a1c := func(e *env) spec.Handle { return e.events("measurement", cHbA1c) }
	a1cT2D := func(e *env) spec.Handle {
		t2d := e.derive(e.persons(), spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cT2D}}})
		return e.derive(a1c(e), spec.Step{Of: t2d.ID})
	}
	persons := func(e *env) spec.Handle { return e.persons() }
	steps := []step{
		{a1c, "value_as_number", nil},
		{a1c, "value_as_number", []string{"gender"}},
		{a1cT2D, "value_as_number", nil},
		{a1cT2D, "value_as_number", []string{"gender"}},
		{a1c, "value_as_number", []string{"age_group"}},
		{a1c, "value_as_number", []string{"gender", "age_group"}},
		{persons, "age", nil},
		{persons, "age", []string{"gender"}},
	}
	// quartiles is which of q1, median and q3 each row shows.
	quartiles := func(e *env, s step) []bool {
		var out []bool
		for _, r := range e.table(spec.MDescribe, spec.DescribeArgs{Handle: s.handle(e).ID, Column: s.column, By: s.by}).Rows {
			for _, c := range r[len(r)-3:] {
				out = append(out, c.Value != nil)
			}
		}
		return out
	}
	e := newEnv(t)
	alone, lost := 0, 0
	for _, s := range steps {
		inSequence, byItself := quartiles(e, s), quartiles(newEnv(t), s)
		if len(inSequence) != len(byItself) {
			t.Fatalf("%s by %v: %d quartiles in sequence, %d alone", s.column, s.by, len(inSequence), len(byItself))
		}
		for i, ok := range byItself {
			if ok {
				alone++
				if !inSequence[i] {
					lost++
				}
			}
		}
	}
	if alone < 40 || lost > alone/10 {
		t.Errorf("%d quartiles shown alone, %d of them hidden in sequence: want nearly all shown", alone, lost)
	}
	t.Logf("%d quartiles shown alone, %d of them hidden in sequence", alone, lost)
}

// TestSQLMediansOfTwoColumns: the medians of two columns in one query are
// both shown: their windows hold other persons. (The rank-overlap rule
// once compared them by rank and hid the second.)
func TestSQLMediansOfTwoColumns(t *testing.T) {
	// Three ranks above the median: its window overlaps the median's.
	p := 0.5 + 3/float64(queryInt(t, "SELECT count(*) FROM activity_summary WHERE steps IS NOT NULL")-1)
	f := firstRow(t, newEnv(t).sql(fmt.Sprintf("SELECT median(a.steps) AS s, median(a.calories_out) AS c, quantile_cont(a.steps, %v) AS near FROM activity_summary a", p)))
	if !shownNumber(f[0]) || !shownNumber(f[1]) || shownNumber(f[2]) {
		t.Errorf("medians of steps and calories, and steps' quantile 3 ranks above: %v, want the medians shown and the quantile hidden", f[:3])
	}
}

// TestSQLWindowBesideMean is review 56's attack: W is exactly 21 persons
// with one body weight reading each (women with a reading in [a, b)), and
// P one more person, picked by birth year, sex and race, with a reading
// from b up. The mean over W and P, and a quantile whose window is exactly
// W (the cohort is every reading below a, W, and every reading from b up,
// and the rank is just past the readings below a), give P's reading as
// 22·mean − 21·window. Whichever comes second is hidden.
func TestSQLWindowBesideMean(t *testing.T) {
	const weight = 3025315
	from := fmt.Sprintf(` FROM measurement m JOIN person p ON p.person_id = m.person_id WHERE m.measurement_concept_id = %[1]d
		AND m.value_as_number IS NOT NULL AND m.person_id IN (
		SELECT person_id FROM measurement WHERE measurement_concept_id = %[1]d GROUP BY person_id HAVING count(*) = 1)`, weight)
	// A block [a, b) holding exactly 21 women, with 30 or more readings
	// below a and from b up.
	women := queryRows(t, "SELECT m.value_as_number"+from+" AND p.gender_concept_id = 8532 ORDER BY 1")
	all := queryRows(t, "SELECT m.value_as_number"+from+" ORDER BY 1")
	value := func(r []any) float64 { return r[0].(float64) }
	var a, b float64
	for k := 1; k+21 < len(women); k++ {
		a, b = value(women[k]), value(women[k+21])
		if value(women[k-1]) == a || value(women[k+20]) == b {
			continue
		}
		below := 0
		for _, r := range all {
			if value(r) < a {
				below++
			}
		}
		if below >= 30 && len(all)-below-21 >= 30 {
			break
		}
		a, b = 0, 0
	}
	if b == 0 {
		t.Fatalf("the fixture has no block of 21 women among %d with one weight reading", len(women))
	}
	// P: a man from b up, alone with his birth year and race among them.
	ps := queryRows(t, "SELECT min(p.year_of_birth), min(p.race_concept_id)"+from+
		fmt.Sprintf(" AND p.gender_concept_id = 8507 AND m.value_as_number >= %v GROUP BY p.year_of_birth, p.race_concept_id HAVING count(*) = 1 ORDER BY 1, 2 LIMIT 1", b))
	if len(ps) == 0 {
		t.Fatal("the fixture has no man to pick out")
	}
	pick := fmt.Sprintf("(p.gender_concept_id = 8507 AND p.year_of_birth = %v AND p.race_concept_id = %v AND m.value_as_number >= %v)", ps[0][0], ps[0][1], b)
	block := fmt.Sprintf("(p.gender_concept_id = 8532 AND m.value_as_number >= %v AND m.value_as_number < %v)", a, b)
	cohort := fmt.Sprintf("(m.value_as_number < %v OR m.value_as_number >= %v OR %s)", a, b, block)
	below := queryInt(t, "SELECT count(*)"+from+fmt.Sprintf(" AND m.value_as_number < %v", a))
	n := queryInt(t, "SELECT count(*)"+from+" AND "+cohort)
	first := func(e *env, query string) string { return firstRow(t, e.sql(query))[0] }
	mean := "SELECT avg(m.value_as_number) AS value" + from + " AND (" + block + " OR " + pick + ")"
	window := fmt.Sprintf("SELECT quantile_cont(m.value_as_number, %v) AS value", float64(below+10)/float64(n-1)) + from + " AND " + cohort
	for _, order := range [][2]string{{mean, window}, {window, mean}} {
		e := newEnv(t)
		one, two := first(e, order[0]), first(e, order[1])
		if !shownNumber(one) || shownNumber(two) {
			t.Errorf("%s\nthen\n%s\ngave %s and %s: want the first only", order[0], order[1], one, two)
		}
	}
}

// TestSQLThenDescribeSameRows: a %sql median or mean of a lab, and then a
// stats.Describe of the same lab's handle, read the same rows of the same
// persons: both are released, in either order and by sex (the Describe
// was hidden whole, review 56), and so is the same %sql query with an
// alias added. A %sql query whose rows a subquery picks is still another
// statistic over the same persons, and hidden.
func TestSQLThenDescribeSameRows(t *testing.T) {
	// Groups of 100 persons or more show every value (a small third sex
	// level shows no quartiles, for its own persons' sake).
	shown := func(tb *spec.Table) bool {
		for _, r := range tb.Rows {
			for i, c := range r {
				if i > 0 && c.Value == nil && r[1].Value != nil && *r[1].Value >= 100 {
					return false
				}
			}
		}
		return len(tb.Rows) > 0
	}
	numbers := func(text string) bool {
		lines := strings.Split(text, "\n")
		rows := 0
		for i, l := range lines {
			if !strings.HasPrefix(l, "--") {
				continue
			}
			for _, row := range lines[i+1:] {
				f := strings.Fields(row)
				if len(f) == 0 || f[0] == "Notes:" {
					break
				}
				if n, err := strconv.Atoi(strings.ReplaceAll(f[len(f)-1], ",", "")); err == nil && n >= 100 {
					rows++
					if slices.Contains(f, "*") {
						return false
					}
				}
			}
		}
		return rows > 0
	}
	const lab = "FROM measurement WHERE measurement_concept_id = 3004410"
	e := newEnv(t)
	a1c := e.events("measurement", cHbA1c)
	if text := e.sql("SELECT count(*) AS n, median(value_as_number) AS md, avg(value_as_number) AS mean " + lab); !numbers(text) {
		t.Fatalf("the %%sql check:\n%s", text)
	}
	if tb := e.table(spec.MDescribe, spec.DescribeArgs{Handle: a1c.ID, Column: "value_as_number"}); !shown(tb) {
		t.Errorf("Describe after the %%sql check: %v", tb.Rows)
	}
	if tb := e.table(spec.MDescribe, spec.DescribeArgs{Handle: a1c.ID, Column: "value_as_number", By: []string{"gender"}}); !shown(tb) {
		t.Errorf("Describe by sex: %v", tb.Rows)
	}
	if text := e.sql("SELECT p.gender_concept_id, median(m.value_as_number) AS md, avg(m.value_as_number) AS mean FROM measurement m JOIN person p USING (person_id) WHERE m.measurement_concept_id = 3004410 GROUP BY 1"); !numbers(text) {
		t.Errorf("%%sql by sex after the Describe by sex:\n%s", text)
	}
	if text := e.sql("SELECT median(m.value_as_number) AS md FROM measurement m WHERE m.measurement_concept_id = 3004410"); !numbers(text) {
		t.Errorf("the %%sql check with an alias:\n%s", text)
	}
	// The other order, with a count of rows: a Describe of BMI, then the
	// %sql count of its rows (review 59).
	if tb := e.table(spec.MDescribe, spec.DescribeArgs{Handle: e.events("measurement", cBMI).ID, Column: "value_as_number"}); !shown(tb) {
		t.Errorf("Describe of BMI: %v", tb.Rows)
	}
	if text := e.sql(fmt.Sprintf("SELECT count(*) AS n, avg(value_as_number) AS mean FROM measurement WHERE measurement_concept_id = %d", cBMI)); !numbers(text) {
		t.Errorf("%%sql count and mean of BMI after its Describe:\n%s", text)
	}
	picked := e.sql("SELECT avg(m.value_as_number) AS mean FROM measurement m WHERE m.measurement_concept_id = 3004410 AND m.person_id IN (SELECT person_id FROM measurement WHERE measurement_concept_id = 3004410)")
	if numbers(picked) {
		t.Errorf("rows picked by a subquery, the same persons: released\n%s", picked)
	}
	// Review 62: stats.Count of the rows by sex, then the same counts and
	// means in %sql, its names unqualified in a join with person.
	e = newEnv(t)
	a1c = e.events("measurement", cHbA1c)
	if tb := e.table(spec.MCount, spec.CountArgs{Handle: a1c.ID, By: []string{"gender"}}); !shown(tb) {
		t.Errorf("Count by sex: %v", tb.Rows)
	}
	if text := e.sql("SELECT gender_concept_id, count(*) AS n, avg(value_as_number) AS mean FROM measurement JOIN person USING (person_id) WHERE measurement_concept_id = 3004410 GROUP BY gender_concept_id"); !numbers(text) {
		t.Errorf("%%sql by sex, names unqualified, after the Count by sex:\n%s", text)
	}
}

// firstRow is the fields of the first row of a %sql result's text.
func firstRow(t *testing.T, text string) []string {
	t.Helper()
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "--") && i+1 < len(lines) {
			return strings.Fields(lines[i+1])
		}
	}
	t.Fatalf("no row:\n%s", text)
	return nil
}

// shownNumber reports whether a %sql cell's text is a number.
func shownNumber(s string) bool { _, err := strconv.ParseFloat(s, 64); return err == nil }
