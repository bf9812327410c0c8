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
	MemoryLimit string    // DuckDB memory_limit (default DefaultMemoryLimit())
	TempDir     string    // DuckDB's spill directory (default: beside outPath)
}

// Reasons a tier leaves rows of the base database out (Exclusion.Reason).
const (
	// ReasonPersonUnknown: the row's person_id is empty or not in person, so
	// the row cannot be date-shifted or age-checked (every tier).
	ReasonPersonUnknown = "person_unknown"
	// ReasonBirthYearUnknown: the person has no year of birth, so the
	// registered tier cannot check their age.
	ReasonBirthYearUnknown = "birth_year_unknown"
	// ReasonAged89: the person is 89 or over at AgeAsOf (registered tier).
	ReasonAged89 = "aged_89_or_over"
	// ReasonDuplicateKey: another row holds the same primary key; every tier
	// keeps one row per key (see BuildTier).
	ReasonDuplicateKey = "duplicate_key"
	// ReasonSurveyMerged: a person answered a demographic survey question
	// more than once; the registered tier keeps one generalised answer.
	ReasonSurveyMerged = "survey_answers_merged"
	// ReasonNotInTier: the tier does not hold the table at all (registered:
	// free text and identifiers below state level).
	ReasonNotInTier = "table_not_in_tier"
	// ReasonAfterEnd: the row is dated after the registered tier's end
	// (the data cut less 364 days) once shifted.
	ReasonAfterEnd = "after_tier_end"
)

// Exclusion counts the rows of one base table a tier left out for one reason.
type Exclusion struct {
	Table  string `json:"table"`
	Reason string `json:"reason"`
	Rows   int64  `json:"rows"`
	Detail string `json:"detail"`
}

// TierReport is what a tier holds and what it left out of the base: for
// every table, tier rows = base rows − the rows of its exclusions (a table
// the tier does not hold is one exclusion of all its rows).
type TierReport struct {
	Tier     datasets.Tier    `json:"tier"`
	Tables   map[string]int64 `json:"tables"` // rows of every CDM and Fitbit table the tier holds
	Excluded []Exclusion      `json:"excluded"`
}

// ExcludedRows returns the rows of table left out for reason ("" for any reason).
func (r *TierReport) ExcludedRows(table, reason string) int64 {
	var n int64
	for _, e := range r.Excluded {
		if e.Table == table && (reason == "" || e.Reason == reason) {
			n += e.Rows
		}
	}
	return n
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
// tables, and reports what it left out. The base tables and the shift
// secret never enter outPath.
//
// Every tier holds only rows that can be curated. A row whose person_id is
// empty or not in person is left out (it cannot be date-shifted or
// age-checked). Rows sharing a primary key value keep one row per key: the
// one whose values sort first, field by field in specification order
// (empty values last), so a re-import of the same rows in another order
// keeps the same row, and every tier keeps the same one. Rows with an empty
// primary key are kept.
//
// Registered: every date and datetime of a person is shifted back by the
// person's stable offset of 1–364 days (a SHA-256 keyed hash of the
// workspace secret and person_id, so intervals stay true and re-imports
// shift identically; birth by an offset of its own), and every person's
// data end at the tier's end, the data cut less 364 days: rows dated
// after it once shifted are left out and ends after it are it; persons
// aged 89 or over at AgeAsOf (by year of
// birth, conservatively) and persons without a year of birth are absent
// from every table, Fitbit included; note, note_nlp, location, care_site,
// provider, cost and fact_relationship are absent; *_source_value,
// provider/care site/location ids and free text columns are removed;
// survey demographics and person race/sex are generalised (see survey.go),
// and person's race and gender source concepts are 0 (no matching concept).
// Controlled: every table, unshifted, full.
func BuildTier(ctx context.Context, basePath string, tier datasets.Tier, outPath string, opts TierOptions) (*TierReport, error) {
	if opts.AgeAsOf.IsZero() {
		opts.AgeAsOf = time.Now()
	}
	if opts.SmallGroup <= 0 {
		opts.SmallGroup = 200
	}
	if opts.MemoryLimit == "" {
		opts.MemoryLimit = DefaultMemoryLimit()
	}
	if opts.TempDir == "" {
		opts.TempDir = outPath + ".tmp"
		defer os.RemoveAll(opts.TempDir)
	}
	if tier != datasets.Controlled && tier != datasets.Registered {
		return nil, fmt.Errorf("omop: build tier: unknown tier %q", tier)
	}
	if _, err := os.Stat(outPath); !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("omop: build tier: %s already exists", outPath)
	}
	db, err := sql.Open("duckdb", outPath+duckConfig(opts.Threads, opts.MemoryLimit, opts.TempDir))
	if err != nil {
		return nil, fmt.Errorf("omop: build tier %s: %w", tier, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // temp tables and the attachment are per connection
	b := &tierBuilder{ctx: ctx, db: db, tier: tier, opts: opts, src: map[string]string{}, afterEnd: map[string]int64{},
		rep: &TierReport{Tier: tier, Tables: map[string]int64{}}}
	// Tier row order is irrelevant; parallel unordered inserts are faster.
	if err := b.exec("SET preserve_insertion_order = false"); err != nil {
		return nil, err
	}
	if err := b.exec("ATTACH " + quoteString(basePath) + " AS base (READ_ONLY)"); err != nil {
		return nil, err
	}
	b.qual, b.noBirthYear, err = readQuality(ctx, func(q string) (*sql.Rows, error) { return db.QueryContext(ctx, q) })
	if err != nil {
		return nil, fmt.Errorf("omop: build tier %s: read quality: %w", tier, err)
	}
	if err := b.dedupe(); err != nil {
		return nil, err
	}
	switch tier {
	case datasets.Controlled:
		err = b.controlled()
	case datasets.Registered:
		err = b.registered()
	}
	if err != nil {
		return nil, err
	}
	if err := b.account(); err != nil {
		return nil, err
	}
	if err := b.exec(`CREATE TABLE enclave_tier (key VARCHAR, value VARCHAR)`); err != nil {
		return nil, err
	}
	if err := b.exec(`INSERT INTO enclave_tier VALUES ('tier', ?), ('built_at', ?), ('age_as_of', ?)`,
		string(tier), time.Now().UTC().Format(time.RFC3339), opts.AgeAsOf.Format("2006-01-02")); err != nil {
		return nil, err
	}
	if err := b.exec("DETACH base"); err != nil {
		return nil, err
	}
	if err := b.exec("CHECKPOINT"); err != nil {
		return nil, err
	}
	return b.rep, nil
}

// tierBuilder holds the state of one BuildTier.
type tierBuilder struct {
	ctx          context.Context
	db           *sql.DB
	tier         datasets.Tier
	opts         TierOptions
	qual         map[string]tableQuality // per base table, from the import's checks
	noBirthYear  int64                   // persons without a year of birth
	src          map[string]string       // table → relation to read it from (base.t, or a de-duplicated temp table)
	rep          *TierReport
	surveyMerged int64 // observation rows merged by the survey generalisation
	// afterEnd: rows of a registered table dated after the tier's end once
	// shifted, by table.
	afterEnd map[string]int64
}

func (b *tierBuilder) exec(q string, args ...any) error {
	if _, err := b.db.ExecContext(b.ctx, q, args...); err != nil {
		if b.ctx.Err() != nil {
			return b.ctx.Err()
		}
		return fmt.Errorf("omop: build tier %s: %w\n%s", b.tier, err, q)
	}
	return nil
}

func (b *tierBuilder) count(q string, args ...any) (int64, error) {
	var n sql.NullInt64
	if err := b.db.QueryRowContext(b.ctx, q, args...).Scan(&n); err != nil {
		if b.ctx.Err() != nil {
			return 0, b.ctx.Err()
		}
		return 0, fmt.Errorf("omop: build tier %s: %w\n%s", b.tier, err, q)
	}
	return n.Int64, nil
}

// dedupe makes a temp table holding one row per key of every table whose
// primary key the import found duplicated; the tier reads those instead.
func (b *tierBuilder) dedupe() error {
	for i := range Tables {
		t := &Tables[i]
		b.src[t.Name] = "base." + quoteIdent(t.Name)
		pk := pkField(t)
		if pk == "" || b.qual[t.Name].dupRows == 0 {
			continue
		}
		var order []string
		for _, f := range t.Fields {
			order = append(order, quoteIdent(f.Name)+" ASC NULLS LAST")
		}
		tmp := "temp." + quoteIdent("dedup_"+t.Name)
		if err := b.exec(fmt.Sprintf("CREATE TEMP TABLE %s AS SELECT * FROM base.%s QUALIFY %s IS NULL OR row_number() OVER (PARTITION BY %[3]s ORDER BY %s) = 1",
			quoteIdent("dedup_"+t.Name), quoteIdent(t.Name), quoteIdent(pk), strings.Join(order, ", "))); err != nil {
			return err
		}
		b.src[t.Name] = tmp
	}
	return nil
}

// personFilter is the WHERE clause leaving out rows of table t whose person
// is unknown ("" when the import found none).
func (b *tierBuilder) personFilter(t *Table) string {
	if !t.HasPerson() || b.qual[t.Name].orphanRows == 0 {
		return ""
	}
	if t.Name == "person" {
		return " WHERE x.person_id IS NOT NULL"
	}
	return " WHERE x.person_id IN (SELECT person_id FROM " + b.src["person"] + " WHERE person_id IS NOT NULL)"
}

func (b *tierBuilder) controlled() error {
	for i := range Tables {
		t := &Tables[i]
		if err := b.exec(fmt.Sprintf("CREATE TABLE %s AS SELECT * FROM %s x%s", quoteIdent(t.Name), b.src[t.Name], b.personFilter(t))); err != nil {
			return err
		}
	}
	return nil
}

// account counts the tier's tables and what it left out of each base table
// and why: duplicate keys (known from the import's checks), survey answers
// merged (counted while building), unknown persons (known from the checks,
// or counted when duplicates were removed first), persons without a year of
// birth (counted when there are any), and the rest, persons aged 89+.
func (b *tierBuilder) account() error {
	add := func(table, reason string, rows int64, detail string) {
		if rows != 0 {
			b.rep.Excluded = append(b.rep.Excluded, Exclusion{Table: table, Reason: reason, Rows: rows, Detail: detail})
		}
	}
	for i := range Tables {
		t := &Tables[i]
		tq := quoteIdent(t.Name)
		nb, err := b.count("SELECT count(*) FROM base." + tq)
		if err != nil {
			return err
		}
		if b.tier == datasets.Registered && registeredExcluded[t.Name] {
			add(t.Name, ReasonNotInTier, nb, "table not held by the registered tier (free text or identifiers below state level)")
			continue
		}
		nt, err := b.count("SELECT count(*) FROM main." + tq)
		if err != nil {
			return err
		}
		b.rep.Tables[t.Name] = nt
		q := b.qual[t.Name]
		pk := pkField(t)
		add(t.Name, ReasonDuplicateKey, q.dupRows, fmt.Sprintf("rows repeating another row's %s (one row kept per key)", pk))
		rest := nb - q.dupRows - nt
		var survey, orphans, noYear int64
		if t.Name == "observation" {
			survey = b.surveyMerged
		}
		if t.HasPerson() {
			orphans = q.orphanRows
			if q.dupRows > 0 && q.orphanRows > 0 {
				// The duplicates removed may have been orphans too: count what is left.
				if orphans, err = b.count(fmt.Sprintf("SELECT count(*) FROM %s x WHERE x.person_id IS NULL OR x.person_id NOT IN (SELECT person_id FROM %s WHERE person_id IS NOT NULL)",
					b.src[t.Name], b.src["person"])); err != nil {
					return err
				}
			}
			if b.tier == datasets.Registered && b.noBirthYear > 0 {
				if noYear, err = b.count(fmt.Sprintf("SELECT count(*) FROM %s x WHERE x.person_id IN (SELECT person_id FROM %s WHERE year_of_birth IS NULL)",
					b.src[t.Name], b.src["person"])); err != nil {
					return err
				}
			}
		}
		add(t.Name, ReasonPersonUnknown, orphans, "person_id empty or not in person: cannot be date-shifted or age-checked")
		add(t.Name, ReasonBirthYearUnknown, noYear, "person without a year of birth: age cannot be checked")
		add(t.Name, ReasonSurveyMerged, survey, "repeated answers to a demographic survey question merged into one generalised answer")
		late := b.afterEnd[t.Name]
		add(t.Name, ReasonAfterEnd, late, "dated after the registered tier's end (the data cut less 364 days) once shifted")
		aged := rest - orphans - noYear - survey - late
		if b.tier == datasets.Controlled && aged != 0 || aged < 0 {
			return fmt.Errorf("omop: build tier %s: %s: %d base rows, %d in the tier, %d left out unaccounted for", b.tier, t.Name, nb, nt, aged)
		}
		add(t.Name, ReasonAged89, aged, fmt.Sprintf("person aged 89 or over on %s", b.opts.AgeAsOf.Format("2006-01-02")))
	}
	return nil
}

func (b *tierBuilder) registered() error {
	exec := b.exec
	opts := b.opts
	person, obs := b.src["person"], b.src["observation"]
	// Per-person offsets, in a TEMP table (never written to the tier file):
	// the events' and, independent of it, the birth's.
	if err := exec(`CREATE TEMP TABLE shift AS
		SELECT person_id, `+offsetSQL(":")+` AS days, `+offsetSQL(":birth:")+` AS bdays
		FROM `+person+` WHERE person_id IS NOT NULL AND ? - year_of_birth < 89`, opts.AgeAsOf.Year()); err != nil {
		return err
	}
	// The tier's end: the data cut (the last end of observation) less 364
	// days. Shifted back by 1–364 days, data that run to the cut would end
	// at the cut less the person's offset, and the cut less their last date
	// gave the offset (97% of the synthetic persons were observed to the
	// cut, review 48; 2,245 had a drug going on, review 49; a Fitbit day
	// on the cut beside the day before, review 50; each time true dates
	// were matched). So every person's shifted data end at one date for
	// all: rows dated after it once shifted are left out (each person
	// loses their last 364 less offset days), and an end after it (an
	// observation, a drug, an era going on) is that date.
	if err := exec(`CREATE TEMP TABLE cut AS SELECT CAST(max(observation_period_end_date) - INTERVAL 364 DAY AS DATE) AS d FROM ` + b.src["observation_period"]); err != nil {
		return err
	}
	// Single races reported by fewer than SmallGroup persons, in person and in the survey.
	if err := exec(`CREATE TEMP TABLE small_race AS
		SELECT race_concept_id AS c FROM `+person+` JOIN shift USING (person_id)
		WHERE race_concept_id <> 0 GROUP BY 1 HAVING count(*) < ?`, opts.SmallGroup); err != nil {
		return err
	}
	if err := exec(fmt.Sprintf(`CREATE TEMP TABLE demo AS
		SELECT o.observation_id, o.person_id, o.observation_source_concept_id AS q, o.value_source_concept_id AS a,
			count(*) OVER w AS n, row_number() OVER (w ORDER BY o.observation_id) AS rn
		FROM %s o JOIN shift USING (person_id)
		WHERE o.observation_source_concept_id IN (%d, %d, %d, %d, %d, %d) AND o.observation_id IS NOT NULL
		WINDOW w AS (PARTITION BY o.person_id, o.observation_source_concept_id)`,
		obs, QuestionRace, QuestionGenderIdentity, QuestionSexAtBirth, QuestionSexualOrientation, QuestionEducation, QuestionEmployment)); err != nil {
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
	var err error
	if b.surveyMerged, err = b.count("SELECT count(*) FROM temp.gen WHERE dropped"); err != nil {
		return err
	}
	for i := range Tables {
		t := &Tables[i]
		if registeredExcluded[t.Name] {
			continue
		}
		if !t.HasPerson() {
			if err := exec(fmt.Sprintf("CREATE TABLE %s AS SELECT * FROM %s", quoteIdent(t.Name), b.src[t.Name])); err != nil {
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
		from := fmt.Sprintf("%s x JOIN temp.shift s ON s.person_id = x.person_id", b.src[t.Name])
		within := withinEnd(t)
		late, err := b.count("SELECT count(*) FROM " + from + " WHERE NOT (" + within + ")")
		if err != nil {
			return err
		}
		b.afterEnd[t.Name] = late
		q := fmt.Sprintf("CREATE TABLE %s AS SELECT %s FROM %s", quoteIdent(t.Name), strings.Join(sel, ", "), from)
		if t.Name == "observation" {
			q += " LEFT JOIN temp.gen g ON g.observation_id = x.observation_id WHERE NOT coalesce(g.dropped, false) AND (" + within + ")"
		} else {
			q += " WHERE " + within
		}
		if err := exec(q); err != nil {
			return err
		}
	}
	return nil
}

// offsetSQL is a person's offset of 1–364 days: 15 hex digits (60 bits) of
// SHA-256(secret label person_id). Another label gives an independent one.
func offsetSQL(label string) string {
	return `CAST(1 + (CAST(('0x' || left(sha256((SELECT value FROM base.enclave_meta WHERE key = 'shift_secret') || '` + label +
		`' || CAST(person_id AS VARCHAR)), 15)) AS BIGINT) % 364) AS INTEGER)`
}

// eraCount returns the end column of era table t when f is one of its
// counts (rows of the era, days between them), "" otherwise.
func eraCount(t, f string) string {
	switch {
	case t == "drug_era" && (f == "drug_exposure_count" || f == "gap_days"):
		return "drug_era_end_date"
	case t == "condition_era" && f == "condition_occurrence_count":
		return "condition_era_end_date"
	}
	return ""
}

// isEnd reports whether f is the end of something that lasts (an
// observation period, a drug, an era, a visit): one that goes on past the
// registered tier's end is cut there, not left out.
func isEnd(f Field) bool { return strings.Contains(f.Name, "end_date") }

// withinEnd is the condition, over x (the source row) and s (its
// person's offset), that a row of t is within the registered tier's end
// once shifted: every date of it that is not an end is on or before it.
func withinEnd(t *Table) string {
	conds := []string{"true"}
	for _, f := range t.Fields {
		if isEnd(f) || !RegisteredColumn(t.Name, f.Name) {
			continue
		}
		x := "x." + quoteIdent(f.Name)
		switch f.DuckDBType() {
		case "DATE":
			conds = append(conds, "("+x+" IS NULL OR "+x+" - s.days <= (SELECT d FROM temp.cut))")
		case "TIMESTAMP":
			conds = append(conds, "("+x+" IS NULL OR "+x+" - to_days(s.days) < CAST((SELECT d FROM temp.cut) + 1 AS TIMESTAMP))")
		}
	}
	return strings.Join(conds, " AND ")
}

// registeredExpr is the registered tier's value of one field of a person table.
func registeredExpr(t *Table, f Field) string {
	x := "x." + quoteIdent(f.Name)
	// Birth takes an offset of its own: with the events' offset, a known
	// birthday gave it, and every true date followed (review 51). Ages at
	// events are then off by up to a year, as the shift already made them.
	shiftedBirth := "(x.birth_datetime - to_days(s.bdays))"
	switch {
	case t.Name == "person" && f.Name == "year_of_birth":
		return "coalesce(year" + shiftedBirth + ", x.year_of_birth)"
	case t.Name == "person" && f.Name == "month_of_birth":
		return "month" + shiftedBirth
	case t.Name == "person" && f.Name == "day_of_birth":
		return "day" + shiftedBirth
	case t.Name == "person" && f.Name == "birth_datetime":
		return shiftedBirth
	case eraCount(t.Name, f.Name) != "":
		// Counted over the source's rows: an era going on at the tier's
		// end counted rows the tier leaves out (review 51 read one
		// withheld prescription, and a bound on the offset, from it).
		end := "x." + quoteIdent(eraCount(t.Name, f.Name))
		return "CASE WHEN " + end + " - s.days > (SELECT d FROM temp.cut) THEN NULL ELSE " + x + " END"
	case t.Name == "person" && f.Name == "gender_concept_id":
		return fmt.Sprintf("CASE WHEN x.gender_concept_id IN (%d, %d) THEN x.gender_concept_id ELSE %d END", ConceptMale, ConceptFemale, GenSexAtBirth)
	case t.Name == "person" && f.Name == "race_concept_id":
		return fmt.Sprintf("CASE WHEN x.race_concept_id IN (SELECT c FROM temp.small_race) THEN %d ELSE x.race_concept_id END", GenAnotherSinglePopulation)
	case t.Name == "person" && (f.Name == "race_source_concept_id" || f.Name == "gender_source_concept_id"):
		// The source concepts of generalised demographics would undo the
		// generalisation: a GROUP BY race_source_concept_id gave the six
		// races merged into "Another single population" (review 48).
		return "0"
	case t.Name == "observation" && f.Name == "value_source_concept_id":
		return "CASE WHEN g.value IS NOT NULL THEN g.value ELSE x.value_source_concept_id END"
	case t.Name == "observation" && f.Name == "value_as_concept_id":
		return "CASE WHEN g.value IS NOT NULL AND g.value IS DISTINCT FROM x.value_source_concept_id THEN g.value ELSE x.value_as_concept_id END"
	case f.DuckDBType() == "DATE" && isEnd(f):
		return "CASE WHEN " + x + " - s.days > (SELECT d FROM temp.cut) THEN (SELECT d FROM temp.cut) ELSE CAST(" + x + " - s.days AS DATE) END"
	case f.DuckDBType() == "TIMESTAMP" && isEnd(f):
		return "CASE WHEN " + x + " - to_days(s.days) >= CAST((SELECT d FROM temp.cut) + 1 AS TIMESTAMP) THEN CAST((SELECT d FROM temp.cut) AS TIMESTAMP) ELSE " + x + " - to_days(s.days) END"
	case f.DuckDBType() == "DATE":
		return "CAST(" + x + " - s.days AS DATE)"
	case f.DuckDBType() == "TIMESTAMP":
		return x + " - to_days(s.days)"
	}
	return x
}
