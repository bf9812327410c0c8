package bigquery

import (
	"context"
	"testing"
	"time"

	"enclave/analysis"
	"enclave/datasets"
	"enclave/datasets/catalogtest"
	"enclave/datasets/omop"
)

// TestAnalysisConformance runs the analysis API on a BigQuery workspace
// and on the DuckDB tier it was loaded from: the same cohorts and the same
// released tables; every analysis query's bytes reach the log.
func TestAnalysisConformance(t *testing.T) {
	t.Parallel()
	tier := datasets.Controlled
	e := startEmulator(t, "cdr_analysis")
	path := cohort(t, persons(t), tier)
	cfg := Config{Project: testProject, Dataset: "cdr_analysis", Endpoint: e.endpoint, QueryTimeout: 2 * time.Minute}
	load(t, cfg, path)
	refCat, err := omop.OpenCatalog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer refCat.Close()
	ref, ok := refCat.(analysis.Engine)
	if !ok {
		t.Fatal("the DuckDB catalog is not an analysis.Engine")
	}
	ctx := context.Background()
	got, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("%s (%s)", err, datasets.AuditText(err))
	}
	defer got.Close()
	var stats []QueryStats
	opened := got.Spent()
	got.SetQueryLog(func(s QueryStats) { stats = append(stats, s) })

	catalogtest.RunAnalysis(t, ref, got)

	var n int
	var sum int64
	for _, s := range stats {
		sum += s.Processed
		if s.Kind != "analysis" {
			continue
		}
		n++
		if s.Error == "" && s.JobID == "" {
			t.Errorf("analysis query ran without a job id")
		}
	}
	if n == 0 {
		t.Fatal("no analysis query reached the log")
	}
	if sum != got.Spent()-opened {
		t.Errorf("logged %d bytes processed, the catalog counted %d", sum, got.Spent()-opened)
	}
	t.Logf("%d analysis queries, %s processed in all", n, Bytes(sum))
}
