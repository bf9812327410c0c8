package omop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/duckdb/duckdb-go/v2"

	"enclave/datasets"
	"enclave/datasets/vocab"
)

// lockedDSN opens a tier database read-only with no way out of it: no file
// system, no extensions, no settings changes. Several processes may hold
// it open at once.
// defaultCatalogMemory is the memory_limit of a catalog's DuckDB instance.
const defaultCatalogMemory = "4GB"

const lockedDSN = "?access_mode=READ_ONLY&enable_external_access=false&lock_configuration=true" +
	"&autoinstall_known_extensions=false&autoload_known_extensions=false&allow_community_extensions=false"

// Catalog is the datasets.Catalog of one tier database.
//
// Why a structured query and not SQL: every cell the kernel releases must
// carry its distinct-person count (and, on demand, its person set), so the
// engine must know which rows belong to which person. A Query names one
// person table, group-by columns and filters; each name is checked against
// the tier's catalog and each value bound as a parameter, so the SQL we run
// is built only from trusted strings, always counts distinct person_id per
// cell, and can be re-run for one cell to materialise its person set.
// Validating arbitrary researcher SQL to the same guarantees would mean
// writing a SQL analyser; a free-SQL escape hatch, if ever wanted, belongs
// behind the airlock.
type Catalog struct {
	db     *sql.DB
	tier   datasets.Tier
	tables map[string]*datasets.TableInfo
	order  []string
}

var _ datasets.Catalog = (*Catalog)(nil)

// OpenCatalog opens a tier database (see TierPath) read-only, with
// external access disabled and configuration locked. Several kernels of
// one workspace may open the same file at once. Within one process, open a
// tier file only through OpenCatalog or CountRows: DuckDB refuses a second
// connection to an open file with a different configuration.
func OpenCatalog(tierDBPath string) (datasets.Catalog, error) {
	return openCatalog(tierDBPath, CatalogOptions{})
}

// CatalogOptions bound what one kernel's queries may use.
type CatalogOptions struct {
	MemoryLimit string // DuckDB memory_limit, e.g. "2GB" (default defaultCatalogMemory)
	Threads     int    // DuckDB threads (default: all cores)
}

// OpenCatalogWith is OpenCatalog with resource limits. All catalogs of one
// tier file in one process must use the same options (DuckDB shares one
// instance per file and configuration).
func OpenCatalogWith(tierDBPath string, o CatalogOptions) (datasets.Catalog, error) {
	return openCatalog(tierDBPath, o)
}

func openCatalog(tierDBPath string, o CatalogOptions) (*Catalog, error) {
	if o.MemoryLimit == "" {
		o.MemoryLimit = defaultCatalogMemory
	}
	dsn := tierDBPath + lockedDSN + "&memory_limit=" + url.QueryEscape(o.MemoryLimit)
	if o.Threads > 0 {
		dsn += fmt.Sprintf("&threads=%d", o.Threads)
	}
	db, err := sql.Open("duckdb", dsn)
	if err != nil {
		return nil, fmt.Errorf("omop: open tier database %s: %w", tierDBPath, err)
	}
	c := &Catalog{db: db, tables: map[string]*datasets.TableInfo{}}
	ctx := context.Background()
	var tier string
	if err := db.QueryRowContext(ctx, `SELECT value FROM enclave_tier WHERE key = 'tier'`).Scan(&tier); err != nil {
		db.Close()
		return nil, fmt.Errorf("omop: %s is not a tier database: %w", tierDBPath, err)
	}
	if c.tier, err = datasets.ParseTier(tier); err != nil {
		db.Close()
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT table_name, column_name, data_type FROM duckdb_columns()
		WHERE database_name = current_database() AND schema_name = 'main' AND table_name <> 'enclave_tier'
		ORDER BY table_name, column_index`)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("omop: list tables of %s: %w", tierDBPath, err)
	}
	defer rows.Close()
	for rows.Next() {
		var tn, cn, typ string
		if err := rows.Scan(&tn, &cn, &typ); err != nil {
			db.Close()
			return nil, fmt.Errorf("omop: list tables of %s: %w", tierDBPath, err)
		}
		ti := c.tables[tn]
		if ti == nil {
			ti = &datasets.TableInfo{Name: tn}
			c.tables[tn] = ti
		}
		col := datasets.Column{Name: cn, Type: typ}
		if t := LookupTable(tn); t != nil {
			if f, ok := t.Field(cn); ok {
				col.Concept = f.IsConcept()
			}
		}
		if cn == "person_id" {
			ti.HasPerson = true
		}
		ti.Columns = append(ti.Columns, col)
	}
	if err := rows.Err(); err != nil {
		db.Close()
		return nil, fmt.Errorf("omop: list tables of %s: %w", tierDBPath, err)
	}
	// Schema order, then anything else by name.
	for _, t := range Tables {
		if c.tables[t.Name] != nil {
			c.order = append(c.order, t.Name)
		}
	}
	var rest []string
	for n := range c.tables {
		if LookupTable(n) == nil {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	c.order = append(c.order, rest...)
	return c, nil
}

// CountRows counts the rows of every table of a base or tier database,
// opened read-only with the same locked configuration as OpenCatalog (so it
// can run beside open catalogs): the steward's view for `workspace show`.
func CountRows(ctx context.Context, dbPath string) (map[string]int64, error) {
	db, err := sql.Open("duckdb", dbPath+lockedDSN+"&memory_limit="+defaultCatalogMemory)
	if err != nil {
		return nil, fmt.Errorf("omop: open %s: %w", dbPath, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND NOT internal
		AND table_name NOT IN ('enclave_meta', 'enclave_tier') ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("omop: list tables of %s: %w", dbPath, err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("omop: list tables of %s: %w", dbPath, err)
		}
		names = append(names, n)
	}
	rows.Close()
	out := map[string]int64{}
	for _, n := range names {
		var c int64
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+quoteIdent(n)).Scan(&c); err != nil {
			return nil, fmt.Errorf("omop: count %s in %s: %w", n, dbPath, err)
		}
		out[n] = c
	}
	return out, nil
}

// Tier implements datasets.Catalog.
func (c *Catalog) Tier() datasets.Tier { return c.tier }

// Close implements datasets.Catalog.
func (c *Catalog) Close() error { return c.db.Close() }

// Tables implements datasets.Catalog.
func (c *Catalog) Tables(ctx context.Context) ([]datasets.TableInfo, error) {
	out := make([]datasets.TableInfo, 0, len(c.order))
	for _, n := range c.order {
		t := *c.tables[n]
		t.Columns = append([]datasets.Column(nil), t.Columns...)
		out = append(out, t)
	}
	return out, nil
}

// SearchConcepts implements datasets.Catalog.
func (c *Catalog) SearchConcepts(ctx context.Context, q datasets.ConceptQuery) ([]datasets.Concept, error) {
	r, err := vocab.Search(ctx, c.db, q)
	return r, safeErr(err, "concept search failed")
}

// Descendants implements datasets.Catalog.
func (c *Catalog) Descendants(ctx context.Context, ids ...int64) ([]int64, error) {
	r, err := vocab.Descendants(ctx, c.db, ids...)
	return r, safeErr(err, "descendant lookup failed")
}

// MapToStandard implements datasets.Catalog.
func (c *Catalog) MapToStandard(ctx context.Context, ids ...int64) (map[int64][]int64, error) {
	r, err := vocab.MapToStandard(ctx, c.db, ids...)
	return r, safeErr(err, "concept mapping failed")
}

// plan is a validated Query turned into SQL pieces.
type plan struct {
	from    string   // FROM ... JOIN ...
	where   []string // conditions
	args    []any    // their parameters
	groups  []string // group-by expressions
	measure string   // aggregate expression; "" when the value is the row or person count
}

// Aggregate implements datasets.Catalog.
func (c *Catalog) Aggregate(ctx context.Context, q datasets.Query) (*datasets.Result, error) {
	p, err := c.plan(q)
	if err != nil {
		return nil, err
	}
	sel := append([]string{}, p.groups...)
	// Rows and distinct persons always; the measure only when it is neither
	// (DuckDB would otherwise compute the distinct count twice).
	sel = append(sel, "count(*)", "count(DISTINCT x.person_id)")
	if p.measure != "" {
		sel = append(sel, p.measure)
	}
	query := "SELECT " + strings.Join(sel, ", ") + " FROM " + p.from
	if len(p.where) > 0 {
		query += " WHERE " + strings.Join(p.where, " AND ")
	}
	if len(p.groups) > 0 {
		var idx []string
		for i := range p.groups {
			idx = append(idx, fmt.Sprint(i+1))
		}
		query += " GROUP BY " + strings.Join(idx, ", ") + " ORDER BY " + strings.Join(idx, " NULLS FIRST, ") + " NULLS FIRST"
	}
	rows, err := c.db.QueryContext(ctx, query, p.args...)
	if err != nil {
		return nil, engineErr(ctx, err)
	}
	defer rows.Close()
	res := &datasets.Result{Query: q}
	n := len(p.groups)
	agg := q.Agg
	if agg == "" {
		agg = datasets.CountPersons
	}
	for rows.Next() {
		vals := make([]any, len(sel))
		ptrs := make([]any, len(sel))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, engineErr(ctx, err)
		}
		cell := datasets.Cell{Key: make([]any, n)}
		for i := 0; i < n; i++ {
			cell.Key[i] = Normalise(vals[i])
		}
		cell.Rows = int64(toFloat(vals[n]))
		cell.Persons = int64(toFloat(vals[n+1]))
		switch agg {
		case datasets.CountPersons:
			cell.Value = float64(cell.Persons)
		case datasets.CountRows:
			cell.Value = float64(cell.Rows)
		default:
			cell.Value = toFloat(vals[n+2])
		}
		if len(p.groups) == 0 && cell.Rows == 0 {
			break // no rows at all: no cell
		}
		res.Cells = append(res.Cells, cell)
	}
	if err := rows.Err(); err != nil {
		return nil, engineErr(ctx, err)
	}
	return res, nil
}

// PersonSet implements datasets.Catalog.
func (c *Catalog) PersonSet(ctx context.Context, q datasets.Query, key []any) (*roaring.Bitmap, error) {
	p, err := c.plan(q)
	if err != nil {
		return nil, err
	}
	if len(key) != len(p.groups) {
		return nil, datasets.Errorf("cell key has %d values, the query groups by %d columns", len(key), len(p.groups))
	}
	where := append([]string{}, p.where...)
	args := append([]any{}, p.args...)
	for i, g := range p.groups {
		if key[i] == nil {
			where = append(where, g+" IS NULL")
			continue
		}
		where = append(where, g+" = ?")
		args = append(args, key[i])
	}
	query := "SELECT DISTINCT x.person_id FROM " + p.from
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := c.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, engineErr(ctx, err)
	}
	defer rows.Close()
	bm := roaring.New()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, engineErr(ctx, err)
		}
		if id < 0 || id > math.MaxUint32 {
			return nil, &datasets.Error{Safe: "person id out of the 32-bit range of person sets", Err: fmt.Errorf("person_id %d", id)}
		}
		bm.Add(uint32(id))
	}
	if err := rows.Err(); err != nil {
		return nil, engineErr(ctx, err)
	}
	return bm, nil
}

const maxGroups = 4

var ops = map[string]string{"=": "=", "!=": "<>", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

// plan validates q against the tier's tables and builds its SQL.
func (c *Catalog) plan(q datasets.Query) (*plan, error) {
	t, err := datasets.QueryTable(c.tables, c.tier, q.Table)
	if err != nil {
		return nil, err
	}
	p := &plan{from: quoteIdent(t.Name) + " x"}
	joinPerson := false
	// col resolves a column reference to SQL and its type.
	col := func(ref string) (string, string, error) {
		r, err := datasets.ResolveColumn(c.tables, c.tier, t, ref)
		if err != nil {
			return "", "", err
		}
		alias := "x"
		if r.Joined {
			alias, joinPerson = "p", true
		}
		expr := alias + "." + quoteIdent(r.Column.Name)
		if r.Func != "" {
			return r.Func + "(" + expr + ")", "BIGINT", nil
		}
		return expr, r.Column.Type, nil
	}
	if len(q.GroupBy) > maxGroups {
		return nil, datasets.Errorf("at most %d group-by columns", maxGroups)
	}
	for _, g := range q.GroupBy {
		e, _, err := col(g)
		if err != nil {
			return nil, err
		}
		if datasets.IsIdentifier(c.tables, t, g) {
			return nil, datasets.Errorf("cannot group by %s: it identifies rows or persons (one cell each)", g)
		}
		p.groups = append(p.groups, e)
	}
	for _, f := range q.Where {
		e, typ, err := col(f.Column)
		if err != nil {
			return nil, err
		}
		if datasets.IsIdentifier(c.tables, t, f.Column) {
			return nil, datasets.Errorf("cannot filter on %s: it identifies rows or persons", f.Column)
		}
		op := strings.ToLower(strings.Join(strings.Fields(f.Op), " "))
		need := func(n int) error {
			if len(f.Values) != n {
				return datasets.Errorf("filter %s %s needs %d values, got %d", f.Column, op, n, len(f.Values))
			}
			return nil
		}
		switch {
		case ops[op] != "":
			if err := need(1); err != nil {
				return nil, err
			}
			p.where = append(p.where, e+" "+ops[op]+" ?")
			p.args = append(p.args, f.Values[0])
		case op == "between":
			if err := need(2); err != nil {
				return nil, err
			}
			p.where = append(p.where, e+" BETWEEN ? AND ?")
			p.args = append(p.args, f.Values...)
		case op == "is null", op == "is not null":
			p.where = append(p.where, e+" "+strings.ToUpper(op))
		case op == "in", op == "not in":
			if len(f.Values) == 0 {
				return nil, datasets.Errorf("filter %s %s needs values", f.Column, op)
			}
			p.where = append(p.where, e+" "+strings.ToUpper(op)+" ("+strings.TrimSuffix(strings.Repeat("?,", len(f.Values)), ",")+")")
			p.args = append(p.args, f.Values...)
		case op == "descendant of":
			if typ != "INTEGER" && typ != "BIGINT" {
				return nil, datasets.Errorf("descendant of: %s is not a concept column", f.Column)
			}
			if len(f.Values) == 0 {
				return nil, datasets.Errorf("filter %s descendant of needs concept ids", f.Column)
			}
			ph := strings.TrimSuffix(strings.Repeat("?,", len(f.Values)), ",")
			p.where = append(p.where, "("+e+" IN ("+ph+") OR "+e+" IN (SELECT descendant_concept_id FROM concept_ancestor WHERE ancestor_concept_id IN ("+ph+")))")
			p.args = append(p.args, f.Values...)
			p.args = append(p.args, f.Values...)
		default:
			return nil, datasets.Errorf("unknown filter operator %q", f.Op)
		}
	}
	agg := q.Agg
	if agg == "" {
		agg = datasets.CountPersons
	}
	switch agg {
	case datasets.CountPersons:
		p.measure = ""
	case datasets.CountRows:
		p.measure = ""
	case datasets.Sum, datasets.Mean, datasets.Min, datasets.Max, datasets.StdDev, datasets.Median:
		e, typ, err := col(q.Of)
		if err != nil {
			return nil, err
		}
		if typ != "INTEGER" && typ != "BIGINT" && typ != "DOUBLE" {
			return nil, datasets.Errorf("%s of %s: not a numeric column", agg, q.Of)
		}
		fn := map[datasets.AggFunc]string{datasets.Sum: "sum", datasets.Mean: "avg", datasets.Min: "min", datasets.Max: "max",
			datasets.StdDev: "stddev_samp", datasets.Median: "median"}[agg]
		p.measure = "CAST(" + fn + "(" + e + ") AS DOUBLE)"
	default:
		return nil, datasets.Errorf("unknown aggregate %q", agg)
	}
	if joinPerson {
		p.from += " JOIN person p ON p.person_id = x.person_id"
	}
	return p, nil
}

// Normalise maps DuckDB driver values to the Key types documented in
// datasets.Cell: int64, float64, string, bool, time.Time or nil.
func Normalise(v any) any {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return int64(x)
	case float32:
		return float64(x)
	case []byte:
		return string(x)
	case time.Time, string, float64, nil, bool:
		return x
	}
	return fmt.Sprint(v)
}

func toFloat(v any) float64 {
	switch x := Normalise(v).(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	case nil:
		return math.NaN()
	}
	return math.NaN()
}

// engineErr wraps a DuckDB error in a datasets.Error whose safe text names
// only the error class (DuckDB messages can echo data values).
func engineErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return &datasets.Error{Safe: "query cancelled", Err: err}
	}
	var de *duckdb.Error
	if errors.As(err, &de) {
		return &datasets.Error{Safe: "query failed: " + errorClass(de.Type) + " (details in the audit log)", Err: err}
	}
	return &datasets.Error{Safe: "query failed (details in the audit log)", Err: err}
}

func errorClass(t duckdb.ErrorType) string {
	switch t {
	case duckdb.ErrorTypeConversion, duckdb.ErrorTypeMismatchType, duckdb.ErrorTypeInvalidType:
		return "a value has the wrong type for its column"
	case duckdb.ErrorTypeOutOfRange, duckdb.ErrorTypeDivideByZero:
		return "a value is out of range"
	case duckdb.ErrorTypeOutOfMemory:
		return "out of memory"
	case duckdb.ErrorTypeInterrupt:
		return "interrupted"
	case duckdb.ErrorTypePermission:
		return "operation not permitted"
	case duckdb.ErrorTypeBinder, duckdb.ErrorTypeCatalog, duckdb.ErrorTypeParser, duckdb.ErrorTypeSyntax:
		return "the query is not valid for this catalog"
	}
	return "engine error"
}

func safeErr(err error, safe string) error {
	if err == nil {
		return nil
	}
	var de *datasets.Error
	if errors.As(err, &de) {
		return err
	}
	return &datasets.Error{Safe: safe, Err: err}
}

// QueryContext runs SQL that trusted code built (the analysis layer's
// compiled handles and checked %sql) on the tier database, read-only.
// Errors are *datasets.Error: their Safe text names only the error class.
func (c *Catalog) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := c.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, engineErr(ctx, err)
	}
	return rows, nil
}
