package omop

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"enclave/datasets"
)

// TestTierAccountingMessy imports a folder with every kind of row a tier
// must leave out at once: a person_id held by two person rows, a person
// without a year of birth, fact rows with an empty or unknown person, and a
// duplicated key whose copies belong to a known and an unknown person. The
// base keeps every row; each tier's rows equal the base's minus what the
// report says it left out, reason by reason.
func TestTierAccountingMessy(t *testing.T) {
	folder := t.TempDir()
	files := map[string]string{
		"person.csv": "person_id,gender_concept_id,year_of_birth,race_concept_id,ethnicity_concept_id\n" +
			"1,8507,1960,8527,38003564\n" +
			"2,8532,1975,8516,38003564\n" +
			"2,8532,1930,8516,38003564\n" + // same person_id: the row sorting first (1930) is kept, aged 89+
			"3,8532,1930,8527,38003564\n" + // aged 89+
			"4,8507,,8527,38003564\n" + // no year of birth
			"5,8532,1990,8515,38003563\n",
		"observation_period.csv": "observation_period_id,person_id,observation_period_start_date,observation_period_end_date,period_type_concept_id\n" +
			"1,1,2010-01-01,2020-01-01,44814724\n" +
			"2,2,2010-01-01,2020-01-01,44814724\n" +
			"3,3,2010-01-01,2020-01-01,44814724\n" +
			"4,4,2010-01-01,2020-01-01,44814724\n" +
			"5,5,2010-01-01,2020-01-01,44814724\n" +
			"6,,2010-01-01,2020-01-01,44814724\n" + // empty person_id
			"7,99,2010-01-01,2020-01-01,44814724\n", // unknown person
		"condition_occurrence.csv": "condition_occurrence_id,person_id,condition_concept_id,condition_start_date,condition_type_concept_id\n" +
			"1,1,201826,2015-04-01,32817\n" +
			"1,99,201826,2015-04-01,32817\n" + // duplicate key of an unknown person: sorts after person 1's row
			"2,98,201826,2015-04-01,32817\n" + // unknown person
			"3,5,201826,2015-04-01,32817\n" +
			"3,5,320128,2016-04-01,32817\n" + // duplicate key, same person
			"4,4,201826,2015-04-01,32817\n" + // no year of birth
			"5,3,201826,2015-04-01,32817\n", // aged 89+
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(folder, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := filepath.Join(t.TempDir(), "omop.duckdb")
	rep, err := Import(context.Background(), db, folder, Options{AgeAsOf: asOf, SmallGroup: 1})
	if err != nil {
		t.Fatalf("Import: %v\n%s", err, rep)
	}
	for tab, n := range map[string]int64{"person": 6, "observation_period": 7, "condition_occurrence": 7} {
		if rep.Tables[tab] != n {
			t.Errorf("base %s: %d rows, want %d", tab, rep.Tables[tab], n)
		}
	}
	want := []string{
		"isForeignKey condition_occurrence.person_id 2",
		"isForeignKey observation_period.person_id 1",
		"isPrimaryKey condition_occurrence.condition_occurrence_id 4",
		"isPrimaryKey person.person_id 2",
		"isRequired observation_period.person_id 1",
		"isRequired person.year_of_birth 1",
	}
	if got := failedChecks(rep.Quality); !slices.Equal(got, want) {
		t.Errorf("failed checks\n got %q\nwant %q", got, want)
	}
	checkTierAccounting(t, db, rep)
	type key struct{ table, reason string }
	wantExcluded := map[datasets.Tier]map[key]int64{
		datasets.Controlled: {
			{"person", ReasonDuplicateKey}:                1,
			{"observation_period", ReasonPersonUnknown}:   2,
			{"condition_occurrence", ReasonDuplicateKey}:  2,
			{"condition_occurrence", ReasonPersonUnknown}: 1, // person 98; person 99's copy went as a duplicate
		},
		datasets.Registered: {
			{"person", ReasonDuplicateKey}:                   1,
			{"person", ReasonAged89}:                         2, // persons 2 (the 1930 row kept) and 3
			{"person", ReasonBirthYearUnknown}:               1,
			{"observation_period", ReasonPersonUnknown}:      2,
			{"observation_period", ReasonAged89}:             2,
			{"observation_period", ReasonBirthYearUnknown}:   1,
			{"condition_occurrence", ReasonDuplicateKey}:     2,
			{"condition_occurrence", ReasonPersonUnknown}:    1,
			{"condition_occurrence", ReasonBirthYearUnknown}: 1,
			{"condition_occurrence", ReasonAged89}:           1,
		},
	}
	for _, tr := range rep.Quality.Tiers {
		got := map[key]int64{}
		for _, e := range tr.Excluded {
			if e.Reason != ReasonNotInTier {
				got[key{e.Table, e.Reason}] += e.Rows
			}
		}
		for k, n := range wantExcluded[tr.Tier] {
			if got[k] != n {
				t.Errorf("%s tier: %s %s: %d rows left out, want %d", tr.Tier, k.table, k.reason, got[k], n)
			}
		}
		for k, n := range got {
			if _, ok := wantExcluded[tr.Tier][k]; !ok {
				t.Errorf("%s tier: unexpected exclusion %s %s: %d rows", tr.Tier, k.table, k.reason, n)
			}
		}
	}
	// The same row of a duplicated key in every tier: condition 3 of person 5
	// keeps its first concept, 201826 (320128 sorts after it).
	for _, tier := range []datasets.Tier{datasets.Controlled, datasets.Registered} {
		var concept int64
		if err := openRO(t, TierPath(db, tier)).QueryRow(`SELECT condition_concept_id FROM condition_occurrence WHERE condition_occurrence_id = 3`).Scan(&concept); err != nil || concept != 201826 {
			t.Errorf("%s tier: condition 3 has concept %d (%v), want 201826", tier, concept, err)
		}
	}
}

func TestCheckJudge(t *testing.T) {
	for _, tt := range []struct {
		c    Check
		want string
	}{
		{Check{Level: LevelError, Rows: 0, Denominator: 10}, StatusPass},
		{Check{Level: LevelError, Rows: 1, Denominator: 10}, StatusFail},
		{Check{Level: LevelWarning, Rows: 1, Denominator: 10}, StatusWarn},
		{Check{Level: LevelWarning, Rows: 1, Denominator: 1000, Threshold: 1}, StatusPass},
		{Check{Level: LevelWarning, Rows: 11, Denominator: 1000, Threshold: 1}, StatusWarn},
	} {
		if got := tt.c.judge(); got.Status != tt.want {
			t.Errorf("%+v: %s, want %s", tt.c, got.Status, tt.want)
		}
	}
}

// TestKeysUnique: dense keys (counted in a bitmap) and sparse ones (sorted)
// are judged unique exactly when no value repeats; empty keys do not count.
func TestKeysUnique(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, tt := range []struct {
		name, values string
		unique       bool
	}{
		{"dense", "SELECT range FROM range(1, 5001)", true},
		{"dense_repeat", "SELECT range FROM range(1, 5001) UNION ALL SELECT 4711", false},
		{"sparse", "SELECT range * 1000 FROM range(5000)", true},
		{"sparse_repeat", "SELECT range * 1000 FROM range(5000) UNION ALL SELECT 4711000", false},
		{"wide", "SELECT * FROM (VALUES (-4611686018427387904), (0), (4611686018427387904))", true},
		{"wide_repeat", "SELECT * FROM (VALUES (-4611686018427387904), (0), (-4611686018427387904))", false},
		{"nulls", "SELECT * FROM (VALUES (NULL), (1), (NULL), (2))", true},
		{"only_nulls", "SELECT * FROM (VALUES (CAST(NULL AS BIGINT)), (NULL))", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tq := quoteIdent("k_" + tt.name)
			if _, err := db.Exec("CREATE TABLE " + tq + " AS SELECT CAST(v AS BIGINT) AS id FROM (" + tt.values + ") AS x(v)"); err != nil {
				t.Fatal(err)
			}
			got, err := keysUnique(context.Background(), db, tq, "id")
			if err != nil || got != tt.unique {
				t.Errorf("keysUnique = %v, %v; want %v", got, err, tt.unique)
			}
		})
	}
}
