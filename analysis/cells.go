package analysis

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"

	"enclave/analysis/render"
	"enclave/api/spec"
	"enclave/datasets"
	"enclave/release"
)

// cellPlan rebuilds the person set of one released cell. It is
// self-contained: it names tables, concepts and filters, never a handle,
// so any kernel of the workspace can rebuild it from the history.
type cellPlan struct {
	C   *cohortPlan `json:"c,omitempty"`
	E   *eventsPlan `json:"e,omitempty"`
	At  string      `json:"at,omitempty"`
	Fix []fixVar    `json:"fix,omitempty"`
}

// fixVar fixes a grouping variable to a value (nil: the value is NULL).
type fixVar struct {
	Var string `json:"var"`
	V   any    `json:"v"`
}

func (p cellPlan) bytes() []byte { return planJSON(p) }

// planJSON is a plan as the release history keeps it; nil (the cell is
// not differenced rather than wrongly) if it cannot be encoded.
func planJSON(p any) []byte {
	b, err := json.Marshal(p)
	if err != nil {
		return nil
	}
	return b
}

// planFor is the cell plan of handle h with the given variables fixed.
func planFor(h *handle, at string, vars []variable, key []any, fixed []bool) cellPlan {
	p := cellPlan{C: h.cohort, E: h.events, At: at}
	for i, v := range vars {
		if fixed[i] {
			p.Fix = append(p.Fix, fixVar{Var: v.Name, V: key[i]})
		}
	}
	return p
}

// PersonSet implements release.SetSource: the person set of a cell plan or
// %sql plan.
func (s *Server) PersonSet(ctx context.Context, raw []byte) (*roaring.Bitmap, error) {
	if strings.HasPrefix(string(raw), `{"km":`) {
		var kp kmPlan
		d := json.NewDecoder(strings.NewReader(string(raw)))
		d.UseNumber()
		if err := d.Decode(&kp); err != nil {
			return nil, fmt.Errorf("analysis: unreadable Kaplan–Meier plan: %w", err)
		}
		return s.survivalSet(ctx, kp.KM)
	}
	if strings.HasPrefix(string(raw), `{"rank":`) {
		var rp map[string]rankPlan
		d := json.NewDecoder(strings.NewReader(string(raw)))
		d.UseNumber()
		if err := d.Decode(&rp); err != nil {
			return nil, fmt.Errorf("analysis: unreadable rank plan: %w", err)
		}
		return s.rankSet(ctx, rp["rank"])
	}
	if strings.HasPrefix(string(raw), `{"sql":`) {
		var sp sqlPlan
		d := json.NewDecoder(strings.NewReader(string(raw)))
		d.UseNumber()
		if err := d.Decode(&sp); err != nil {
			return nil, fmt.Errorf("analysis: unreadable %%sql plan: %w", err)
		}
		return s.sqlPersonSet(ctx, sp)
	}
	var p cellPlan
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	if err := d.Decode(&p); err != nil {
		return nil, fmt.Errorf("analysis: unreadable cell plan: %w", err)
	}
	if s.d == duckSQL { // list(DISTINCT …) is DuckDB's
		if bm, ok, err := s.batchedSet(ctx, p); err != nil || ok {
			return bm, err
		}
	}
	return s.planIDs(ctx, p)
}

// planIDs runs plan p (its base and fixed variables) and collects its
// persons as a set.
func (s *Server) planIDs(ctx context.Context, p cellPlan) (*roaring.Bitmap, error) {
	b := &sqlb{s: s}
	from, where, pid, err := s.planBase(b, p)
	if err != nil {
		return nil, err
	}
	for _, f := range p.Fix {
		v, err := s.variable(f.Var, p.E, p.At)
		if err != nil {
			return nil, err
		}
		if f.V == nil {
			where = append(where, "("+v.expr+") IS NULL")
		} else {
			where = append(where, "("+v.expr+") = "+b.arg(normaliseValues([]any{f.V})[0]))
		}
	}
	q := "SELECT DISTINCT " + pid + " FROM " + from
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	return s.idSet(ctx, q, b.args)
}

// idSet runs q, whose one column is person ids, and collects them as a set.
func (s *Server) idSet(ctx context.Context, q string, args []any) (*roaring.Bitmap, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	bm := roaring.New()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		if err := addID(bm, id, "person id"); err != nil {
			return nil, err
		}
	}
	return bm, rows.Err()
}

// planBase is the FROM clause, conditions and person column of plan p
// without its fixed variables.
func (s *Server) planBase(b *sqlb, p cellPlan) (from string, where []string, pid string, err error) {
	if len(p.Fix) > 0 {
		if err := checkDate("plan date", p.At); err != nil {
			return "", nil, "", err
		}
	}
	switch {
	case p.C != nil:
		pr, err := b.pred(p.C, "p")
		if err != nil {
			return "", nil, "", err
		}
		return "person p", []string{pr}, "p.person_id", nil
	case p.E != nil:
		w, err := b.eventsWhere(p.E, "x")
		if err != nil {
			return "", nil, "", err
		}
		return quoteIdent(p.E.Table) + " x JOIN person p ON p.person_id = x.person_id", w, "x.person_id", nil
	}
	return "", nil, "", fmt.Errorf("analysis: empty cell plan")
}

// addID adds id to bm; sets hold 32-bit ids.
func addID(bm *roaring.Bitmap, id int64, what string) error {
	if id < 0 || id > math.MaxUint32 {
		return &datasets.Error{Safe: what + " outside the range of sets", Err: fmt.Errorf("%s %d", what, id)}
	}
	bm.Add(uint32(id))
	return nil
}

// The cells of one result share a plan but for the values of their fixed
// variables (gender × race: one plan per pair). Differencing asks for
// their sets one by one; batchedSet answers all of them from one grouped
// query, kept in Server.planSets, instead of one scan per cell (a plan
// without fixed variables is one group).

// batchedSet returns the person set of plan p from the group sets of its
// base plan and fixed variables. ok is false when the group is not among
// them (an empty group, or a value that did not compare equal after
// normalisation): the caller then runs p's own query.
func (s *Server) batchedSet(ctx context.Context, p cellPlan) (*roaring.Bitmap, bool, error) {
	if bm, ok, err := s.attributeSet(ctx, p); err != nil || ok {
		return bm, ok, err
	}
	base := p
	base.Fix = nil
	names := make([]string, len(p.Fix))
	values := make([]any, len(p.Fix))
	for i, f := range p.Fix {
		names[i], values[i] = f.Var, f.V
	}
	gk := string(base.bytes()) + "\x00" + strings.Join(names, "\x00")
	groups, err := s.planSets.get(gk, func() (map[string]*roaring.Bitmap, error) { return s.planGroupSets(ctx, base, names) })
	if err != nil {
		return nil, false, err
	}
	bm, ok := groups[groupKeyOf(normaliseValues(values))]
	return bm, ok, nil
}

// A cohort's cells fixed to demographic values (gender × race, age group)
// are the cohort's set intersected with the persons of each value: the
// persons of each value of a person-level variable are read once per
// kernel (Server.attrSets) and the cohort's set once per cohort
// (Server.baseSets), and every cell of every result over them is a few
// bitmap intersections instead of a query.

// attributeSet is the person set of cohort plan p from the sets of its
// base and of its fixed person-level variables' values. ok is false when
// p is not such a plan or a value is not among the variable's groups (the
// caller then runs p's own query).
func (s *Server) attributeSet(ctx context.Context, p cellPlan) (*roaring.Bitmap, bool, error) {
	if p.C == nil || p.E != nil {
		return nil, false, nil
	}
	type fixed struct {
		v   variable
		key string
	}
	var fix []fixed
	for _, f := range p.Fix {
		v, err := s.variable(f.Var, nil, p.At)
		if err != nil || !v.person {
			return nil, false, err
		}
		fix = append(fix, fixed{v, groupKeyOf(normaliseValues([]any{f.V}))})
	}
	base := cellPlan{C: p.C, At: p.At}
	set, err := s.baseSets.get(string(base.bytes()), func() (*roaring.Bitmap, error) { return s.cohortIDs(ctx, base) })
	if err != nil {
		return nil, false, err
	}
	sets := []*roaring.Bitmap{set}
	for _, f := range fix {
		groups, err := s.attrSets.get(f.v.expr, func() (map[string]*roaring.Bitmap, error) { return s.attributeGroups(ctx, f.v) })
		if err != nil {
			return nil, false, err
		}
		g, ok := groups[f.key]
		if !ok {
			return nil, false, nil
		}
		sets = append(sets, g)
	}
	if len(sets) == 1 {
		return set, true, nil
	}
	return roaring.FastAnd(sets...), true, nil
}

// cohortIDs is the person set of cohort plan p (no fixed variables), in
// one row: a list is far cheaper to read than a row per person.
func (s *Server) cohortIDs(ctx context.Context, p cellPlan) (*roaring.Bitmap, error) {
	b := &sqlb{s: s}
	from, where, pid, err := s.planBase(b, p)
	if err != nil {
		return nil, err
	}
	q := "SELECT list(" + pid + ") FROM " + from
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	return s.listSet(ctx, q, b.args...)
}

// attributeGroups reads the persons of each value of person-level
// variable v over the whole person table.
func (s *Server) attributeGroups(ctx context.Context, v variable) (map[string]*roaring.Bitmap, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+v.expr+", list(p.person_id) FROM person p GROUP BY 1")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*roaring.Bitmap{}
	for rows.Next() {
		var key, list any
		if err := rows.Scan(&key, &list); err != nil {
			return nil, err
		}
		bm, err := setOfList(list)
		if err != nil {
			return nil, err
		}
		out[groupKeyOf([]any{normaliseKey(key)})] = bm
	}
	return out, rows.Err()
}

// listSet runs q, whose one row holds one list of person ids.
func (s *Server) listSet(ctx context.Context, q string, args ...any) (*roaring.Bitmap, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list any
	if rows.Next() {
		if err := rows.Scan(&list); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return setOfList(list)
}

// setOfList is the set of the person ids of a list value (nil: empty).
func setOfList(list any) (*roaring.Bitmap, error) {
	bm := roaring.New()
	vals, _ := list.([]any)
	ids := make([]uint32, 0, len(vals))
	for _, v := range vals {
		id := toInt(v)
		if id < 0 || id > math.MaxUint32 {
			return nil, &datasets.Error{Safe: "person id outside the range of sets", Err: fmt.Errorf("person id %d", id)}
		}
		ids = append(ids, uint32(id))
	}
	bm.AddMany(ids)
	return bm, nil
}

// groupKeyOf is a map key for group values that tells types apart (NULL
// from the text "<nil>", 3 from "3").
func groupKeyOf(vs []any) string {
	fixed := make([]bool, len(vs))
	for i := range fixed {
		fixed[i] = true
	}
	return keyString(vs, fixed)
}

// planGroupSets runs plan base grouped by the variables names once:
// group values → person set.
func (s *Server) planGroupSets(ctx context.Context, base cellPlan, names []string) (map[string]*roaring.Bitmap, error) {
	b := &sqlb{s: s}
	fix := make([]fixVar, len(names)) // planBase checks the date when variables are fixed
	from, where, pid, err := s.planBase(b, cellPlan{C: base.C, E: base.E, At: base.At, Fix: fix})
	if err != nil {
		return nil, err
	}
	var sel, by []string
	for i, n := range names {
		v, err := s.variable(n, base.E, base.At)
		if err != nil {
			return nil, err
		}
		sel = append(sel, v.expr)
		by = append(by, fmt.Sprint(i+1))
	}
	q := "SELECT " + strings.Join(append(sel, "list(DISTINCT "+pid+")"), ", ") + " FROM " + from
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if len(by) > 0 {
		q += " GROUP BY " + strings.Join(by, ", ")
	}
	rows, err := s.db.QueryContext(ctx, q, b.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*roaring.Bitmap{}
	n := len(names)
	for rows.Next() {
		vals, err := scanValues(rows, n+1)
		if err != nil {
			return nil, err
		}
		key := make([]any, n)
		for i := range key {
			key[i] = normaliseKey(vals[i])
		}
		bm, err := setOfList(vals[n])
		if err != nil {
			return nil, err
		}
		out[groupKeyOf(key)] = bm
	}
	return out, rows.Err()
}

// scanValues reads the current row of rows, width columns, as values.
func scanValues(rows *sql.Rows, width int) ([]any, error) {
	vals := make([]any, width)
	ptrs := make([]any, width)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, rows.Scan(ptrs...)
}

// groupRow is one row of a grouped query: the key of each variable
// (fixed[i] false for a margin over variable i), persons, rows and the
// extra aggregates.
type groupRow struct {
	key     []any
	fixed   []bool
	persons int64
	rows    int64
	extra   []any
}

// grouped runs count(DISTINCT person), count(*) and the extra aggregates
// over handle h grouped by the grouping sets of vars (indexes into vars).
// cond, when not empty, further restricts rows (it must take no arguments).
func (s *Server) grouped(ctx context.Context, h *handle, vars []variable, sets [][]int, extras []string, cond string) ([]groupRow, error) {
	b := &sqlb{s: s}
	var sel []string
	for _, v := range vars {
		sel = append(sel, v.expr)
	}
	for _, v := range vars {
		sel = append(sel, "GROUPING("+v.expr+")")
	}
	from, where, pid, err := s.base(b, h)
	if err != nil {
		return nil, err
	}
	sel = append(sel, s.countPersons(ctx, h, pid, ""), "count(*)")
	sel = append(sel, extras...)
	if cond != "" {
		where = append(where, cond)
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + from
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if len(vars) > 0 {
		var gs []string
		for _, set := range sets {
			var es []string
			for _, i := range set {
				es = append(es, vars[i].expr)
			}
			gs = append(gs, "("+strings.Join(es, ", ")+")")
		}
		q += " GROUP BY GROUPING SETS (" + strings.Join(gs, ", ") + ")"
	}
	rows, err := s.db.QueryContext(ctx, q, b.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []groupRow
	n := len(vars)
	for rows.Next() {
		vals, err := scanValues(rows, 2*n+2+len(extras))
		if err != nil {
			return nil, err
		}
		r := groupRow{key: make([]any, n), fixed: make([]bool, n)}
		for i := 0; i < n; i++ {
			r.key[i] = normaliseKey(vals[i])
			g, _ := normaliseKey(vals[n+i]).(int64)
			r.fixed[i] = g == 0
			if !r.fixed[i] {
				r.key[i] = nil
			}
		}
		r.persons = toInt(vals[2*n])
		r.rows = toInt(vals[2*n+1])
		r.extra = vals[2*n+2:]
		if n == 0 && r.rows == 0 {
			r.persons = 0
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// countPersons is the SQL aggregate that counts the distinct persons of
// handle h's rows (of those meeting filter, when filter is not ""). A
// cohort's rows are rows of the person table: when the tier holds one row
// per person_id (tiers are built so; checked once per session) that is a
// plain count, which DuckDB computes several times faster than a DISTINCT
// one (bench/analysis.sh).
func (s *Server) countPersons(ctx context.Context, h *handle, pid, filter string) string {
	f := ""
	if filter != "" {
		f = " FILTER (WHERE " + filter + ")"
	}
	if h.cohort != nil && s.personsUnique(ctx) {
		return "count(" + pid + ")" + f
	}
	return "count(DISTINCT " + pid + ")" + f
}

// personsUnique reports whether the tier's person table holds each
// person_id once. It is asked once per session; a failed check counts as
// "no", which only costs speed.
func (s *Server) personsUnique(ctx context.Context) bool {
	s.uniqueOnce.Do(func() {
		rows, err := s.db.QueryContext(ctx, "SELECT count(person_id) = count(DISTINCT person_id) FROM person")
		if err != nil {
			return
		}
		defer rows.Close()
		if rows.Next() {
			var ok bool
			if rows.Scan(&ok) == nil {
				s.unique = ok
			}
		}
	})
	return s.unique
}

// base is the FROM clause, conditions and person column of handle h.
func (s *Server) base(b *sqlb, h *handle) (from string, where []string, pid string, err error) {
	if h.cohort != nil {
		pr, err := b.pred(h.cohort, "p")
		if err != nil {
			return "", nil, "", err
		}
		return "person p", []string{pr}, "p.person_id", nil
	}
	w, err := b.eventsWhere(h.events, "x")
	if err != nil {
		return "", nil, "", err
	}
	return quoteIdent(h.events.Table) + " x JOIN person p ON p.person_id = x.person_id", w, "x.person_id", nil
}

// baseWhere is base with cond (which must take no arguments) added to the
// conditions when it is not "".
func (s *Server) baseWhere(b *sqlb, h *handle, cond string) (from string, where []string, pid string, err error) {
	from, where, pid, err = s.base(b, h)
	if err == nil && cond != "" {
		where = append(where, cond)
	}
	return from, where, pid, err
}

func toInt(v any) int64 {
	switch x := normaliseKey(v).(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	}
	return 0
}

func toFloat(v any) float64 {
	switch x := normaliseKey(v).(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return math.NaN()
}

// keyString identifies a group key (with its margins) in maps.
func keyString(key []any, fixed []bool) string {
	var b strings.Builder
	for i, k := range key {
		if !fixed[i] {
			b.WriteString("*|")
			continue
		}
		fmt.Fprintf(&b, "%T:%v|", k, k)
	}
	return b.String()
}

// built is a result under construction: its cells, the table layout
// pointing at them, and its margins.
type built struct {
	title   string
	columns []string
	rows    [][]*slot
	cells   []*release.Cell
	margins []release.Margin
	notes   []string
}

// slot is one place in a table: a fixed text or a judged cell.
type slot struct {
	text string
	cell *release.Cell
}

func (t *built) add(c *release.Cell) *release.Cell {
	t.cells = append(t.cells, c)
	return c
}

// finish judges the result's cells, renders the released table, registers
// the rendering and returns the table the worker gets.
func (s *Server) finish(ctx context.Context, cell, what string, t *built) (*spec.Table, error) {
	if t.fewPersons(int64(s.sess.Policy.MinCount)) {
		// A breakdown of 1–20 persons says something of them in every
		// row, whatever its cells show: which groups are listed (a
		// one-person cohort's conditions, race and survey answers), which
		// bins are ≤20 beside hidden zeros (their BMI readings). None of
		// it is shown (review 28).
		for _, c := range t.cells {
			if c.Status == spec.Released || c.Status == spec.Small {
				c.Status = spec.Derived
			}
		}
		t.rows = nil
		t.notes = append(t.notes, fmt.Sprintf("it counts 1–%d persons: no breakdown of them is shown, since every row would say something of them", s.sess.Policy.MinCount-1))
	}
	d := &release.Decision{What: what, Cells: t.cells, Margins: t.margins, Held: s.held}
	if _, err := s.sess.Decide(ctx, cell, d); err != nil {
		return nil, err
	}
	pol := s.sess.Policy
	out := &spec.Table{Title: t.title, Columns: t.columns}
	for _, r := range t.rows {
		row := make([]spec.Cell, len(r))
		for i, sl := range r {
			if sl == nil {
				continue
			}
			if sl.cell == nil {
				row[i] = spec.Cell{Text: sl.text}
				continue
			}
			row[i] = pol.SpecCell(sl.cell)
		}
		out.Rows = append(out.Rows, row)
	}
	out.Notes = append(pol.Legend(t.cells), t.notes...)
	out.Ref = s.register(cell, render.TableBundle(out), out)
	return out, nil
}

// fewPersons reports whether t is a breakdown (it has margins: parts
// adding up to totals) of 1..minN−1 persons in all: its largest count of
// persons is that small.
func (t *built) fewPersons(minN int64) bool {
	if len(t.margins) == 0 {
		return false
	}
	var most int64
	for _, c := range t.cells {
		if c.Stat == release.Count || c.Stat == release.Rows {
			most = max(most, c.Persons)
		}
	}
	return most > 0 && most < minN
}

// register keeps a rendering (and its table, for export) and returns its
// reference.
func (s *Server) register(cell string, bundle map[string]any, t *spec.Table) string {
	var ref string
	if s.held {
		ref = s.sess.RegisterHeld(cell, bundle)
	} else {
		ref = s.sess.Register(cell, bundle)
	}
	s.sess.SetRef(ref)
	if t != nil {
		s.mu.Lock()
		if len(s.tablesR) > 4096 {
			clear(s.tablesR)
		}
		s.tablesR[ref] = t
		s.mu.Unlock()
	}
	return ref
}

// rowsQuantity is the Quantity of a count of rows, whichever result shows
// it (a Describe's rows, a count's, %sql's count(*)), told apart by their
// Source (rowsSource) and Table. As quantities of their own, a Describe's
// rows and a count's of the same persons, one over a filter the other did
// not have, were never compared, and their difference was one person's
// readings above a cut-off (review 33). A histogram's rows in its range
// are a quantity of that range.
const rowsQuantity = "rows"

// rowsSource is the release.Cell.Source of a count of every row of e. As
// meanSource, e's Of is left out.
func rowsSource(e *eventsPlan) []byte {
	b, err := json.Marshal(struct {
		E *eventsPlan `json:"rows"`
	}{withoutOf(e)})
	if err != nil {
		return nil
	}
	return b
}

// meanSource is the release.Cell.Source of per-person means of column over
// the rows of e: every row of a person that e selects with the column not
// null (its value may be computed at the date at). Two such statistics over
// the same persons read the same rows. e's Of is left out: every caller's
// persons have a value from e, so are in its Of cohort already, and the
// rows of e of those persons are e's rows without Of (Describe of
// a1c.Of(c) and a model of a1c over c read the same readings).
func meanSource(e *eventsPlan, column, at string) []byte {
	b, err := json.Marshal(struct {
		E   *eventsPlan `json:"e"`
		Col string      `json:"col"`
		At  string      `json:"at"`
	}{withoutOf(e), strings.ToLower(strings.TrimSpace(column)), at})
	if err != nil {
		return nil // no Source: compared as other rows
	}
	return b
}

// withoutOf is e without its Of cohort (nil stays nil).
//
// Its concepts are sorted and each listed once: omop.Measurements(a, b)
// and a %sql IN (b, a, a) read the same rows (review 58).
func withoutOf(e *eventsPlan) *eventsPlan {
	if e == nil {
		return e
	}
	cp := *e
	cp.Of = nil
	cp.Concepts = slices.Compact(slices.Sorted(slices.Values(e.Concepts)))
	return &cp
}

// ageQuantity is the Quantity of the ages at a date that a model or scan
// takes as a term: one value per person, so a row-level statistic whose
// Source is the date (ageSource). The same persons' model at another date
// has other ages for those born in between; when that is one person (a
// date before and one on their birthday), each estimate moves by what
// their age's step does to the fit, which tells their outcome or, in a
// scan, their genotype. So the model at another date is hidden.
const ageQuantity = "age at date"

// ageSource is the Source of the ages at the date at.
func ageSource(at string) []byte {
	b, _ := json.Marshal(map[string]string{"age at": at})
	return b
}

// quantityOf names the values a row-level statistic is computed from, for
// release.Cell.Quantity: the column name, as %sql names a plain column
// argument, so that the same values reached by two paths compare equal.
func quantityOf(column string) string { return strings.ToLower(column) }

// keyedRows runs q and returns each row's other columns keyed by
// groupKeyOf of its first n (a group's key, every variable fixed); rows
// are n+width wide.
func (s *Server) keyedRows(ctx context.Context, q string, args []any, n, width int) (map[string][]any, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return keyed(rows, n, width)
}

// keyed reads rows as keyedRows does, and closes them.
func keyed(rows *sql.Rows, n, width int) (map[string][]any, error) {
	defer rows.Close()
	out := map[string][]any{}
	for rows.Next() {
		vals, err := scanValues(rows, n+width)
		if err != nil {
			return nil, err
		}
		key := make([]any, n)
		for i := range key {
			key[i] = normaliseKey(vals[i])
		}
		out[groupKeyOf(key)] = vals[n:]
	}
	return out, rows.Err()
}

// QuantileWindow is how many ranks on each side of a quantile's rank the
// released value averages at least: 21 values, so that, like a mean, it
// is never one person's value (a cohort built as two blocks of known size
// and one person between them puts that person at the median).
const QuantileWindow = 10

// smoothedNote says how quantiles are released.
func smoothedNote(minPersons int) string {
	return fmt.Sprintf("quantiles are smoothed: each is the mean of the values within %d ranks of its own, or more until they hold %d persons' rows, so that it is never one person's value (hidden when more than half of those rows are one person's)", QuantileWindow, minPersons)
}

// smoothedQuantiles computes, per group of vars (every variable fixed; all
// rows when vars is empty) over h's rows meeting cond (which must take no
// arguments), for each quantile q of qs: the mean of the values at the
// ranks around rank c = round(q·(n−1)+1) of the group's n values (ties in
// person order), out to QuantileWindow ranks on each side and further
// until the ranks hold rows of minPersons distinct persons (a person with
// many rows near c cannot make the value theirs), and how many persons
// those ranks hold. Then, per group, the distinct values and Σ|x| and, with
// tops, as a list, the two largest sums of |x| over one person's rows
// (largest first): what sqlagg.Shape reads. The dominance rules read a mean's
// magnitude per person, not per row: one person with many rows (a day of
// minute-level heart rate) can carry a mean that no single row of theirs
// dominates. With tops, also each group's spread. Answers are keyed by
// keyString of the group's key; the SQL is the same in both dialects.
func (s *Server) smoothedQuantiles(ctx context.Context, h *handle, vars []variable, expr, cond string, qs []string, minPersons int, tops bool) (map[string][]any, map[string]spread, error) {
	b := &sqlb{s: s}
	q, err := s.valueRows(b, h, vars, expr, cond)
	if err != nil {
		return nil, nil, err
	}
	width := smoothedWidth*len(qs) + 2
	if tops {
		width += 5
	}
	byKey, err := s.keyedRows(ctx, s.d.smoothingSQL(q, len(vars), qs, minPersons, tops), b.args, len(vars), width)
	if err != nil || !tops {
		return byKey, nil, err
	}
	nonNil := func(vs []any) []any { return slices.DeleteFunc(slices.Clone(vs), func(t any) bool { return t == nil }) }
	spreads := map[string]spread{}
	for k, v := range byKey {
		tail := v[len(v)-5:] // Σ|x| p1, p2; Σ(x − x̄)² s1, s2; the group's
		sp := spread{total: toFloat(tail[4])}
		for _, x := range nonNil(tail[2:4]) {
			sp.top = append(sp.top, toFloat(x))
		}
		spreads[k] = sp
		byKey[k] = append(v[:len(v)-5], nonNil(tail[:2]))
	}
	return byKey, spreads, nil
}

// spreadSQL is, per group of src (columns g0…g(groups−1), v and pid, as
// smoothingSQL reads), the two largest of one person's Σ(x − x̄)² about
// the group's mean (largest first; NULL when missing) and the group's.
func (d sqlDialect) spreadSQL(src string, groups int) string {
	var gs []string
	for i := range groups {
		gs = append(gs, "g"+strconv.Itoa(i))
	}
	part, by := "", ""
	if len(gs) > 0 {
		part, by = "PARTITION BY "+strings.Join(gs, ", "), " GROUP BY "+strings.Join(gs, ", ")
	}
	keys := strings.Join(append(slices.Clone(gs), ""), ", ")
	return "SELECT " + keys + d.nth("ss", 1, true) + ", " + d.nth("ss", 2, true) + ", sum(ss) FROM (" +
		"SELECT " + keys + "sum((v - gm) * (v - gm)) AS ss FROM (" +
		"SELECT " + keys + "v, pid, AVG(v) OVER (" + part + ") AS gm FROM (" + src + ") AS __enclave_src) AS __enclave_dev" +
		" GROUP BY " + keys + "pid) AS __enclave_persons" + by
}

// valueRows is the query of h's rows meeting cond as smoothingSQL reads
// them: the group keys g0…, the value v of expr (a DOUBLE) and the person pid.
func (s *Server) valueRows(b *sqlb, h *handle, vars []variable, expr, cond string) (string, error) {
	from, where, pid, err := s.baseWhere(b, h, cond)
	if err != nil {
		return "", err
	}
	var src []string
	for i, vr := range vars {
		src = append(src, vr.expr+" AS g"+strconv.Itoa(i))
	}
	q := "SELECT " + strings.Join(append(src, s.d.cast(expr, "DOUBLE")+" AS v", pid+" AS pid"), ", ") + " FROM " + from
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	return q, nil
}

// rarestValues is, per group of vars (keyed as smoothedQuantiles's), the
// fewest persons that hold one value of expr among h's rows meeting cond:
// over a few values, a group's mean, sd and quantiles are a table of how
// many persons hold each (release.Cell.Rarest).
func (s *Server) rarestValues(ctx context.Context, h *handle, vars []variable, expr, cond string) (map[string][]any, error) {
	b := &sqlb{s: s}
	q, err := s.valueRows(b, h, vars, expr, cond)
	if err != nil {
		return nil, err
	}
	var gs []string
	for i := range vars {
		gs = append(gs, "g"+strconv.Itoa(i))
	}
	by, outer := strings.Join(append(slices.Clone(gs), "v"), ", "), ""
	if len(gs) > 0 {
		outer = " GROUP BY " + strings.Join(gs, ", ")
	}
	sel := strings.Join(append(slices.Clone(gs), "min(k)"), ", ")
	return s.keyedRows(ctx, "SELECT "+sel+" FROM (SELECT "+by+", count(DISTINCT pid) AS k FROM ("+q+") AS __enclave_src GROUP BY "+by+") AS __enclave_values"+outer, b.args, len(vars), 1)
}

// spread is a group's Σ(x − x̄)² and the two largest of one person's rows'
// shares of it (largest first): an sd is released under the dominance
// rules over these, as a sum of magnitudes is. Padding of known, narrow
// range and one person far from it put 95–97% of the squared deviations
// on that person, and the sd gave their LDL, age or date of birth in one
// cell (review 60).
type spread struct {
	total float64
	top   []float64
}

// smoothedWidth is the columns smoothingSQL gives each quantile.
const smoothedWidth = 8

// window is the ranks of a smoothed quantile's window, as smoothingSQL
// gives them (from the quantile's value on).
type window struct{ first, last int64 }

func windowOf(cols []any) window { return window{toInt(cols[2]), toInt(cols[3])} }

// windowPersons is the persons of a smoothed quantile's window, from its
// smoothingSQL columns (the ids as a comma-separated list): the
// release.Cell's Window. nil when the window holds nobody.
func windowPersons(cols []any) (*roaring.Bitmap, error) {
	list, _ := cols[4].(string)
	if list == "" {
		return nil, nil
	}
	bm := roaring.New()
	for f := range strings.SplitSeq(list, ",") {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, &datasets.Error{Safe: "a quantile's window could not be read", Err: fmt.Errorf("window person %q: %w", f, err)}
		}
		if err := addID(bm, id, "person id"); err != nil {
			return nil, err
		}
	}
	return bm, nil
}

// overlaps reports whether w shares a rank with one of ws: two smoothed
// quantiles of one group whose windows overlap differ by the values that
// enter one window and leave the other (41 quantiles a rank apart, around
// blocks of known values, gave a person's BMI, review 28).
func (w window) overlaps(ws []window) bool {
	for _, o := range ws {
		if w.last > 0 && o.last > 0 && w.first <= o.last && o.first <= w.last {
			return true
		}
	}
	return false
}

// smoothingSQL is the query smoothedQuantiles runs, over src: a query whose
// columns are the group keys g0…g(groups−1), the value v (a DOUBLE, never
// NULL) and the person pid. Its columns are the keys, then per quantile of
// qs (smoothedWidth columns) its smoothed value, the persons behind it,
// its window's first and last rank, the window's persons (ids joined
// by commas: a list type would differ between the dialects), how many
// distinct values its rows hold and each row's value (as text, joined by
// commas, in any order) and the group's rows (see ties), then the
// distinct values and Σ|x| of the group, and with tops the two
// largest per-person Σ|x| (NULL when the group has fewer persons).
//
// The rows are sorted once, for their ranks; the rest is per person. A
// quantile's window reaches out to the minPersons-th smallest of the
// persons' nearest distances to its rank (a GROUP BY person, then the
// n-th smallest per group), and the persons it holds are those whose
// nearest distance lies within it. Ranking each person's rows per
// quantile, and then the persons, instead cost 8× the plain DuckDB
// quartiles on 1M persons' HbA1c.
func (d sqlDialect) smoothingSQL(src string, groups int, qs []string, minPersons int, tops bool) string {
	var gs []string
	for i := range groups {
		gs = append(gs, "g"+strconv.Itoa(i))
	}
	over := "OVER ("
	if len(gs) > 0 {
		over += "PARTITION BY " + strings.Join(gs, ", ")
	}
	with := func(p []string, more ...string) []string { return append(append([]string{}, p...), more...) }
	groupBy := func(keys []string) string {
		if len(keys) == 0 {
			return ""
		}
		return " GROUP BY " + strings.Join(keys, ", ")
	}
	// The CTEs' group keys, qualified, and a join of two on them.
	keys := func(cte string) []string {
		out := make([]string, len(gs))
		for i, g := range gs {
			out[i] = cte + "." + g
		}
		return out
	}
	// joined is b joined to a on the keys.
	joined := func(a, b string) string {
		if len(gs) == 0 {
			return " CROSS JOIN " + b
		}
		var eq []string
		for _, g := range gs {
			eq = append(eq, a+"."+g+" IS NOT DISTINCT FROM "+b+"."+g)
		}
		return " JOIN " + b + " ON " + strings.Join(eq, " AND ")
	}
	// __enclave_ranked: each row's rank i among its group's n rows (ties
	// in person order, so that the ranks are the same on every run) and
	// its distance dk in ranks from quantile k's rank round(q·(n−1)+1).
	// __enclave_persons: each person's nearest distance mk (and Σ|x|, ps).
	// __enclave_widths: how far window k reaches, wk: the minPersons-th
	// smallest mk (all the group's ranks when it has fewer persons), and
	// at least QuantileWindow ranks; the two largest ps.
	// __enclave_windows: those, and the persons within each window.
	// __enclave_spans: each person's rows within each window, and
	// __enclave_tops the most of one person's: a window more than half of
	// whose rows are one person's is that person's value (their run of
	// identical Fitbit days, the others cut to a day each, review 54), and
	// its persons are given as none, so that it is hidden like a window of
	// too few.
	ranked := []string{"v", "pid", "i", "n"}
	persons := []string{"max(n) AS n"}
	var widths, windows, spans, topRows, outer []string
	for k, qv := range qs {
		ks := strconv.Itoa(k)
		dk, mk, wk, ck := "d"+ks, "m"+ks, "w"+ks, "c"+ks
		ranked = append(ranked, fmt.Sprintf("abs(i - round(%s * (n - 1) + 1)) AS %s", qv, dk))
		persons = append(persons, "min("+dk+") AS "+mk)
		widths = append(widths, fmt.Sprintf("GREATEST(%d, COALESCE(%s, max(n))) AS %s", QuantileWindow, d.nth(mk, minPersons, false), wk))
		windows = append(windows, "max("+wk+") AS "+wk, "count(IF("+mk+" <= "+wk+", 1, NULL)) AS "+ck)
		in := dk + " <= " + wk
		spans = append(spans, "count(IF("+in+", 1, NULL)) AS s"+ks)
		topRows = append(topRows, "max(s"+ks+") AS t"+ks)
		held := fmt.Sprintf("CASE WHEN 2 * max(t%s) > count(IF(%s, 1, NULL)) THEN 0 ELSE max(%s) END", ks, in, ck)
		outer = append(outer, "avg(IF("+in+", v, NULL))", held, "min(IF("+in+", i, NULL))", "max(IF("+in+", i, NULL))",
			"STRING_AGG(DISTINCT IF("+in+", "+d.cast("pid", "VARCHAR")+", NULL), ',')",
			"count(DISTINCT IF("+in+", v, NULL))", "STRING_AGG(IF("+in+", "+d.cast("v", "VARCHAR")+", NULL), ',')", "max(n)")
	}
	outer = append(outer, "count(DISTINCT v)", "sum(abs(v))")
	rowCols := with(gs, "v", "pid", "ROW_NUMBER() "+over+" ORDER BY v, pid) AS i", "COUNT(*) "+over+") AS n")
	if tops {
		// Per person, Σ|x| and Σ(x − x̄)² about the group's mean gm: the
		// two largest of each, and the group's Σ(x − x̄)².
		rowCols = append(rowCols, "AVG(v) "+over+") AS gm")
		ranked = append(ranked, "gm")
		persons = append(persons, "sum(abs(v)) AS ps", "sum((v - gm) * (v - gm)) AS ss")
		widths = append(widths, d.nth("ps", 1, true)+" AS p1", d.nth("ps", 2, true)+" AS p2",
			d.nth("ss", 1, true)+" AS s1", d.nth("ss", 2, true)+" AS s2")
		windows = append(windows, "max(p1) AS p1", "max(p2) AS p2", "max(s1) AS s1", "max(s2) AS s2")
		outer = append(outer, "max(p1)", "max(p2)", "max(s1)", "max(s2)", "sum((v - gm) * (v - gm))")
	}
	rows := "SELECT " + strings.Join(rowCols, ", ") + " FROM (" + src + ") AS __enclave_src"
	return "WITH __enclave_ranked AS (SELECT " + strings.Join(with(gs, ranked...), ", ") + " FROM (" + rows + ") AS __enclave_rows)" +
		", __enclave_persons AS (SELECT " + strings.Join(with(gs, persons...), ", ") + " FROM __enclave_ranked" + groupBy(with(gs, "pid")) + ")" +
		", __enclave_widths AS (SELECT " + strings.Join(with(gs, widths...), ", ") + " FROM __enclave_persons" + groupBy(gs) + ")" +
		", __enclave_windows AS (SELECT " + strings.Join(with(keys("__enclave_widths"), windows...), ", ") +
		" FROM __enclave_persons" + joined("__enclave_persons", "__enclave_widths") + groupBy(keys("__enclave_widths")) + ")" +
		", __enclave_spans AS (SELECT " + strings.Join(with(keys("__enclave_ranked"), spans...), ", ") +
		" FROM __enclave_ranked" + joined("__enclave_ranked", "__enclave_windows") + groupBy(with(keys("__enclave_ranked"), "__enclave_ranked.pid")) + ")" +
		", __enclave_tops AS (SELECT " + strings.Join(with(gs, topRows...), ", ") + " FROM __enclave_spans" + groupBy(gs) + ")" +
		" SELECT " + strings.Join(with(keys("__enclave_ranked"), outer...), ", ") +
		" FROM __enclave_ranked" + joined("__enclave_ranked", "__enclave_windows") + joined("__enclave_ranked", "__enclave_tops") + groupBy(keys("__enclave_ranked"))
}
