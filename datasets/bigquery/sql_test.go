package bigquery

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"enclave/api/spec"
	"enclave/datasets"
	"enclave/datasets/catalogtest"
)

// TestSQLConformance runs the same %sql cells on a BigQuery workspace (in
// GoogleSQL) and on the DuckDB tier it was loaded from (in DuckDB SQL):
// the same released tables, cell for cell (counts, groups of fewer than
// MinCount persons left out, means and sds with their hidden columns);
// bad cells refuse with their reasons and the session keeps serving;
// every %sql query's bytes reach the log.
func TestSQLConformance(t *testing.T) {
	t.Parallel()
	var stats []QueryStats
	cfg, ref, got := twins(t, "cdr_sql", &stats)
	ctx := context.Background()

	// The most frequent condition of the data.
	r, err := ref.Aggregate(ctx, datasets.Query{Table: "condition_occurrence", GroupBy: []string{"condition_concept_id"}, Agg: datasets.CountPersons})
	if err != nil {
		t.Fatal(err)
	}
	var cond, most int64
	for _, c := range r.Cells {
		if id, ok := c.Key[0].(int64); ok && c.Persons > most {
			cond, most = id, c.Persons
		}
	}
	if cond == 0 {
		t.Fatal("no condition in the data")
	}
	cases := []catalogtest.SQLCase{
		{Name: "persons by gender", Duck: `SELECT gender_concept_id, count(*) AS n FROM person GROUP BY 1 ORDER BY 1`,
			Google: "SELECT gender_concept_id, COUNT(*) AS n FROM `cdr_sql.person` GROUP BY 1 ORDER BY 1"},
		{Name: "birth decades, mean year of birth",
			Duck:   `SELECT year_of_birth // 10 * 10 AS decade, count(*) AS n, avg(year_of_birth) AS mean_yob FROM person GROUP BY 1 ORDER BY 1`,
			Google: "SELECT DIV(year_of_birth, 10) * 10 AS decade, COUNT(*) AS n, AVG(year_of_birth) AS mean_yob FROM `enclave-test.cdr_sql.person` GROUP BY decade ORDER BY decade"},
		{Name: "conditions by year of onset",
			Duck:   `SELECT year(condition_start_date) AS y, count(*) AS n_rows, count(DISTINCT person_id) AS n FROM condition_occurrence GROUP BY 1 ORDER BY 1`,
			Google: "SELECT EXTRACT(YEAR FROM condition_start_date) AS y, COUNT(*) AS n_rows, COUNT(DISTINCT person_id) AS n FROM condition_occurrence GROUP BY y ORDER BY y"},
		{Name: "measurement values by concept, joined with person",
			Duck: `SELECT m.measurement_concept_id, count(*) AS n, avg(m.value_as_number) AS mean, stddev(m.value_as_number) AS sd
			       FROM person p JOIN measurement m ON m.person_id = p.person_id WHERE p.year_of_birth >= 1940 GROUP BY 1 ORDER BY 1`,
			Google: "SELECT m.measurement_concept_id, COUNT(*) AS n, AVG(m.value_as_number) AS mean, STDDEV(m.value_as_number) AS sd\n" +
				"FROM `person` AS p JOIN `measurement` AS m ON m.person_id = p.person_id WHERE p.year_of_birth >= 1940 GROUP BY 1 ORDER BY 1"},
		{Name: "IN-subquery, per-person CTE with COUNTIF, DATE_DIFF, SAFE_DIVIDE",
			Duck: fmt.Sprintf(`WITH per AS (SELECT person_id, count(*) AS n_cond, coalesce(count_if(date_diff('day', condition_start_date, condition_end_date) > 7), 0) AS long_ones
			       FROM condition_occurrence GROUP BY person_id)
			       SELECT p.gender_concept_id, count(*) AS n, avg(per.n_cond) AS mean_conditions, count(per.n_cond) / count(*) AS share
			       FROM person p JOIN per ON per.person_id = p.person_id
			       WHERE p.person_id IN (SELECT person_id FROM condition_occurrence WHERE condition_concept_id = %d) AND per.long_ones >= 0
			       GROUP BY 1 ORDER BY 1`, cond),
			Google: fmt.Sprintf("# the same, in GoogleSQL\nWITH per AS (SELECT person_id, COUNT(*) AS n_cond, COUNTIF(DATE_DIFF(condition_end_date, condition_start_date, DAY) > 7) AS long_ones\n"+
				"FROM `cdr_sql.condition_occurrence` GROUP BY person_id)\n"+
				"SELECT p.gender_concept_id, COUNT(*) AS n, AVG(per.n_cond) AS mean_conditions, SAFE_DIVIDE(COUNT(per.n_cond), COUNT(*)) AS share\n"+
				"FROM `cdr_sql.person` p JOIN per USING (person_id)\n"+
				"WHERE p.person_id IN (SELECT person_id FROM `cdr_sql.condition_occurrence` WHERE condition_concept_id = %d) AND per.long_ones >= 0\n"+
				"GROUP BY 1 ORDER BY 1", cond)},
		{Name: "CASE and string constants in a CTE, grouped by its column",
			Duck: `WITH b AS (SELECT person_id, CASE WHEN year_of_birth < 1960 THEN 'born before 1960' ELSE 'born 1960 or later' END AS born FROM person)
			       SELECT born, count(*) AS n FROM person p JOIN b USING (person_id) GROUP BY born ORDER BY born`,
			Google: `WITH b AS (SELECT person_id, CASE WHEN year_of_birth < 1960 THEN "born before 1960" ELSE 'born 1960 or later' END AS born FROM person)
			       SELECT born, COUNT(*) AS n FROM person p JOIN b USING (person_id) GROUP BY born ORDER BY born`},
	}
	gs := catalogtest.RunSQL(t, ref, got, cases)

	// Bad cells refuse, saying why, and the session keeps serving.
	bad := []struct{ name, sql, want string }{
		{"syntax error", "SELECT gender_concept_id, COUNT(* FROM person GROUP BY 1", "syntax"},
		{"unknown table", "SELECT COUNT(*) FROM `cdr_sql.no_such_table`", "not part of this tier"},
		{"another dataset", "SELECT COUNT(*) FROM `other_dataset.person`", "other than this workspace's"},
		{"unknown column", "SELECT no_such_column, COUNT(*) FROM person GROUP BY 1", "bind"},
		{"row-level query", "SELECT year_of_birth FROM person", "row-level"},
		{"a function not rendered", "SELECT gender_concept_id, COUNT(*) FROM person WHERE hash(year_of_birth) > 0 GROUP BY 1", "not accepted on a BigQuery workspace"},
		{"median", "SELECT gender_concept_id, median(year_of_birth) FROM person GROUP BY 1", "PERCENTILE_CONT"},
	}
	for _, b := range bad {
		out := gs.Run(ctx, b.sql)
		if out.Err == nil || !strings.Contains(out.Err.Value, b.want) {
			t.Errorf("%s: want an error saying %q, got %+v", b.name, b.want, out)
			continue
		}
		t.Logf("%s: %s: %s", b.name, out.Err.Name, out.Err.Value)
	}
	if out := gs.Run(ctx, cases[0].Google); out.Err != nil {
		t.Errorf("after the bad cells, %%sql: %s", out.Err.Value)
	}
	if _, err := gs.Server().Call(ctx, "api", spec.MPersons, []byte(`{}`)); err != nil {
		t.Errorf("after the bad cells, the API: %v", err)
	}

	// Above sql_confirm_bytes, the cell shows the estimate instead of
	// running; with --confirm it runs.
	confirm := cfg
	confirm.SQLConfirmBytes = 1
	cc, err := Open(ctx, confirm)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cs := catalogtest.NewSQLSession(t, cc)
	first := gs.Run(ctx, cases[0].Google)
	out := cs.Run(ctx, cases[0].Google)
	if out.Err == nil || !strings.Contains(out.Err.Value, "BigQuery estimates this query would process") || !strings.Contains(out.Err.Value, "%sql --confirm") {
		t.Errorf("above sql_confirm_bytes: want the estimate and how to confirm, got %+v", out)
	} else {
		t.Logf("above sql_confirm_bytes: %s", out.Err.Value)
	}
	if out := cs.Run(ctx, "--confirm "+cases[0].Google); out.Err != nil || out.Table != first.Table {
		t.Errorf("with --confirm: %+v, want the table\n%s", out, first.Table)
	}

	// Over the session's byte budget: the same cell in a session whose
	// budget ends just short of its estimate.
	probe, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var last QueryStats
	probe.SetQueryLog(func(s QueryStats) {
		if s.Kind == "sql" {
			last = s
		}
	})
	if out := catalogtest.NewSQLSession(t, probe).Run(ctx, cases[0].Google); out.Err != nil {
		t.Fatal(out.Err.Value)
	}
	probe.Close()
	small := cfg
	small.SessionBytes = last.Session - last.Processed + last.Estimated - 1
	sc, err := Open(ctx, small)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	ss := catalogtest.NewSQLSession(t, sc)
	if out := ss.Run(ctx, cases[0].Google); out.Err == nil || !strings.Contains(out.Err.Value, "query refused: BigQuery estimates it would process") {
		t.Errorf("over the byte budget: want the budget refusal, got %+v", out)
	} else {
		t.Logf("over the byte budget: %s", out.Err.Value)
	}
	if out := ss.Run(ctx, "SELECT COUNT(*) FROM no_such_table"); out.Err == nil || out.Err.Name != "SQLRefused" {
		t.Errorf("after the budget refusal: %+v", out)
	}

	n := 0
	for _, s := range stats {
		if s.Kind != "sql" {
			continue
		}
		n++
		if s.Error == "" && s.JobID == "" {
			t.Errorf("a %%sql query ran without a job id")
		}
	}
	if n < len(cases) {
		t.Errorf("%d %%sql queries reached the log, want at least %d", n, len(cases))
	}
	t.Logf("%d %%sql queries in the log", n)
}
