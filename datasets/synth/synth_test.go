package synth

import (
	"bytes"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"enclave/internal/sharedtest"
)

// testPersons is the cohort size of the shared test cohort: large enough
// for prevalences to within a few points, small enough to be quick.
const testPersons = 5000

var (
	cohortOnce sync.Once
	cohortDir  string
	cohortErr  error
)

// cohort generates the shared CSV cohort once per test binary.
func cohort(t *testing.T) string {
	t.Helper()
	cohortOnce.Do(func() {
		cohortDir, cohortErr = os.MkdirTemp("", "synth-test-")
		if cohortErr == nil {
			_, cohortErr = Generate(Options{Persons: testPersons, Seed: 42, Out: cohortDir, Format: FormatCSV})
		}
	})
	if cohortErr != nil {
		t.Fatal(cohortErr)
	}
	return cohortDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cohortDir != "" {
		os.RemoveAll(cohortDir)
	}
	os.Exit(code)
}

// openCohort returns DuckDB with a view per table of dir (CSV, typed as
// the generator declares them, or Parquet).
func openCohort(t *testing.T, dir, format string) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, tb := range allTables() {
		if _, err := db.Exec(fmt.Sprintf("CREATE VIEW %s AS SELECT * FROM %s", tb.name, source(dir, format, tb))); err != nil {
			t.Fatalf("view %s: %v", tb.name, err)
		}
	}
	return db
}

func source(dir, format string, tb *table) string {
	path := sqlString(filepath.Join(dir, tb.name+"."+format))
	if format == FormatParquet {
		return "read_parquet(" + path + ")"
	}
	var cs []string
	for _, c := range tb.cols {
		cs = append(cs, fmt.Sprintf("'%s': '%s'", c.name, c.typ))
	}
	return fmt.Sprintf(`read_csv(%s, header=true, auto_detect=false, delim=',', quote='"', escape='"',
		dateformat='%%Y-%%m-%%d', timestampformat='%%Y-%%m-%%d %%H:%%M:%%S', columns={%s})`, path, strings.Join(cs, ", "))
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func query1[T any](t *testing.T, db *sql.DB, q string, args ...any) T {
	t.Helper()
	var v T
	if err := db.QueryRow(q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// readDir returns every file of dir (recursively) by relative path.
func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDeterministic: the same seed and size give the same bytes whatever
// the thread count, in both formats; another seed gives other data.
func TestDeterministic(t *testing.T) {
	for _, format := range []string{FormatCSV, FormatParquet} {
		t.Run(format, func(t *testing.T) {
			gen := func(seed int64, threads int) map[string][]byte {
				dir := t.TempDir()
				if _, err := Generate(Options{Persons: 2500, Seed: seed, Out: dir, Format: format, Threads: threads}); err != nil {
					t.Fatal(err)
				}
				return readDir(t, dir)
			}
			a, b, c := gen(7, 1), gen(7, 3), gen(8, 2)
			if len(a) != len(b) {
				t.Fatalf("file sets differ: %d vs %d files", len(a), len(b))
			}
			for name, data := range a {
				if !bytes.Equal(data, b[name]) {
					t.Errorf("%s differs between 1 and 3 threads with the same seed", name)
				}
			}
			for _, name := range []string{"person." + format, "measurement." + format, "activity_summary." + format} {
				if bytes.Equal(a[name], c[name]) {
					t.Errorf("%s is identical for seeds 7 and 8", name)
				}
			}
		})
	}
}

// TestParquetMatchesCSV: both formats hold the same rows and types.
func TestParquetMatchesCSV(t *testing.T) {
	csvDir, pqDir := t.TempDir(), t.TempDir()
	for dir, format := range map[string]string{csvDir: FormatCSV, pqDir: FormatParquet} {
		if _, err := Generate(Options{Persons: 1500, Seed: 3, Out: dir, Format: format}); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tb := range allTables() {
		c, p := source(csvDir, FormatCSV, tb), source(pqDir, FormatParquet, tb)
		q := fmt.Sprintf(`SELECT (SELECT count(*) FROM %s), (SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL SELECT * FROM %s)),
			(SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL SELECT * FROM %s))`, c, c, p, p, c)
		var n, onlyCSV, onlyPQ int
		if err := db.QueryRow(q).Scan(&n, &onlyCSV, &onlyPQ); err != nil {
			t.Fatalf("%s: %v", tb.name, err)
		}
		if onlyCSV != 0 || onlyPQ != 0 {
			t.Errorf("%s: %d rows only in CSV, %d only in Parquet (of %d)", tb.name, onlyCSV, onlyPQ, n)
		}
	}
}

// TestOMOPColumns: every OMOP table has exactly the columns of the CDM
// v5.3 field-level specification, in its order (observation adds the two
// All of Us value_source columns at the end).
func TestOMOPColumns(t *testing.T) {
	spec := filepath.Join(sharedtest.Path(t, "omop/cdm53"), "OMOP_CDMv5.3_Field_Level.csv")
	f, err := os.Open(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	hdr, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range hdr {
		col[strings.TrimPrefix(h, "\ufeff")] = i
	}
	want := map[string][]string{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		tb := strings.ToLower(rec[col["cdmTableName"]])
		want[tb] = append(want[tb], strings.ToLower(rec[col["cdmFieldName"]]))
	}
	dir := cohort(t)
	for _, tb := range allTables() {
		if !tb.omop {
			continue
		}
		w, ok := want[tb.name]
		if !ok {
			t.Errorf("%s is not a CDM v5.3 table", tb.name)
			continue
		}
		if tb.name == "observation" {
			w = append(w, "value_source_concept_id", "value_source_value")
		}
		f, err := os.Open(filepath.Join(dir, tb.name+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := csv.NewReader(f).Read()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != strings.Join(w, ",") {
			t.Errorf("%s columns\n got %v\nwant %v", tb.name, got, w)
		}
	}
}

// TestFitbitColumns: the Fitbit tables have the All of Us columns of
// DESIGN.md §6.
func TestFitbitColumns(t *testing.T) {
	want := map[string]string{
		"activity_summary":        "person_id,date,activity_calories,calories_bmr,calories_out,elevation,floors,steps,sedentary_minutes,lightly_active_minutes,fairly_active_minutes,very_active_minutes,marginal_calories",
		"heart_rate_minute_level": "person_id,datetime,heart_rate_value",
		"heart_rate_summary":      "person_id,date,zone_name,min_heart_rate,max_heart_rate,minute_in_zone,calorie_count",
		"steps_intraday":          "person_id,datetime,steps",
		"sleep_daily_summary":     "person_id,sleep_date,is_main_sleep,minute_in_bed,minute_asleep,minute_after_wakeup,minute_awake,minute_restless,minute_deep,minute_light,minute_rem,minute_wake",
		"sleep_level":             "person_id,sleep_date,is_main_sleep,level,start_datetime,duration_in_min",
		"device":                  "person_id,device_id,device_date,battery,battery_level,device_version,device_type,last_sync_time",
	}
	dir := cohort(t)
	for name, cols := range want {
		b, err := os.ReadFile(filepath.Join(dir, name+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		if got, _, _ := bytes.Cut(b, []byte("\n")); string(got) != cols {
			t.Errorf("%s header %q, want %q", name, got, cols)
		}
	}
}

// BenchmarkGenerate measures a 20k-person cohort per format
// (bench/synth.sh times the full sizes).
func BenchmarkGenerate(b *testing.B) {
	for _, format := range []string{FormatParquet, FormatCSV} {
		b.Run(format, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				dir := b.TempDir()
				if _, err := Generate(Options{Persons: 20000, Seed: 1, Out: dir, Format: format}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
