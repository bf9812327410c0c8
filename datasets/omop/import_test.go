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
	"strings"
	"testing"
	"time"

	"enclave/datasets"
)

const shared = "../../../shared/omop"

// asOf fixes the 89+ reference date so tests do not depend on the clock.
var asOf = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func sharedFolder(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(shared, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s absent", p)
	}
	return p
}

// TestImportEunomia loads the real OHDSI Eunomia folders: Synthea27Nj (CDM
// v5.4, lower-case headers) loads cleanly by column name; GiBleed (v5.3,
// UPPER-case headers, partial copy) has observation periods of persons the
// partial person.csv lacks and six duplicate observation ids, which strict
// import reports and DropInvalidRows leaves out.
func TestImportEunomia(t *testing.T) {
	tests := []struct {
		name    string
		folder  string
		drop    bool
		persons int64
		tables  map[string]int64 // expected row counts
	}{
		{"synthea27nj", "eunomia/synthea27nj_5.4", false, 28, map[string]int64{"measurement": 10040, "condition_occurrence": 470, "visit_detail": 1791, "death": 3,
			"visit_occurrence.admitting_source_concept_id": 1791, "visit_detail.visit_detail_parent_id": 0, "visit_detail.admitting_source_concept_id": 1791}},
		{"gibleed_drop_invalid", "eunomia/gibleed_5.3_partial", true, 2694, map[string]int64{"observation_period": 5343 - 2649, "procedure_occurrence": 37409, "condition_era": 65719, "visit_occurrence": 1037, "observation": 1477 - 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			folder := sharedFolder(t, tt.folder)
			db := filepath.Join(t.TempDir(), "omop.duckdb")
			rep, err := Import(context.Background(), db, folder, Options{AgeAsOf: asOf, DropInvalidRows: tt.drop, Tiers: []datasets.Tier{}})
			if err != nil {
				t.Fatalf("Import: %v\n%s", err, rep)
			}
			if rep.Tables["person"] != tt.persons {
				t.Errorf("person rows = %d, want %d", rep.Tables["person"], tt.persons)
			}
			for tab, n := range tt.tables {
				got := rep.Tables[tab]
				if tn, col, ok := strings.Cut(tab, "."); ok { // non-null values of a column (v5.4 renames)
					conn, err := sql.Open("duckdb", db+"?access_mode=READ_ONLY")
					if err != nil {
						t.Fatal(err)
					}
					conn.QueryRow(fmt.Sprintf("SELECT count(%s) FROM %s", col, tn)).Scan(&got)
					conn.Close()
				}
				if got != n {
					t.Errorf("%s rows = %d, want %d", tab, got, n)
				}
			}
			if rep.Tables["concept"] < 2000 {
				t.Errorf("concept rows = %d: default vocabulary not loaded", rep.Tables["concept"])
			}
		})
	}
}

func TestImportGiBleedStrictFails(t *testing.T) {
	folder := sharedFolder(t, "eunomia/gibleed_5.3_partial")
	db := filepath.Join(t.TempDir(), "omop.duckdb")
	rep, err := Import(context.Background(), db, folder, Options{AgeAsOf: asOf})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Import err = %v, want ErrInvalid", err)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed import left %s behind", db)
	}
	// The first reported line must be the first observation_period row whose
	// person is not in person.csv, counted independently here.
	want := firstOrphanLine(t, filepath.Join(folder, "person.csv"), filepath.Join(folder, "observation_period.csv"))
	var gotLine int64
	var dupKeys bool
	for _, p := range rep.Problems() {
		if p.File == "observation_period.csv" && p.Column == "person_id" && gotLine == 0 {
			gotLine = p.Line
		}
		if p.File == "observation.csv" && strings.Contains(p.Message, "duplicate primary key") && p.Count == 6 {
			dupKeys = true
		}
	}
	if gotLine != want {
		t.Errorf("first orphan observation_period line = %d, want %d\n%s", gotLine, want, rep)
	}
	if !dupKeys {
		t.Errorf("6 duplicate observation ids not reported\n%s", rep)
	}
}

func firstOrphanLine(t *testing.T, personCSV, factCSV string) int64 {
	t.Helper()
	read := func(p string) [][]string {
		f, err := os.Open(p)
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
	persons := map[string]bool{}
	for _, r := range read(personCSV)[1:] {
		persons[r[0]] = true
	}
	facts := read(factCSV)
	col := -1
	for i, h := range facts[0] {
		if strings.EqualFold(h, "person_id") {
			col = i
		}
	}
	for i, r := range facts[1:] {
		if !persons[r[col]] {
			return int64(i + 2)
		}
	}
	return 0
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
	if rep.Errors != 0 {
		t.Errorf("errors = %d\n%s", rep.Errors, rep)
	}
	for _, tier := range []datasets.Tier{datasets.Registered, datasets.Controlled} {
		if _, err := os.Stat(TierPath(db, tier)); err != nil {
			t.Errorf("tier %s not built: %v", tier, err)
		}
	}
}

// TestImportBadVariants overlays one hand-damaged file on testdata/good and
// checks the problem is reported at the right file, line and column, and
// that the workspace's previous databases are left byte for byte as they were.
func TestImportBadVariants(t *testing.T) {
	tests := []struct {
		variant string
		file    string
		line    int64
		column  string
		msg     string
	}{
		{"wrong_type", "measurement.tsv", 3, "value_as_number", "not a number"},
		{"bad_date", "CONDITION_OCCURRENCE.csv", 4, "condition_start_date", "not a date"},
		{"missing_person", "observation_period.csv", 8, "person_id", "not in the person table"},
		{"non_integer", "observation_period.csv", 3, "person_id", "not an integer"},
		{"truncated", "observation.csv", 18, "", "missing columns"},
		{"missing_column", "person.csv", 1, "year_of_birth", "required column missing"},
		{"required_empty", "person.csv", 3, "gender_concept_id", "required value is empty"},
		{"duplicate_key", "CONDITION_OCCURRENCE.csv", 0, "condition_occurrence_id", "duplicate primary key values: 4"},
	}
	db, _ := importGood(t, Options{})
	paths := []string{db, TierPath(db, datasets.Registered), TierPath(db, datasets.Controlled)}
	before := fileSums(t, paths...)
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			folder := t.TempDir()
			copyDir(t, "testdata/good", folder)
			copyDir(t, filepath.Join("testdata/bad", tt.variant), folder)
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
			if after := fileSums(t, paths...); !maps.Equal(before, after) {
				t.Errorf("failed import changed the workspace databases")
			}
			if entries, _ := os.ReadDir(filepath.Dir(db)); len(entries) != 3 {
				t.Errorf("failed import left files behind: %v", entries)
			}
		})
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
	for _, p := range rep.Problems() {
		if p.Severity == SevWarning && p.File == "CONDITION_OCCURRENCE.csv" && p.Column == "condition_concept_id" &&
			p.Count == 1 && strings.Contains(p.Message, "999999999") {
			return
		}
	}
	t.Errorf("unknown concept 999999999 not flagged once in condition_concept_id\n%s", rep)
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
		found = found || (p.Severity == SevError && p.File == "observation_period.parquet" && p.Line == 3 && p.Column == "person_id")
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
}
