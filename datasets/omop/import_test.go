package omop

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"enclave/datasets"
	"enclave/internal/sharedtest"
)

// asOf fixes the 89+ reference date so tests do not depend on the clock.
var asOf = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// sharedFolder returns a folder of ../shared/omop, skipping the test when
// it is absent, or failing it in CI (sharedtest.Path).
func sharedFolder(t *testing.T, rel string) string {
	t.Helper()
	return sharedtest.Path(t, "omop/"+rel)
}

// gibleedFolder puts the Eunomia GiBleed export and its vocabulary shard in
// one folder, as a steward receives an OHDSI export.
func gibleedFolder(t *testing.T) string {
	t.Helper()
	folder := t.TempDir()
	copyDir(t, sharedFolder(t, "eunomia/gibleed_5.3_partial"), folder)
	copyDir(t, sharedFolder(t, "vocab/gibleed"), folder)
	return folder
}

// csvRows reads a CSV file of the folder with encoding/csv: the source's
// own count, independent of the import.
func csvRows(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func colIndex(t *testing.T, recs [][]string, name string) int {
	t.Helper()
	for i, h := range recs[0] {
		if strings.EqualFold(h, name) {
			return i
		}
	}
	t.Fatalf("no column %s", name)
	return -1
}

// failedChecks renders the failed checks as "check table.field rows" lines.
func failedChecks(q *Quality) []string {
	var out []string
	for _, c := range q.FailedChecks() {
		out = append(out, fmt.Sprintf("%s %d", c.Name(), c.Rows))
	}
	slices.Sort(out)
	return out
}

// openRO opens a DuckDB file read-only for the test's own queries.
func openRO(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", path+"?access_mode=READ_ONLY")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// tableCounts counts the rows of every table of a DuckDB file.
func tableCounts(t *testing.T, path string) map[string]int64 {
	t.Helper()
	db := openRO(t, path)
	rows, err := db.Query(`SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	out := map[string]int64{}
	for _, n := range names {
		var c int64
		if err := db.QueryRow("SELECT count(*) FROM " + quoteIdent(n)).Scan(&c); err != nil {
			t.Fatal(err)
		}
		out[n] = c
	}
	return out
}

// checkTierAccounting asserts, for every table of every tier built, that
// the tier's rows (counted in the tier file) equal the base's minus the
// rows the report says the tier left out.
func checkTierAccounting(t *testing.T, db string, rep *Report) {
	t.Helper()
	base := tableCounts(t, db)
	for _, tr := range rep.Quality.Tiers {
		counts := tableCounts(t, TierPath(db, tr.Tier))
		for i := range Tables {
			name := Tables[i].Name
			got, held := counts[name]
			if want := base[name] - tr.ExcludedRows(name, ""); got != want {
				t.Errorf("%s tier %s: %d rows, base %d minus reported exclusions = %d (held %v)", tr.Tier, name, got, base[name], want, held)
			}
			if held && tr.Tables[name] != got {
				t.Errorf("%s tier %s: report says %d rows, file holds %d", tr.Tier, name, tr.Tables[name], got)
			}
		}
	}
}

// TestImportGiBleed imports the real Eunomia GiBleed export with its
// vocabulary as it is: every source row is kept, and the report fails
// exactly the two checks the data breaks (observation periods of persons
// not in person, duplicated observation ids); the tiers leave those rows
// out and say so.
func TestImportGiBleed(t *testing.T) {
	folder := gibleedFolder(t)
	db := filepath.Join(t.TempDir(), "omop.duckdb")
	rep, err := Import(context.Background(), db, folder, Options{AgeAsOf: asOf})
	if err != nil {
		t.Fatalf("Import: %v\n%s", err, rep)
	}
	// Row counts equal the source's: the numbers, and every clinical
	// file's own count.
	for tab, n := range map[string]int64{"person": 2694, "observation_period": 5343, "visit_occurrence": 1037,
		"procedure_occurrence": 37409, "observation": 1477, "condition_era": 65719, "drug_era": 52508, "death": 0} {
		if rep.Tables[tab] != n {
			t.Errorf("%s rows = %d, want %d", tab, rep.Tables[tab], n)
		}
	}
	for _, f := range rep.Files {
		if f.Table == "" || IsVocabulary(f.Table) {
			continue
		}
		if n := int64(len(csvRows(t, filepath.Join(folder, f.File))) - 1); rep.Tables[f.Table] != n || f.Rows != n {
			t.Errorf("%s: base %d rows, read %d, source %d", f.File, rep.Tables[f.Table], f.Rows, n)
		}
	}
	if rep.Errors != 0 {
		t.Errorf("errors: %d\n%s", rep.Errors, rep)
	}

	// The failed checks, counted independently from the CSV files.
	persons := map[string]bool{}
	for _, r := range csvRows(t, filepath.Join(folder, "person.csv"))[1:] {
		persons[r[0]] = true
	}
	op := csvRows(t, filepath.Join(folder, "observation_period.csv"))
	pc := colIndex(t, op, "person_id")
	var orphans int64
	for _, r := range op[1:] {
		if !persons[r[pc]] {
			orphans++
		}
	}
	obs := csvRows(t, filepath.Join(folder, "observation.csv"))
	ids := map[string]int{}
	for _, r := range obs[1:] {
		ids[r[0]]++
	}
	var dupRows, dupKeys int64
	for _, n := range ids {
		if n > 1 {
			dupRows += int64(n)
			dupKeys++
		}
	}
	if orphans != 2649 || dupKeys != 6 {
		t.Fatalf("the source changed: %d orphan observation periods, %d duplicated observation ids", orphans, dupKeys)
	}
	q := rep.Quality
	want := []string{fmt.Sprintf("isForeignKey observation_period.person_id %d", orphans), fmt.Sprintf("isPrimaryKey observation.observation_id %d", dupRows)}
	if got := failedChecks(q); !slices.Equal(got, want) {
		t.Errorf("failed checks = %q, want %q\n%s", got, want, rep)
	}
	for _, c := range q.FailedChecks() {
		if c.Check == "isPrimaryKey" && (c.Keys != 6 || c.Denominator != 1477 || c.Threshold != 0 || !slices.Equal(c.Examples, []string{"72", "138", "305", "1729", "1836"})) {
			t.Errorf("observation_id check %+v", c)
		}
		if c.Check == "isForeignKey" && (c.Denominator != 5343 || fmt.Sprintf("%.2f", c.Pct) != "49.58" || c.Level != LevelError) {
			t.Errorf("person FK check %+v", c)
		}
	}

	// The tiers: base minus reported exclusions, table by table.
	checkTierAccounting(t, db, rep)
	ctl := q.Tier("controlled")
	if ctl == nil || ctl.ExcludedRows("observation_period", ReasonPersonUnknown) != orphans ||
		ctl.ExcludedRows("observation", ReasonDuplicateKey) != dupKeys || len(ctl.Excluded) != 2 {
		t.Errorf("controlled tier exclusions: %+v", ctl)
	}
	reg := q.Tier("registered")
	conn := openRO(t, db)
	var aged int64
	if err := conn.QueryRow(`SELECT count(*) FROM person WHERE 2026 - year_of_birth >= 89`).Scan(&aged); err != nil {
		t.Fatal(err)
	}
	if reg == nil || reg.ExcludedRows("person", ReasonAged89) != aged || aged == 0 ||
		reg.ExcludedRows("observation_period", ReasonPersonUnknown) != orphans {
		t.Errorf("registered tier exclusions (want %d aged 89+): %+v", aged, reg)
	}
	// One row per duplicated key, by the documented rule: the row whose
	// values sort first (observation_id 72 is persons 3 and 124: person 3).
	tierDB := openRO(t, TierPath(db, datasets.Controlled))
	var who int64
	if err := tierDB.QueryRow(`SELECT person_id FROM observation WHERE observation_id = 72`).Scan(&who); err != nil || who != 3 {
		t.Errorf("observation 72 in the controlled tier: person %d, %v", who, err)
	}

	// The report on disk is the one returned.
	disk, err := ReadQuality(QualityPath(db))
	if err != nil {
		t.Fatal(err)
	}
	if got := failedChecks(disk); !slices.Equal(got, want) || len(disk.Tiers) != 2 || disk.Tables["observation"] != 1477 {
		t.Errorf("quality.json: failed %q, %d tiers", got, len(disk.Tiers))
	}
	var text bytes.Buffer
	disk.WriteText(&text, false)
	for _, s := range []string{"2 failed", "FAIL isForeignKey             observation_period.person_id → person.person_id: 2649 of 5343 rows (49.58%, threshold 0%)",
		"observation_period                 2649 rows  person_id empty or not in person"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("report text lacks %q:\n%s", s, &text)
		}
	}

	// Strict refuses the same folder and leaves the workspace as it was.
	paths := []string{db, TierPath(db, datasets.Registered), TierPath(db, datasets.Controlled), QualityPath(db)}
	before := fileSums(t, paths...)
	srep, err := Import(context.Background(), db, folder, Options{AgeAsOf: asOf, Strict: true})
	if !errors.Is(err, ErrFailedChecks) || srep.Quality.Failed() != 2 {
		t.Errorf("strict import: %v", err)
	}
	if after := fileSums(t, paths...); !maps.Equal(before, after) {
		t.Errorf("refused strict import changed the workspace")
	}
}

// TestImportSynthea54 imports the real Eunomia Synthea27Nj export, CDM
// v5.4, into the v5.3 schema: renamed fields are mapped, fields and tables
// v5.3 has no place for are reported with their row counts.
func TestImportSynthea54(t *testing.T) {
	folder := sharedFolder(t, "eunomia/synthea27nj_5.4")
	db := filepath.Join(t.TempDir(), "omop.duckdb")
	rep, err := Import(context.Background(), db, folder, Options{AgeAsOf: asOf})
	if err != nil {
		t.Fatalf("Import: %v\n%s", err, rep)
	}
	for tab, n := range map[string]int64{"person": 28, "observation_period": 28, "visit_occurrence": 1791, "visit_detail": 1791,
		"condition_occurrence": 470, "drug_exposure": 883, "procedure_occurrence": 1649, "measurement": 10040,
		"observation": 8099, "death": 3, "condition_era": 469, "provider": 67, "device_exposure": 1} {
		if rep.Tables[tab] != n {
			t.Errorf("%s rows = %d, want %d", tab, rep.Tables[tab], n)
		}
	}
	if got := failedChecks(rep.Quality); len(got) != 0 {
		t.Errorf("failed checks %q\n%s", got, rep)
	}
	// Renamed fields land in their v5.3 columns.
	conn := openRO(t, db)
	for q, want := range map[string]int64{
		"SELECT count(admitting_source_concept_id) FROM visit_occurrence": 1791,
		"SELECT count(discharge_to_concept_id) FROM visit_occurrence":     1791,
		"SELECT count(admitting_source_concept_id) FROM visit_detail":     1791,
		"SELECT count(visit_detail_parent_id) FROM visit_detail":          0,
	} {
		var n int64
		if err := conn.QueryRow(q).Scan(&n); err != nil || n != want {
			t.Errorf("%s = %d (%v), want %d", q, n, err, want)
		}
	}
	// What has no v5.3 place is reported, not silently dropped.
	wantProblems := []string{
		"procedure_occurrence.csv:1: warning: column procedure_end_date: CDM v5.4 field with no CDM v5.3 field: non-empty values not loaded (1649 rows)",
		"cdm_source.csv:1: warning: column cdm_version_concept_id: CDM v5.4 field with no CDM v5.3 field: non-empty values not loaded (1 rows)",
		"episode.csv: warning: CDM v5.4 table with no CDM v5.3 equivalent; not loaded",
		"episode_event.csv: warning: CDM v5.4 table with no CDM v5.3 equivalent; not loaded",
		"visit_detail.csv:1: note: columns loaded under their CDM v5.3 names: admitted_from_concept_id → admitting_source_concept_id, admitted_from_source_value → admitting_source_value, discharged_to_source_value → discharge_to_source_value, discharged_to_concept_id → discharge_to_concept_id, parent_visit_detail_id → visit_detail_parent_id",
		"measurement.csv:1: note: columns with no field in the CDM v5.3 measurement table, all empty, not loaded: meas_event_field_concept_id, measurement_event_id, unit_source_concept_id",
	}
	var got []string
	for _, p := range rep.Problems() {
		got = append(got, p.String())
	}
	for _, w := range wantProblems {
		if !slices.Contains(got, w) {
			t.Errorf("report lacks %q\n%s", w, strings.Join(got, "\n"))
		}
	}
	checkTierAccounting(t, db, rep)
}

// copyDir copies the regular files of src into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// importGood imports testdata/good into a fresh workspace directory and
// returns the base database path.
func importGood(t *testing.T, opts Options) (string, *Report) {
	t.Helper()
	if opts.AgeAsOf.IsZero() {
		opts.AgeAsOf = asOf
	}
	if opts.SmallGroup == 0 {
		opts.SmallGroup = 2
	}
	db := filepath.Join(t.TempDir(), "omop.duckdb")
	rep, err := Import(context.Background(), db, "testdata/good", opts)
	if err != nil {
		t.Fatalf("Import(testdata/good): %v\n%s", err, rep)
	}
	return db, rep
}

func fileSums(t *testing.T, paths ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = fmt.Sprintf("%x", sha256.Sum256(b))
	}
	return out
}

func TestImportGood(t *testing.T) {
	db, rep := importGood(t, Options{})
	want := map[string]int64{"person": 6, "condition_occurrence": 9, "measurement": 4, "observation": 17, "death": 1,
		"steps_intraday": 3, "activity_summary": 2, "device": 1, "note": 1, "location": 1, "provider": 1}
	for tab, n := range want {
		if rep.Tables[tab] != n {
			t.Errorf("%s rows = %d, want %d", tab, rep.Tables[tab], n)
		}
	}
	if rep.Errors != 0 || rep.Quality.Failed() != 0 {
		t.Errorf("errors = %d, failed checks %q\n%s", rep.Errors, failedChecks(rep.Quality), rep)
	}
	for _, tier := range []datasets.Tier{datasets.Registered, datasets.Controlled} {
		if _, err := os.Stat(TierPath(db, tier)); err != nil {
			t.Errorf("tier %s not built: %v", tier, err)
		}
	}
	checkTierAccounting(t, db, rep)
	// Person 3 (born 1930) is the registered tier's only exclusion besides
	// the tables it does not hold.
	reg := rep.Quality.Tier("registered")
	if n := reg.ExcludedRows("person", ReasonAged89); n != 1 {
		t.Errorf("registered: %d persons aged 89+ left out, want 1: %+v", n, reg.Excluded)
	}
	for _, e := range reg.Excluded {
		if e.Reason != ReasonAged89 && e.Reason != ReasonNotInTier && e.Reason != ReasonSurveyMerged {
			t.Errorf("unexpected exclusion %+v", e)
		}
	}
}

// TestImportFindings: rows that break a check are kept in the base, the
// check fails with their count, the tiers leave them out (or keep one row
// per key) and say so, and a strict import refuses the folder.
func TestImportFindings(t *testing.T) {
	tests := []struct {
		variant string
		failed  []string
		table   string
		reason  string // exclusion of the controlled tier ("" for none)
		rows    int64
	}{
		{"missing_person", []string{"isForeignKey observation_period.person_id 1"}, "observation_period", ReasonPersonUnknown, 1},
		{"required_empty", []string{"isRequired person.gender_concept_id 1"}, "person", "", 0},
		{"duplicate_key", []string{"isPrimaryKey condition_occurrence.condition_occurrence_id 2"}, "condition_occurrence", ReasonDuplicateKey, 1},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			folder := t.TempDir()
			copyDir(t, "testdata/good", folder)
			copyDir(t, filepath.Join("testdata/bad", tt.variant), folder)
			db := filepath.Join(t.TempDir(), "omop.duckdb")
			rep, err := Import(context.Background(), db, folder, Options{AgeAsOf: asOf, SmallGroup: 2})
			if err != nil {
				t.Fatalf("Import: %v\n%s", err, rep)
			}
			if got := failedChecks(rep.Quality); !slices.Equal(got, tt.failed) {
				t.Errorf("failed checks %q, want %q", got, tt.failed)
			}
			src := csvRows(t, filepath.Join(folder, map[string]string{"person": "person.csv", "observation_period": "observation_period.csv",
				"condition_occurrence": "CONDITION_OCCURRENCE.csv"}[tt.table]))
			if n := int64(len(src) - 1); rep.Tables[tt.table] != n {
				t.Errorf("base %s: %d rows, source %d", tt.table, rep.Tables[tt.table], n)
			}
			ctl := rep.Quality.Tier("controlled")
			if got := ctl.ExcludedRows(tt.table, ""); got != tt.rows || (tt.rows > 0 && ctl.ExcludedRows(tt.table, tt.reason) != tt.rows) {
				t.Errorf("controlled tier left out %d rows of %s: %+v", got, tt.table, ctl.Excluded)
			}
			checkTierAccounting(t, db, rep)
			if _, err := Import(context.Background(), filepath.Join(t.TempDir(), "omop.duckdb"), folder, Options{AgeAsOf: asOf, Strict: true, Tiers: []datasets.Tier{}}); !errors.Is(err, ErrFailedChecks) {
				t.Errorf("strict import: %v", err)
			}
		})
	}
}

// TestImportBadInput overlays one damaged file on testdata/good and checks
// the import fails with the problem at the right file, line and column,
// echoing no value of the row but the offending one, and that the
// workspace's previous files are left byte for byte as they were.
func TestImportBadInput(t *testing.T) {
	person, err := os.ReadFile("testdata/good/person.csv")
	if err != nil {
		t.Fatal(err)
	}
	personHeader := strings.SplitN(string(person), "\n", 2)[0] + "\n"
	tests := []struct {
		variant string            // testdata/bad/<variant>, or files below
		files   map[string]string // written over the good folder
		remove  []string          // files removed from it
		file    string
		line    int64
		column  string
		msg     string
		never   []string // text that must not appear in the report (other values of the row)
	}{
		{variant: "wrong_type", file: "measurement.tsv", line: 3, column: "value_as_number", msg: `value "high" is not a number`, never: []string{"8.1 %", "3004410"}},
		{variant: "bad_date", file: "CONDITION_OCCURRENCE.csv", line: 4, column: "condition_start_date", msg: `value "2018-13-45" is not a date`, never: []string{"resolved", "E11.9", "2019-12-31"}},
		{variant: "non_integer", file: "observation_period.csv", line: 3, column: "person_id", msg: `value "2.5" is not an integer`},
		{variant: "truncated", file: "observation.csv", line: 18, msg: "missing columns: fewer fields than the header"},
		{variant: "missing_column", file: "person.csv", line: 1, column: "year_of_birth", msg: "required column missing"},
		{variant: "wrong_delimiter", files: map[string]string{"person.csv": strings.ReplaceAll(string(person), ",", ";")},
			file: "person.csv", msg: `the header is separated by ";"`},
		{variant: "unknown_table", files: map[string]string{"persons.csv": string(person)},
			file: "persons.csv", msg: `"persons" is not a table of OMOP CDM v5.3 or v5.4`},
		{variant: "non_utf8", files: map[string]string{"death.csv": "person_id,death_date,death_type_concept_id,cause_source_value\n3,2020-01-01,32817,caf\xe9\n"},
			file: "death.csv", line: 2, column: "cause_source_value", msg: "invalid encoding: bytes that are not UTF-8"},
		{variant: "non_utf8_header", files: map[string]string{"death.csv": "person_id,death_date,death_type_concept_id,cause_source_valu\xe9\n3,2020-01-01,32817,x\n"},
			file: "death.csv", msg: "the header line is not UTF-8"},
		{variant: "truncated_in_quote", files: map[string]string{"death.csv": "person_id,death_date,death_type_concept_id,cause_source_value\n3,2020-01-01,32817,\"cardiac arr"},
			file: "death.csv", line: 2, column: "cause_source_value", msg: "a quoted value not closed (truncated file?)", never: []string{"cardiac"}},
		{variant: "wrong_delimiter_rows", files: map[string]string{"death.csv": "person_id,death_date,death_type_concept_id,cause_source_value\n3;2020-01-01;32817;I21\n"},
			file: "death.csv", line: 2, msg: "missing columns: fewer fields than the header", never: []string{"I21"}},
		{variant: "header_only_person", files: map[string]string{"person.csv": personHeader},
			file: "001", msg: "has a header-only person.csv, so no row of"},
		{variant: "empty_file", files: map[string]string{"death.csv": ""}, file: "death.csv", msg: "empty file (no header line)"},
	}
	db, _ := importGood(t, Options{})
	paths := []string{db, TierPath(db, datasets.Registered), TierPath(db, datasets.Controlled), QualityPath(db)}
	before := fileSums(t, paths...)
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			folder := filepath.Join(t.TempDir(), "001")
			copyDir(t, "testdata/good", folder)
			if tt.files == nil {
				copyDir(t, filepath.Join("testdata/bad", tt.variant), folder)
			}
			for name, body := range tt.files {
				if err := os.WriteFile(filepath.Join(folder, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tt.variant == "unknown_table" {
				os.Remove(filepath.Join(folder, "person.csv"))
			}
			rep, err := Import(context.Background(), db, folder, Options{AgeAsOf: asOf})
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Import err = %v, want ErrInvalid\n%s", err, rep)
			}
			found := false
			for _, p := range rep.Problems() {
				if p.Severity == SevError && p.File == tt.file && p.Line == tt.line && p.Column == tt.column && strings.Contains(p.Message, tt.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("want error %s:%d column %q %q; got\n%s", tt.file, tt.line, tt.column, tt.msg, rep)
			}
			for _, s := range tt.never {
				if strings.Contains(rep.String(), s) {
					t.Errorf("report echoes %q:\n%s", s, rep)
				}
			}
			if after := fileSums(t, paths...); !maps.Equal(before, after) {
				t.Errorf("failed import changed the workspace")
			}
			if entries, _ := os.ReadDir(filepath.Dir(db)); len(entries) != len(paths) {
				t.Errorf("failed import left files behind: %v", entries)
			}
		})
	}
}

// TestImportAllHeaderOnly: a folder of header-only files holds nothing to
// curate and is refused.
func TestImportAllHeaderOnly(t *testing.T) {
	folder := t.TempDir()
	entries, _ := os.ReadDir("testdata/good")
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join("testdata/good", e.Name()))
		hdr := strings.SplitN(string(b), "\n", 2)[0] + "\n"
		os.WriteFile(filepath.Join(folder, e.Name()), []byte(hdr), 0o644)
	}
	rep, err := Import(context.Background(), filepath.Join(t.TempDir(), "omop.duckdb"), folder, Options{AgeAsOf: asOf, Tiers: []datasets.Tier{}})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(rep.String(), "no data rows: every table file of the folder is header-only") {
		t.Errorf("err %v\n%s", err, rep)
	}
}

func TestImportUnknownConceptWarns(t *testing.T) {
	folder := t.TempDir()
	copyDir(t, "testdata/good", folder)
	copyDir(t, "testdata/bad/unknown_concept", folder)
	db := filepath.Join(t.TempDir(), "omop.duckdb")
	rep, err := Import(context.Background(), db, folder, Options{AgeAsOf: asOf, Tiers: []datasets.Tier{}})
	if err != nil {
		t.Fatalf("Import: %v\n%s", err, rep)
	}
	for _, c := range rep.Quality.Checks {
		if c.Name() == "isForeignKey condition_occurrence.condition_concept_id" {
			if c.Status != StatusWarn || c.Rows != 1 || !slices.Equal(c.Examples, []string{"999999999"}) {
				t.Errorf("unknown concept check %+v", c)
			}
			return
		}
	}
	t.Errorf("no concept check on condition_concept_id\n%s", rep)
}

// TestImportParquet converts testdata/good to Parquet with DuckDB and
// imports that: same rows, same tiers.
func TestImportParquet(t *testing.T) {
	folder := t.TempDir()
	conn, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	entries, _ := os.ReadDir("testdata/good")
	for _, e := range entries {
		name := strings.ToLower(e.Name())
		base := strings.TrimSuffix(strings.TrimSuffix(name, ".csv"), ".tsv")
		q := fmt.Sprintf("COPY (SELECT * FROM read_csv('testdata/good/%s', header=true)) TO '%s' (FORMAT parquet)", e.Name(), filepath.Join(folder, base+".parquet"))
		if _, err := conn.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db := filepath.Join(t.TempDir(), "omop.duckdb")
	rep, err := Import(context.Background(), db, folder, Options{AgeAsOf: asOf, Tiers: []datasets.Tier{}})
	if err != nil {
		t.Fatalf("Import: %v\n%s", err, rep)
	}
	for tab, n := range map[string]int64{"person": 6, "condition_occurrence": 9, "measurement": 4, "observation": 17, "steps_intraday": 3} {
		if rep.Tables[tab] != n {
			t.Errorf("%s rows = %d, want %d", tab, rep.Tables[tab], n)
		}
	}
	// A fractional person_id in a typed Parquet column is an error at its row.
	bad := fmt.Sprintf(`COPY (SELECT observation_period_id, CASE WHEN observation_period_id = 3 THEN 2.5 ELSE person_id END AS person_id,
		observation_period_start_date, observation_period_end_date, period_type_concept_id
		FROM read_csv('testdata/good/observation_period.csv', header=true)) TO '%s' (FORMAT parquet)`, filepath.Join(folder, "observation_period.parquet"))
	if _, err := conn.Exec(bad); err != nil {
		t.Fatal(err)
	}
	rep, err = Import(context.Background(), db, folder, Options{AgeAsOf: asOf, Tiers: []datasets.Tier{}})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("fractional person_id: err = %v\n%s", err, rep)
	}
	found := false
	for _, p := range rep.Problems() {
		found = found || (p.Severity == SevError && p.File == "observation_period.parquet" && p.Line == 3 && p.Column == "person_id" && strings.Contains(p.Message, `"2.5"`))
	}
	if !found || rep.Errors != 1 {
		t.Errorf("want one error at observation_period.parquet row 3 person_id, got\n%s", rep)
	}
}

// TestImportDialects: a BOM, CRLF line ends, quoted header names, tab
// separation in a .txt file and gzip all load the same rows.
func TestImportDialects(t *testing.T) {
	folder := t.TempDir()
	copyDir(t, "testdata/good", folder)
	person, _ := os.ReadFile("testdata/good/person.csv")
	crlf := "\ufeff" + strings.ReplaceAll(string(person), "\n", "\r\n")
	if err := os.WriteFile(filepath.Join(folder, "person.csv"), []byte(crlf), 0o644); err != nil {
		t.Fatal(err)
	}
	cond, _ := os.ReadFile("testdata/good/CONDITION_OCCURRENCE.csv")
	lines := strings.Split(strings.TrimSpace(string(cond)), "\n")
	var hdr []string
	for _, h := range strings.Split(lines[0], ",") {
		hdr = append(hdr, `"`+h+`"`)
	}
	lines[0] = strings.Join(hdr, ",")
	tsv := strings.ReplaceAll(strings.Join(lines, "\n")+"\n", ",", "\t")
	os.Remove(filepath.Join(folder, "CONDITION_OCCURRENCE.csv"))
	if err := os.WriteFile(filepath.Join(folder, "Condition_Occurrence.txt"), []byte(tsv), 0o644); err != nil {
		t.Fatal(err)
	}
	obs, _ := os.ReadFile("testdata/good/observation.csv")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(obs)
	zw.Close()
	os.Remove(filepath.Join(folder, "observation.csv"))
	if err := os.WriteFile(filepath.Join(folder, "observation.csv.gz"), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "omop.duckdb")
	rep, err := Import(context.Background(), db, folder, Options{AgeAsOf: asOf, Threads: 1, MemoryLimit: "256MB"})
	if err != nil {
		t.Fatalf("Import: %v\n%s", err, rep)
	}
	for tab, n := range map[string]int64{"person": 6, "condition_occurrence": 9, "observation": 17} {
		if rep.Tables[tab] != n {
			t.Errorf("%s rows = %d, want %d\n%s", tab, rep.Tables[tab], n, rep)
		}
	}
	counts, err := CountRows(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if counts["person"] != 6 {
		t.Errorf("CountRows person = %d", counts["person"])
	}
}

// TestImportReplaces: a re-import replaces the data, drops a tier it did
// not rebuild (stale) and is not confused by a stray write-ahead log.
func TestImportReplaces(t *testing.T) {
	db, _ := importGood(t, Options{})
	if err := os.WriteFile(db+".wal", []byte("not a wal"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Import(context.Background(), db, "testdata/good", Options{AgeAsOf: asOf, Tiers: []datasets.Tier{datasets.Registered}})
	if err != nil {
		t.Fatalf("re-import: %v\n%s", err, rep)
	}
	if _, err := os.Stat(TierPath(db, datasets.Controlled)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale controlled tier kept after a registered-only import")
	}
	if _, err := os.Stat(db + ".wal"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stray WAL kept")
	}
	counts, err := CountRows(context.Background(), db)
	if err != nil || counts["person"] != 6 {
		t.Errorf("after re-import: person %d, %v", counts["person"], err)
	}
	if q, err := ReadQuality(QualityPath(db)); err != nil || len(q.Tiers) != 1 || q.Tiers[0].Tier != datasets.Registered {
		t.Errorf("quality report after re-import: %v", err)
	}
}

func TestDefaultMemoryLimit(t *testing.T) {
	for total, want := range map[int64]string{0: "1024MB", 512 << 20: "256MB", 2 << 30: "512MB", 24 << 30: "1024MB"} {
		if got := memoryLimitFor(total); got != want {
			t.Errorf("memoryLimitFor(%d) = %s, want %s", total, got, want)
		}
	}
	if DefaultMemoryLimit() == "" {
		t.Error("no default memory limit")
	}
}
