package analysis

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"enclave/datasets"
)

// cohortPlan is a cohort: a predicate over person p.
type cohortPlan struct {
	Op     string      `json:"op"` // all, with, without, age, sex, mean, and, or, minus
	Events *eventsPlan `json:"ev,omitempty"`
	Min    int         `json:"min,omitempty"`
	Max    int         `json:"max,omitempty"`
	// mean: the persons whose mean of Col over the rows of Events lies
	// above Lo and below Hi (nil: unbounded), as a model's mean(NAME)
	// term sees them.
	Col string      `json:"col,omitempty"`
	Lo  *float64    `json:"lo,omitempty"`
	Hi  *float64    `json:"hi,omitempty"`
	At  string      `json:"at,omitempty"`
	Sex int64       `json:"sex,omitempty"`
	A   *cohortPlan `json:"a,omitempty"`
	B   *cohortPlan `json:"b,omitempty"`
}

// eventsPlan is a set of rows of one person table.
type eventsPlan struct {
	Table    string       `json:"t"`
	Concepts []int64      `json:"c,omitempty"`
	Of       *cohortPlan  `json:"of,omitempty"`
	Where    []filterPlan `json:"w,omitempty"`
	From     string       `json:"from,omitempty"`
	To       string       `json:"to,omitempty"`
}

type filterPlan struct {
	Column string `json:"col"`
	Op     string `json:"op"`
	Values []any  `json:"v,omitempty"`
}

// handle is a kernel-side handle: exactly one of cohort and events is set.
type handle struct {
	cohort *cohortPlan
	events *eventsPlan
	desc   string
}

// persons is the cohort of h: its own, or the persons with its events.
func (h *handle) persons() *cohortPlan {
	if h.cohort != nil {
		return h.cohort
	}
	return &cohortPlan{Op: "with", Events: h.events}
}

var datePattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// checkDate accepts YYYY-MM-DD dates that exist.
func checkDate(what, s string) error {
	if !datePattern.MatchString(s) {
		return datasets.Errorf("%s: %q is not a date in the form YYYY-MM-DD", what, clip(s, 40))
	}
	if _, err := time.Parse("2006-01-02", s); err != nil {
		return datasets.Errorf("%s: %s is not a calendar date", what, s)
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// sqlb builds SQL from trusted pieces (names checked against the catalog)
// with every value bound as a parameter.
type sqlb struct {
	s    *Server
	args []any
}

func (b *sqlb) arg(v any) string {
	// A plan read back for a person set holds its numbers as json.Number,
	// which database/sql passes on as text: DuckDB casts it to the column's
	// type, GoogleSQL refuses to compare a number with text.
	if n, ok := v.(json.Number); ok {
		v = normaliseValues([]any{n})[0]
	}
	b.args = append(b.args, v)
	return "?"
}

func (b *sqlb) list(ids []int64) string {
	ph := make([]string, len(ids))
	for i, id := range ids {
		ph[i] = b.arg(id)
	}
	return strings.Join(ph, ", ")
}

// pred is c as a SQL predicate over the person alias p.
func (b *sqlb) pred(c *cohortPlan, p string) (string, error) {
	switch c.Op {
	case "all":
		return "TRUE", nil
	case "with", "without":
		inner, err := b.eventsSQL(c.Events, "e"+fmt.Sprint(len(b.args)), "person_id")
		if err != nil {
			return "", err
		}
		neg := ""
		if c.Op == "without" {
			neg = "NOT "
		}
		return p + ".person_id " + neg + "IN (" + inner + ")", nil
	case "age":
		if err := checkDate("age at", c.At); err != nil {
			return "", err
		}
		return "(" + b.s.ageExpr(p, c.At) + " BETWEEN " + b.arg(c.Min) + " AND " + b.arg(c.Max) + ")", nil
	case "sex":
		return p + ".gender_concept_id = " + b.arg(c.Sex), nil
	case "mean":
		return b.meanPred(c, p)
	case "and", "or", "minus":
		l, err := b.pred(c.A, p)
		if err != nil {
			return "", err
		}
		r, err := b.pred(c.B, p)
		if err != nil {
			return "", err
		}
		switch c.Op {
		case "and":
			return "(" + l + " AND " + r + ")", nil
		case "or":
			return "(" + l + " OR " + r + ")", nil
		}
		return "(" + l + " AND NOT " + r + ")", nil
	}
	return "", datasets.Errorf("unknown cohort operation %q", c.Op)
}

// meanPred is the "mean" operation as a predicate over the person alias
// p: the persons whose mean of c.Col over c.Events's rows lies in
// (c.Lo, c.Hi).
func (b *sqlb) meanPred(c *cohortPlan, p string) (string, error) {
	if c.Events == nil || strings.EqualFold(strings.TrimSpace(c.Col), "age") {
		return "", datasets.Errorf("a mean cohort needs an events table and one of its numeric columns")
	}
	x := "mv" + fmt.Sprint(len(b.args))
	vx, _, err := b.s.numericExpr(&handle{events: c.Events}, c.Col, "")
	if err != nil {
		return "", err
	}
	where, err := b.eventsWhere(c.Events, x)
	if err != nil {
		return "", err
	}
	v := strings.Replace(vx, "x.", x+".", 1)
	where = append(where, v+" IS NOT NULL")
	var having []string
	if c.Lo != nil {
		having = append(having, "avg("+v+") > "+b.arg(*c.Lo))
	}
	if c.Hi != nil {
		having = append(having, "avg("+v+") < "+b.arg(*c.Hi))
	}
	q := "SELECT " + x + ".person_id FROM " + quoteIdent(c.Events.Table) + " " + x + " WHERE " + strings.Join(where, " AND ") + " GROUP BY " + x + ".person_id"
	if len(having) > 0 {
		q += " HAVING " + strings.Join(having, " AND ")
	}
	return p + ".person_id IN (" + q + ")", nil
}

// ageExpr is the age in whole years at the date at (checked by checkDate,
// so it is digits and dashes only) of the person alias p.
func (s *Server) ageExpr(p, at string) string { return s.d.age(p, at) }

// eventsSQL selects cols of the rows of e, aliased x.
func (b *sqlb) eventsSQL(e *eventsPlan, x, cols string) (string, error) {
	where, err := b.eventsWhere(e, x)
	if err != nil {
		return "", err
	}
	q := "SELECT " + x + "." + cols + " FROM " + quoteIdent(e.Table) + " " + x
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	return q, nil
}

// eventsWhere is the conditions selecting e's rows of alias x.
func (b *sqlb) eventsWhere(e *eventsPlan, x string) ([]string, error) {
	t := b.s.table(e.Table)
	if t == nil {
		return nil, datasets.Errorf("no table %q in this workspace's tier", e.Table)
	}
	var where []string
	if len(e.Concepts) > 0 {
		cc := conceptColumn(t)
		if cc == "" {
			return nil, datasets.Errorf("table %s has no concept column to filter by concepts", t.Name)
		}
		where = append(where, x+"."+quoteIdent(cc)+" IN ("+b.list(e.Concepts)+")")
	}
	if e.From != "" || e.To != "" {
		dc := dateColumn(t)
		if dc == "" {
			return nil, datasets.Errorf("table %s has no date column", t.Name)
		}
		for _, d := range []string{e.From, e.To} {
			if d != "" {
				if err := checkDate("date range", d); err != nil {
					return nil, err
				}
			}
		}
		if e.From != "" {
			where = append(where, x+"."+quoteIdent(dc)+" >= "+b.s.d.cast(b.arg(e.From), "DATE"))
		}
		if e.To != "" {
			where = append(where, x+"."+quoteIdent(dc)+" < "+b.s.d.dayAfter(b.s.d.cast(b.arg(e.To), "DATE")))
		}
	}
	for _, f := range e.Where {
		c, err := b.filter(t, x, f)
		if err != nil {
			return nil, err
		}
		where = append(where, c)
	}
	if e.Of != nil && e.Of.Op != "all" {
		pr, err := b.pred(e.Of, "p"+x)
		if err != nil {
			return nil, err
		}
		where = append(where, x+".person_id IN (SELECT p"+x+".person_id FROM person p"+x+" WHERE "+pr+")")
	}
	return where, nil
}

var filterOps = map[string]string{"=": "=", "==": "=", "!=": "<>", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

func (b *sqlb) filter(t *datasets.TableInfo, x string, f filterPlan) (string, error) {
	col, err := b.s.column(t, f.Column)
	if err != nil {
		return "", err
	}
	e := x + "." + quoteIdent(col.Name)
	op := strings.ToLower(strings.Join(strings.Fields(f.Op), " "))
	need := func(n int) error {
		if len(f.Values) != n {
			return datasets.Errorf("filter %s %s needs %d value(s), got %d", col.Name, op, n, len(f.Values))
		}
		return nil
	}
	for _, v := range f.Values {
		switch v.(type) {
		case float64, string, bool, json.Number, int64:
		default:
			return "", datasets.Errorf("filter %s %s: values must be numbers, text or true/false", col.Name, op)
		}
	}
	switch {
	case filterOps[op] != "":
		if err := need(1); err != nil {
			return "", err
		}
		return e + " " + filterOps[op] + " " + b.arg(f.Values[0]), nil
	case op == "between":
		if err := need(2); err != nil {
			return "", err
		}
		return e + " BETWEEN " + b.arg(f.Values[0]) + " AND " + b.arg(f.Values[1]), nil
	case op == "in", op == "not in":
		if len(f.Values) == 0 {
			return "", datasets.Errorf("filter %s %s needs values", col.Name, op)
		}
		ph := make([]string, len(f.Values))
		for i, v := range f.Values {
			ph[i] = b.arg(v)
		}
		return e + " " + strings.ToUpper(op) + " (" + strings.Join(ph, ", ") + ")", nil
	case op == "is null", op == "is not null":
		if err := need(0); err != nil {
			return "", err
		}
		return e + " " + strings.ToUpper(op), nil
	}
	return "", datasets.Errorf("unknown filter operator %q (use =, !=, <, <=, >, >=, between, in, not in, is null, is not null)", clip(f.Op, 20))
}

// conceptColumn is the main concept column of a table:
// condition_occurrence → condition_concept_id.
func conceptColumn(t *datasets.TableInfo) string {
	prefix := t.Name
	for _, suf := range []string{"_occurrence", "_exposure", "_era"} {
		prefix = strings.TrimSuffix(prefix, suf)
	}
	want := []string{prefix + "_concept_id"}
	if t.Name == "death" {
		want = append(want, "cause_concept_id")
	}
	for _, w := range want {
		for _, c := range t.Columns {
			if c.Name == w {
				return w
			}
		}
	}
	return ""
}

// dateColumn is the main date of a table's rows.
func dateColumn(t *datasets.TableInfo) string {
	for _, suffix := range []string{"_start_date", "_date", "date"} {
		for _, c := range t.Columns {
			if strings.HasSuffix(c.Name, suffix) && c.Type == "DATE" {
				return c.Name
			}
		}
	}
	return ""
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// personsSQL selects the person_ids of cohort c.
func (b *sqlb) personsSQL(c *cohortPlan) (string, error) {
	pr, err := b.pred(c, "p")
	if err != nil {
		return "", err
	}
	return "SELECT p.person_id FROM person p WHERE " + pr, nil
}
