package analysis_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"enclave/analysis"
	"enclave/api/spec"
	"enclave/datasets"
	"enclave/datasets/omop"
	"enclave/datasets/synth"
	"enclave/release"
	"enclave/release/audit"
)

// The synthetic cohort every test of this package reads: built once per
// test binary (synth → import → tier database), opened read-only. The
// controlled tier is used because its dates are not shifted by a random
// per-workspace secret, so every run sees exactly the same data.
const (
	fixturePersons = 3000
	fixtureSeed    = 7
)

var fixture struct {
	once sync.Once
	dir  string
	cat  datasets.Catalog
	db   analysis.Engine
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture.cat != nil {
		fixture.cat.Close()
	}
	if fixture.dir != "" {
		os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}

// engine returns the shared tier catalog, building the cohort on first use.
func engine(t testing.TB) analysis.Engine {
	t.Helper()
	fixture.once.Do(func() { fixture.err = buildFixture() })
	if fixture.err != nil {
		t.Fatalf("fixture: %v", fixture.err)
	}
	return fixture.db
}

func buildFixture() error {
	dir, err := os.MkdirTemp("", "analysis-test-")
	if err != nil {
		return err
	}
	fixture.dir = dir
	src := filepath.Join(dir, "omop")
	if _, err := synth.Generate(synth.Options{Persons: fixturePersons, Seed: fixtureSeed, Out: src, Format: synth.FormatParquet}); err != nil {
		return err
	}
	base := filepath.Join(dir, "data", "cdm.duckdb")
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return err
	}
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	if _, err := omop.Import(context.Background(), base, src, omop.Options{AgeAsOf: asOf, Tiers: []datasets.Tier{datasets.Controlled}}); err != nil {
		return err
	}
	// The one read-only handle of this process on the tier file: the
	// analysis server and the ground truth SQL below share it (DuckDB
	// refuses a second connection with another configuration).
	cat, err := omop.OpenCatalog(omop.TierPath(base, datasets.Controlled))
	if err != nil {
		return err
	}
	fixture.cat = cat
	db, ok := cat.(analysis.Engine)
	if !ok {
		return fmt.Errorf("the catalog is not an analysis.Engine")
	}
	fixture.db = db
	return nil
}

// env is one kernel session over the fixture: its own release history (so
// differencing does not couple tests), audit log and analysis server.
type env struct {
	t        *testing.T
	db       analysis.Engine
	srv      *analysis.Server
	sess     *release.Session
	histPath string
	ctx      context.Context
	cells    int
}

func newEnv(t *testing.T, edit ...func(*release.Policy)) *env {
	t.Helper()
	return newEnvAt(t, filepath.Join(t.TempDir(), "history.jsonl"), edit...)
}

// newEnvAt is newEnv with the workspace history at hp, which several
// sessions (kernels of one workspace) may share.
func newEnvAt(t *testing.T, hp string, edit ...func(*release.Policy)) *env {
	t.Helper()
	return newEnvOn(t, engine(t), hp, edit...)
}

// newEnvOn is newEnvAt over the engine db.
func newEnvOn(t *testing.T, db analysis.Engine, hp string, edit ...func(*release.Policy)) *env {
	t.Helper()
	dir := t.TempDir()
	pol := release.Defaults()
	for _, f := range edit {
		f(&pol)
	}
	hist, err := release.OpenHistory(hp, "test")
	if err != nil {
		t.Fatal(err)
	}
	alog, err := audit.Open(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	sess := &release.Session{Policy: pol, History: hist, Audit: alog, ID: "test", Researcher: "tester"}
	t.Cleanup(func() { sess.Close() })
	ctx := context.Background()
	srv, err := analysis.New(ctx, db, sess, analysis.Options{Datasets: []string{"omop", "fitbit"}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, db: db, srv: srv, sess: sess, histPath: hp, ctx: ctx}
}

// call calls method as the kernel does, decoding the answer into out.
func (e *env) call(method string, args, out any) error {
	e.t.Helper()
	b, err := json.Marshal(args)
	if err != nil {
		e.t.Fatal(err)
	}
	e.cells++
	raw, err := e.srv.Call(e.ctx, fmt.Sprintf("cell-%d", e.cells), method, b)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s answered %s: %v", method, raw, err)
		}
	}
	return nil
}

func (e *env) must(method string, args, out any) {
	e.t.Helper()
	if err := e.call(method, args, out); err != nil {
		e.t.Fatalf("%s(%s): %v", method, mustJSON(args), err)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (e *env) persons() spec.Handle {
	e.t.Helper()
	var h spec.Handle
	e.must(spec.MPersons, spec.PersonsArgs{}, &h)
	return h
}

func (e *env) events(table string, concepts ...int64) spec.Handle {
	e.t.Helper()
	var h spec.Handle
	e.must(spec.MEvents, spec.EventsArgs{Table: table, Concepts: concepts}, &h)
	return h
}

func (e *env) derive(base spec.Handle, st spec.Step) spec.Handle {
	e.t.Helper()
	var h spec.Handle
	e.must(spec.MDerive, spec.DeriveArgs{Base: base.ID, Step: st}, &h)
	return h
}

func (e *env) table(method string, args any) *spec.Table {
	e.t.Helper()
	var tab spec.Table
	e.must(method, args, &tab)
	return &tab
}

func (e *env) plot(method string, args any) *spec.Plot {
	e.t.Helper()
	var p spec.Plot
	e.must(method, args, &p)
	return &p
}

// count is stats.count of h with no grouping: its one persons cell.
func (e *env) count(h spec.Handle) spec.Cell {
	e.t.Helper()
	tab := e.table(spec.MCount, spec.CountArgs{Handle: h.ID})
	return tab.Rows[0][1]
}

// Ground truth: plain SQL written here, independently of the package.

func queryInts(t *testing.T, q string, args ...any) []int64 {
	t.Helper()
	rows, err := engine(t).QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("ground truth %q: %v", q, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v sql.NullInt64
		if err := rows.Scan(&v); err != nil {
			t.Fatalf("ground truth %q: %v", q, err)
		}
		out = append(out, v.Int64)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func queryInt(t *testing.T, q string, args ...any) int64 {
	t.Helper()
	v := queryInts(t, q, args...)
	if len(v) != 1 {
		t.Fatalf("ground truth %q: %d rows", q, len(v))
	}
	return v[0]
}

// queryRows returns every row of q as values (int64, float64, string, nil).
func queryRows(t *testing.T, q string, args ...any) [][]any {
	t.Helper()
	rows, err := engine(t).QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("ground truth %q: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i := range vals {
			vals[i] = omop.Normalise(vals[i])
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// dataCut is the last observation date, computed here.
func dataCut(t *testing.T) string {
	t.Helper()
	r := queryRows(t, "SELECT strftime(max(observation_period_end_date), '%Y-%m-%d') FROM observation_period")
	return r[0][0].(string)
}

// ageSQL is the age in completed years at the date at of person alias p,
// written as a researcher would: the year difference, less one when the
// birthday has not come yet that year.
func ageSQL(p, at string) string {
	d := "DATE '" + at + "'"
	return fmt.Sprintf("(year(%[2]s) - %[1]s.year_of_birth - CASE WHEN month(%[2]s) * 100 + day(%[2]s) < coalesce(%[1]s.month_of_birth, 1) * 100 + coalesce(%[1]s.day_of_birth, 1) THEN 1 ELSE 0 END)", p, d)
}

// released is the released value of c; it fails when c is suppressed.
func released(t *testing.T, what string, c spec.Cell) float64 {
	t.Helper()
	if c.Status != spec.Released || c.Value == nil {
		t.Fatalf("%s: suppressed (%q, status %q), want released", what, c.Text, c.Status)
	}
	return *c.Value
}

// checkCount asserts a released persons cell shows n as the policy says:
// 0 and ≥21 released exactly, 1–20 as "≤20" with no value.
func checkCount(t *testing.T, what string, c spec.Cell, n int64) {
	t.Helper()
	switch {
	case n >= 1 && n <= 20:
		if c.Value != nil || c.Text != "≤20" || c.Status != spec.Small {
			t.Errorf("%s: %d persons shown as %q (value %v, status %q), want ≤20 small", what, n, c.Text, c.Value, c.Status)
		}
	case c.Status == spec.Released:
		if c.Value == nil || *c.Value != float64(n) || c.Text != thousands(n) {
			t.Errorf("%s: shown %q (value %v), want %d", what, c.Text, c.Value, n)
		}
	default:
		// Suppressed for another reason (secondary, differencing): no value.
		if c.Value != nil || c.Text == "" {
			t.Errorf("%s: suppressed %q but shows value %v", what, c.Status, *c.Value)
		}
	}
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// historyRecords reads the release history file.
func (e *env) historyRecords() []release.Record {
	e.t.Helper()
	b, err := os.ReadFile(e.histPath)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []release.Record
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var r release.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			e.t.Fatalf("history line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

func sortedIDs(v []int64) []int64 {
	out := append([]int64(nil), v...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// TestFixture sanity-checks the cohort the other tests read.
func TestFixture(t *testing.T) {
	start := time.Now()
	engine(t)
	t.Logf("fixture ready in %s", time.Since(start))
	if n := queryInt(t, "SELECT count(*) FROM person"); n < fixturePersons*9/10 || n > fixturePersons {
		t.Fatalf("person rows %d", n)
	}
	e := newEnv(t)
	if e.srv.DataCut() != dataCut(t) {
		t.Fatalf("data cut %s, want %s", e.srv.DataCut(), dataCut(t))
	}
	at := dataCut(t)
	mism := queryInt(t, "SELECT count(*) FROM person p WHERE "+ageSQL("p", at)+" <> date_sub('year', make_date(p.year_of_birth, coalesce(p.month_of_birth,1), coalesce(p.day_of_birth,1)), DATE '"+at+"')")
	if mism != 0 {
		t.Fatalf("%d persons' ages differ between the two formulas", mism)
	}
}

// shownTol: see export_test.go.
var shownTol = analysis.ShownTol
