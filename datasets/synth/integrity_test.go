package synth

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"enclave/datasets/genomics/gensim"
	"enclave/internal/sharedtest"
)

// latent redraws persons 1..n as the generator did, for tests that need
// what is not written (ancestry, planted dosages).
func latent(seed int64, n int) []person {
	x := newGen(seed, FormatCSV)
	out := make([]person, n)
	for i := range out {
		x.p.id = int64(i + 1)
		x.g.reset(seed, x.p.id, streamPerson)
		x.p.draw(x.g, seed)
		out[i] = x.p
		out[i].genders = append([]int64(nil), x.p.genders...)
		out[i].races = append([]int64(nil), x.p.races...)
	}
	return out
}

// TestPlantedVariants: measured LDL is higher in carriers of the planted
// LDL alleles, and type 2 diabetes more common with more T2D risk alleles.
func TestPlantedVariants(t *testing.T) {
	db := openCohort(t, cohort(t), FormatCSV)
	ps := latent(42, testPersons)
	var values []string
	for _, p := range ps {
		ldl, t2d := 0.0, 0.0
		for v, pv := range gensim.PlantedVariants {
			d := float64(gensim.Dosage(42, p.id, p.ancestry, v))
			ldl += pv.LDLBeta * d
			t2d += pv.T2DLogOR * d
		}
		values = append(values, fmt.Sprintf("(%d, %g, %g)", p.id, ldl, t2d))
	}
	if _, err := db.Exec("CREATE TABLE score (person_id BIGINT, ldl DOUBLE, t2d DOUBLE); INSERT INTO score VALUES " + strings.Join(values, ",")); err != nil {
		t.Fatal(err)
	}
	// Untreated LDL: persons never on a statin.
	q := `SELECT avg(value_as_number) FROM measurement m JOIN score s USING (person_id)
		WHERE measurement_concept_id = 3028437 AND s.ldl %s
		AND person_id NOT IN (SELECT person_id FROM drug_exposure WHERE drug_concept_id IN (1545959, 1545958, 1539411, 1539463, 1510813))`
	hi := query1[float64](t, db, fmt.Sprintf(q, ">= 12"))
	lo := query1[float64](t, db, fmt.Sprintf(q, "= 0"))
	t.Logf("untreated LDL: carriers (≥12 mg/dL planted) %.1f, non-carriers %.1f", hi, lo)
	if hi-lo < 8 {
		t.Errorf("LDL in carriers %.1f vs non-carriers %.1f: want ≥ 8 mg/dL higher", hi, lo)
	}
	pq := `SELECT count(DISTINCT person_id) FILTER (WHERE person_id IN (SELECT person_id FROM condition_occurrence WHERE condition_concept_id = 201826))
		/ count(DISTINCT person_id) FROM visit_occurrence JOIN score USING (person_id) WHERE t2d %s`
	t2dHi := query1[float64](t, db, fmt.Sprintf(pq, ">= 0.5"))
	t2dLo := query1[float64](t, db, fmt.Sprintf(pq, "= 0"))
	t.Logf("type 2 diabetes: ≥2 risk alleles %.3f, none %.3f", t2dHi, t2dLo)
	if t2dHi <= t2dLo {
		t.Errorf("type 2 diabetes %.3f with ≥2 risk alleles, %.3f with none: want higher", t2dHi, t2dLo)
	}
}

// TestFitbit: Fitbit rows only for persons with a device (about a fifth of
// the cohort), and steps shaped by age.
func TestFitbit(t *testing.T) {
	db := openCohort(t, cohort(t), FormatCSV)
	owners := query1[float64](t, db, `SELECT count(DISTINCT person_id) FROM device`) / testPersons
	if owners < 0.17 || owners > 0.28 {
		t.Errorf("%.3f of persons have a device, want 0.17–0.28", owners)
	}
	for _, tb := range []string{"activity_summary", "heart_rate_summary", "heart_rate_minute_level", "steps_intraday", "sleep_daily_summary", "sleep_level"} {
		n := query1[int](t, db, fmt.Sprintf(`SELECT count(*) FROM %s WHERE person_id NOT IN (SELECT person_id FROM device)`, tb))
		rows := query1[int](t, db, fmt.Sprintf(`SELECT count(*) FROM %s`, tb))
		if n != 0 || rows == 0 {
			t.Errorf("%s: %d rows, %d of persons without a device", tb, rows, n)
		}
	}
	young := query1[float64](t, db, `SELECT avg(steps) FROM activity_summary a JOIN person p USING (person_id) WHERE year_of_birth >= 1985`)
	old := query1[float64](t, db, `SELECT avg(steps) FROM activity_summary a JOIN person p USING (person_id) WHERE year_of_birth <= 1955`)
	t.Logf("mean daily steps: born 1985+ %.0f, born ≤1955 %.0f", young, old)
	if young-old < 1000 {
		t.Errorf("mean steps young %.0f, old %.0f: want the young ≥ 1000 higher", young, old)
	}
	// A sleep summary with levels agrees with them.
	bad := query1[int](t, db, `SELECT count(*) FROM sleep_daily_summary s JOIN
		(SELECT person_id, sleep_date, sum(duration_in_min) FILTER (WHERE level = 'deep') AS deep FROM sleep_level GROUP BY ALL) l
		USING (person_id, sleep_date) WHERE s.is_main_sleep AND s.minute_deep <> l.deep`)
	if bad != 0 {
		t.Errorf("%d sleep summaries disagree with their sleep levels", bad)
	}
}

// TestDatesWithinLife: no event before birth, after death or after the
// data cut; observation periods cover every clinical event.
func TestDatesWithinLife(t *testing.T) {
	db := openCohort(t, cohort(t), FormatCSV)
	checks := map[string]string{
		"visit_occurrence":     "visit_start_date",
		"condition_occurrence": "condition_start_date",
		"drug_exposure":        "drug_exposure_start_date",
		"measurement":          "measurement_date",
		"observation":          "observation_date",
		"death":                "death_date",
		"activity_summary":     "date",
		"sleep_daily_summary":  "sleep_date",
		"device":               "device_date",
	}
	for tb, col := range checks {
		q := fmt.Sprintf(`SELECT count(*) FROM %s e JOIN person p USING (person_id) LEFT JOIN death d USING (person_id)
			WHERE e.%s < p.birth_datetime::DATE OR e.%s > coalesce(d.death_date, DATE '2024-07-01')`, tb, col, col)
		if n := query1[int](t, db, q); n != 0 {
			t.Errorf("%s: %d rows dated before birth or after death/data cut", tb, n)
		}
	}
	for _, c := range []struct{ tb, col string }{{"visit_occurrence", "visit_end_date"}, {"drug_exposure", "drug_exposure_end_date"}} {
		q := fmt.Sprintf(`SELECT count(*) FROM %s e LEFT JOIN death d USING (person_id) WHERE e.%s > coalesce(d.death_date, DATE '2024-07-01')`, c.tb, c.col)
		if n := query1[int](t, db, q); n != 0 {
			t.Errorf("%s.%s: %d rows end after death or the data cut", c.tb, c.col, n)
		}
	}
	outside := query1[int](t, db, `SELECT count(*) FROM condition_occurrence c JOIN observation_period o USING (person_id)
		WHERE c.condition_start_date NOT BETWEEN o.observation_period_start_date AND o.observation_period_end_date`)
	if outside != 0 {
		t.Errorf("%d conditions outside the observation period", outside)
	}
	// Condition eras cover exactly the condition records.
	eraRecs := query1[int](t, db, `SELECT sum(condition_occurrence_count) FROM condition_era`)
	recs := query1[int](t, db, `SELECT count(*) FROM condition_occurrence`)
	uncovered := query1[int](t, db, `SELECT count(*) FROM condition_occurrence c WHERE NOT EXISTS (SELECT 1 FROM condition_era e
		WHERE e.person_id = c.person_id AND e.condition_concept_id = c.condition_concept_id
		AND c.condition_start_date BETWEEN e.condition_era_start_date AND e.condition_era_end_date)`)
	if eraRecs != recs || uncovered != 0 {
		t.Errorf("condition eras count %d records of %d; %d records outside any era", eraRecs, recs, uncovered)
	}
	adults := query1[int](t, db, `SELECT count(*) FROM observation o JOIN person p USING (person_id)
		WHERE date_diff('year', p.birth_datetime::DATE, o.observation_date) < 18`)
	if adults != 0 {
		t.Errorf("%d survey answers from participants under 18", adults)
	}
}

// TestKeys: primary keys are unique and foreign keys resolve.
func TestKeys(t *testing.T) {
	db := openCohort(t, cohort(t), FormatCSV)
	for tb, key := range map[string]string{
		"person": "person_id", "observation_period": "observation_period_id", "visit_occurrence": "visit_occurrence_id",
		"condition_occurrence": "condition_occurrence_id", "drug_exposure": "drug_exposure_id",
		"measurement": "measurement_id", "observation": "observation_id", "drug_era": "drug_era_id", "death": "person_id",
		"condition_era": "condition_era_id",
		"concept":       "concept_id",
	} {
		if n := query1[int](t, db, fmt.Sprintf(`SELECT count(*) - count(DISTINCT %s) FROM %s`, key, tb)); n != 0 {
			t.Errorf("%s.%s: %d duplicates", tb, key, n)
		}
	}
	for _, tb := range []string{"condition_occurrence", "measurement", "drug_exposure"} {
		q := fmt.Sprintf(`SELECT count(*) FROM %s e WHERE visit_occurrence_id IS NOT NULL AND visit_occurrence_id NOT IN
			(SELECT visit_occurrence_id FROM visit_occurrence v WHERE v.person_id = e.person_id)`, tb)
		if n := query1[int](t, db, q); n != 0 {
			t.Errorf("%s: %d rows whose visit is not the same person's", tb, n)
		}
	}
	for _, fk := range []struct{ tb, col, ref string }{
		{"visit_occurrence", "provider_id", "SELECT provider_id FROM provider"},
		{"visit_occurrence", "care_site_id", "SELECT care_site_id FROM care_site"},
		{"person", "provider_id", "SELECT provider_id FROM provider"},
		{"person", "care_site_id", "SELECT care_site_id FROM care_site"},
		{"person", "location_id", "SELECT location_id FROM location"},
		{"measurement", "provider_id", "SELECT provider_id FROM provider"},
		{"condition_occurrence", "provider_id", "SELECT provider_id FROM provider"},
		{"drug_exposure", "provider_id", "SELECT provider_id FROM provider"},
		{"provider", "care_site_id", "SELECT care_site_id FROM care_site"},
		{"care_site", "location_id", "SELECT location_id FROM location"},
	} {
		q := fmt.Sprintf(`SELECT count(*) FILTER (WHERE %s NOT IN (%s)), count(%s) FROM %s`, fk.col, fk.ref, fk.col, fk.tb)
		var bad, set int
		if err := db.QueryRow(q).Scan(&bad, &set); err != nil {
			t.Fatal(err)
		}
		if bad != 0 || set == 0 {
			t.Errorf("%s.%s: %d of %d values unknown", fk.tb, fk.col, bad, set)
		}
	}
	for _, tb := range []string{"observation_period", "visit_occurrence", "device", "death"} {
		if n := query1[int](t, db, fmt.Sprintf(`SELECT count(*) FROM %s WHERE person_id NOT IN (SELECT person_id FROM person)`, tb)); n != 0 {
			t.Errorf("%s: %d rows of unknown persons", tb, n)
		}
	}
}

// TestConceptsKnown: every concept id written is in the generator's
// concept table, and the rows it shares with the default vocabulary (the
// Eunomia shards) are identical there.
func TestConceptsKnown(t *testing.T) {
	dir := cohort(t)
	db := openCohort(t, dir, FormatCSV)
	for _, tb := range allTables() {
		if strings.HasPrefix(tb.name, "concept") || tb.name == "vocabulary" {
			continue
		}
		for _, c := range tb.cols {
			if !strings.HasSuffix(c.name, "concept_id") {
				continue
			}
			q := fmt.Sprintf(`SELECT count(*), any_value(%s) FROM %s WHERE %s IS NOT NULL AND %s NOT IN (SELECT concept_id FROM concept)`, c.name, tb.name, c.name, c.name)
			var n int
			var example *int64
			if err := db.QueryRow(q).Scan(&n, &example); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%s.%s: %d rows with concepts missing from concept.csv (e.g. %d)", tb.name, c.name, n, *example)
			}
		}
	}
	// Rows shared with the default vocabulary must agree with one of its
	// shards (the two shards name a few concepts differently) on everything
	// but the validity dates.
	mine := map[int64]string{}
	for _, c := range concepts {
		mine[c.id] = strings.Join([]string{c.name, c.domain, c.vocab, c.class, c.std, c.code}, "|")
	}
	shardRows := map[int64][]string{}
	for _, path := range []string{
		filepath.Join(sharedtest.Path(t, "omop/vocab/gibleed"), "concept.csv"),
		filepath.Join(sharedtest.Path(t, "omop/vocab/synthea27nj"), "concept.csv"),
		filepath.Join("..", "vocab", "local", "concept.csv"), // the default vocabulary's local extension
	} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs[1:] {
			id, _ := strconv.ParseInt(r[0], 10, 64)
			if r[9] == "" {
				shardRows[id] = append(shardRows[id], strings.Join(r[1:7], "|"))
			}
		}
	}
	for id, rows := range shardRows {
		m, ok := mine[id]
		if !ok {
			continue
		}
		found := false
		for _, r := range rows {
			found = found || r == m
		}
		if !found {
			t.Errorf("concept %d is %q here, %q in the default vocabulary", id, m, rows)
		}
	}
}

// TestGenomicsLinkage: --variants/--genotyped write the genomics folder
// with a linkage row per genotyped person.
func TestGenomicsLinkage(t *testing.T) {
	dir := t.TempDir()
	st, err := Generate(Options{Persons: 400, Seed: 5, Out: dir, Format: FormatParquet, Variants: 300, Genotyped: 150})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "genomics", "linkage.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 151 || lines[0] != "sample_id,person_id" || !strings.HasSuffix(lines[150], ",150") {
		t.Errorf("linkage.csv: %d lines, first %q, last %q", len(lines), lines[0], lines[len(lines)-1])
	}
	for _, f := range []string{"cohort.bed", "cohort.bim", "cohort.fam", "cohort.vcf.gz", "cohort.vcf.gz.tbi"} {
		if _, err := os.Stat(filepath.Join(dir, "genomics", f)); err != nil {
			t.Error(err)
		}
	}
	if st.Rows["person"] != 400 {
		t.Errorf("person rows %d", st.Rows["person"])
	}
	// Regenerating in the other format leaves no stale tables behind.
	if _, err := Generate(Options{Persons: 50, Seed: 5, Out: dir, Format: FormatCSV}); err != nil {
		t.Fatal(err)
	}
	if stale, _ := filepath.Glob(filepath.Join(dir, "*.parquet")); len(stale) != 0 {
		t.Errorf("stale Parquet files after a CSV run: %v", stale)
	}
	for _, bad := range []Options{
		{Persons: 10, Out: dir, Variants: 300},
		{Persons: 10, Out: dir, Variants: 300, Genotyped: 11},
		{Persons: 0, Out: dir},
		{Persons: 10, Out: dir, Format: "xlsx"},
	} {
		if _, err := Generate(bad); err == nil {
			t.Errorf("Generate(%+v) succeeded", bad)
		}
	}
}
