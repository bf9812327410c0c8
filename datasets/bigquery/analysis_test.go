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

// twins loads the controlled tier of the test cohort into the emulator's
// dataset and opens it twice: from DuckDB (ref) and from BigQuery (got),
// logging every BigQuery query into *stats. Both close with the test.
func twins(t *testing.T, dataset string, stats *[]QueryStats) (cfg Config, ref analysis.Engine, got *Catalog) {
	t.Helper()
	e := startEmulator(t, dataset)
	path := cohort(t, persons(t), datasets.Controlled)
	cfg = Config{Project: testProject, Dataset: dataset, Endpoint: e.endpoint, QueryTimeout: 2 * time.Minute}
	load(t, cfg, path)
	refCat, err := omop.OpenCatalog(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { refCat.Close() })
	ref, ok := refCat.(analysis.Engine)
	if !ok {
		t.Fatal("the DuckDB catalog is not an analysis.Engine")
	}
	got, err = Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("%s (%s)", err, datasets.AuditText(err))
	}
	t.Cleanup(func() { got.Close() })
	got.SetQueryLog(func(s QueryStats) { *stats = append(*stats, s) })
	return cfg, ref, got
}

// TestAnalysisConformance runs the analysis API on a BigQuery workspace
// and on the DuckDB tier it was loaded from: the same cohorts and the same
// released tables; every analysis query's bytes reach the log.
func TestAnalysisConformance(t *testing.T) {
	t.Parallel()
	var stats []QueryStats
	_, ref, got := twins(t, "cdr_analysis", &stats)
	opened := got.Spent()

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
