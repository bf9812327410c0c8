package omop

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"enclave/datasets"
)

// attachBoth opens an in-memory DuckDB with the base database as "base" and
// a tier database as "tier", both read-only: the test's view, not a kernel's.
func attachBoth(t *testing.T, db string, tier datasets.Tier) *sql.DB {
	t.Helper()
	conn, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	conn.SetMaxOpenConns(1)
	t.Cleanup(func() { conn.Close() })
	for alias, p := range map[string]string{"base": db, "tier": TierPath(db, tier)} {
		if _, err := conn.Exec(fmt.Sprintf("ATTACH '%s' AS %s (READ_ONLY)", p, alias)); err != nil {
			t.Fatal(err)
		}
	}
	return conn
}

func queryInt(t *testing.T, conn *sql.DB, q string, args ...any) int64 {
	t.Helper()
	var n sql.NullInt64
	if err := conn.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n.Int64
}

func tierTables(t *testing.T, conn *sql.DB) map[string][]string {
	t.Helper()
	rows, err := conn.Query(`SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = 'tier' ORDER BY table_name, column_index`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var tn, cn string
		if err := rows.Scan(&tn, &cn); err != nil {
			t.Fatal(err)
		}
		out[tn] = append(out[tn], cn)
	}
	return out
}

// TestRegisteredHides checks what the registered tier must not hold: the
// 89+ person, tables and columns below state level, free text, source
// values, the base tables' secret.
func TestRegisteredHides(t *testing.T) {
	db, _ := importGood(t, Options{})
	conn := attachBoth(t, db, datasets.Registered)
	tables := tierTables(t, conn)
	for _, gone := range []string{"note", "note_nlp", "location", "care_site", "provider", "cost", "fact_relationship", "enclave_meta"} {
		if _, ok := tables[gone]; ok {
			t.Errorf("registered tier holds table %s", gone)
		}
	}
	for _, keep := range []string{"person", "condition_occurrence", "measurement", "observation", "steps_intraday", "activity_summary", "device", "concept", "concept_ancestor", "enclave_tier"} {
		if _, ok := tables[keep]; !ok {
			t.Errorf("registered tier lacks table %s", keep)
		}
	}
	for tn, cols := range tables {
		hasPerson := false
		for _, c := range cols {
			hasPerson = hasPerson || c == "person_id"
		}
		if hasPerson {
			for _, c := range cols {
				if strings.HasSuffix(c, "_source_value") || c == "provider_id" || c == "care_site_id" || c == "location_id" ||
					c == "value_as_string" || c == "stop_reason" || c == "device_id" || c == "note_text" {
					t.Errorf("registered %s keeps column %s", tn, c)
				}
			}
			if n := queryInt(t, conn, fmt.Sprintf("SELECT count(*) FROM tier.%s WHERE person_id = 3", tn)); n != 0 {
				t.Errorf("registered %s holds %d rows of person 3 (aged 96)", tn, n)
			}
		}
	}
	var secret string
	if err := conn.QueryRow(`SELECT value FROM base.enclave_meta WHERE key = 'shift_secret'`).Scan(&secret); err != nil || len(secret) < 32 {
		t.Fatalf("base secret: %q %v", secret, err)
	}
	rows, err := conn.Query(`SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = 'tier' AND data_type = 'VARCHAR'`)
	if err != nil {
		t.Fatal(err)
	}
	var checks []string
	for rows.Next() {
		var tn, cn string
		rows.Scan(&tn, &cn)
		checks = append(checks, fmt.Sprintf("SELECT count(*) FROM tier.%s WHERE contains(%s, '%s')", tn, quoteIdent(cn), secret[:16]))
	}
	rows.Close()
	for _, q := range checks {
		if queryInt(t, conn, q) != 0 {
			t.Errorf("secret found by %s", q)
		}
	}
}

// birthOffsets returns each registered person's birth offset, measured on
// birth_datetime (base minus tier), in days.
func birthOffsets(t *testing.T, conn *sql.DB) map[int64]int64 {
	t.Helper()
	rows, err := conn.Query(`SELECT b.person_id, date_diff('day', r.birth_datetime, b.birth_datetime)
		FROM base.person b JOIN tier.person r USING (person_id) ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var id, d int64
		if err := rows.Scan(&id, &d); err != nil {
			t.Fatal(err)
		}
		out[id] = d
	}
	return out
}

// TestRegisteredDatesShifted: every date and datetime of every person table
// equals the base value minus that person's one offset (1–364 days), so no
// unshifted date is reachable and intervals stay true.
func TestRegisteredDatesShifted(t *testing.T) {
	db, _ := importGood(t, Options{})
	conn := attachBoth(t, db, datasets.Registered)
	offs := birthOffsets(t, conn)
	if len(offs) != 5 {
		t.Fatalf("registered persons = %d, want 5 (6 minus the 96-year-old)", len(offs))
	}
	distinct := map[int64]bool{}
	for id, d := range offs {
		if d < 1 || d > 364 {
			t.Errorf("person %d shifted by %d days, want 1..364", id, d)
		}
		distinct[d] = true
	}
	if len(distinct) < 2 {
		t.Errorf("all persons share one offset %v: not per person", offs)
	}
	// The events' offset, from the start of observation (everyone has
	// one here): birth takes an offset of its own (a known birthday gave
	// the events' one, review 51), and the two differ.
	if _, err := conn.Exec(`CREATE TEMP TABLE off AS SELECT DISTINCT b.person_id, CAST(date_diff('day', r.observation_period_start_date, b.observation_period_start_date) AS INTEGER) AS d
		FROM base.observation_period b JOIN tier.observation_period r USING (observation_period_id)`); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, conn, `SELECT count(*) FROM off`); n != 5 {
		t.Fatalf("%d persons' event offsets, want 5", n)
	}
	same := 0
	for id, d := range offs {
		if queryInt(t, conn, fmt.Sprintf("SELECT count(*) FROM off WHERE person_id = %d AND d = %d", id, d)) == 1 {
			same++
		}
	}
	if same == len(offs) {
		t.Errorf("every person's birth is shifted by their events' offset %v", offs)
	}
	checked := 0
	for i := range Tables {
		tab := &Tables[i]
		if !tab.HasPerson() || registeredExcluded[tab.Name] {
			continue
		}
		// The base dates as the tier should hold them: shifted back by
		// the person's offset, an end past the tier's end (2025-01-01,
		// the cut 2025-12-31 less 364 days) at it, and only rows whose
		// other dates are not past it.
		var expect, kept, got, plain []string
		for _, f := range tab.Fields {
			if !f.IsDate() || !RegisteredColumn(tab.Name, f.Name) || tab.Name == "person" && f.Name == "birth_datetime" {
				continue
			}
			c := "x." + quoteIdent(f.Name)
			shifted := fmt.Sprintf("CAST(%s - o.d AS DATE)", c)
			end := "DATE '2025-01-01'"
			if f.CDMType != "date" {
				shifted = fmt.Sprintf("%s - to_days(CAST(o.d AS INTEGER))", c)
				end = "TIMESTAMP '2025-01-01'"
			}
			if isEnd(f) {
				expect = append(expect, fmt.Sprintf("CASE WHEN %[1]s > %[2]s THEN %[2]s ELSE %[1]s END", shifted, end))
			} else {
				expect = append(expect, shifted)
				kept = append(kept, fmt.Sprintf("(%s IS NULL OR %s < %s + INTERVAL 1 DAY)", c, shifted, end))
				plain = append(plain, c)
			}
			got = append(got, c)
		}
		if len(got) == 0 {
			continue
		}
		checked++
		where := ""
		if len(kept) > 0 {
			where = " AND " + strings.Join(kept, " AND ")
		}
		tierSide := fmt.Sprintf("SELECT x.person_id, %s FROM tier.%s x", strings.Join(got, ", "), tab.Name)
		baseSide := fmt.Sprintf("SELECT x.person_id, %s FROM base.%s x JOIN off o USING (person_id) WHERE true%s", strings.Join(expect, ", "), tab.Name, where)
		if n := queryInt(t, conn, "SELECT count(*) FROM ("+tierSide+" EXCEPT ALL "+baseSide+")"); n != 0 {
			t.Errorf("%s: %d registered rows whose dates are not the base dates shifted by the person's offset", tab.Name, n)
		}
		if tab.Name != "observation" { // generalisation collapses multi-answer survey rows
			if n := queryInt(t, conn, "SELECT count(*) FROM ("+baseSide+" EXCEPT ALL "+tierSide+")"); n != 0 {
				t.Errorf("%s: %d base rows of registered persons missing from the tier", tab.Name, n)
			}
		}
		for _, c := range plain {
			if n := queryInt(t, conn, fmt.Sprintf("SELECT count(*) FROM tier.%s x WHERE %s > DATE '2025-01-01' + INTERVAL 1 DAY", tab.Name, c)); n != 0 {
				t.Errorf("%s: %d rows whose %s is past the tier's end", tab.Name, n, c)
			}
		}
	}
	if checked < 10 {
		t.Errorf("checked dates of %d tables, want every person table with dates", checked)
	}
	// Every person's data end at one date: the data cut less 364 days.
	// Shifted back to the cut less the offset, an end of observation at
	// the cut, a drug going on, or a Fitbit day on the cut beside the day
	// before gave the offset (reviews 48, 49 and 50 took it from there and
	// matched true dates). Ends before the tier's end are shifted.
	atEnd := queryInt(t, conn, `SELECT count(*) FROM tier.observation_period WHERE observation_period_end_date = DATE '2025-01-01'`)
	before := queryInt(t, conn, `SELECT count(*) FROM tier.observation_period r JOIN base.observation_period b USING (observation_period_id)
		WHERE b.observation_period_end_date < DATE '2025-01-01' AND r.observation_period_end_date < b.observation_period_end_date`)
	if max := queryInt(t, conn, `SELECT count(*) FROM tier.observation_period WHERE observation_period_end_date > DATE '2025-01-01'`); atEnd != 5 || before != 1 || max != 0 {
		t.Errorf("registered ends of observation: %d at the tier's end (want 5), %d earlier ones shifted (want 1), %d past it", atEnd, before, max)
	}
	// Controlled: unshifted, everyone.
	cc := attachBoth(t, db, datasets.Controlled)
	if n := queryInt(t, cc, `SELECT count(*) FROM (SELECT * FROM tier.condition_occurrence EXCEPT ALL SELECT * FROM base.condition_occurrence)`); n != 0 {
		t.Errorf("controlled condition_occurrence differs from base in %d rows", n)
	}
	if _, ok := tierTables(t, cc)["enclave_meta"]; ok {
		t.Errorf("controlled tier holds enclave_meta (the shift secret)")
	}
	if n := queryInt(t, cc, `SELECT count(*) FROM tier.steps_intraday WHERE person_id = 3`); n != 1 {
		t.Errorf("controlled steps_intraday rows of person 3 = %d, want 1", n)
	}
}

// TestRegisteredShiftStable: re-importing into the same workspace keeps
// every offset; another workspace gets other offsets.
func TestRegisteredShiftStable(t *testing.T) {
	db, _ := importGood(t, Options{})
	first := birthOffsets(t, attachBoth(t, db, datasets.Registered))
	if _, err := Import(context.Background(), db, "testdata/good", Options{AgeAsOf: asOf, SmallGroup: 2}); err != nil {
		t.Fatal(err)
	}
	again := birthOffsets(t, attachBoth(t, db, datasets.Registered))
	if fmt.Sprint(first) != fmt.Sprint(again) {
		t.Errorf("re-import changed offsets: %v then %v", first, again)
	}
	other, _ := importGood(t, Options{})
	if fmt.Sprint(first) == fmt.Sprint(birthOffsets(t, attachBoth(t, other, datasets.Registered))) {
		t.Errorf("two workspaces share offsets %v: secret not per workspace", first)
	}
}

// TestRegisteredGeneralised checks the survey and person demographics rules
// on testdata/good (SmallGroup 2).
func TestRegisteredGeneralised(t *testing.T) {
	db, _ := importGood(t, Options{})
	conn := attachBoth(t, db, datasets.Registered)
	answers := func(person, question int) string {
		rows, err := conn.Query(`SELECT value_source_concept_id, value_as_concept_id FROM tier.observation
			WHERE person_id = ? AND observation_source_concept_id = ? ORDER BY 1`, person, question)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var a, b int64
			rows.Scan(&a, &b)
			out = append(out, fmt.Sprintf("%d/%d", a, b))
		}
		return strings.Join(out, " ")
	}
	tests := []struct {
		name             string
		person, question int
		want             string
	}{
		{"single common race kept", 1, QuestionRace, "1586146/1586146"},
		{"two races: more than one population, one row", 2, QuestionRace, "2000000008/2000000008"},
		{"small single race: another single population", 4, QuestionRace, "2000000001/2000000001"},
		{"man, male at birth kept", 1, QuestionGenderIdentity, "1585839/1585839"},
		{"woman, male at birth generalised", 2, QuestionGenderIdentity, "2000000002/2000000002"},
		{"non-binary generalised", 5, QuestionGenderIdentity, "2000000002/2000000002"},
		{"grade 5-8 generalised", 4, QuestionEducation, "2000000007/2000000007"},
		{"college graduate kept", 1, QuestionEducation, "1585947/1585947"},
		{"two employment answers: one generalised row", 4, QuestionEmployment, "2000000005/2000000005"},
	}
	for _, tt := range tests {
		if got := answers(tt.person, tt.question); got != tt.want {
			t.Errorf("%s: person %d question %d = %q, want %q", tt.name, tt.person, tt.question, got, tt.want)
		}
	}
	persons := []struct {
		id           int
		gender, race int64
	}{
		{1, ConceptMale, 8527}, {2, ConceptFemale, GenAnotherSinglePopulation}, {4, ConceptMale, GenAnotherSinglePopulation},
		{5, ConceptFemale, 8527}, {6, GenSexAtBirth, 8527},
	}
	for _, p := range persons {
		var g, r int64
		if err := conn.QueryRow(`SELECT gender_concept_id, race_concept_id FROM tier.person WHERE person_id = ?`, p.id).Scan(&g, &r); err != nil {
			t.Fatal(err)
		}
		if g != p.gender || r != p.race {
			t.Errorf("person %d: gender %d race %d, want %d %d", p.id, g, r, p.gender, p.race)
		}
	}
	// The source concepts would undo the generalisation (review 48
	// grouped by race_source_concept_id): none is kept.
	var kept int64
	if err := conn.QueryRow(`SELECT count(*) FROM tier.person WHERE race_source_concept_id <> 0 OR gender_source_concept_id <> 0`).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	var inBase int64
	if err := conn.QueryRow(`SELECT count(*) FROM base.person WHERE race_source_concept_id <> 0 OR gender_source_concept_id <> 0`).Scan(&inBase); err != nil {
		t.Fatal(err)
	}
	if kept != 0 || inBase == 0 {
		t.Errorf("%d persons keep a race or gender source concept in the registered tier (%d in the source)", kept, inBase)
	}
}

// TestTierLockdown: a kernel's connection to a tier cannot reach files,
// other databases, settings, extensions or the base tables.
func TestTierLockdown(t *testing.T) {
	db, _ := importGood(t, Options{})
	c, err := openCatalog(TierPath(db, datasets.Registered), CatalogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out := filepath.Join(t.TempDir(), "out.csv")
	attempts := []string{
		"SELECT * FROM read_csv('/etc/passwd')",
		"SELECT * FROM read_text('/etc/hostname')",
		fmt.Sprintf("SELECT * FROM '%s'", db),
		fmt.Sprintf("ATTACH '%s' AS b", db),
		fmt.Sprintf("ATTACH '%s' AS b (READ_ONLY)", db),
		fmt.Sprintf("COPY person TO '%s'", out),
		"SET enable_external_access = true",
		"SET lock_configuration = false",
		"INSTALL httpfs",
		"LOAD httpfs",
		"SELECT * FROM base.person",
		"SELECT * FROM enclave_meta",
		"SELECT * FROM shift",
		"CREATE TABLE x (a INTEGER)",
		"DELETE FROM person",
		"EXPORT DATABASE '" + filepath.Dir(out) + "'",
		"SELECT * FROM glob('/etc/*')",
		"SELECT * FROM read_blob('/etc/hostname')",
		"SELECT getenv('HOME')",
	}
	for _, q := range attempts {
		rows, err := c.db.Query(q)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		if err == nil {
			t.Errorf("%s: succeeded on a locked tier connection", q)
		}
	}
	var n int64
	if err := c.db.QueryRow("SELECT count(*) FROM person").Scan(&n); err != nil || n != 5 {
		t.Errorf("registered person count = %d, %v; want 5", n, err)
	}
}
