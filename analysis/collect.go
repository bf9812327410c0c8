package analysis

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"

	"enclave/api/spec"
	"enclave/datasets"
	"enclave/release/airlock"
	"enclave/release/audit"
)

// collect returns rows of a handle where the policy allows row-level
// access. The worker is tainted before the first row leaves the kernel.
func (s *Server) collect(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.CollectArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	pol := s.sess.Policy
	if !pol.Collect {
		return nil, datasets.Errorf("row-level access (Collect) is not allowed in this workspace; use aggregates")
	}
	h, err := s.handle(a.Handle)
	if err != nil {
		return nil, err
	}
	limit := a.Limit
	if limit <= 0 || limit > pol.CollectLimit {
		limit = pol.CollectLimit
	}
	t := s.table("person")
	alias := "p"
	if h.events != nil {
		t, alias = s.table(h.events.Table), "x"
	}
	var cols []string
	if len(a.Columns) == 0 {
		for _, c := range t.Columns {
			cols = append(cols, c.Name)
		}
	} else {
		for _, n := range a.Columns {
			c, err := s.column(t, n)
			if err != nil && c.Name == "" {
				return nil, err
			}
			cols = append(cols, c.Name) // identifiers are allowed here: these are rows
		}
	}
	b := &sqlb{s: s}
	from, where, _, err := s.base(b, h)
	if err != nil {
		return nil, err
	}
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = alias + "." + quoteIdent(c)
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + from
	if len(where) > 0 { // an events handle of a whole table has no condition
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" LIMIT %d", limit)
	s.sess.Taint(fmt.Sprintf("Collect of %s", h.desc))
	rows, err := s.db.QueryContext(ctx, q, b.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := &spec.Rows{Columns: cols}
	for rows.Next() {
		vals, err := scanValues(rows, len(cols))
		if err != nil {
			return nil, err
		}
		for i := range vals {
			vals[i] = normaliseKey(vals[i])
		}
		out.Data = append(out.Data, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	s.sess.Record(audit.Entry{Type: "collect", Cell: cell, Data: auditJSON(map[string]any{"handle": h.desc, "rows": len(out.Data), "columns": cols})})
	return out, nil
}

// export files a released table as a CSV export request in the airlock.
func (s *Server) export(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.ExportArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	if err := airlock.ValidName(a.Name); err != nil {
		return nil, datasets.Errorf("export name: use letters, digits, '.', '_' and '-' (at most 100, not starting with '.')")
	}
	s.mu.Lock()
	t := s.tablesR[a.Ref]
	s.mu.Unlock()
	if t == nil {
		return nil, datasets.Errorf("export.File takes a table or plot this session released")
	}
	if s.held {
		// Each request takes the airlock's next id, which the next notice
		// shows: how many a cell made would count whatever the worker
		// read from its rows (review 38: 204 requests, a BMI of 20.4).
		return nil, datasets.Errorf("export.File takes no requests while the worker holds rows: restart the kernel, run the cells that make the table, then export it")
	}
	if s.sess.Airlock == nil {
		return nil, datasets.Errorf("this workspace has no airlock")
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(t.Columns)
	for _, r := range t.Rows {
		rec := make([]string, len(t.Columns))
		for i := range rec {
			if i < len(r) {
				rec[i] = r[i].Text
			}
		}
		w.Write(rec)
	}
	for _, n := range t.Notes {
		w.Write([]string{"# " + n})
	}
	w.Flush()
	it, err := s.sess.Airlock.Submit(airlock.Item{Kind: airlock.KindExport, Author: s.sess.Researcher, Session: s.sess.ID, Cell: cell,
		Name: a.Name, MIME: "text/csv", Summary: fmt.Sprintf("table %q, %d rows", clip(t.Title, 80), len(t.Rows))}, buf.Bytes())
	if err != nil {
		return nil, err
	}
	s.sess.Record(audit.Entry{Type: "export", Cell: cell, Data: auditJSON(map[string]any{"review": it.ID, "name": a.Name, "sha256": it.SHA256})})
	return spec.ExportReceipt{Review: it.ID, Status: string(it.State)}, nil
}
