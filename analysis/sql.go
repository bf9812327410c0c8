package analysis

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
	_ "github.com/duckdb/duckdb-go/v2" // the %sql parser of a GoogleSQL engine (sqlParser)

	"enclave/analysis/sqlagg"
	"enclave/api/spec"
	"enclave/datasets"
	"enclave/kernel"
	"enclave/release"
	"enclave/release/audit"
)

// sqlPlan rebuilds the person set of one group of a %sql query.
type sqlPlan struct {
	SQL string `json:"sql"`
	Key []any  `json:"key"`
}

// schema is what %sql may read: the tier's tables visible to this workspace.
func (s *Server) schema() sqlagg.Schema {
	sc := sqlagg.Schema{Tables: map[string][]string{}, Types: map[string]string{}}
	conflict := map[string]bool{}
	for n, t := range s.tables {
		var cols []string
		for _, c := range t.Columns {
			cols = append(cols, c.Name)
			if old, ok := sc.Types[c.Name]; ok && old != c.Type {
				conflict[c.Name] = true
			}
			sc.Types[c.Name] = c.Type
		}
		sc.Tables[n] = cols
	}
	for n := range conflict {
		sc.Types[n] = "MIXED" // not a category everywhere: not a group key
	}
	return sc
}

// NativeSQL is implemented by an Engine whose %sql text runs in its own
// dialect (GoogleSQL on BigQuery) rather than through QueryContext's
// mapping of the analysis layer's SQL.
type NativeSQL interface {
	// TableRef is the engine's quoted reference to a tier table.
	TableRef(name string) string
	// TableQualifiers are the paths a researcher may write before a
	// tier table (dataset, project.dataset), lower case.
	TableQualifiers() [][]string
	// QueryNative runs query as written, under the engine's budget and
	// audit as QueryContext's queries are. Unless confirmed, the engine
	// may decline a costly query with an error that shows its estimate.
	QueryNative(ctx context.Context, query string, confirmed bool) (*sql.Rows, error)
}

// errSQLDialect refuses %sql on an engine that is neither DuckDB nor
// GoogleSQL with NativeSQL.
var errSQLDialect = datasets.Errorf("%%sql is not available on this workspace's engine: use the analysis API (cohort.Persons, stats.Count, stats.Table1)")

// sqlParser is the DuckDB that parses and binds %sql on a GoogleSQL
// engine: in memory, holding the tier's tables empty (their names, columns
// and types), so DuckDB's parser and binder check the query as on a DuckDB
// workspace without reading any data.
func (s *Server) sqlParser() (*sql.DB, error) {
	s.parserOnce.Do(func() { s.parser, s.parserErr = openParser(s.tables) })
	return s.parser, s.parserErr
}

func openParser(tables map[string]*datasets.TableInfo) (*sql.DB, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("analysis: %%sql parser: %w", err)
	}
	db.SetMaxOpenConns(1) // one in-memory database
	names := make([]string, 0, len(tables))
	for n := range tables {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		var cols []string
		for _, c := range tables[n].Columns {
			cols = append(cols, quoteName(strings.Trim(c.Name, `"`))+" "+parserType(c.Type))
		}
		if len(cols) == 0 {
			continue
		}
		fmt.Fprintf(&b, "CREATE TABLE %s (%s);\n", quoteName(n), strings.Join(cols, ", "))
	}
	if _, err := db.Exec(b.String()); err != nil {
		db.Close()
		return nil, fmt.Errorf("analysis: %%sql parser tables: %w", err)
	}
	return db, nil
}

var parserTypes = regexp.MustCompile(`^(BIGINT|INTEGER|SMALLINT|TINYINT|HUGEINT|DOUBLE|FLOAT|REAL|VARCHAR|DATE|TIMESTAMP|TIMESTAMP WITH TIME ZONE|BOOLEAN|DECIMAL\([0-9]+, ?[0-9]+\))$`)

// parserType is a column's DuckDB type, VARCHAR when it is not one of the
// plain types the catalogs report.
func parserType(t string) string {
	t = strings.ToUpper(strings.TrimSpace(t))
	if parserTypes.MatchString(t) {
		return t
	}
	return "VARCHAR"
}

func quoteName(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// runSQL runs a rewritten %sql query on the tier; confirmed says that the
// researcher has seen its cost or that the kernel runs it for its own
// checks (person sets).
func (s *Server) runSQL(ctx context.Context, text string, confirmed bool) (*sql.Rows, error) {
	if s.d == googleSQL {
		n, ok := s.db.(NativeSQL)
		if !ok {
			return nil, errSQLDialect
		}
		return n.QueryNative(ctx, text, confirmed)
	}
	return s.db.QueryContext(ctx, text)
}

// sqlSchema is schema() with what sqlagg.Rewrite may rely on in this tier.
func (s *Server) sqlSchema(ctx context.Context) sqlagg.Schema {
	sc := s.schema()
	sc.PersonRowsUnique = s.personsUnique(ctx)
	return sc
}

// sqlPlansKept is how many %sql rewrites a Server keeps.
const sqlPlansKept = 32

// rewrite is sqlagg.Rewrite of q for this tier, kept by the query text: a
// query re-run, and the rebuild of its cells' person sets for
// differencing, reuse the checked rewrite instead of parsing, checking and
// rewriting it again (seven engine round trips). Refusals are not kept.
func (s *Server) rewrite(ctx context.Context, q string) (*sqlagg.Plan, error) {
	if s.d != googleSQL {
		return s.sqlPlans.get(q, func() (*sqlagg.Plan, error) { return sqlagg.Rewrite(ctx, s.db, q, s.sqlSchema(ctx)) })
	}
	n, ok := s.db.(NativeSQL)
	if !ok {
		return nil, errSQLDialect
	}
	return s.sqlPlans.get(q, func() (*sqlagg.Plan, error) {
		parser, err := s.sqlParser()
		if err != nil {
			return nil, err
		}
		return sqlagg.RewriteGoogleSQL(ctx, parser, q, s.sqlSchema(ctx), &sqlagg.GoogleSQL{Table: n.TableRef, Qualifiers: n.TableQualifiers()})
	})
}

// confirmFlag, first on a %sql line, runs a query whose estimated cost the
// engine would otherwise show first (BigQuery's sql_confirm_bytes).
const confirmFlag = "--confirm"

func (s *Server) magicSQL(ctx context.Context, m kernel.MagicCall) *kernel.CellError {
	args, confirmed := strings.TrimSpace(m.Args), false
	if f := strings.Fields(args); len(f) > 0 && f[0] == confirmFlag {
		args, confirmed = strings.TrimSpace(strings.TrimPrefix(args, confirmFlag)), true
	}
	q := strings.TrimSpace(args + "\n" + m.Body)
	if q == "" {
		// The line form takes the query on its own line (review 60: one
		// put it on the next line, which is Go code to the kernel).
		return magicErr(datasets.Errorf("%%sql needs a query on its line: %%sql SELECT gender_concept_id, count(*) FROM person GROUP BY 1; for a query over several lines, begin the cell with %%%%sql"))
	}
	entry := map[string]any{"sql": q}
	if confirmed {
		entry["confirmed"] = true
	}
	s.sess.Record(audit.Entry{Type: "sql", Cell: m.Cell, Data: auditJSON(entry)})
	plan, err := s.rewrite(ctx, q)
	var refused *sqlagg.RefusalError
	if errors.As(err, &refused) {
		s.sess.Record(audit.Entry{Type: "refused", Cell: m.Cell, Rules: []string{"sql:" + refused.Rule}})
		return &kernel.CellError{Name: "SQLRefused", Value: refused.Error()}
	}
	if err != nil {
		return magicErr(err)
	}
	fail := func(err error) *kernel.CellError {
		s.sess.Record(audit.Entry{Type: "error", Cell: m.Cell, Data: auditJSON(map[string]any{"sql": q, "error": datasets.AuditText(err)})})
		return magicErr(err)
	}
	rows, err := s.runSQL(ctx, plan.SQL, confirmed)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	// The same scan again, confirmed with the first: the researcher agreed
	// to the query's cost, not to half of it.
	tops, err := s.sqlTops(ctx, plan.Tops, confirmed || s.d == googleSQL)
	if err != nil {
		return fail(err)
	}
	smoothed, err := s.sqlQuantiles(ctx, plan.Quantiles)
	if err != nil {
		return fail(err)
	}
	spreads, err := s.sqlSpreads(ctx, plan.Quantiles)
	if err != nil {
		return fail(err)
	}
	n, w := len(plan.Items), plan.Width
	t := &built{title: "%sql: " + clip(strings.Join(strings.Fields(q), " "), 120)}
	for _, it := range plan.Items {
		t.columns = append(t.columns, it.Name)
	}
	t.columns = append(t.columns, "persons")
	sums, fewValues := false, false
	count, small := 0, 0
	grouped := slices.ContainsFunc(plan.Items, func(it sqlagg.Item) bool { return it.Kind == sqlagg.KindGroup })
	for rows.Next() {
		vals, err := scanValues(rows, w)
		if err != nil {
			return magicErr(err)
		}
		count++
		if count > 10000 {
			return magicErr(datasets.Errorf("the query returns more than 10,000 groups; group more coarsely"))
		}
		persons := toInt(vals[w-1])
		var key []any
		for i, it := range plan.Items {
			if it.Kind == sqlagg.KindGroup {
				key = append(key, normaliseKey(vals[i]))
			}
		}
		pb, _ := json.Marshal(sqlPlan{SQL: q, Key: key})
		if grouped && persons > 0 && persons < int64(s.sess.Policy.MinCount) {
			// A group's labels say that someone with those values exists:
			// groups of 1..MinCount-1 persons are not listed at all (an
			// ungrouped query's one row has no labels: it is listed, its
			// persons shown as ≤20 and its values hidden with them). The
			// group is still judged, as a count shown as ≤20, so that the
			// history keeps it: the same group with one more person, 21,
			// would give its size.
			small++
			t.add(&release.Cell{Stat: release.Count, Value: float64(persons), Persons: persons, Plan: pb,
				Desc: fmt.Sprintf("%%sql group %v (not listed)", key), Status: spec.Small})
			continue
		}
		pc := t.add(&release.Cell{Stat: release.Count, Value: float64(persons), Persons: persons, Plan: pb,
			Desc: fmt.Sprintf("%%sql group %v", key)})
		row := make([]*slot, 0, n+1)
		// The row's quantiles released so far, by argument: windows of
		// one column that share a rank differ by the values between
		// them. Those of other columns (or of x and 2·x) hold other
		// persons, or are held apart by the persons they hold (the
		// history's window rule), so they are not compared by rank:
		// the medians of two columns in one query were hiding each other.
		windows := map[string][]window{}
		for i, it := range plan.Items {
			v := normaliseKey(vals[i])
			switch it.Kind {
			case sqlagg.KindGroup:
				row = append(row, &slot{text: groupText(v)})
				continue
			case sqlagg.KindCount:
				// A count of rows is a row-level statistic too: the same
				// persons with other rows must not show both counts.
				rc := &release.Cell{Stat: release.Rows, Value: toFloat(v), Persons: persons, Of: pc,
					Plan: pb, Quantity: it.Quantity, RowCount: toInt(v), Source: queryRowsSource(plan.Rows, key, it.Arg), Desc: fmt.Sprintf("%%sql %s of group %v", it.Name, key)}
				if src, e, ok := s.eventsSource(plan.Events, sqlagg.Part{Kind: sqlagg.KindCount, Quantity: it.Quantity, Arg: it.Arg}); ok {
					rc.Source, rc.Table, rc.Concepts = src, e.Table, e.Concepts
				}
				row = append(row, &slot{cell: t.add(rc)})
			case sqlagg.KindDerived:
				st := release.Mean
				if it.Tail > 0 {
					st = release.Quantile
				}
				c := &release.Cell{Stat: st, Value: toFloat(v), Persons: persons, Of: pc, Digits: 2, Tail: it.Tail}
				desc := fmt.Sprintf("%%sql %s of group %v", it.Name, key)
				if it.Direct {
					fewValues = s.judgePart(c, it.Parts[0], vals, tops, spreads, key, pb, plan, desc) || fewValues
					if st == release.Quantile {
						// Released smoothed: a cell with no rows found has
						// no value, and under MinCount persons behind it
						// the value is held.
						sm := smoothed[quantileKey{groupKeyOf(key), i}]
						c.Value, c.Near, c.Window = sm.value, max(1, sm.persons), sm.members
						arg := it.Parts[0].Arg
						if sm.window.overlaps(windows[arg]) {
							c.Status = spec.Overlap
						} else {
							windows[arg] = append(windows[arg], sm.window)
						}
						// Among a few tied values the window is a rank
						// (ties.go).
						if err := s.judgeTies(ctx, t, c, sm.ties, sm.ties.n == persons, desc, sqlRankPlan(q, i, key)); err != nil {
							return fail(err)
						}
					}
				} else {
					// Each aggregate the value is computed from is judged
					// as if shown alone, and the value follows them all.
					for _, p := range it.Parts {
						h := &release.Cell{Stat: release.Mean, Persons: persons, Of: c.Of}
						fewValues = s.judgePart(h, p, vals, tops, spreads, key, pb, plan, desc+" (a part)") || fewValues
						c.Of = t.add(h)
					}
					// No more digits than an aggregate shown alone has:
					// avg(x)*1000 to two decimals was the mean to five
					// (review 46), which subtractions turn into readings.
					c.Value = significant(c.Value, derivedDigits)
				}
				row = append(row, &slot{cell: t.add(c)})
			case sqlagg.KindSum:
				// A sum needs each person's share for the dominance rules,
				// which SQL does not give: it is not released here.
				sums = true
				row = append(row, &slot{cell: t.add(&release.Cell{Stat: release.Sum, Value: toFloat(v), Persons: persons, Of: pc, Status: "dominance"})})
			default:
				row = append(row, &slot{cell: t.add(&release.Cell{Stat: release.Extreme, Value: toFloat(v), Persons: persons})})
			}
		}
		row = append(row, &slot{cell: pc})
		t.rows = append(t.rows, row)
	}
	if err := rows.Err(); err != nil {
		return magicErr(err)
	}
	if small > 0 {
		t.notes = append(t.notes, fmt.Sprintf("groups of 1–%d persons are not listed (their values would say that such persons exist)", s.sess.Policy.MinCount-1))
	}
	if fewValues {
		t.notes = append(t.notes, fewValuesNote)
	}
	if slices.ContainsFunc(plan.Quantiles, func(q sqlagg.Quantile) bool { return !q.Spread }) {
		t.notes = append(t.notes, smoothedNote(s.sess.Policy.MinCount))
	}
	if sums {
		t.notes = append(t.notes, "sums are not released from %sql (the dominance rules need each person's share): use averages, or stats.Describe")
	}
	// The query text is the researcher's own: once the worker holds rows,
	// it may encode them, so the result is held for review.
	s.held = s.sess.Tainted() != ""
	defer func() { s.held = false }()
	tab, err := s.finish(ctx, m.Cell, "%sql", t)
	if err != nil {
		return magicErr(err)
	}
	s.show(m.Cell, m.Out, s.sessRendered(tab.Ref), nil)
	return nil
}

// sessRendered returns the bundle registered under ref.
func (s *Server) sessRendered(ref string) map[string]any {
	b, _ := s.sess.Rendered(ref)
	return b
}

// sqlPersonSet rebuilds the person set of one %sql group. One pass of
// the query gives every group's set; the sets of the last few queries are
// kept, since differencing asks for the groups of one query one by one.
func (s *Server) sqlPersonSet(ctx context.Context, p sqlPlan) (*roaring.Bitmap, error) {
	want := fmt.Sprint(normaliseValues(p.Key))
	groups, err := s.sqlSets.get(p.SQL, func() (map[string]*roaring.Bitmap, error) { return s.sqlGroupSets(ctx, p.SQL) })
	if err != nil {
		return nil, err
	}
	if bm, ok := groups[want]; ok {
		return bm, nil
	}
	return roaring.New(), nil
}

// groupSetsKept is how many queries' group sets a groupSets keeps;
// attrSetsKept how many variables' (ages at several dates count apart).
const (
	groupSetsKept = 8
	attrSetsKept  = 16
)

// sqlGroupSets runs a query's sets form once: group key → person set.
func (s *Server) sqlGroupSets(ctx context.Context, q string) (map[string]*roaring.Bitmap, error) {
	plan, err := s.rewrite(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := s.runSQL(ctx, plan.SetsSQL, true)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	w := plan.Width
	out := map[string]*roaring.Bitmap{}
	for rows.Next() {
		vals, err := scanValues(rows, w)
		if err != nil {
			return nil, err
		}
		var key []any
		for i, it := range plan.Items {
			if it.Kind == sqlagg.KindGroup {
				key = append(key, normaliseKey(vals[i]))
			}
		}
		bm := roaring.New()
		if list, ok := vals[w-1].([]any); ok {
			for _, v := range list {
				id := toInt(v)
				if id >= 0 && id <= 1<<32-1 {
					bm.Add(uint32(id))
				}
			}
		}
		out[fmt.Sprint(key)] = bm
	}
	return out, rows.Err()
}

func groupText(v any) string {
	if v == nil {
		return "NULL"
	}
	return fmt.Sprint(v)
}

// fewValuesNote explains a mean hidden by the Values rule.
var fewValuesNote = fmt.Sprintf("a mean or sd of a value that takes at most %d values (or %d, one held by fewer than 21 persons; in %%sql, %d whatever their persons) says how many rows hold each: it is not released (count by the value instead)", release.MaxMeanValues, release.MaxTableValues, release.MaxTableValues)

// derivedDigits is the significant digits of a %sql value computed from
// aggregates (avg(x)*1000, avg(x) − avg(y)).
const derivedDigits = 4

// significant is v rounded to n significant digits.
func significant(v float64, n int) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	scale := math.Pow(10, float64(n-1)-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*scale) / scale
}

// queryRowsSource is the Source of a %sql group's row-level statistic: the
// query's Rows (sqlagg.Plan.Rows), the group's key and the aggregate's
// argument (sqlagg.Part.Arg). Another query with all three the same reads
// the same rows of the same persons (a mean then an sd of them, the same
// count written FROM first), so neither is the other's twin; another
// argument is other rows (a column of a LEFT JOIN's right side, NULL on
// one person's rows, beside the left side's: review 46). nil when the
// query has no Rows. It marks a query's rows (release.QueryRows): they
// are known only for that group of that query, so they are not compared
// as parts of other groups' rows.
func queryRowsSource(rows string, key []any, arg string) []byte {
	if rows == "" {
		return nil
	}
	b, err := json.Marshal(struct {
		Rows json.RawMessage `json:"sql_rows"` // first: release.QueryRows
		Key  []any           `json:"key"`
		Arg  string          `json:"arg"`
	}{json.RawMessage(rows), key, arg})
	if err != nil {
		return nil
	}
	return b
}

// judgePart fills c, a derived cell of a %sql group (key, plan pb), with
// what the rules need to judge part p of it: a count's rows, a quantile's
// rows and tail, a mean's shape and per-person largest sums. It reports
// whether a mean's values are so few that it is hidden for that.
func (s *Server) judgePart(c *release.Cell, p sqlagg.Part, vals []any, tops map[topsKey][]any, spreads map[topsKey]spread, key []any, pb []byte, plan *sqlagg.Plan, desc string) bool {
	c.Plan, c.Desc, c.Quantity, c.Source = pb, desc, p.Quantity, queryRowsSource(plan.Rows, key, p.Arg)
	if src, e, ok := s.eventsSource(plan.Events, p); ok {
		c.Source, c.Table, c.Concepts = src, e.Table, e.Concepts
	}
	if p.Kind == sqlagg.KindCount {
		c.Stat, c.Value, c.RowCount = release.Rows, toFloat(vals[p.Col]), toInt(vals[p.Col])
		if p.Quantity == "" {
			// count(DISTINCT person_id): a count of persons.
			c.Stat, c.Persons = release.Count, toInt(vals[p.Col])
		}
		return false
	}
	hidden := append([]any{}, vals[p.Col:p.Col+sqlagg.SplitWidth]...)
	c.RowCount = sqlagg.RowsOf(hidden)
	if !p.Mean {
		c.Stat, c.Tail = release.Quantile, p.Tail
		return false
	}
	// The per-person largest sums come from plan.Tops; none found leaves
	// the list empty, and the mean is held as dominated.
	hidden[2] = tops[topsKey{groupKeyOf(key), p.Col}]
	c.Values, c.Magnitude, c.Top = sqlagg.Shape(hidden)
	if p.Spread {
		// A standard deviation's dominance is over the squared
		// deviations; none found (a subtotal's) holds it as dominated:
		// Σ|x| stays its total, with no largest shares.
		c.Top = nil
		if sp, ok := spreads[topsKey{groupKeyOf(key), p.Col}]; ok {
			c.Magnitude, c.Top = sp.total, sp.top
		}
	}
	return c.Values > 0 && c.Values <= release.MaxTableValues
}

// eventsSource is the release.Cell.Source of a %sql part that reads what
// an events handle reads (sqlagg.EventRows): the handle's meanSource, or
// for count(*) its rowsSource, so that a %sql median of HbA1c and a
// stats.Describe of omop.Measurements(HbA1c) are one statistic to the
// rules, not two over other rows of the same persons (which hid the
// second, review 56). It also gives the part's table and concepts. ok is
// false for every other part.
func (s *Server) eventsSource(ev *sqlagg.EventRows, p sqlagg.Part) (src []byte, e *eventsPlan, ok bool) {
	if ev == nil {
		return nil, nil, false
	}
	t := s.table(ev.Table)
	if t == nil || conceptColumn(t) != ev.ConceptColumn {
		return nil, nil, false
	}
	e = &eventsPlan{Table: t.Name, Concepts: ev.Concepts}
	switch {
	case p.Kind == sqlagg.KindCount && p.Quantity == rowsQuantity && p.Arg == "":
		if _, all := ev.Reads(""); all {
			return rowsSource(e), e, true
		}
	case p.Kind == sqlagg.KindDerived:
		if col, reads := ev.Reads(p.Arg); reads && col == p.Quantity {
			return meanSource(e, col, s.dataCut), e, true
		}
	}
	return nil, nil, false
}

// topsKey finds a mean's largest per-person sums: the cell's group key
// (keyString) and the mean's Part.Col.
type topsKey struct {
	key string
	col int
}

// sqlTops runs a %sql plan's Tops query and returns, per cell and mean
// item, the two largest per-person Σ|x|, largest first. Cells whose group
// key appears twice (a ROLLUP subtotal next to a group whose key is NULL)
// share the larger of their lists, which can only hold more back.
func (s *Server) sqlTops(ctx context.Context, t *sqlagg.Tops, confirmed bool) (map[topsKey][]any, error) {
	out := map[topsKey][]any{}
	if t == nil {
		return out, nil
	}
	rows, err := s.runSQL(ctx, t.SQL, confirmed)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type slot struct {
		v    [2]float64
		seen [2]bool
	}
	acc := map[topsKey]*slot{}
	for rows.Next() {
		vals, err := scanValues(rows, t.Groups+2*len(t.Cols))
		if err != nil {
			return nil, err
		}
		key := make([]any, t.Groups)
		for i := range key {
			key[i] = normaliseKey(vals[i])
		}
		ks := groupKeyOf(key)
		for j, col := range t.Cols {
			m, r := toFloat(vals[t.Groups+2*j]), toInt(vals[t.Groups+2*j+1])
			if r < 1 || r > 2 || math.IsNaN(m) {
				continue
			}
			k := topsKey{ks, col}
			sl := acc[k]
			if sl == nil {
				sl = &slot{}
				acc[k] = sl
			}
			if !sl.seen[r-1] || m > sl.v[r-1] {
				sl.v[r-1], sl.seen[r-1] = m, true
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for k, sl := range acc {
		var list []any
		for i := range 2 {
			if sl.seen[i] {
				list = append(list, sl.v[i])
			}
		}
		out[k] = list
	}
	return out, nil
}

// quantileKey finds a %sql quantile's smoothed value: the cell's group key
// (keyString) and the item's index.
type quantileKey struct {
	key  string
	item int
}

// smoothedValue is a quantile as released: the mean around its rank and
// the persons behind it.
type smoothedValue struct {
	value   float64
	persons int64
	window  window
	members *roaring.Bitmap // the window's persons
	ties    tiedWindow
}

// sqlQuantiles computes each median or quantile item of a %sql plan
// smoothed, per cell, from the rows its Source lists (see
// smoothedQuantiles).
func (s *Server) sqlQuantiles(ctx context.Context, qs []sqlagg.Quantile) (map[quantileKey]smoothedValue, error) {
	out := map[quantileKey]smoothedValue{}
	for _, q := range qs {
		if q.Spread {
			continue
		}
		byKey, err := s.keyedRows(ctx, s.d.smoothingSQL(q.Source, q.Groups, []string{strconv.FormatFloat(q.P, 'g', -1, 64)}, s.sess.Policy.MinCount, false), nil, q.Groups, smoothedWidth+2)
		if err != nil {
			return nil, err
		}
		for k, v := range byKey {
			members, err := windowPersons(v)
			if err != nil {
				return nil, err
			}
			ties, err := tiesOf(v)
			if err != nil {
				return nil, err
			}
			out[quantileKey{k, q.Item}] = smoothedValue{toFloat(v[0]), toInt(v[1]), windowOf(v), members, ties}
		}
	}
	return out, nil
}

// sqlSpreads computes, per cell, the spread of each standard deviation or
// variance part of a %sql plan (keyed by group and the part's first hidden
// column) from the rows its Spread source lists.
func (s *Server) sqlSpreads(ctx context.Context, qs []sqlagg.Quantile) (map[topsKey]spread, error) {
	out := map[topsKey]spread{}
	for _, q := range qs {
		if !q.Spread {
			continue
		}
		// A Source is in the tier's own SQL (on BigQuery, GoogleSQL with
		// qualified names): it runs as %sql's queries do.
		rows, err := s.runSQL(ctx, s.d.spreadSQL(q.Source, q.Groups), true)
		if err != nil {
			return nil, err
		}
		byKey, err := keyed(rows, q.Groups, 3)
		if err != nil {
			return nil, err
		}
		for k, v := range byKey {
			sp := spread{total: toFloat(v[2])}
			for _, x := range v[:2] {
				if x != nil {
					sp.top = append(sp.top, toFloat(x))
				}
			}
			out[topsKey{k, q.Col}] = sp
		}
	}
	return out, nil
}
