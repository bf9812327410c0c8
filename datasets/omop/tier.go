package omop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"enclave/datasets"
)

// TierOptions tune BuildTier.
type TierOptions struct {
	AgeAsOf     time.Time // ages for the 89+ exclusion are computed at this date (default now)
	SmallGroup  int       // single races with fewer persons are generalised (default 200)
	Threads     int       // DuckDB threads (default all cores)
	MemoryLimit string    // DuckDB memory_limit (default DuckDB's)
}

// registeredExcluded are tables the registered tier does not hold: free
// text (note, note_nlp), identifiers below state level (location,
// care_site, provider) and tables keyed by other tables' rows rather than by
// person (cost, fact_relationship).
var registeredExcluded = map[string]bool{
	"note": true, "note_nlp": true, "location": true, "care_site": true, "provider": true,
	"cost": true, "fact_relationship": true,
}

// registeredFreeText are free-text or identifying columns removed from the
// registered tier (besides every *_source_value and the provider, care site
// and location ids).
var registeredFreeText = map[string]bool{
	"value_as_string": true, "stop_reason": true, "sig": true, "lot_number": true,
	"unique_device_id": true, "specimen_source_id": true, "device_id": true,
}

// RegisteredColumn reports whether the registered tier keeps column col of table.
func RegisteredColumn(table, col string) bool {
	if registeredExcluded[table] {
		return false
	}
	switch {
	case strings.HasSuffix(col, "_source_value"),
		col == "provider_id", col == "care_site_id", col == "location_id",
		registeredFreeText[col]:
		return false
	}
	return true
}

// BuildTier materialises one tier of the base database basePath into a new
// DuckDB file outPath (which must not exist), holding only that tier's
// tables. The base tables and the shift secret never enter outPath.
//
// Registered: every date and datetime of a person is shifted back by the
// person's stable offset of 1–364 days (a SHA-256 keyed hash of the
// workspace secret and person_id, so intervals stay true and re-imports
// shift identically); persons aged 89 or over at AgeAsOf (by year of
// birth, conservatively) are absent from every table, Fitbit included;
// note, note_nlp, location, care_site, provider, cost and fact_relationship
// are absent; *_source_value, provider/care site/location ids and free
// text columns are removed; survey demographics and person race/sex are
// generalised (see survey.go). Controlled: every table, unshifted, full.
func BuildTier(ctx context.Context, basePath string, tier datasets.Tier, outPath string, opts TierOptions) error {
	if opts.AgeAsOf.IsZero() {
		opts.AgeAsOf = time.Now()
	}
	if opts.SmallGroup <= 0 {
		opts.SmallGroup = 200
	}
	if _, err := os.Stat(outPath); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("omop: build tier: %s already exists", outPath)
	}
	db, err := sql.Open("duckdb", outPath+duckConfig(opts.Threads, opts.MemoryLimit))
	if err != nil {
		return fmt.Errorf("omop: build tier %s: %w", tier, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // temp tables and the attachment are per connection
	exec := func(q string, args ...any) error {
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("omop: build tier %s: %w\n%s", tier, err, q)
		}
		return nil
	}
	// Tier row order is irrelevant; parallel unordered inserts are faster.
	if err := exec("SET preserve_insertion_order = false"); err != nil {
		return err
	}
	if err := exec("ATTACH " + quoteString(basePath) + " AS base (READ_ONLY)"); err != nil {
		return err
	}
	switch tier {
	case datasets.Controlled:
		for _, t := range Tables {
			if err := exec(fmt.Sprintf("CREATE TABLE %[1]s AS SELECT * FROM base.%[1]s", quoteIdent(t.Name))); err != nil {
				return err
			}
		}
	case datasets.Registered:
		if err := buildRegistered(exec, opts); err != nil {
			return err
		}
	default:
		return fmt.Errorf("omop: build tier: unknown tier %q", tier)
	}
	if err := exec(`CREATE TABLE enclave_tier (key VARCHAR, value VARCHAR)`); err != nil {
		return err
	}
	if err := exec(`INSERT INTO enclave_tier VALUES ('tier', ?), ('built_at', ?), ('age_as_of', ?)`,
		string(tier), time.Now().UTC().Format(time.RFC3339), opts.AgeAsOf.Format("2006-01-02")); err != nil {
		return err
	}
	if err := exec("DETACH base"); err != nil {
		return err
	}
	return exec("CHECKPOINT")
}

func buildRegistered(exec func(string, ...any) error, opts TierOptions) error {
	// Per-person offsets, in a TEMP table (never written to the tier file).
	// 15 hex digits = 60 bits of SHA-256(secret ':' person_id).
	if err := exec(`CREATE TEMP TABLE shift AS
		SELECT person_id, CAST(1 + (CAST(('0x' || left(sha256((SELECT value FROM base.enclave_meta WHERE key = 'shift_secret') || ':' || CAST(person_id AS VARCHAR)), 15)) AS BIGINT) % 364) AS INTEGER) AS days
		FROM base.person WHERE ? - year_of_birth < 89`, opts.AgeAsOf.Year()); err != nil {
		return err
	}
	// Single races reported by fewer than SmallGroup persons, in person and in the survey.
	if err := exec(`CREATE TEMP TABLE small_race AS
		SELECT race_concept_id AS c FROM base.person JOIN shift USING (person_id)
		WHERE race_concept_id <> 0 GROUP BY 1 HAVING count(*) < ?`, opts.SmallGroup); err != nil {
		return err
	}
	if err := exec(fmt.Sprintf(`CREATE TEMP TABLE demo AS
		SELECT o.observation_id, o.person_id, o.observation_source_concept_id AS q, o.value_source_concept_id AS a,
			count(*) OVER w AS n, row_number() OVER (w ORDER BY o.observation_id) AS rn
		FROM base.observation o JOIN shift USING (person_id)
		WHERE o.observation_source_concept_id IN (%d, %d, %d, %d, %d, %d)
		WINDOW w AS (PARTITION BY o.person_id, o.observation_source_concept_id)`,
		QuestionRace, QuestionGenderIdentity, QuestionSexAtBirth, QuestionSexualOrientation, QuestionEducation, QuestionEmployment)); err != nil {
		return err
	}
	if err := exec(fmt.Sprintf(`CREATE TEMP TABLE small_race_answer AS
		SELECT a FROM temp.demo WHERE q = %d AND n = 1 AND a NOT IN (%d, %d, %d) GROUP BY a HAVING count(DISTINCT person_id) < ?`,
		QuestionRace, RaceNone, PreferNotToAnswer, Skip), opts.SmallGroup); err != nil {
		return err
	}
	gen := fmt.Sprintf(`CREATE TEMP TABLE gen AS
		SELECT d.observation_id, d.n > 1 AND d.rn > 1 AS dropped,
		CASE d.q
			WHEN %[1]d THEN CASE WHEN d.n > 1 THEN %[7]d WHEN d.a IN (SELECT a FROM temp.small_race_answer) THEN %[8]d ELSE d.a END
			WHEN %[2]d THEN CASE WHEN d.n > 1 OR d.a NOT IN (%[9]d, %[10]d)
				OR (d.a = %[9]d AND sab.a IS DISTINCT FROM %[13]d) OR (d.a = %[10]d AND sab.a IS DISTINCT FROM %[14]d) THEN %[11]d ELSE d.a END
			WHEN %[3]d THEN CASE WHEN d.n > 1 OR d.a NOT IN (%[13]d, %[14]d) THEN %[12]d ELSE d.a END
			WHEN %[4]d THEN CASE WHEN d.n > 1 OR d.a NOT IN (%[15]d, %[16]d, %[17]d, %[18]d) THEN %[19]d ELSE d.a END
			WHEN %[5]d THEN CASE WHEN d.a IN (%[20]d, %[21]d, %[22]d) THEN %[23]d ELSE d.a END
			WHEN %[6]d THEN CASE WHEN d.n > 1 THEN %[24]d ELSE d.a END
		END AS value
		FROM temp.demo d
		LEFT JOIN (SELECT person_id, any_value(a) AS a FROM temp.demo WHERE q = %[3]d AND n = 1 GROUP BY 1) sab USING (person_id)`,
		QuestionRace, QuestionGenderIdentity, QuestionSexAtBirth, QuestionSexualOrientation, QuestionEducation, QuestionEmployment,
		GenMoreThanOnePopulation, GenAnotherSinglePopulation,
		GenderMan, GenderWoman, GenGenderIdentity, GenSexAtBirth, SexAtBirthMale, SexAtBirthFemale,
		OrientationStraight, OrientationGay, OrientationLesbian, OrientationBisexual, GenSexualOrientation,
		EducationNeverAttended, EducationGrade1to4, EducationGrade5to8, GenEducation, GenEmployment)
	if err := exec(gen); err != nil {
		return err
	}
	for i := range Tables {
		t := &Tables[i]
		if registeredExcluded[t.Name] {
			continue
		}
		if !t.HasPerson() {
			if err := exec(fmt.Sprintf("CREATE TABLE %[1]s AS SELECT * FROM base.%[1]s", quoteIdent(t.Name))); err != nil {
				return err
			}
			continue
		}
		var sel []string
		for _, f := range t.Fields {
			if !RegisteredColumn(t.Name, f.Name) {
				continue
			}
			sel = append(sel, registeredExpr(t, f)+" AS "+quoteIdent(f.Name))
		}
		q := fmt.Sprintf("CREATE TABLE %s AS SELECT %s FROM base.%s x JOIN temp.shift s ON s.person_id = x.person_id",
			quoteIdent(t.Name), strings.Join(sel, ", "), quoteIdent(t.Name))
		if t.Name == "observation" {
			q += " LEFT JOIN temp.gen g ON g.observation_id = x.observation_id WHERE NOT coalesce(g.dropped, false)"
		}
		if err := exec(q); err != nil {
			return err
		}
	}
	return nil
}

// registeredExpr is the registered tier's value of one field of a person table.
func registeredExpr(t *Table, f Field) string {
	x := "x." + quoteIdent(f.Name)
	shiftedBirth := "(x.birth_datetime - to_days(s.days))"
	switch {
	case t.Name == "person" && f.Name == "year_of_birth":
		return "coalesce(year" + shiftedBirth + ", x.year_of_birth)"
	case t.Name == "person" && f.Name == "month_of_birth":
		return "month" + shiftedBirth
	case t.Name == "person" && f.Name == "day_of_birth":
		return "day" + shiftedBirth
	case t.Name == "person" && f.Name == "gender_concept_id":
		return fmt.Sprintf("CASE WHEN x.gender_concept_id IN (%d, %d) THEN x.gender_concept_id ELSE %d END", ConceptMale, ConceptFemale, GenSexAtBirth)
	case t.Name == "person" && f.Name == "race_concept_id":
		return fmt.Sprintf("CASE WHEN x.race_concept_id IN (SELECT c FROM temp.small_race) THEN %d ELSE x.race_concept_id END", GenAnotherSinglePopulation)
	case t.Name == "observation" && f.Name == "value_source_concept_id":
		return "CASE WHEN g.value IS NOT NULL THEN g.value ELSE x.value_source_concept_id END"
	case t.Name == "observation" && f.Name == "value_as_concept_id":
		return "CASE WHEN g.value IS NOT NULL AND g.value IS DISTINCT FROM x.value_source_concept_id THEN g.value ELSE x.value_as_concept_id END"
	case f.DuckDBType() == "DATE":
		return "CAST(" + x + " - s.days AS DATE)"
	case f.DuckDBType() == "TIMESTAMP":
		return x + " - to_days(s.days)"
	}
	return x
}
