// Command analysisbench times the checked analysis API against the raw
// DuckDB SQL it stands for, on one workspace's tier database, in one run.
// bench/analysis.sh runs it; it prints one JSON object per line.
//
// It opens the workspace as the kernel does (workspace.Open, then
// analysis.New over the tier catalog) with a release.Session whose history
// and audit log live in a temporary directory, so the workspace's own
// release history is never touched. Each case alternates the checked call
// and its raw baseline, N times after a warm-up, and reports medians and
// minima:
//
//	count_gender_race  stats.count(Persons, by gender × race) vs
//	                   SELECT gender, race, count(*) … GROUPING SETS (the same 4 sets)
//	table1             stats.table1(Persons) (gender, age_group, race, ethnicity) vs
//	                   SELECT …, count(*) … GROUPING SETS ((), (g), (a), (r), (e))
//	describe_hba1c_gender
//	                   stats.Describe(HbA1c rows, "value_as_number", "gender") vs one
//	                   GROUP BY with avg, stddev and quantile_cont (target 3x: smoothed
//	                   quartiles and per-person dominance are a window query more)
//	sql_crosstab       %sql SELECT gender_concept_id, race_concept_id, count(*) FROM person GROUP BY 1, 2
//	                   vs the same SQL run directly
//
// "checked" is a new result every time (a fresh release history per call:
// every cell is judged, recorded and fsynced, as when a researcher runs a
// table for the first time); "checked_seen" repeats the call on one
// history (cells released before: judged, nothing written). Both run on one
// analysis server, as the cells of one kernel session do: what it keeps
// for the session (the persons of each demographic value, cohort sets,
// %sql rewrites and group sets) is built by the first call, whose time is
// "checked_cold". Profile lines
// break the checked time down: the exact engine SQL of the checked path
// (count(DISTINCT person_id) with GROUPING() columns) run raw, and the same
// with count(*), so the engine's share and the layer's share can be told
// apart.
//
// Trace lines time every engine query of one checked call (fresh history,
// then seen) by kind: the aggregate, person-set rebuilds for differencing,
// concept names, %sql parsing.
//
// Other modes: -cell times the Server.Call of the 10 calls of the API cell
// bench/analysis.sh sends through the real kernel (the engine's share of
// that cell); -query SQL (repeatable) times arbitrary SQL on the catalog,
// for trying alternatives; -costs (no workspace) times the release layer's
// per-cell file work (audit append with fsync, egress counter, history
// append) in BENCH_TMP, for bench/release.sh.
//
// Usage: ENCLAVE_HOME=… analysisbench -workspace DIR [-researcher demo] [-n 15]
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"enclave/analysis"
	"enclave/api/spec"
	"enclave/datasets/workspace"
	"enclave/kernel"
	"enclave/release"
	"enclave/release/audit"
)

var (
	wsDir      = flag.String("workspace", "", "workspace directory (required)")
	researcher = flag.String("researcher", "demo", "researcher id (ENCLAVE_HOME must hold it)")
	reps       = flag.Int("n", 15, "timed repetitions per case")
	warm       = flag.Int("warmup", 2, "untimed repetitions per case")
	cellOnly   = flag.Bool("cell", false, "only time the 10 Server.Calls of the API cell")
	cpuProfile = flag.String("cpuprofile", "", "write a CPU profile of the checked calls here")
	only       = flag.String("only", "", "run only cases whose name contains this")
	costs      = flag.Bool("costs", false, "only time the release layer's fixed per-cell file costs (no workspace needed)")
	queries    queryList
)

// queryList collects -query flags.
type queryList []string

func (q *queryList) String() string     { return strings.Join(*q, "; ") }
func (q *queryList) Set(s string) error { *q = append(*q, s); return nil }

func init() {
	flag.Var(&queries, "query", "time this SQL on the catalog (median of -n) instead of the cases; repeatable")
}

func main() {
	flag.Parse()
	if *costs {
		if err := fileCosts(); err != nil {
			fmt.Fprintln(os.Stderr, "analysisbench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "analysisbench:", err)
		out(map[string]any{"bench": "analysis", "error": err.Error()})
		os.Exit(1)
	}
}

func out(v map[string]any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// tracer is the catalog as the analysis layer sees it, timing each
// QueryContext (for go-duckdb that is the query's execution; reading the
// materialised rows is not included) while on.
type tracer struct {
	analysis.Engine
	on bool
	qs []traced
}

type traced struct {
	sql string
	d   time.Duration
}

func (t *tracer) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if !t.on {
		return t.Engine.QueryContext(ctx, q, args...)
	}
	s := time.Now()
	r, err := t.Engine.QueryContext(ctx, q, args...)
	t.qs = append(t.qs, traced{q, time.Since(s)})
	return r, err
}

// shape names a query by what it is for.
func shape(q string) string {
	switch {
	case strings.Contains(q, "json_serialize_sql") || strings.Contains(q, "json_deserialize_sql"):
		return "sqlagg parse/deserialize"
	case strings.HasPrefix(q, "DESCRIBE") || strings.Contains(q, "duckdb_functions"):
		return "sqlagg describe/catalog"
	case strings.Contains(q, "FROM concept WHERE"):
		return "concept names"
	case strings.Contains(q, "list(DISTINCT"):
		return "%sql person sets (SetsSQL)"
	case strings.HasPrefix(q, "SELECT p.person_id") || strings.HasPrefix(q, "SELECT DISTINCT x.person_id"):
		return "person set (PersonSet)"
	case strings.Contains(q, "GROUPING SETS") || strings.Contains(q, "count(DISTINCT"):
		return "aggregate"
	}
	if len(q) > 50 {
		q = q[:50]
	}
	return q
}

// traceCall runs f with tracing on and prints where its time went.
func (b *bench) traceCall(ctx context.Context, name, mode string, f func(context.Context) error) error {
	b.tr.qs = nil
	b.tr.on = true
	t := time.Now()
	err := f(ctx)
	total := time.Since(t)
	b.tr.on = false
	if err != nil {
		return err
	}
	by := map[string]map[string]float64{}
	var inQ time.Duration
	for _, q := range b.tr.qs {
		k := shape(q.sql)
		if by[k] == nil {
			by[k] = map[string]float64{}
		}
		by[k]["n"]++
		by[k]["ms"] = round3(by[k]["ms"] + ms(q.d))
		inQ += q.d
	}
	out(map[string]any{"bench": "analysis." + name + ".trace", "history": mode, "total_ms": ms(total),
		"engine_queries": len(b.tr.qs), "in_queries_ms": ms(inQ), "outside_queries_ms": round3(ms(total - inQ)), "by_kind": by})
	return nil
}

// bench holds the open workspace, the analysis server and the release
// session it judges with.
type bench struct {
	ws   *workspace.Session
	db   analysis.Engine
	tr   *tracer
	rel  *release.Session
	srv  *analysis.Server
	tmp  string
	all  string // handle of omop.Persons()
	nh   int
	sql  kernel.Magic
	cell int
}

func run() error {
	if *wsDir == "" {
		return fmt.Errorf("-workspace is required")
	}
	ctx := context.Background()
	t0 := time.Now()
	ws, err := workspace.Open(*wsDir, *researcher, time.Now())
	if err != nil {
		return err
	}
	defer ws.Close()
	db, ok := ws.Catalog.(analysis.Engine)
	if !ok {
		return fmt.Errorf("the workspace's catalog cannot serve the analysis API")
	}
	tmp, err := os.MkdirTemp("", "analysisbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	pol, err := release.LoadPolicy(ws.Workspace.Dir, ws.Workspace.Policy)
	if err != nil {
		return err
	}
	b := &bench{ws: ws, db: db, tmp: tmp, tr: &tracer{Engine: db}}
	hist, err := b.newHistory()
	if err != nil {
		return err
	}
	alog, err := audit.Open(filepath.Join(tmp, "audit.jsonl"))
	if err != nil {
		return err
	}
	b.rel = &release.Session{Policy: pol, History: hist, Audit: alog, ID: "bench", Researcher: *researcher, Workspace: ws.Info.Name}
	defer b.rel.Close()
	b.srv, err = analysis.New(ctx, b.tr, b.rel, analysis.Options{Datasets: ws.Info.Datasets})
	if err != nil {
		return err
	}
	b.sql = analysis.Magics(func() (*analysis.Server, error) { return b.srv, nil })["sql"]
	var persons int64
	if rows, err := db.QueryContext(ctx, "SELECT count(*) FROM person"); err != nil {
		return err
	} else {
		for rows.Next() {
			if err := rows.Scan(&persons); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
	}
	open := time.Since(t0)
	var h spec.Handle
	if err := b.call(ctx, spec.MPersons, spec.PersonsArgs{}, &h); err != nil {
		return err
	}
	b.all = h.ID

	if *cellOnly {
		return b.apiCell(ctx, persons)
	}
	if len(queries) > 0 {
		for _, q := range queries {
			var ds []time.Duration
			for i := 0; i < *warm+*reps; i++ {
				d, err := b.raw(ctx, q)
				if err != nil {
					return fmt.Errorf("%s: %w", q, err)
				}
				if i >= *warm {
					ds = append(ds, d)
				}
			}
			out(map[string]any{"bench": "analysis.query", "persons": persons, "median_ms": ms(median(ds)), "min_ms": ms(slices.Min(ds)), "sql": q})
		}
		return nil
	}
	out(map[string]any{"bench": "analysis.setup", "persons": persons, "open_ms": ms(open), "data_cut": b.srv.DataCut(),
		"reps": *reps, "warmup": *warm})

	at := b.srv.DataCut()
	age := "date_sub('year', make_date(p.year_of_birth, coalesce(p.month_of_birth, 1), coalesce(p.day_of_birth, 1)), DATE '" + at + "')"
	ageGroup := "CASE WHEN " + age + " < 18 THEN '0–17' WHEN " + age + " < 45 THEN '18–44' WHEN " + age +
		" < 65 THEN '45–64' ELSE '65+' END"

	// The SQL stats.count and stats.table1 run (analysis/cells.go grouped()),
	// for the profile lines.
	g, r, e := "p.gender_concept_id", "p.race_concept_id", "p.ethnicity_concept_id"
	countEngine := func(agg string) string {
		return "SELECT " + g + ", " + r + ", GROUPING(" + g + "), GROUPING(" + r + "), " + agg + " FROM person p WHERE TRUE" +
			" GROUP BY GROUPING SETS ((" + g + ", " + r + "), (" + g + "), (" + r + "), ())"
	}
	t1Engine := func(agg string) string {
		return "SELECT " + g + ", " + ageGroup + ", " + r + ", " + e + ", GROUPING(" + g + "), GROUPING(" + ageGroup + "), GROUPING(" + r +
			"), GROUPING(" + e + "), " + agg + " FROM person p WHERE TRUE GROUP BY GROUPING SETS ((), (" + g + "), (" + ageGroup +
			"), (" + r + "), (" + e + "))"
	}
	// unionDistinct is the grouping sets as one GROUP BY per set, UNION ALL
	// (a proposal for handles where persons must be counted distinct).
	unionDistinct := func(exprs []string, sets [][]int) string {
		var parts []string
		for _, set := range sets {
			var sel, grp []string
			for i, e := range exprs {
				if slices.Contains(set, i) {
					sel = append(sel, e)
					grp = append(grp, e)
				} else {
					sel = append(sel, "NULL")
				}
			}
			q := "SELECT " + strings.Join(sel, ", ") + ", count(DISTINCT p.person_id), count(*) FROM person p WHERE TRUE"
			if len(grp) > 0 {
				q += " GROUP BY " + strings.Join(grp, ", ")
			}
			parts = append(parts, q)
		}
		return strings.Join(parts, " UNION ALL ")
	}
	userSQL := "SELECT gender_concept_id, race_concept_id, count(*) FROM person GROUP BY 1, 2"

	cases := []struct {
		name    string
		target  float64
		checked func(context.Context) error
		raw     string
		profile map[string]string
	}{
		{"count_gender_race", 1.1,
			func(ctx context.Context) error {
				return b.call(ctx, spec.MCount, spec.CountArgs{Handle: b.all, By: []string{"gender", "race"}}, nil)
			},
			"SELECT gender_concept_id, race_concept_id, count(*) FROM person GROUP BY GROUPING SETS " +
				"((gender_concept_id, race_concept_id), (gender_concept_id), (race_concept_id), ())",
			map[string]string{
				"engine_sql_distinct_ms": countEngine("count(DISTINCT p.person_id), count(*)"),
				"engine_sql_count_ms":    countEngine("count(*), count(*)"),
				"alt_union_distinct_ms":  unionDistinct([]string{g, r}, [][]int{{0, 1}, {0}, {1}, {}}),
				"raw_group_by_ms":        "SELECT gender_concept_id, race_concept_id, count(*) FROM person GROUP BY 1, 2",
			}},
		{"table1", 1.1,
			func(ctx context.Context) error {
				return b.call(ctx, spec.MTable1, spec.Table1Args{Cohort: b.all}, nil)
			},
			"SELECT gender_concept_id, " + strings.ReplaceAll(ageGroup, "p.", "") + ", race_concept_id, ethnicity_concept_id, count(*) FROM person " +
				"GROUP BY GROUPING SETS ((), (gender_concept_id), (" + strings.ReplaceAll(ageGroup, "p.", "") + "), (race_concept_id), (ethnicity_concept_id))",
			map[string]string{
				"engine_sql_distinct_ms": t1Engine("count(DISTINCT p.person_id), count(*)"),
				"engine_sql_count_ms":    t1Engine("count(*), count(*)"),
				"alt_union_distinct_ms":  unionDistinct([]string{g, ageGroup, r, e}, [][]int{{}, {0}, {1}, {2}, {3}}),
			}},
		// Describe runs two queries (moments; smoothed quartiles and the
		// per-person sums the dominance rules read, in one window query) where
		// the raw SQL is one with interpolated quartiles: its target is
		// what the release rules are allowed to cost here.
		{"describe_hba1c_gender", 3,
			func(ctx context.Context) error {
				var h spec.Handle
				if err := b.call(ctx, spec.MEvents, spec.EventsArgs{Table: "measurement", Concepts: []int64{3004410}}, &h); err != nil {
					return err
				}
				return b.call(ctx, spec.MDescribe, spec.DescribeArgs{Handle: h.ID, Column: "value_as_number", By: []string{"gender"}}, nil)
			},
			"SELECT p.gender_concept_id, count(DISTINCT m.person_id), count(*), avg(m.value_as_number), stddev_samp(m.value_as_number), " +
				"quantile_cont(m.value_as_number, 0.25), quantile_cont(m.value_as_number, 0.5), quantile_cont(m.value_as_number, 0.75) " +
				"FROM measurement m JOIN person p USING (person_id) WHERE m.measurement_concept_id = 3004410 AND m.value_as_number IS NOT NULL GROUP BY 1",
			nil},
		{"sql_crosstab", 1.1,
			func(ctx context.Context) error { return b.magicSQL(ctx, userSQL) },
			userSQL,
			map[string]string{
				"engine_sql_distinct_ms": "SELECT gender_concept_id, race_concept_id, count(*), count(DISTINCT person.person_id) FROM person GROUP BY 1, 2",
				"parse_ms":               "SELECT json_serialize_sql('" + userSQL + "')",
			}},
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for _, c := range cases {
		if *only != "" && !strings.Contains(c.name, *only) {
			continue
		}
		// Cold: the first call on this server (concept names not cached
		// yet), on a fresh history.
		if err := b.freshHistory(); err != nil {
			return err
		}
		t := time.Now()
		if err := c.checked(ctx); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		cold := time.Since(t)
		for i := 0; i < *warm; i++ {
			if err := b.freshHistory(); err != nil {
				return err
			}
			if err := c.checked(ctx); err != nil {
				return err
			}
			if _, err := b.raw(ctx, c.raw); err != nil {
				return fmt.Errorf("%s raw: %w", c.name, err)
			}
		}
		var checked, seen, raw []time.Duration
		seenHist, err := b.newHistory()
		if err != nil {
			return err
		}
		for i := 0; i < *reps; i++ {
			// A new result: fresh history.
			if err := b.freshHistory(); err != nil {
				return err
			}
			t := time.Now()
			if err := c.checked(ctx); err != nil {
				return err
			}
			checked = append(checked, time.Since(t))
			d, err := b.raw(ctx, c.raw)
			if err != nil {
				return err
			}
			raw = append(raw, d)
			// The same result again, on a history that has it.
			old := b.rel.History
			b.rel.History = seenHist
			t = time.Now()
			err = c.checked(ctx)
			seen = append(seen, time.Since(t))
			b.rel.History = old
			if err != nil {
				return err
			}
		}
		seen = seen[1:] // the first one recorded the cells
		seenHist.Close()
		cm, rm, sm := median(checked), median(raw), median(seen)
		line := map[string]any{"bench": "analysis." + c.name, "persons": persons,
			"checked_ms": ms(cm), "raw_ms": ms(rm), "ratio": round3(float64(cm) / float64(rm)),
			"checked_min_ms": ms(slices.Min(checked)), "raw_min_ms": ms(slices.Min(raw)),
			"checked_seen_ms": ms(sm), "ratio_seen": round3(float64(sm) / float64(rm)),
			"checked_cold_ms": ms(cold), "target": fmt.Sprintf("<= %gx", c.target),
			"pass": float64(cm)/float64(rm) <= c.target}
		out(line)
		prof := map[string]any{"bench": "analysis." + c.name + ".profile", "checked_ms": ms(cm), "raw_ms": ms(rm)}
		for k, q := range c.profile {
			var ds []time.Duration
			for i := 0; i < *reps; i++ {
				d, err := b.raw(ctx, q)
				if err != nil {
					return fmt.Errorf("%s %s: %w", c.name, k, err)
				}
				ds = append(ds, d)
			}
			prof[k] = ms(median(ds))
		}
		if d, ok := prof["engine_sql_distinct_ms"].(float64); ok {
			prof["layer_ms"] = round3(ms(cm) - d)
		}
		out(prof)
		// Where one call's time goes: a new result, and a repeat.
		if err := b.freshHistory(); err != nil {
			return err
		}
		if err := b.traceCall(ctx, c.name, "fresh", c.checked); err != nil {
			return err
		}
		if err := b.traceCall(ctx, c.name, "seen", c.checked); err != nil {
			return err
		}
	}
	// Fixed costs of the checked path, measured here: one history append
	// with fsync (every new result), one audit append with fsync (every
	// decision; %sql adds one for the query).
	fs, err := b.fsyncCost()
	if err != nil {
		return err
	}
	out(map[string]any{"bench": "analysis.fsync", "append_fsync_ms": ms(fs)})
	return nil
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }

func (b *bench) newHistory() (*release.History, error) {
	b.nh++
	return release.OpenHistory(filepath.Join(b.tmp, fmt.Sprintf("history-%d.jsonl", b.nh)), "bench")
}

// freshHistory gives the session an empty history (a workspace where
// nothing was released yet).
func (b *bench) freshHistory() error {
	h, err := b.newHistory()
	if err != nil {
		return err
	}
	old := b.rel.History
	b.rel.History = h
	if old != nil {
		old.Close()
		os.Remove(filepath.Join(b.tmp, fmt.Sprintf("history-%d.jsonl", b.nh-1)))
	}
	return nil
}

func (b *bench) call(ctx context.Context, method string, args, result any) error {
	a, err := json.Marshal(args)
	if err != nil {
		return err
	}
	b.cell++
	res, err := b.srv.Call(ctx, fmt.Sprintf("cell-%d", b.cell), method, a)
	if err != nil {
		return err
	}
	if result != nil {
		return json.Unmarshal(res, result)
	}
	return nil
}

// discard is a MagicOutput that drops what the magic shows.
type discard struct{ n int }

func (d *discard) Stream(name, text string)  { d.n += len(text) }
func (d *discard) Display(x *kernel.Display) { d.n++ }

func (b *bench) magicSQL(ctx context.Context, q string) error {
	b.cell++
	o := &discard{}
	if e := b.sql.Run(ctx, kernel.MagicCall{Cell: fmt.Sprintf("cell-%d", b.cell), Args: q, Out: o}); e != nil {
		return fmt.Errorf("%%sql: %s: %s", e.Name, e.Value)
	}
	if o.n == 0 {
		return fmt.Errorf("%%sql showed nothing")
	}
	return nil
}

// raw runs q on the catalog's connection and reads every row.
func (b *bench) raw(ctx context.Context, q string) (time.Duration, error) {
	t := time.Now()
	rows, err := b.db.QueryContext(ctx, q)
	if err != nil {
		return 0, err
	}
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return 0, err
		}
	}
	err = rows.Err()
	rows.Close()
	return time.Since(t), err
}

func (b *bench) fsyncCost() (time.Duration, error) {
	f, err := os.OpenFile(filepath.Join(b.tmp, "fsync"), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	line := []byte(`{"n":50000,"desc":"bench","plan":{"q":"x"},"session":"bench","time":"2026-01-01T00:00:00Z"}` + "\n")
	var ds []time.Duration
	for i := 0; i < 50; i++ {
		t := time.Now()
		if _, err := f.Write(line); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(t))
	}
	return median(ds), nil
}

// apiCell times, through Server.Call, the 10 calls of the cell
// bench/analysis.sh runs in the kernel (omop.Persons and 9 derive steps),
// and prints their summed median: the engine's share of that cell.
func (b *bench) apiCell(ctx context.Context, persons int64) error {
	one := func() (time.Duration, error) {
		var t time.Duration
		id := map[string]string{}
		step := func(name, base string, st spec.Step) error {
			var h spec.Handle
			s := time.Now()
			err := b.call(ctx, spec.MDerive, spec.DeriveArgs{Base: id[base], Step: st}, &h)
			t += time.Since(s)
			id[name] = h.ID
			return err
		}
		var h spec.Handle
		s := time.Now()
		if err := b.call(ctx, spec.MPersons, spec.PersonsArgs{}, &h); err != nil {
			return 0, err
		}
		t += time.Since(s)
		id["c"] = h.ID
		// Mirrors apiCellCode in bench/analysis.sh.
		for _, st := range []struct {
			name, base string
			step       spec.Step
		}{
			{"a", "c", spec.Step{Sex: "female"}},
			{"b", "c", spec.Step{Sex: "male"}},
			{"d", "a", spec.Step{Age: &spec.AgeStep{Min: 40, Max: 69}}},
			{"e", "b", spec.Step{Age: &spec.AgeStep{Min: 40, Max: 69}}},
			{"f", "d", spec.Step{Or: "e"}},
			{"g", "c", spec.Step{Age: &spec.AgeStep{Min: 18, Max: 39}}},
			{"h", "f", spec.Step{Minus: "g"}},
			{"i", "h", spec.Step{And: "c"}},
			{"j", "i", spec.Step{Sex: "female"}},
		} {
			if st.step.Or != "" {
				st.step.Or = id[st.step.Or]
			}
			if st.step.Minus != "" {
				st.step.Minus = id[st.step.Minus]
			}
			if st.step.And != "" {
				st.step.And = id[st.step.And]
			}
			if err := step(st.name, st.base, st.step); err != nil {
				return 0, err
			}
		}
		return t, nil
	}
	var ds []time.Duration
	for i := 0; i < 20+*reps*20; i++ {
		d, err := one()
		if err != nil {
			return err
		}
		if i >= 20 {
			ds = append(ds, d)
		}
	}
	out(map[string]any{"bench": "analysis.api_cell_engine", "persons": persons, "calls": 10, "cells": len(ds),
		"server_call_sum_p50_ms": round3(ms(median(ds))), "server_call_sum_min_ms": round3(ms(slices.Min(ds)))})
	return nil
}

// fileCosts times, in a temporary directory on the same filesystem as the
// workspaces (TMPDIR), what a workspace kernel does on every cell besides
// the default gate's work: two audit appends, each flock + read of the last
// line + write (the execute_request's code, not synced; the cell's output
// summary at CellDone, synced, which flushes both), and one update of the
// workspace egress counter; and, for comparison, a history append with
// fsync (each new result).
func fileCosts() error {
	tmp, err := os.MkdirTemp(os.Getenv("BENCH_TMP"), "analysisbench-costs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	alog, err := audit.Open(filepath.Join(tmp, "audit", "audit.jsonl"))
	if err != nil {
		return err
	}
	defer alog.Close()
	eg, err := release.OpenWorkspaceEgress(filepath.Join(tmp, "release", release.EgressFile))
	if err != nil {
		return err
	}
	defer eg.Close()
	n := 200
	var app, code, egress []time.Duration
	data := json.RawMessage(`{"outputs":1,"bytes":120,"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}`)
	for i := 0; i < n; i++ {
		t := time.Now()
		if _, err := alog.AppendSyncSoon(audit.Entry{Type: "code", Session: "bench", Researcher: "demo", Data: data}); err != nil {
			return err
		}
		code = append(code, time.Since(t))
		t = time.Now()
		if _, err := alog.AppendSyncSoon(audit.Entry{Type: "output", Cell: fmt.Sprintf("cell-%d", i), Session: "bench", Researcher: "demo", Data: data}); err != nil {
			return err
		}
		app = append(app, time.Since(t))
		t = time.Now()
		if _, err := eg.Add(120); err != nil {
			return err
		}
		egress = append(egress, time.Since(t))
	}
	b := &bench{tmp: tmp}
	fs, err := b.fsyncCost()
	if err != nil {
		return err
	}
	a, c, e := median(app), median(code), median(egress)
	out(map[string]any{"bench": "release.file_costs", "audit_append_p50_ms": round3(ms(a)), "audit_append_code_p50_ms": round3(ms(c)),
		"egress_add_p50_ms": round3(ms(e)), "history_append_fsync_p50_ms": round3(ms(fs)), "per_trivial_cell_ms": round3(ms(a + c + e)),
		"note": "a workspace kernel does 2 audit appends (code, output; synced in the background) and 1 egress add per executed cell on the reply path"})
	return nil
}
