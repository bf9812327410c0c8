package bigquery

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"github.com/RoaringBitmap/roaring/v2"

	"enclave/datasets"
)

// plan is a validated Query turned into GoogleSQL pieces.
type plan struct {
	from    string
	where   []string
	params  []bq.QueryParameter
	groups  []string // group-by expressions
	types   []string // their DuckDB-vocabulary types, to bind cell keys
	measure string   // the measured expression; "" for counts
	agg     datasets.AggFunc
}

func (p *plan) param(v any) string {
	name := "p" + strconv.Itoa(len(p.params))
	p.params = append(p.params, bq.QueryParameter{Name: name, Value: v})
	return "@" + name
}

const maxGroups = 4

var ops = map[string]string{"=": "=", "!=": "<>", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

// plan validates q against the tier's tables, as the DuckDB catalog does,
// and builds its GoogleSQL with every value a query parameter.
func (c *Catalog) plan(q datasets.Query) (*plan, error) {
	t, err := datasets.QueryTable(c.tables, c.tier, q.Table)
	if err != nil {
		return nil, err
	}
	p := &plan{from: c.ref(t.Name) + " x"}
	joinPerson := false
	col := func(ref string) (string, string, error) {
		r, err := datasets.ResolveColumn(c.tables, c.tier, t, ref)
		if err != nil {
			return "", "", err
		}
		alias := "x"
		if r.Joined {
			alias, joinPerson = "p", true
		}
		expr := alias + ".`" + strings.Trim(r.Column.Name, `"`) + "`"
		if r.Func != "" {
			return "EXTRACT(" + strings.ToUpper(r.Func) + " FROM " + expr + ")", "BIGINT", nil
		}
		return expr, r.Column.Type, nil
	}
	if len(q.GroupBy) > maxGroups {
		return nil, datasets.Errorf("at most %d group-by columns", maxGroups)
	}
	for _, g := range q.GroupBy {
		e, typ, err := col(g)
		if err != nil {
			return nil, err
		}
		if datasets.IsIdentifier(c.tables, t, g) {
			return nil, datasets.Errorf("cannot group by %s: it identifies rows or persons (one cell each)", g)
		}
		p.groups = append(p.groups, e)
		p.types = append(p.types, typ)
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
		bind := func(v any) (string, error) {
			b, err := bindValue(v, typ)
			if err != nil {
				return "", datasets.Errorf("filter %s %s: %v", f.Column, op, err)
			}
			return p.param(b), nil
		}
		list := func() (string, error) {
			var ph []string
			for _, v := range f.Values {
				s, err := bind(v)
				if err != nil {
					return "", err
				}
				ph = append(ph, s)
			}
			return strings.Join(ph, ", "), nil
		}
		switch {
		case ops[op] != "":
			if err := need(1); err != nil {
				return nil, err
			}
			s, err := bind(f.Values[0])
			if err != nil {
				return nil, err
			}
			p.where = append(p.where, e+" "+ops[op]+" "+s)
		case op == "between":
			if err := need(2); err != nil {
				return nil, err
			}
			lo, err := bind(f.Values[0])
			if err != nil {
				return nil, err
			}
			hi, err := bind(f.Values[1])
			if err != nil {
				return nil, err
			}
			p.where = append(p.where, e+" BETWEEN "+lo+" AND "+hi)
		case op == "is null", op == "is not null":
			p.where = append(p.where, e+" "+strings.ToUpper(op))
		case op == "in", op == "not in":
			if len(f.Values) == 0 {
				return nil, datasets.Errorf("filter %s %s needs values", f.Column, op)
			}
			ph, err := list()
			if err != nil {
				return nil, err
			}
			p.where = append(p.where, e+" "+strings.ToUpper(op)+" ("+ph+")")
		case op == "descendant of":
			if typ != "INTEGER" && typ != "BIGINT" {
				return nil, datasets.Errorf("descendant of: %s is not a concept column", f.Column)
			}
			if len(f.Values) == 0 {
				return nil, datasets.Errorf("filter %s descendant of needs concept ids", f.Column)
			}
			ph, err := list()
			if err != nil {
				return nil, err
			}
			p.where = append(p.where, "("+e+" IN ("+ph+") OR "+e+" IN (SELECT descendant_concept_id FROM "+c.ref("concept_ancestor")+" WHERE ancestor_concept_id IN ("+ph+")))")
		default:
			return nil, datasets.Errorf("unknown filter operator %q", f.Op)
		}
	}
	p.agg = q.Agg
	if p.agg == "" {
		p.agg = datasets.CountPersons
	}
	switch p.agg {
	case datasets.CountPersons, datasets.CountRows:
	case datasets.Sum, datasets.Mean, datasets.Min, datasets.Max, datasets.StdDev, datasets.Median:
		e, typ, err := col(q.Of)
		if err != nil {
			return nil, err
		}
		if typ != "INTEGER" && typ != "BIGINT" && typ != "DOUBLE" {
			return nil, datasets.Errorf("%s of %s: not a numeric column", p.agg, q.Of)
		}
		p.measure = "CAST(" + e + " AS FLOAT64)"
	default:
		return nil, datasets.Errorf("unknown aggregate %q", p.agg)
	}
	if joinPerson {
		p.from += " JOIN " + c.ref("person") + " p ON p.person_id = x.person_id"
	}
	return p, nil
}

// bindValue converts a filter value to the parameter type GoogleSQL needs
// to compare it with a column of type typ. DuckDB casts implicitly
// (INTEGER = '5', DATE = '2020-01-01'); GoogleSQL does not, so the cast is
// done here. The error never quotes the value.
func bindValue(v any, typ string) (any, error) {
	switch typ {
	case "INTEGER", "BIGINT":
		switch x := v.(type) {
		case int:
			return int64(x), nil
		case int32:
			return int64(x), nil
		case int64:
			return x, nil
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				return int64(x), nil
			}
			return x, nil
		case string:
			if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
				return n, nil
			}
			return nil, fmt.Errorf("a text value for an integer column")
		}
	case "DOUBLE":
		switch x := v.(type) {
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case float64:
			return x, nil
		case string:
			if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
				return f, nil
			}
			return nil, fmt.Errorf("a text value for a numeric column")
		}
	case "DATE":
		switch x := v.(type) {
		case time.Time:
			return civil.DateOf(x), nil
		case string:
			d, err := civil.ParseDate(strings.TrimSpace(x))
			if err != nil {
				return nil, fmt.Errorf("a date must be written YYYY-MM-DD")
			}
			return d, nil
		}
	case "TIMESTAMP":
		switch x := v.(type) {
		case time.Time:
			return x.UTC(), nil
		case string:
			for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05Z07:00", "2006-01-02"} {
				if t, err := time.Parse(layout, strings.TrimSpace(x)); err == nil {
					return t, nil
				}
			}
			return nil, fmt.Errorf("a timestamp must be written YYYY-MM-DD[ HH:MM:SS]")
		}
	case "VARCHAR":
		switch x := v.(type) {
		case string:
			return x, nil
		case int, int64, float64:
			return fmt.Sprint(x), nil
		}
	case "BOOLEAN":
		if b, ok := v.(bool); ok {
			return b, nil
		}
	}
	switch v.(type) {
	case int, int64, float64, string, bool, time.Time:
		return nil, fmt.Errorf("a value of the wrong type for a %s column", strings.ToLower(typ))
	}
	return nil, fmt.Errorf("values must be numbers, text, booleans or times")
}

// Aggregate implements datasets.Catalog: one GoogleSQL query giving each
// cell's rows, distinct persons and measure.
func (c *Catalog) Aggregate(ctx context.Context, q datasets.Query) (*datasets.Result, error) {
	p, err := c.plan(q)
	if err != nil {
		return nil, err
	}
	// Inner: one row per source row with its keys, person and value.
	inner := []string{}
	var keys []string
	for i, g := range p.groups {
		k := "k" + strconv.Itoa(i)
		inner = append(inner, g+" AS "+k)
		keys = append(keys, k)
	}
	inner = append(inner, "x.person_id AS pid")
	if p.measure != "" {
		inner = append(inner, p.measure+" AS v")
	}
	src := "SELECT " + strings.Join(inner, ", ") + " FROM " + p.from
	if len(p.where) > 0 {
		src += " WHERE " + strings.Join(p.where, " AND ")
	}
	var measure string
	switch p.agg {
	case datasets.Sum:
		measure = "SUM(v)"
	case datasets.Mean:
		measure = "AVG(v)"
	case datasets.Min:
		measure = "MIN(v)"
	case datasets.Max:
		measure = "MAX(v)"
	case datasets.StdDev:
		measure = "STDDEV_SAMP(v)"
	case datasets.Median:
		// GoogleSQL has no exact median aggregate: PERCENTILE_CONT is an
		// analytic function, computed per partition and carried out.
		part := ""
		if len(keys) > 0 {
			part = "PARTITION BY " + strings.Join(keys, ", ")
		}
		src = "SELECT *, PERCENTILE_CONT(v, 0.5) OVER (" + part + ") AS med FROM (" + src + ")"
		measure = "ANY_VALUE(med)"
	}
	sel := append(append([]string{}, keys...), "COUNT(*)", "COUNT(DISTINCT pid)")
	if measure != "" {
		sel = append(sel, measure)
	}
	sql := "SELECT " + strings.Join(sel, ", ") + " FROM (" + src + ")"
	if len(keys) > 0 {
		sql += " GROUP BY " + strings.Join(keys, ", ")
	}
	res := &datasets.Result{Query: q}
	n := len(keys)
	err = c.query(ctx, "aggregate", sql, p.params, func(row []bq.Value) error {
		cell := datasets.Cell{Key: make([]any, n)}
		for i := 0; i < n; i++ {
			cell.Key[i] = normalise(row[i])
		}
		cell.Rows = toInt(row[n])
		cell.Persons = toInt(row[n+1])
		switch p.agg {
		case datasets.CountPersons:
			cell.Value = float64(cell.Persons)
		case datasets.CountRows:
			cell.Value = float64(cell.Rows)
		default:
			cell.Value = toFloat(row[n+2])
		}
		if n == 0 && cell.Rows == 0 {
			return nil // no rows at all: no cell, as in DuckDB
		}
		res.Cells = append(res.Cells, cell)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(res.Cells, func(i, j int) bool { return lessKey(res.Cells[i].Key, res.Cells[j].Key) })
	return res, nil
}

// PersonSet implements datasets.Catalog: the person ids of one cell,
// streamed from the query's pages into a bitmap.
func (c *Catalog) PersonSet(ctx context.Context, q datasets.Query, key []any) (*roaring.Bitmap, error) {
	p, err := c.plan(q)
	if err != nil {
		return nil, err
	}
	if len(key) != len(p.groups) {
		return nil, datasets.Errorf("cell key has %d values, the query groups by %d columns", len(key), len(p.groups))
	}
	// The same inner query as Aggregate, the cell picked outside it
	// (BigQuery pushes the key filter down; the emulator runs a key filter
	// on a joined column inside the join very slowly).
	inner := []string{"x.person_id AS pid"}
	var outer []string
	for i, g := range p.groups {
		k := "k" + strconv.Itoa(i)
		inner = append(inner, g+" AS "+k)
		if key[i] == nil {
			outer = append(outer, k+" IS NULL")
			continue
		}
		v, err := bindValue(key[i], p.types[i])
		if err != nil {
			return nil, datasets.Errorf("cell key %d: %v", i+1, err)
		}
		outer = append(outer, k+" = "+p.param(v))
	}
	src := "SELECT " + strings.Join(inner, ", ") + " FROM " + p.from
	if len(p.where) > 0 {
		src += " WHERE " + strings.Join(p.where, " AND ")
	}
	sql := "SELECT DISTINCT pid FROM (" + src + ")"
	if len(outer) > 0 {
		sql += " WHERE " + strings.Join(outer, " AND ")
	}
	bm := roaring.New()
	err = c.query(ctx, "person_set", sql, p.params, func(row []bq.Value) error {
		id, ok := row[0].(int64)
		if !ok {
			return fmt.Errorf("person_id is %T", row[0])
		}
		if id < 0 || id > math.MaxUint32 {
			return &datasets.Error{Safe: "person id out of the 32-bit range of person sets", Err: fmt.Errorf("person_id %d", id)}
		}
		bm.Add(uint32(id))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return bm, nil
}

// normalise maps BigQuery values to the Key types of datasets.Cell, as the
// DuckDB catalog returns them: DATE as time.Time at UTC midnight.
func normalise(v bq.Value) any {
	switch x := v.(type) {
	case civil.Date:
		return x.In(time.UTC)
	case civil.DateTime:
		return x.In(time.UTC)
	case time.Time:
		return x.UTC()
	case []byte:
		return string(x)
	}
	return v
}

func toInt(v bq.Value) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	}
	return 0
}

func toFloat(v bq.Value) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return math.NaN()
}

// lessKey orders cell keys as the DuckDB catalog's ORDER BY ... NULLS
// FIRST does.
func lessKey(a, b []any) bool {
	for i := range a {
		if c := compare(a[i], b[i]); c != 0 {
			return c < 0
		}
	}
	return false
}

func compare(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	switch x := a.(type) {
	case int64:
		if y, ok := b.(int64); ok {
			return cmp3(x < y, x > y)
		}
	case float64:
		if y, ok := b.(float64); ok {
			return cmp3(x < y, x > y)
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y)
		}
	case bool:
		if y, ok := b.(bool); ok {
			return cmp3(!x && y, x && !y)
		}
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func cmp3(less, more bool) int {
	switch {
	case less:
		return -1
	case more:
		return 1
	}
	return 0
}
