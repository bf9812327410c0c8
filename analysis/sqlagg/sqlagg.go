package sqlagg

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// PersonsColumn is the name of the column Rewrite appends to the user's
// select list: the distinct-person count of each cell in Plan.SQL, the list
// of distinct person ids of each cell in Plan.SetsSQL.
const PersonsColumn = "__enclave_persons"

// maxSQLBytes bounds the query text handed to the parser.
const maxSQLBytes = 1 << 20

// Querier runs a query; *sql.DB, *sql.Conn and *sql.Tx satisfy it.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Schema says what the tier holds: table name → column names. Tables whose
// columns include person_id hold person rows.
type Schema struct {
	Tables map[string][]string
	// Types maps a column name to its DuckDB type (INTEGER, DOUBLE, DATE,
	// VARCHAR…) where all tables agree on it; grouping is allowed only by
	// categories (see groupKey).
	Types map[string]string
	// PersonRowsUnique says that the person table holds each person_id
	// once: a query over the person table alone then counts its persons
	// with a plain count, several times faster than a DISTINCT one.
	PersonRowsUnique bool
}

// Kind classifies an output column for the disclosure rules.
type Kind string

// Kinds of output columns.
const (
	KindGroup   Kind = "group"   // a GROUP BY key
	KindCount   Kind = "count"   // count(*), count(x), count(DISTINCT x)
	KindDerived Kind = "derived" // avg, mean, stddev*, var*, median, quantile*, arithmetic of aggregates
	KindSum     Kind = "sum"     // sum (magnitude: dominance rules apply)
	KindExtreme Kind = "extreme" // min, max, arg_min, arg_max, first, last, any_value, mode
)

// Item describes one of the user's select items.
type Item struct {
	Name string // output column name as DuckDB reports it
	Kind Kind
	// Tail is, for an item built on a quantile (median, quantile_cont…),
	// the smaller of p and 1−p over its quantiles: the release rules need
	// enough persons on each side of a released quantile. 0 otherwise.
	Tail float64
	// Parts are, for a derived item, the aggregates in it (the item itself
	// when Direct), each with hidden columns that say how it would fare
	// shown alone: a derived value is released only when every aggregate
	// it is computed from would be (avg(x)+0 is avg(x)).
	Parts  []Part
	Direct bool
	// Quantity names, for a count, what it counts ("rows", "rows of
	// value_as_number"); a derived item's parts have their own (see
	// Part.Quantity). "" for other items.
	Quantity string
	// Arg is, for a count, its argument (see Part.Arg).
	Arg string
}

// Plan is an accepted, rewritten query.
type Plan struct {
	// SQL, in the tier's dialect (DuckDB SQL, or GoogleSQL from
	// RewriteGoogleSQL), is the user's select items in order, then the
	// hidden columns of the parts of derived items (see Part), then
	// PersonsColumn: per cell, the
	// fewest distinct <PersonOf>.person_id that any aggregate describes
	// (see personsItems).
	SQL string
	// Width is the number of columns of SQL and SetsSQL; PersonsColumn is
	// the last.
	Width int
	// Items has one entry per user select item (PersonsColumn excluded).
	Items []Item
	// SetsSQL is SQL whose last column is the list of those person ids
	// instead of their count, for materialising the person set of each cell.
	SetsSQL string
	// PersonOf is the alias (or table name) whose person_id is counted.
	PersonOf string
	// Tops, when the query has means, ranks each cell's persons by their
	// share of each mean's Σ|x| for the dominance rules (see Tops).
	Tops *Tops
	// Quantiles list the rows behind each median or quantile item, which
	// is released smoothed (see Quantile).
	Quantiles []Quantile
	// Rows is the part of the query that decides which rows each group's
	// aggregates read (its CTEs, FROM, WHERE, GROUP BY, SAMPLE and
	// QUALIFY, without source positions), as canonical JSON; "" when the
	// query is not one SELECT. Two queries with the same Rows read the
	// same rows in a group of the same key, whatever they select, and
	// however the text was written (FROM first, spacing, case).
	Rows string
	// Events is set when the query reads what an events handle reads
	// (see EventRows).
	Events *EventRows
}

// ErrRefused matches (errors.Is) every *RefusalError.
var ErrRefused = errors.New("sql refused")

// RefusalError is returned when a query is not accepted. Msg says what is
// accepted and never contains literal values from the query.
type RefusalError struct {
	Rule string // short machine-readable rule name, e.g. "row-level"
	Msg  string
}

func (e *RefusalError) Error() string { return "sql refused (" + e.Rule + "): " + e.Msg }

// Is reports whether target is ErrRefused.
func (e *RefusalError) Is(target error) bool { return target == ErrRefused }

func refuse(rule, format string, args ...any) error {
	return &RefusalError{Rule: rule, Msg: fmt.Sprintf(format, args...)}
}

const acceptedShape = "accepted is one SELECT over the tier's tables whose every item is a GROUP BY column or an aggregate (count, sum, avg, stddev, median, quantile, min, max…)"

// Rewrite checks userSQL and returns the plan that adds per-cell person
// counts. A query that is not accepted yields a *RefusalError.
func Rewrite(ctx context.Context, q Querier, userSQL string, s Schema) (*Plan, error) {
	return rewrite(ctx, q, userSQL, s, nil)
}

// RewriteGoogleSQL checks the GoogleSQL query userSQL as Rewrite checks
// DuckDB SQL and returns the plan with SQL and SetsSQL in GoogleSQL (see
// googlesql.go). q is a DuckDB that holds the tier's tables, empty: it
// parses the query and binds it (names, types), nothing more.
func RewriteGoogleSQL(ctx context.Context, q Querier, userSQL string, s Schema, g *GoogleSQL) (*Plan, error) {
	if len(userSQL) > maxSQLBytes {
		return nil, refuse("size", "the query text is longer than %d bytes", maxSQLBytes)
	}
	text, err := googleToDuck(userSQL)
	if err != nil {
		return nil, err
	}
	plan, err := rewrite(ctx, q, text, s, g)
	var re *RefusalError
	if errors.As(err, &re) && re.Rule == "syntax" {
		re.Msg += " (on a BigQuery workspace DuckDB's parser reads the query once backquoted names and GoogleSQL strings are carried over: GoogleSQL-only syntax such as QUALIFY, UNNEST, STRUCT or INTERVAL arithmetic is not accepted)"
	}
	return plan, err
}

func rewrite(ctx context.Context, q Querier, userSQL string, s Schema, g *GoogleSQL) (*Plan, error) {
	if len(userSQL) > maxSQLBytes {
		return nil, refuse("size", "the query text is longer than %d bytes", maxSQLBytes)
	}
	if strings.TrimSpace(userSQL) == "" {
		return nil, refuse("statement", "the query is empty; %s", acceptedShape)
	}
	root, err := parse(ctx, q, userSQL)
	if err != nil {
		return nil, err
	}
	if g != nil {
		if err := normalizeGoogle(root, g); err != nil {
			return nil, err
		}
	}
	cat, err := loadCatalog(ctx, q, false)
	if err != nil {
		return nil, err
	}
	c := newChecker(s, cat, func() (*funcCatalog, error) { return loadCatalog(ctx, q, true) })
	top, err := c.checkStatement(root)
	if err != nil {
		return nil, err
	}
	if err := checkConstCasts(ctx, q, c.constCasts); err != nil {
		return nil, err
	}
	// Make every expression that reads data total (see guard), in the tree
	// and in the aggregate arguments the persons items repeat.
	gd := &guard{cat: c.cat, types: c.types}
	gd.tree(root)
	for _, group := range top.args {
		for k := range group {
			group[k] = gd.value(group[k])
		}
	}

	// The extra select items, serialised by DuckDB from a template so that
	// their JSON shape matches this DuckDB version exactly.
	from := obj(top.node, "from_table")
	onePersonRow := s.PersonRowsUnique && str(from, "type") == "BASE_TABLE" && strings.EqualFold(str(from, "table_name"), "person")
	tsel, err := personsItems(ctx, q, top, onePersonRow)
	if err != nil {
		return nil, err
	}

	sel := top.node["select_list"].([]any)
	n := len(sel)
	var hidden []any
	parts := make([][]Part, n)
	args := make([][]any, n) // per part, the aggregate's argument (nil for a count)
	direct := make([]bool, n)
	quantity := make([]string, n)
	argOf := make([]string, n)
	for i, item := range sel {
		if top.kinds[i] == KindCount {
			quantity[i], argOf[i] = countQuantity(asMap(item)), ArgOf(asMap(item))
		}
		if top.kinds[i] != KindDerived {
			continue
		}
		calls := aggregateCalls(c.cat, item)
		for _, a := range calls {
			cols, part, err := partItems(ctx, q, a, len(hidden))
			if err != nil {
				return nil, err
			}
			part.Col = n + len(hidden)
			parts[i] = append(parts[i], part)
			var arg any
			if part.Kind == KindDerived {
				arg = arr(a, "children")[0]
			}
			args[i] = append(args[i], arg)
			hidden = append(hidden, cols...)
		}
		direct[i] = len(calls) == 1 && isAggregateCall(c.cat, asMap(item))
	}
	// build returns the query with extra as its last item, in DuckDB SQL
	// and, on a GoogleSQL tier, rendered as GoogleSQL.
	render := func() (string, string, error) {
		want, err := encode(root)
		if err != nil {
			return "", "", err
		}
		out, err := deserialize(ctx, q, want)
		if err != nil {
			return "", "", err
		}
		// The SQL that will run must parse back to exactly the tree that
		// was checked (plus the extra item).
		back, err := parse(ctx, q, out)
		if err != nil {
			return "", "", refuse("rewrite", "the rewritten query did not parse back; %s", acceptedShape)
		}
		if !sameTree(root, back) {
			return "", "", refuse("rewrite", "the query uses a construct that does not survive rewriting; %s", acceptedShape)
		}
		if g == nil {
			return out, out, nil
		}
		gsql, err := renderGoogle(root, g, c.cat)
		return out, gsql, err
	}
	build := func(extra any) (string, string, error) {
		top.node["select_list"] = append(append(append([]any{}, sel...), hidden...), extra)
		defer func() { top.node["select_list"] = sel }()
		return render()
	}
	plan := &Plan{PersonOf: top.personOf, Width: n + len(hidden) + 1, Rows: rowsOf(top.node), Events: eventRows(top.node, s.Tables)}
	var duckSQL string
	if duckSQL, plan.SQL, err = build(tsel[0]); err != nil {
		return nil, err
	}
	if _, plan.SetsSQL, err = build(tsel[1]); err != nil {
		return nil, err
	}

	// The queries that run beside it, from the tree as they change it, in
	// the tier's dialect.
	tierSQL := func() (string, error) {
		_, out, err := render()
		return out, err
	}
	if plan.Tops, err = topsQuery(ctx, q, top, parts, args, tierSQL); err != nil {
		return nil, err
	}
	if plan.Quantiles, err = quantileSources(ctx, q, top, parts, args, direct, g != nil, tierSQL); err != nil {
		return nil, err
	}

	names, err := describe(ctx, q, duckSQL)
	if err != nil {
		return nil, err
	}
	if len(names) != plan.Width || names[plan.Width-1] != PersonsColumn {
		return nil, refuse("rewrite", "the query's output columns could not be matched to its select items; %s", acceptedShape)
	}
	plan.Items = make([]Item, n)
	for i := range n {
		plan.Items[i] = Item{Name: names[i], Kind: top.kinds[i], Tail: top.tails[i], Parts: parts[i], Quantity: quantity[i], Arg: argOf[i], Direct: direct[i]}
	}
	return plan, nil
}

// rowsOf is Plan.Rows of a checked, guarded SELECT node.
func rowsOf(node map[string]any) string {
	if str(node, "type") != "SELECT_NODE" {
		return ""
	}
	def := map[string]any{}
	for _, k := range []string{"cte_map", "from_table", "where_clause", "group_expressions", "group_sets", "sample", "qualify"} {
		def[k] = node[k]
	}
	b, err := encode(stripLocations(def))
	if err != nil {
		return ""
	}
	return string(b)
}

// personsItems returns the two extra select items: the cell's persons and
// the list of their ids. Aggregates skip NULLs, so avg(x) over a mostly-NULL
// x (a column of the optional side of an outer join, a per-person CASE in a
// subquery) describes only the persons of rows where x is set. The cell's
// persons are therefore the fewest that any aggregate describes: the least
// of the cell's distinct persons and, per aggregate with value arguments,
// the distinct persons of its rows whose arguments are all non-NULL, where
// that is not 0 (an aggregate over nobody is NULL or a count of 0 and tells
// nothing more). The list is the one of the aggregate that gives that least.
//
// With onePersonRow (the query reads the person table alone, which holds
// each person once) the counts are plain counts of person_id.
func personsItems(ctx context.Context, q Querier, top *topResult, onePersonRow bool) ([]any, error) {
	pid := quoteIdent(top.personOf) + ".person_id"
	var flat []any
	filters := []string{""}
	for _, group := range top.args {
		conds := make([]string, len(group))
		for k, a := range group {
			conds[k] = quoteIdent(argPlaceholder(len(flat))) + " IS NOT NULL"
			flat = append(flat, a)
		}
		filters = append(filters, " AND "+strings.Join(conds, " AND "))
	}
	counts := make([]string, len(filters))
	lists := make([]string, len(filters))
	for i, f := range filters {
		counts[i] = fmt.Sprintf("count(DISTINCT %s) FILTER (WHERE %s IS NOT NULL%s)", pid, pid, f)
		if onePersonRow {
			counts[i] = fmt.Sprintf("count(%s) FILTER (WHERE %s IS NOT NULL%s)", pid, pid, f)
		}
		lists[i] = fmt.Sprintf("list(DISTINCT %s) FILTER (WHERE %s IS NOT NULL%s)", pid, pid, f)
		if i > 0 {
			counts[i] = "nullif(" + counts[i] + ", 0)"
		}
	}
	persons, set := counts[0], lists[0]
	if len(filters) > 1 {
		persons = "least(" + strings.Join(counts, ", ") + ")"
		var b strings.Builder
		b.WriteString("CASE")
		for i := len(lists) - 1; i > 0; i-- {
			fmt.Fprintf(&b, " WHEN %s = %s THEN %s", counts[i], persons, lists[i])
		}
		fmt.Fprintf(&b, " ELSE %s END", lists[0])
		set = b.String()
	}
	tmpl, err := parse(ctx, q, fmt.Sprintf("SELECT %s AS %s, %s AS %s", persons, PersonsColumn, set, PersonsColumn))
	if err != nil {
		return nil, fmt.Errorf("sqlagg: template: %w", err)
	}
	tsel := arr(obj(firstStatement(tmpl), "node"), "select_list")
	if len(tsel) != 2 {
		return nil, errors.New("sqlagg: template has an unexpected shape")
	}
	for i := range tsel {
		if tsel[i], err = fillPlaceholders(tsel[i], flat); err != nil {
			return nil, err
		}
	}
	return tsel, nil
}

// checkConstCasts runs each CAST of a constant expression on its own: one
// that fails would fail or not depending on whether a row reaches it.
func checkConstCasts(ctx context.Context, q Querier, casts []map[string]any) error {
	for _, cast := range casts {
		tmpl, err := parse(ctx, q, "SELECT NULL")
		if err != nil {
			return fmt.Errorf("sqlagg: template: %w", err)
		}
		node := obj(firstStatement(tmpl), "node")
		if node == nil {
			return errors.New("sqlagg: template has an unexpected shape")
		}
		node["select_list"] = []any{cast}
		js, err := encode(tmpl)
		if err != nil {
			return err
		}
		text, err := deserialize(ctx, q, js)
		if err != nil {
			return err
		}
		rows, err := q.QueryContext(ctx, text)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("sqlagg: checking a constant CAST: %w", ctx.Err())
			}
			return refuse("cast", "a CAST of a constant fails (%s)", SanitizeMessage(err.Error()))
		}
	}
	return nil
}

// argPlaceholder names the column reference the template holds in place of
// the i-th aggregate argument (the __enclave prefix is refused in queries).
func argPlaceholder(i int) string { return fmt.Sprintf("__enclave_arg_%d", i) }

// fillPlaceholders returns a copy of the template tree v whose placeholder
// column references are replaced by the aggregate arguments they stand for.
func fillPlaceholders(v any, args []any) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		if str(t, "class") == "COLUMN_REF" {
			if names := arr(t, "column_names"); len(names) == 1 {
				name, _ := names[0].(string)
				for i := range args {
					if name == argPlaceholder(i) {
						return args[i], nil
					}
				}
				if strings.HasPrefix(name, "__enclave_arg_") {
					return nil, errors.New("sqlagg: template placeholder without an argument")
				}
			}
		}
		out := make(map[string]any, len(t))
		for k, x := range t {
			y, err := fillPlaceholders(x, args)
			if err != nil {
				return nil, err
			}
			out[k] = y
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			y, err := fillPlaceholders(x, args)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	}
	return v, nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// parse returns DuckDB's AST of text, or a refusal for parse errors and
// statements that are not SELECT.
func parse(ctx context.Context, q Querier, text string) (map[string]any, error) {
	var js string
	if err := queryString(ctx, q, "SELECT CAST(json_serialize_sql(CAST(? AS VARCHAR)) AS VARCHAR)", &js, text); err != nil {
		return nil, refuse("syntax", "the query could not be parsed (%s); %s", SanitizeMessage(err.Error()), acceptedShape)
	}
	v, err := decode(js)
	if err != nil {
		// DuckDB writes e.g. an infinite constant as a bare Infinity.
		return nil, refuse("syntax", "the parsed query could not be read (a constant out of range?); %s", acceptedShape)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("sqlagg: the parser's JSON is not an object")
	}
	if b, _ := root["error"].(bool); b {
		etype, _ := root["error_type"].(string)
		emsg, _ := root["error_message"].(string)
		if strings.Contains(emsg, "Only SELECT statements") {
			return nil, refuse("statement", "only a SELECT statement is accepted (not INSERT, UPDATE, DELETE, COPY, ATTACH, PRAGMA, SET, CREATE, EXPORT…); %s", acceptedShape)
		}
		class := etype
		if sub, _ := root["error_subtype"].(string); sub != "" {
			class += "/" + sub
		}
		return nil, refuse("syntax", "DuckDB %s error: %s", SanitizeMessage(class), SanitizeMessage(emsg))
	}
	return root, nil
}

func deserialize(ctx context.Context, q Querier, ast []byte) (string, error) {
	var out string
	if err := queryString(ctx, q, "SELECT json_deserialize_sql(CAST(? AS JSON))", &out, string(ast)); err != nil {
		return "", refuse("rewrite", "the query could not be rewritten (%s); %s", SanitizeMessage(err.Error()), acceptedShape)
	}
	return out, nil
}

func queryString(ctx context.Context, q Querier, query string, dst *string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return errors.New("no result row")
	}
	var ns sql.NullString
	if err := rows.Scan(&ns); err != nil {
		return err
	}
	*dst = ns.String
	return rows.Close()
}

// describe binds the query without running it and returns its column names.
func describe(ctx context.Context, q Querier, query string) ([]string, error) {
	rows, err := q.QueryContext(ctx, "DESCRIBE "+query)
	if err != nil {
		return nil, refuse("bind", "DuckDB could not bind the query: %s", SanitizeMessage(err.Error()))
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		name, _ := vals[0].(string)
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		return nil, refuse("bind", "DuckDB could not bind the query: %s", SanitizeMessage(err.Error()))
	}
	return names, nil
}

func decode(s string) (any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// sameTree compares two ASTs ignoring source positions.
func sameTree(a, b any) bool {
	ea, err1 := encode(stripLocations(a))
	eb, err2 := encode(stripLocations(b))
	return err1 == nil && err2 == nil && bytes.Equal(ea, eb)
}

func stripLocations(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			if k == "query_location" {
				continue
			}
			m[k] = stripLocations(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = stripLocations(x)
		}
		return s
	}
	return v
}

var (
	reQuoted = regexp.MustCompile(`'(?:[^']|'')*'?|"(?:[^"]|"")*"?`)
	reNumber = regexp.MustCompile(`[0-9]+(?:\.[0-9]+)?`)
	reSpaces = regexp.MustCompile(`\s+`)
)

// SanitizeMessage strips what a DuckDB error message may echo from the
// query or the data: quoted spans become '…', numbers become …, and the
// "LINE n:" query excerpt and everything after the first line are dropped.
func SanitizeMessage(msg string) string {
	if i := strings.Index(msg, "LINE "); i >= 0 {
		msg = msg[:i]
	}
	if i := strings.IndexAny(msg, "\r\n"); i >= 0 {
		msg = msg[:i]
	}
	msg = reQuoted.ReplaceAllString(msg, "'…'")
	msg = reNumber.ReplaceAllString(msg, "…")
	msg = reSpaces.ReplaceAllString(msg, " ")
	return strings.TrimSpace(msg)
}

func firstStatement(root map[string]any) map[string]any {
	st := arr(root, "statements")
	if len(st) == 0 {
		return nil
	}
	m, _ := st[0].(map[string]any)
	return m
}

func obj(m map[string]any, k string) map[string]any {
	if m == nil {
		return nil
	}
	v, _ := m[k].(map[string]any)
	return v
}

func arr(m map[string]any, k string) []any {
	if m == nil {
		return nil
	}
	v, _ := m[k].([]any)
	return v
}

func str(m map[string]any, k string) string {
	if m == nil {
		return ""
	}
	v, _ := m[k].(string)
	return v
}

func flag(m map[string]any, k string) bool {
	if m == nil {
		return false
	}
	v, _ := m[k].(bool)
	return v
}
