package omop

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"enclave/datasets"
)

// TestBenchOMOP is the driver of bench/omop.sh, not a unit test: it runs
// only when ENCLAVE_BENCH_OMOP_FOLDER names an OMOP folder, imports it,
// builds both tiers and times a gender × condition crosstab of distinct
// persons through the Catalog against plain DuckDB SQL on the same file.
// It prints one JSON object per measurement on stdout.
func TestBenchOMOP(t *testing.T) {
	folder := os.Getenv("ENCLAVE_BENCH_OMOP_FOLDER")
	if folder == "" {
		t.Skip("ENCLAVE_BENCH_OMOP_FOLDER not set (bench/omop.sh sets it)")
	}
	ctx := context.Background()
	dir := os.Getenv("ENCLAVE_BENCH_OMOP_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	emit := func(m map[string]any) {
		b, _ := json.Marshal(m)
		fmt.Println(string(b))
	}
	db := filepath.Join(dir, "omop.duckdb")
	os.Remove(db)
	for _, tier := range []datasets.Tier{datasets.Registered, datasets.Controlled} {
		os.Remove(TierPath(db, tier))
	}
	start := time.Now()
	rep, err := Import(ctx, db, folder, Options{Tiers: []datasets.Tier{}})
	if err != nil {
		t.Fatalf("import: %v\n%s", err, rep)
	}
	load := time.Since(start)
	fmt.Fprint(os.Stderr, rep) // the steward's report, for the log
	emit(map[string]any{"bench": "omop_import_load", "folder": folder, "rows": rep.Rows, "seconds": load.Seconds(),
		"rows_per_s": float64(rep.Rows) / load.Seconds(), "persons": rep.Tables["person"], "warnings": rep.Warnings})
	for _, tier := range []datasets.Tier{datasets.Registered, datasets.Controlled} {
		start := time.Now()
		if _, err := BuildTier(ctx, db, tier, TierPath(db, tier), TierOptions{}); err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		emit(map[string]any{"bench": "omop_build_tier", "tier": tier, "rows": rep.Rows, "seconds": el.Seconds(),
			"rows_per_s": float64(rep.Rows) / el.Seconds()})
	}

	path := TierPath(db, datasets.Controlled)
	cat, err := OpenCatalog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	plain, err := sql.Open("duckdb", path+lockedDSN+"&memory_limit="+defaultCatalogMemory) // same file, same configuration as the catalog (DuckDB requires it in one process)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	q := datasets.Query{Table: "condition_occurrence", GroupBy: []string{"person.gender_concept_id", "condition_concept_id"}}
	var res *datasets.Result
	catalogRun := func() error {
		var err error
		res, err = cat.Aggregate(ctx, q)
		return err
	}
	sqlRun := func(query string) func() error {
		return func() error {
			rows, err := plain.QueryContext(ctx, query)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
			}
			return rows.Err()
		}
	}
	const byCount = `SELECT p.gender_concept_id, c.condition_concept_id, count(*) FROM condition_occurrence c JOIN person p USING (person_id) GROUP BY 1, 2`
	const byDistinct = `SELECT p.gender_concept_id, c.condition_concept_id, count(DISTINCT c.person_id) FROM condition_occurrence c JOIN person p USING (person_id) GROUP BY 1, 2`
	const byLists = `SELECT p.gender_concept_id, c.condition_concept_id, list(DISTINCT c.person_id) FROM condition_occurrence c JOIN person p USING (person_id) GROUP BY 1, 2`
	runs := []struct {
		name string
		f    func() error
	}{
		{"duckdb_sql_count_rows (baseline)", sqlRun(byCount)},
		{"duckdb_sql_count_distinct_persons", sqlRun(byDistinct)},
		{"duckdb_sql_person_lists", sqlRun(byLists)},
		{"catalog_aggregate (rows + distinct persons per cell)", catalogRun},
	}
	for _, r := range runs {
		if err := r.f(); err != nil { // warm-up
			t.Fatal(err)
		}
		var times []float64
		for i := 0; i < 5; i++ {
			s := time.Now()
			if err := r.f(); err != nil {
				t.Fatal(err)
			}
			times = append(times, float64(time.Since(s).Microseconds())/1000)
		}
		sort.Float64s(times)
		emit(map[string]any{"bench": "omop_crosstab_gender_condition", "engine": r.name, "median_ms": times[2], "min_ms": times[0],
			"condition_rows": rep.Tables["condition_occurrence"], "persons": rep.Tables["person"]})
	}
	// One person set of the largest cell, as the differencing check would ask.
	var big datasets.Cell
	for _, c := range res.Cells {
		if c.Persons > big.Persons {
			big = c
		}
	}
	s := time.Now()
	bm, err := cat.PersonSet(ctx, q, big.Key)
	if err != nil {
		t.Fatal(err)
	}
	emit(map[string]any{"bench": "omop_person_set", "cell_persons": bm.GetCardinality(), "ms": float64(time.Since(s).Microseconds()) / 1000,
		"cells": len(res.Cells)})
}
