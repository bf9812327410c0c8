package bigquery

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
)

// The analysis layer runs its own SQL through QueryContext (analysis.Engine).
// It writes identifiers double-quoted and values as `?` placeholders, and
// the few functions that differ in GoogleSQL (casts, ages, dates,
// quantiles) in GoogleSQL (analysis/dialect.go). QueryContext maps the
// quoting and placeholders to GoogleSQL and runs the query through the
// catalog's own path: the dry-run estimate against the session's byte
// budget, the bytes processed to the audit log, errors as datasets.Error.
// Unqualified table names resolve in the tier dataset.

// SQLDialect implements analysis.Dialecter.
func (c *Catalog) SQLDialect() string { return "googlesql" }

// nativeKey marks, in a query's context, text that is GoogleSQL already
// (QueryNative): it runs as written.
type nativeKey struct{}

// TableRef implements analysis.NativeSQL: the tier table name, quoted
// with its project and dataset.
func (c *Catalog) TableRef(name string) string { return c.ref(name) }

// TableQualifiers implements analysis.NativeSQL: a researcher may write
// the tier's tables as dataset.table or project.dataset.table.
func (c *Catalog) TableQualifiers() [][]string {
	return [][]string{{strings.ToLower(c.cfg.Dataset)}, {strings.ToLower(c.cfg.Project), strings.ToLower(c.cfg.Dataset)}}
}

// QueryNative implements analysis.NativeSQL: query is GoogleSQL written
// by the %sql renderer (analysis/sqlagg), run as written through the
// catalog's query path (dry-run budget check, audit as kind "sql", safe
// errors), its result read whole as QueryContext's. Unless confirmed, a
// query whose dry-run estimate is above sql_confirm_bytes is not run: its
// error (ErrConfirm) gives the estimate and says how to confirm.
func (c *Catalog) QueryNative(ctx context.Context, query string, confirmed bool) (*sql.Rows, error) {
	c.dbOnce.Do(func() { c.db = sql.OpenDB(connector{c}) })
	ctx = context.WithValue(ctx, nativeKey{}, true)
	if !confirmed {
		ctx = context.WithValue(ctx, confirmKey{}, c.cfg.sqlConfirmBytes())
	}
	return c.db.QueryContext(ctx, query)
}

// QueryContext runs query, with args bound to its `?` placeholders in
// order. The result is read whole before it returns (the analysis layer
// asks for aggregates and person ids, not row-level data).
func (c *Catalog) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	c.dbOnce.Do(func() { c.db = sql.OpenDB(connector{c}) })
	return c.db.QueryContext(ctx, query, args...)
}

// googleSQL maps the analysis layer's SQL to GoogleSQL: "ident" becomes
// `ident` and the n-th ? becomes @pn. Single-quoted literals are copied
// as they are; a backquote or a placeholder count other than n is an
// error, never a guess.
func googleSQL(q string, n int) (string, error) {
	var b strings.Builder
	k := 0
	for i := 0; i < len(q); i++ {
		switch ch := q[i]; ch {
		case '\'':
			j := i + 1
			for j < len(q) && q[j] != '\'' {
				if q[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(q) {
				return "", fmt.Errorf("bigquery: unterminated string literal in %q", q)
			}
			b.WriteString(q[i : j+1])
			i = j
		case '"':
			var id strings.Builder
			j := i + 1
			for ; j < len(q); j++ {
				if q[j] == '"' {
					if j+1 < len(q) && q[j+1] == '"' {
						id.WriteByte('"')
						j++
						continue
					}
					break
				}
				id.WriteByte(q[j])
			}
			if j >= len(q) {
				return "", fmt.Errorf("bigquery: unterminated identifier in %q", q)
			}
			if !columnName.MatchString(id.String()) {
				return "", fmt.Errorf("bigquery: identifier %q cannot be quoted", id.String())
			}
			b.WriteString("`" + id.String() + "`")
			i = j
		case '`':
			return "", fmt.Errorf("bigquery: backquote in analysis SQL %q", q)
		case '?':
			b.WriteString("@p" + strconv.Itoa(k))
			k++
		default:
			b.WriteByte(ch)
		}
	}
	if k != n {
		return "", fmt.Errorf("bigquery: query has %d placeholders for %d values", k, n)
	}
	return b.String(), nil
}

type connector struct{ c *Catalog }

func (k connector) Connect(context.Context) (driver.Conn, error) { return conn{k.c}, nil }
func (k connector) Driver() driver.Driver                        { return drv{} }

type drv struct{}

func (drv) Open(string) (driver.Conn, error) {
	return nil, errors.New("bigquery: open the analysis engine through Catalog.QueryContext")
}

type conn struct{ c *Catalog }

var _ driver.QueryerContext = conn{}

func (conn) Prepare(string) (driver.Stmt, error) {
	return nil, errors.New("bigquery: prepared statements are not supported")
}
func (conn) Close() error { return nil }
func (conn) Begin() (driver.Tx, error) {
	return nil, errors.New("bigquery: transactions are not supported")
}

func (cn conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	kind := "analysis"
	text, err := query, error(nil)
	if native, _ := ctx.Value(nativeKey{}).(bool); native {
		kind = "sql"
		if len(args) > 0 {
			return nil, errors.New("bigquery: a native query takes no arguments")
		}
	} else if text, err = googleSQL(query, len(args)); err != nil {
		return nil, err
	}
	params := make([]bq.QueryParameter, len(args))
	for i, a := range args {
		v := a.Value
		if t, ok := v.(time.Time); ok {
			v = civil.DateOf(t)
		}
		params[i] = bq.QueryParameter{Name: "p" + strconv.Itoa(i), Value: v}
	}
	r := &rows{}
	err = cn.c.query(ctx, kind, text, params, func(row []bq.Value) error {
		out := make([]driver.Value, len(row))
		for i, v := range row {
			dv, err := driverValue(v)
			if err != nil {
				return err
			}
			out[i] = dv
		}
		r.rows = append(r.rows, out)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(r.rows) > 0 {
		for i := range r.rows[0] {
			r.cols = append(r.cols, "c"+strconv.Itoa(i))
		}
	}
	return r, nil
}

// driverValue is a BigQuery value as DuckDB's driver gives the same SQL
// type: dates and timestamps as time.Time in UTC, NUMERIC as float64.
func driverValue(v bq.Value) (driver.Value, error) {
	switch x := v.(type) {
	case nil, int64, float64, bool, string, []byte:
		return x, nil
	case civil.Date:
		return x.In(time.UTC), nil
	case civil.DateTime:
		return x.In(time.UTC), nil
	case time.Time:
		return x.UTC(), nil
	case *big.Rat:
		f, _ := x.Float64()
		return f, nil
	case []bq.Value:
		// An ARRAY (the person ids of a %sql cell, the largest values of
		// its mean rules), as DuckDB's driver gives a LIST.
		out := make([]any, len(x))
		for i, e := range x {
			v, err := driverValue(e)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("bigquery: result value of type %T", v)
}

type rows struct {
	cols []string
	rows [][]driver.Value
}

func (r *rows) Columns() []string { return r.cols }
func (r *rows) Close() error      { r.rows = nil; return nil }
func (r *rows) Next(dest []driver.Value) error {
	if len(r.rows) == 0 {
		return io.EOF
	}
	copy(dest, r.rows[0])
	r.rows = r.rows[1:]
	return nil
}
