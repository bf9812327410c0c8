package synth

import (
	"math"
	"testing"
)

// Prevalence targets among persons with EHR data (any visit), for the
// concept (with its descendants) of each condition. They follow US adult
// clinical prevalence in an older, more diverse cohort such as All of Us.
var prevalenceTargets = []struct {
	name    string
	concept int64
	target  float64
}{
	{"type 2 diabetes", 201826, 0.15},
	{"essential hypertension", 320128, 0.36},
	{"hyperlipidemia", 432867, 0.30},
	{"obesity", 433736, 0.24},
	{"asthma", 317009, 0.11},
	{"depressive disorder", 440383, 0.17},
	{"chronic kidney disease", 46271022, 0.06},
	{"coronary arteriosclerosis", 317576, 0.07},
	{"heart failure", 316139, 0.03},
	{"atrial fibrillation", 313217, 0.04},
	{"osteoarthritis", 80180, 0.14},
	{"COPD", 255573, 0.05},
	{"hypothyroidism", 140673, 0.08},
	{"GERD", 318800, 0.15},
}

// TestPrevalence: condition prevalences are within a quarter (relative, or
// 2 points) of their targets, and comorbidity holds: hypertension is more
// common among diabetics.
func TestPrevalence(t *testing.T) {
	db := openCohort(t, cohort(t), FormatCSV)
	ehr := query1[float64](t, db, `SELECT count(DISTINCT person_id) FROM visit_occurrence`)
	for _, c := range prevalenceTargets {
		n := query1[float64](t, db, `SELECT count(DISTINCT person_id) FROM condition_occurrence co
			JOIN concept_ancestor ca ON ca.descendant_concept_id = co.condition_concept_id
			WHERE ca.ancestor_concept_id = ?`, c.concept)
		got := n / ehr
		tol := math.Max(0.02, 0.25*c.target)
		t.Logf("%-26s %.3f (target %.2f)", c.name, got, c.target)
		if math.Abs(got-c.target) > tol {
			t.Errorf("%s prevalence %.3f, want %.2f ± %.3f", c.name, got, c.target, tol)
		}
	}
	htnInT2D := query1[float64](t, db, `WITH d AS (SELECT DISTINCT person_id FROM condition_occurrence WHERE condition_concept_id = 201826),
		h AS (SELECT DISTINCT person_id FROM condition_occurrence WHERE condition_concept_id = 320128),
		e AS (SELECT DISTINCT person_id FROM visit_occurrence)
		SELECT (SELECT count(*) FROM d JOIN h USING (person_id)) / (SELECT count(*) FROM d)
		     - (SELECT count(*) FROM e JOIN h USING (person_id) ANTI JOIN d USING (person_id)) / (SELECT count(*) FROM e ANTI JOIN d USING (person_id))`)
	if htnInT2D < 0.1 {
		t.Errorf("hypertension among diabetics exceeds non-diabetics by %.3f, want > 0.1", htnInT2D)
	}
}

// TestDemographics: a diverse adult cohort as All of Us: ~45% not
// non-Hispanic white, a few percent aged 89+, small survey categories
// present for the registered tier to generalise.
func TestDemographics(t *testing.T) {
	db := openCohort(t, cohort(t), FormatCSV)
	n := query1[float64](t, db, `SELECT count(*) FROM person`)
	if n != testPersons {
		t.Fatalf("%v persons, want %d", n, testPersons)
	}
	nonWhite := query1[float64](t, db, `SELECT count(*) FILTER (WHERE NOT (race_concept_id = 8527 AND ethnicity_concept_id = 38003564)) / count(*) FROM person`)
	old := query1[float64](t, db, `SELECT count(*) FILTER (WHERE date_diff('year', birth_datetime::DATE, DATE '2024-07-01') >= 89) / count(*) FROM person`)
	female := query1[float64](t, db, `SELECT count(*) FILTER (WHERE gender_concept_id = 8532) / count(*) FROM person`)
	t.Logf("not non-Hispanic white %.3f, aged 89+ %.3f, female %.3f", nonWhite, old, female)
	if nonWhite < 0.40 || nonWhite > 0.55 {
		t.Errorf("not non-Hispanic white %.3f, want 0.40–0.55", nonWhite)
	}
	if old < 0.015 || old > 0.05 {
		t.Errorf("aged 89+ %.3f, want 0.015–0.05", old)
	}
	if female < 0.55 || female > 0.65 {
		t.Errorf("female %.3f, want 0.55–0.65", female)
	}
	// Every The Basics question answered by everyone, with small categories.
	for _, c := range []struct {
		name     string
		question int64
		small    []int64
	}{
		{"race", qRace, []int64{aRaceAIAN, aRaceMENA, aRaceNHPI, aRaceNoneOfThese, cPMIPreferNotAnswer}},
		{"gender identity", qGender, []int64{aGenderNonBinary, aGenderTransgender, aGenderAdditional}},
		{"sex at birth", qSexAtBirth, []int64{aSexIntersex, aSexNoneOfThese}},
		{"sexual orientation", qSexualOrientation, []int64{aSOGay, aSOLesbian, aSOBisexual, aSONone}},
		{"education", qEducation, []int64{aEduNever, aEduOneToFour, aEduFiveToEight}},
		{"employment", qEmployment, []int64{aEmpStudent, aEmpHomemaker, aEmpUnable}},
	} {
		answered := query1[float64](t, db, `SELECT count(DISTINCT person_id) FROM observation WHERE observation_source_concept_id = ?`, c.question)
		if answered != n {
			t.Errorf("%s answered by %v of %v persons", c.name, answered, n)
		}
		for _, a := range c.small {
			k := query1[int](t, db, `SELECT count(DISTINCT person_id) FROM observation WHERE observation_source_concept_id = ? AND value_source_concept_id = ?`, c.question, a)
			if k == 0 || float64(k) > 0.1*n {
				t.Errorf("%s answer %d given by %d persons, want a small non-empty category", c.name, a, k)
			}
		}
	}
	multi := query1[int](t, db, `SELECT count(*) FROM person WHERE race_concept_id = 2000000008`)
	genderMismatch := query1[int](t, db, `SELECT count(*) FROM observation g JOIN observation s USING (person_id)
		WHERE g.observation_source_concept_id = 1585838 AND s.observation_source_concept_id = 1585845
		AND ((g.value_source_concept_id = 1585839 AND s.value_source_concept_id = 1585847) OR (g.value_source_concept_id = 1585840 AND s.value_source_concept_id = 1585846))`)
	if multi == 0 || genderMismatch == 0 {
		t.Errorf("more-than-one-race persons %d, gender differing from sex at birth %d: want both > 0", multi, genderMismatch)
	}
}

// TestClinicalSignals: measurements follow conditions, treatment and the
// planted variants.
func TestClinicalSignals(t *testing.T) {
	db := openCohort(t, cohort(t), FormatCSV)
	avg := func(q string) float64 { return query1[float64](t, db, q) }
	a1cT2D := avg(`SELECT avg(value_as_number) FROM measurement m WHERE measurement_concept_id = 3004410
		AND EXISTS (SELECT 1 FROM condition_occurrence c WHERE c.person_id = m.person_id AND c.condition_concept_id = 201826 AND c.condition_start_date <= m.measurement_date)`)
	a1cOther := avg(`SELECT avg(value_as_number) FROM measurement m WHERE measurement_concept_id = 3004410
		AND NOT EXISTS (SELECT 1 FROM condition_occurrence c WHERE c.person_id = m.person_id AND c.condition_concept_id = 201826)`)
	t.Logf("HbA1c diabetic %.2f, others %.2f", a1cT2D, a1cOther)
	if a1cT2D-a1cOther < 1 {
		t.Errorf("HbA1c in diabetics %.2f, others %.2f: want ≥ 1 point higher", a1cT2D, a1cOther)
	}
	bmiObese := avg(`SELECT avg(value_as_number) FROM measurement m WHERE measurement_concept_id = 3038553
		AND person_id IN (SELECT person_id FROM condition_occurrence WHERE condition_concept_id IN (433736, 434005))`)
	if bmiObese < 32 {
		t.Errorf("mean BMI of persons with obesity %.1f, want ≥ 32", bmiObese)
	}
	// Every measurement has a unit from UCUM.
	badUnit := query1[int](t, db, `SELECT count(*) FROM measurement m LEFT JOIN concept c ON c.concept_id = m.unit_concept_id
		WHERE c.vocabulary_id IS DISTINCT FROM 'UCUM'`)
	if badUnit != 0 {
		t.Errorf("%d measurements without a UCUM unit", badUnit)
	}
	// Drugs follow conditions: metformin users are diabetics.
	metNoT2D := query1[int](t, db, `SELECT count(DISTINCT person_id) FROM drug_exposure WHERE drug_concept_id = 40163924
		AND person_id NOT IN (SELECT person_id FROM condition_occurrence WHERE condition_concept_id = 201826)`)
	if metNoT2D != 0 {
		t.Errorf("%d metformin users without type 2 diabetes", metNoT2D)
	}
}
