package bigquery

import (
	"context"
	"testing"
	"time"

	"enclave/datasets"
	"enclave/datasets/catalogtest"
	"enclave/datasets/omop"
)

// TestConformance holds the BigQuery catalog to the DuckDB catalog's
// answers on the same synthetic tier. The registered tier (generalised
// columns, shifted dates); the controlled tier is held to it by
// TestAnalysisConformance and the Synthea27Nj case of TestConformanceEunomia.
func TestConformance(t *testing.T) {
	t.Parallel()
	for _, tier := range []datasets.Tier{datasets.Registered} {
		t.Run(string(tier), func(t *testing.T) {
			t.Parallel()
			e := startEmulator(t, "cdr_"+string(tier))
			path := cohort(t, persons(t), tier)
			cfg := Config{Project: testProject, Dataset: "cdr_" + string(tier), Endpoint: e.endpoint, QueryTimeout: 2 * time.Minute}
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
			var stats []QueryStats
			opened := got.Spent() // Open's own queries, before the log
			got.SetQueryLog(func(s QueryStats) { stats = append(stats, s) })
			catalogtest.Run(t, ref, got, catalogtest.Options{MaxRows: maxRows})
			// Every query reached the log with its bytes.
			if len(stats) == 0 {
				t.Fatal("no query was logged")
			}
			var sum int64
			for _, s := range stats {
				if s.Error == "" && s.JobID == "" {
					t.Errorf("query %s ran without a job id", s.Kind)
				}
				sum += s.Processed
			}
			if sum != got.Spent()-opened || sum == 0 {
				t.Errorf("logged %d bytes processed, the catalog counted %d", sum, got.Spent()-opened)
			}
			t.Logf("%d queries, %s processed (emulator: result bytes)", len(stats), Bytes(sum))
		})
	}
}
