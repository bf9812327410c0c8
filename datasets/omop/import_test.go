package omop

import (
	"context"
	"encoding/csv"
	"errors"
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
		{"synthea27nj", "eunomia/synthea27nj_5.4", false, 28, map[string]int64{"measurement": 10040, "condition_occurrence": 470, "visit_detail": 1791, "death": 3}},
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
				if rep.Tables[tab] != n {
					t.Errorf("%s rows = %d, want %d", tab, rep.Tables[tab], n)
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
