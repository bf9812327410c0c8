package bigquery

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"enclave/datasets"
)

// TestFaults: a wrong dataset, a missing table, a query over the byte
// budget and a stopped emulator each give a *datasets.Error with a safe
// text, and the catalog keeps answering what it still can.
func TestFaults(t *testing.T) {
	e := startEmulator(t, "cdr")
	cfg := Config{Project: testProject, Dataset: "cdr", Endpoint: e.endpoint, QueryTimeout: 30 * time.Second}
	load(t, cfg, cohort(t, 100, datasets.Controlled))
	ctx := context.Background()
	safe := func(t *testing.T, err error, want string) {
		t.Helper()
		var de *datasets.Error
		if !errors.As(err, &de) {
			t.Fatalf("error %v (%T) is not a *datasets.Error", err, err)
		}
		if !strings.Contains(de.Safe, want) {
			t.Fatalf("safe text %q does not say %q (audit: %s)", de.Safe, want, datasets.AuditText(err))
		}
	}

	t.Run("wrong dataset", func(t *testing.T) {
		bad := cfg
		bad.Dataset = "cdr_typo"
		_, err := Open(ctx, bad)
		safe(t, err, "is not an enclave tier dataset or cannot be read")
		c, err := Open(ctx, cfg)
		if err != nil {
			t.Fatalf("the right dataset after a wrong one: %v", err)
		}
		c.Close()
	})

	t.Run("over budget", func(t *testing.T) {
		probe, err := Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		opened := probe.Spent()
		probe.Close()
		small := cfg
		small.SessionBytes = opened + 64
		c, err := Open(ctx, small)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var logged []QueryStats
		c.SetQueryLog(func(s QueryStats) { logged = append(logged, s) })
		_, err = c.SearchConcepts(ctx, datasets.ConceptQuery{Domain: "Condition", Limit: 1000})
		safe(t, err, "query refused: BigQuery estimates it would process")
		if !errors.Is(err, ErrBudget) {
			t.Fatalf("%v does not match ErrBudget", err)
		}
		if len(logged) != 1 || !logged[0].Refused || logged[0].Estimated <= 64 || logged[0].JobID != "" {
			t.Fatalf("audit of the refused query: %+v", logged)
		}
		// A query within what is left still runs.
		ids, err := c.Descendants(ctx, -1)
		if err != nil || len(ids) != 1 {
			t.Fatalf("a query within the budget: %v, %v", ids, err)
		}
	})

	t.Run("missing table", func(t *testing.T) {
		c, err := Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.client.Dataset(cfg.Dataset).Table("concept_ancestor").Delete(ctx); err != nil {
			t.Fatal(err)
		}
		_, err = c.Descendants(ctx, 201826)
		safe(t, err, "query failed")
		r, err := c.Aggregate(ctx, datasets.Query{Table: "person"})
		if err != nil || len(r.Cells) != 1 || r.Cells[0].Persons == 0 {
			t.Fatalf("the catalog after a missing table: %+v, %v", r, err)
		}
	})

	t.Run("emulator stopped", func(t *testing.T) {
		c, err := Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.cfg.QueryTimeout = 3 * time.Second
		e.stop()
		_, err = c.Aggregate(ctx, datasets.Query{Table: "person", GroupBy: []string{"gender_concept_id"}})
		// A stopped server ends the query one of two ways, depending on
		// where the client is when it goes: a refused connection is
		// retried until the query timeout ("did not answer within 3s"), a
		// connection cut mid-request fails at once ("unreachable"). Both
		// texts say unreachable and neither names the endpoint.
		safe(t, err, "unreachable")
		if strings.Contains(err.Error(), "127.0.0.1") {
			t.Fatalf("safe text names the endpoint: %q", err)
		}
	})
}
