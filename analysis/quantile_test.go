package analysis_test

import (
	"fmt"
	"math"
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
	const bmi, creatinine, sbp = 3038553, 3016723, 3004249
	cut := dataCut(t)
	age := ageSQL("p", cut)
	// The target: the one person of a (condition, sex, age) group, who has
	// one BMI row.
	found := queryRows(t, fmt.Sprintf(`
		WITH one AS (SELECT person_id FROM measurement WHERE measurement_concept_id = %[1]d GROUP BY 1 HAVING count(*) = 1),
		     g AS (SELECT c.condition_concept_id AS cc, p.gender_concept_id AS gc, %[2]s AS age, count(DISTINCT p.person_id) AS n, min(p.person_id) AS pid
		           FROM condition_occurrence c JOIN person p USING (person_id) GROUP BY 1, 2, 3)
		SELECT cc, gc, age, pid FROM g WHERE n = 1 AND gc IN (8507, 8532) AND pid IN (SELECT person_id FROM one) ORDER BY pid, cc LIMIT 1`, bmi, age))
	if len(found) != 1 {
		t.Fatal("fixture: no person singled out by condition, sex and age with one BMI row")
	}
	cc, gc, tage, pid := found[0][0].(int64), found[0][1], found[0][2].(int64), found[0][3].(int64)
	sex := map[int64]string{8507: "male", 8532: "female"}[toI64(gc)]
	if sex == "" {
		t.Fatalf("fixture: target's gender %v", gc)
	}
	value := queryRows(t, fmt.Sprintf("SELECT value_as_number FROM measurement WHERE measurement_concept_id = %d AND person_id = %d", bmi, pid))[0][0].(float64)

	// K: the persons without BMI, and the target. The high block is cut
	// at the value that leaves as many rows as the low block has.
	inK := fmt.Sprintf("(person_id = %d OR person_id NOT IN (SELECT person_id FROM measurement WHERE measurement_concept_id = %d))", pid, bmi)
	low := queryInt(t, fmt.Sprintf("SELECT count(*) FROM measurement WHERE measurement_concept_id = %d AND value_as_number IS NOT NULL AND %s", creatinine, inK))
	cutAt := queryRows(t, fmt.Sprintf(`SELECT v FROM (SELECT value_as_number AS v, count(*) OVER (ORDER BY value_as_number RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS below
		FROM measurement WHERE measurement_concept_id = %d AND value_as_number IS NOT NULL AND %s) WHERE below = %d LIMIT 1`, sbp, inK, low))
	if len(cutAt) != 1 {
		t.Skipf("fixture: no blood pressure value leaves exactly %d rows below it", low)
	}
	v := cutAt[0][0].(float64)
	where := fmt.Sprintf("measurement_concept_id IN (%d, %d, %d) AND value_as_number < %v AND %s", creatinine, bmi, sbp, v, inK)
	if med := queryRows(t, "SELECT quantile_cont(value_as_number, 0.5) FROM measurement WHERE "+where)[0][0].(float64); med != value {
		t.Fatalf("fixture: the interpolated median is %v, not the target's %v: the sandwich is not built", med, value)
	}
	var rows []personValue
	for _, r := range queryRows(t, "SELECT value_as_number, person_id FROM measurement WHERE "+where) {
		rows = append(rows, personValue{r[0].(float64), r[1].(int64)})
	}
	want := smoothedQuantile(rows, 0.5)

	e := newEnv(t)
	target := e.derive(e.derive(e.derive(e.persons(),
		spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cc}}}),
		spec.Step{Sex: sex}),
		spec.Step{Age: &spec.AgeStep{Min: int(tage), Max: int(tage), At: cut}})
	k := e.derive(e.derive(e.persons(), spec.Step{Without: &spec.Has{Table: "measurement", Concepts: []int64{bmi}}}), spec.Step{Or: target.ID})
	h := e.derive(e.derive(e.events("measurement", creatinine, bmi, sbp), spec.Step{Of: k.ID}),
		spec.Step{Where: &spec.Filter{Column: "value_as_number", Op: "<", Values: []any{v}}})
	tab := e.table(spec.MDescribe, spec.DescribeArgs{Handle: h.ID, Column: "value_as_number"})
	// persons, rows, mean, sd, q1, median, q3
	med := tab.Rows[0][5]
	if med.Value == nil {
		t.Fatalf("median hidden (%s): the smoothed median of %d rows should be released", med.Status, len(rows))
	}
	if math.Abs(*med.Value-value) < 0.005 {
		t.Errorf("median %s is the target's BMI %v", med.Text, value)
	}
	if med.Text != fmt.Sprintf("%.2f", want) {
		t.Errorf("median %s, want the mean around the median rank %.2f", med.Text, want)
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
