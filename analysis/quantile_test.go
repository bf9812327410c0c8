package analysis_test

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"enclave/api/spec"
)

// TestDescribeSandwich is the attack on a median: a cohort whose rows are
// a block of low values (creatinine), one person's BMI, and a block of
// high values (blood pressure) cut to the low block's size puts that
// person's BMI at the median rank. 21 persons lie on each side, so the
// tail rule passes; an interpolated median would be the BMI itself. The
// released median is the mean of the rows around that rank, out to 21
// persons, as the ground truth computes it, and not the person's value.
func TestDescribeSandwich(t *testing.T) {
	sw := findSandwich(t)
	e := newEnv(t)
	target := sw.target(e)
	k := e.derive(e.derive(e.persons(), spec.Step{Without: &spec.Has{Table: "measurement", Concepts: []int64{cBMI}}}), spec.Step{Or: target.ID})
	h := e.derive(e.derive(e.events("measurement", cCreatinine, cBMI, cSBP), spec.Step{Of: k.ID}),
		spec.Step{Where: &spec.Filter{Column: "value_as_number", Op: "<", Values: []any{sw.cut}}})
	tab := e.table(spec.MDescribe, spec.DescribeArgs{Handle: h.ID, Column: "value_as_number"})
	// persons, rows, mean, sd, q1, median, q3
	sw.check(t, tab.Rows[0][5])
}

// TestSQLSandwich is the same attack in %sql, with the target singled out
// by their condition, sex and year of birth.
func TestSQLSandwich(t *testing.T) {
	sw := findSandwich(t)
	target := fmt.Sprintf("(p.person_id IN (SELECT person_id FROM condition_occurrence WHERE condition_concept_id = %d) AND p.gender_concept_id = %d AND p.year_of_birth = %d)", sw.cc, sw.gc, sw.yob)
	q := fmt.Sprintf(`SELECT count(*) AS n, median(m.value_as_number) AS med FROM person p JOIN measurement m USING (person_id)
		WHERE m.measurement_concept_id IN (%d, %d, %d) AND m.value_as_number < %v
		AND (%s OR p.person_id NOT IN (SELECT person_id FROM measurement WHERE measurement_concept_id = %d))`, cCreatinine, cBMI, cSBP, sw.cut, target, cBMI)
	text := newEnv(t).sql(q)
	var n, med string
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "--") {
			f := strings.Fields(strings.Split(text, "\n")[i+1])
			n, med = f[0], f[1]
		}
	}
	if n != fmt.Sprintf("%d", len(sw.rows)) {
		t.Fatalf("%%sql counted %s rows, the sandwich has %d:\n%s", n, len(sw.rows), text)
	}
	v, err := strconv.ParseFloat(med, 64)
	if err != nil {
		t.Fatalf("median %q not released:\n%s", med, text)
	}
	sw.check(t, spec.Cell{Value: &v, Text: med})
}

// cCreatinine is a measurement whose values (0.3–3.4) lie below any BMI,
// as BMI's lie below any systolic blood pressure.
const cCreatinine = 3016723

// sandwich is a cohort whose rows put one person's BMI at the median rank.
type sandwich struct {
	cc, gc, yob, pid int64
	sex              string
	value            float64 // the target's BMI
	cut              float64 // blood pressure values kept are below it
	rows             []personValue
}

// findSandwich finds the target (the one person of a condition, sex and
// year of birth, with one BMI row) and the cut that makes the high block
// as long as the low one, and checks that the interpolated median is the
// target's BMI.
func findSandwich(t *testing.T) sandwich {
	t.Helper()
	found := queryRows(t, fmt.Sprintf(`
		WITH one AS (SELECT person_id FROM measurement WHERE measurement_concept_id = %[1]d GROUP BY 1 HAVING count(*) = 1),
		     g AS (SELECT c.condition_concept_id AS cc, p.gender_concept_id AS gc, p.year_of_birth AS y, count(DISTINCT p.person_id) AS n, min(p.person_id) AS pid
		           FROM condition_occurrence c JOIN person p USING (person_id) GROUP BY 1, 2, 3)
		SELECT cc, gc, y, pid FROM g WHERE n = 1 AND gc IN (8507, 8532) AND pid IN (SELECT person_id FROM one) ORDER BY pid, cc LIMIT 1`, cBMI))
	if len(found) != 1 {
		t.Fatal("fixture: no person singled out by condition, sex and year of birth with one BMI row")
	}
	sw := sandwich{cc: found[0][0].(int64), gc: toI64(found[0][1]), yob: toI64(found[0][2]), pid: found[0][3].(int64)}
	sw.sex = map[int64]string{8507: "male", 8532: "female"}[sw.gc]
	sw.value = queryRows(t, fmt.Sprintf("SELECT value_as_number FROM measurement WHERE measurement_concept_id = %d AND person_id = %d", cBMI, sw.pid))[0][0].(float64)
	inK := fmt.Sprintf("(person_id = %d OR person_id NOT IN (SELECT person_id FROM measurement WHERE measurement_concept_id = %d))", sw.pid, cBMI)
	low := queryInt(t, fmt.Sprintf("SELECT count(*) FROM measurement WHERE measurement_concept_id = %d AND value_as_number IS NOT NULL AND %s", cCreatinine, inK))
	cutAt := queryRows(t, fmt.Sprintf(`SELECT v FROM (SELECT value_as_number AS v, count(*) OVER (ORDER BY value_as_number RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS below
		FROM measurement WHERE measurement_concept_id = %d AND value_as_number IS NOT NULL AND %s) WHERE below = %d LIMIT 1`, cSBP, inK, low))
	if len(cutAt) != 1 {
		t.Fatalf("fixture: no blood pressure value leaves exactly %d rows below it", low)
	}
	sw.cut = cutAt[0][0].(float64)
	where := fmt.Sprintf("measurement_concept_id IN (%d, %d, %d) AND value_as_number < %v AND %s", cCreatinine, cBMI, cSBP, sw.cut, inK)
	if med := queryRows(t, "SELECT quantile_cont(value_as_number, 0.5) FROM measurement WHERE "+where)[0][0].(float64); med != sw.value {
		t.Fatalf("fixture: the interpolated median is %v, not the target's %v: the sandwich is not built", med, sw.value)
	}
	for _, r := range queryRows(t, "SELECT value_as_number, person_id FROM measurement WHERE "+where) {
		sw.rows = append(sw.rows, personValue{r[0].(float64), r[1].(int64)})
	}
	return sw
}

// target is the cohort of the target alone: their condition, sex and age
// on the last day of 2024 (their year of birth).
func (sw sandwich) target(e *env) spec.Handle {
	return e.derive(e.derive(e.derive(e.persons(),
		spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{sw.cc}}}),
		spec.Step{Sex: sw.sex}),
		spec.Step{Age: &spec.AgeStep{Min: 2024 - int(sw.yob), Max: 2024 - int(sw.yob), At: "2024-12-31"}})
}

// check holds a released median to be the mean around the median rank,
// not the target's value.
func (sw sandwich) check(t *testing.T, med spec.Cell) {
	t.Helper()
	if med.Value == nil {
		t.Fatalf("median hidden (%s): the smoothed median of %d rows should be released", med.Status, len(sw.rows))
	}
	if math.Abs(*med.Value-sw.value) < 0.005 {
		t.Errorf("median %s is the target's BMI %v", med.Text, sw.value)
	}
	if want := fmt.Sprintf("%.2f", smoothedQuantile(sw.rows, 0.5)); med.Text != want {
		t.Errorf("median %s, want the mean around the median rank %s", med.Text, want)
	}
}

func toI64(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	}
	return -1
}

// TestHistogramPlusOnePerson is review 23's attack: BMI histograms of
// everyone but the target, then of everyone. Only the bins of the target's
// readings differ, by one person; hiding those alone would show where the
// readings are. Once one bin is hidden against the first histogram, every
// bin whose persons it released goes too.
func TestHistogramPlusOnePerson(t *testing.T) {
	sw := findSandwich(t)
	e := newEnv(t)
	target := sw.target(e)
	bmi := e.events("measurement", cBMI)
	others := e.derive(bmi, spec.Step{Of: e.derive(e.persons(), spec.Step{Minus: target.ID}).ID})
	hist := func(h spec.Handle) *spec.Plot {
		return e.plot(spec.MHistogram, spec.HistogramArgs{Handle: h.ID, Column: "value_as_number", Bins: 20, Min: sw.value - 1, Max: sw.value + 1})
	}
	before, after := hist(others), hist(bmi)
	kept, hidden := 0, 0
	for i, r := range after.Table.Rows {
		// Empty bins stay empty (0 is shown, and a reading there would
		// make it ≤20: the one bit the policy gives).
		if v := before.Table.Rows[i][1].Value; v == nil || *v == 0 {
			continue
		}
		if r[1].Value != nil {
			kept++
		} else {
			hidden++
		}
	}
	if kept > 0 && hidden > 0 {
		t.Errorf("%d bins shown before hidden after, %d still shown: the hidden ones hold the target's reading %v", hidden, kept, sw.value)
	}
	if hidden == 0 {
		t.Errorf("no bin hidden: the target's bin grew by one person")
	}
}

// TestSQLQuantileWindowsOverlap: quantiles of one group a few ranks apart
// have windows that share most of their values, and two of them differ by
// the values that enter one window and leave the other: 41 of them around
// blocks of known values gave a person's BMI (review 28). The first of
// overlapping windows is released, the others are hidden; windows apart
// are all released.
func TestSQLQuantileWindowsOverlap(t *testing.T) {
	const from = " FROM measurement WHERE measurement_concept_id = %d AND value_as_number IS NOT NULL"
	n := queryInt(t, fmt.Sprintf("SELECT count(*)"+from, cBMI))
	q := func(ps ...float64) []string {
		var items []string
		for i, p := range ps {
			items = append(items, fmt.Sprintf("quantile_cont(value_as_number, %v) AS q%d", p, i))
		}
		text := newEnv(t).sql(fmt.Sprintf("SELECT "+strings.Join(items, ", ")+from, cBMI))
		lines := strings.Split(text, "\n")
		for i, l := range lines {
			if strings.HasPrefix(l, "--") {
				return strings.Fields(lines[i+1])
			}
		}
		t.Fatalf("no row:\n%s", text)
		return nil
	}
	step := 3 / float64(n-1) // three ranks
	near := q(0.5, 0.5+step, 0.5+2*step)
	if !strings.ContainsAny(near[0], "0123456789") || near[1] != "*" || near[2] != "*" {
		t.Errorf("quantiles three ranks apart of %d rows: %v, want the first only", n, near)
	}
	apart := q(0.25, 0.5, 0.75)
	for i, c := range apart[:3] {
		if !strings.ContainsAny(c, "0123456789") {
			t.Errorf("quartiles of %d rows: %d hidden (%v)", n, i, apart)
		}
	}
}

// TestSQLJoinRepeatsRows is review 53's attack: a person's own rows joined
// to their rows three times over repeat each 27,000 times, so that person
// fills a median's window (their BMI in one cell) and the row counts of a
// breakdown by concept (every diagnosis they have). Joins of two relations
// with several rows per person are refused; a relation of one row per
// person (person, or grouped by person_id) joins as before.
func TestSQLJoinRepeatsRows(t *testing.T) {
	target := `WITH t AS (SELECT person_id FROM measurement WHERE person_id IN (SELECT person_id FROM person WHERE year_of_birth = 1940 AND gender_concept_id = 8532)) `
	joins := ` LEFT JOIN t x ON m.person_id = x.person_id LEFT JOIN t y ON m.person_id = y.person_id LEFT JOIN t z ON m.person_id = z.person_id`
	e := newEnv(t)
	for _, q := range []string{
		target + `SELECT median(m.value_as_number) AS md FROM measurement m` + joins + ` WHERE m.measurement_concept_id = 3038553`,
		target + `SELECT m.condition_concept_id, count(*) AS n FROM condition_occurrence m` + joins + ` GROUP BY 1`,
		`SELECT avg(m.value_as_number) FROM measurement m JOIN condition_occurrence c ON c.person_id = m.person_id WHERE c.condition_concept_id = 201826`,
		`SELECT count(*) FROM person p JOIN measurement m USING (person_id) JOIN (SELECT person_id FROM measurement) u ON u.person_id = p.person_id`,
		`SELECT count(*) FROM measurement m JOIN (SELECT p.person_id FROM person p JOIN measurement n USING (person_id)) u USING (person_id)`,
	} {
		if why := e.sqlRefusal(q); !strings.Contains(why, "several rows per person") {
			t.Errorf("%s\nrefused for %q", q, why)
		}
	}
	for _, q := range []string{
		`SELECT p.gender_concept_id, avg(m.value_as_number) FROM person p JOIN measurement m USING (person_id) WHERE m.measurement_concept_id = 3038553 GROUP BY 1`,
		`WITH n AS (SELECT person_id, count(*) AS k FROM condition_occurrence GROUP BY person_id) SELECT avg(m.value_as_number) FROM measurement m JOIN n ON n.person_id = m.person_id WHERE n.k > 3 AND m.measurement_concept_id = 3038553`,
		`SELECT avg(m.value_as_number) FROM measurement m WHERE m.measurement_concept_id = 3038553 AND m.person_id IN (SELECT person_id FROM condition_occurrence WHERE condition_concept_id = 201826)`,
		`SELECT avg(m.value_as_number) FROM measurement m JOIN (SELECT person_id FROM person WHERE year_of_birth < 1960) old USING (person_id) WHERE m.measurement_concept_id = 3038553`,
	} {
		if text := e.sql(q); !strings.ContainsAny(text, "0123456789") {
			t.Errorf("%s\nshows no number:\n%s", q, text)
		}
	}
}
