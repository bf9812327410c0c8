package bigquery

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"enclave/datasets"
	"enclave/datasets/catalogtest"
	"enclave/datasets/omop"
)

// shared is the checkout of ../shared beside the repository, which holds
// the OHDSI Eunomia exports and their vocabulary shards.
const shared = "../../../shared/omop"

// eunomiaTier imports the folders of ../shared/omop named by dirs (an
// export and its vocabulary shard, copied into one folder as a steward
// receives them) with the DuckDB importer and returns the path of the
// tier database. Outside CI a missing ../shared skips the test; in CI
// (CI=true) it fails it, so the real-data conformance cannot silently stop
// running.
func eunomiaTier(t *testing.T, tier datasets.Tier, dirs ...string) string {
	t.Helper()
	dir := t.TempDir()
	folder := filepath.Join(dir, "omop")
	if err := os.MkdirAll(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		src := filepath.Join(shared, d)
		entries, err := os.ReadDir(src)
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s absent: CI runs the conformance suite on the OHDSI Eunomia datasets, check out ../shared beside the repository", src)
			}
			t.Skipf("%s absent", src)
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(folder, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	base := filepath.Join(dir, "cdm.duckdb")
	rep, err := omop.Import(context.Background(), base, folder, omop.Options{
		AgeAsOf: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Tiers: []datasets.Tier{tier}, MemoryLimit: "2GB"})
	if err != nil {
		t.Fatalf("import %v: %v\n%s", dirs, err, rep)
	}
	return omop.TierPath(base, tier)
}

// TestConformanceEunomia holds the BigQuery catalog to the DuckDB
// catalog's answers on the two real OHDSI Eunomia datasets: GiBleed (CDM
// v5.3, eras instead of condition occurrences, no measurements, with its
// vocabulary shard) in the registered tier, and Synthea27Nj (CDM v5.4
// mapped to v5.3, with its vocabulary shard) in the controlled tier. Every
// table is loaded; the cases' events and numbers come from tables of at
// most maxRows rows (GiBleed: visits and years of birth, its eras are too
// large for the emulator's joins).
func TestConformanceEunomia(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		tier datasets.Tier
		dirs []string
	}{
		{"gibleed", datasets.Registered, []string{"eunomia/gibleed_5.3_partial", "vocab/gibleed"}},
		{"synthea27nj", datasets.Controlled, []string{"eunomia/synthea27nj_5.4", "vocab/synthea27nj"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := startEmulator(t, "eunomia_"+c.name)
			path := eunomiaTier(t, c.tier, c.dirs...)
			cfg := Config{Project: testProject, Dataset: "eunomia_" + c.name, Endpoint: e.endpoint, QueryTimeout: 2 * time.Minute}
			load(t, cfg, path)
			ref, err := omop.OpenCatalog(path)
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			got, err := Open(ctx, cfg)
			if err != nil {
				t.Fatalf("%s (%s)", err, datasets.AuditText(err))
			}
			defer got.Close()
			catalogtest.Run(t, ref, got, catalogtest.Options{MaxRows: maxRows})
		})
	}
}
