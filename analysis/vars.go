package analysis

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"enclave/datasets"
	"enclave/datasets/omop"
)

// variable is a grouping variable: a SQL expression over the person alias
// p (and, for events, the row alias x), and how its values are labelled.
type variable struct {
	Name    string
	expr    string
	person  bool // a property of the person: its levels partition persons
	concept bool // values are concept ids, labelled by concept name
	decade  bool // values are decades, labelled "40–49"
	numeric bool
}

// personVars are the demographic variables every handle can be grouped by.
var personVars = []string{"gender", "race", "ethnicity", "age", "age_decade", "age_group", "birth_decade"}

// variable resolves a grouping variable name for a handle (ev is nil for
// cohorts). at is the date ages are taken at (checked).
func (s *Server) variable(name string, ev *eventsPlan, at string) (variable, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	age := s.ageExpr("p", at)
	switch n {
	case "gender", "sex":
		return variable{Name: "gender", expr: "p.gender_concept_id", person: true, concept: true}, nil
	case "race":
		return variable{Name: n, expr: "p.race_concept_id", person: true, concept: true}, nil
	case "ethnicity":
		return variable{Name: n, expr: "p.ethnicity_concept_id", person: true, concept: true}, nil
	case "age":
		return variable{Name: n, expr: age, person: true, numeric: true}, nil
	case "age_decade":
		return variable{Name: n, expr: s.d.cast("floor("+age+" / 10) * 10", "BIGINT"), person: true, decade: true}, nil
	case "age_group":
		return variable{Name: n, expr: "CASE WHEN " + age + " < 18 THEN '0–17' WHEN " + age + " < 45 THEN '18–44' WHEN " + age +
			" < 65 THEN '45–64' ELSE '65+' END", person: true}, nil
	case "birth_decade":
		return variable{Name: n, expr: s.d.cast("floor(p.year_of_birth / 10) * 10", "BIGINT"), person: true, decade: true}, nil
	}
	if ev == nil {
		return variable{}, datasets.Errorf("cannot group persons by %q (use %s)", clip(name, 60), strings.Join(personVars, ", "))
	}
	t := s.table(ev.Table)
	fn := ""
	if inner, ok := strings.CutPrefix(n, "year("); ok && strings.HasSuffix(inner, ")") {
		fn, n = "year", strings.TrimSuffix(inner, ")")
	}
	if n == "year" {
		fn, n = "year", dateColumn(t)
		if n == "" {
			return variable{}, datasets.Errorf("table %s has no date column for year", t.Name)
		}
	}
	c, err := s.column(t, n)
	if err != nil {
		return variable{}, err
	}
	if fn == "year" {
		if c.Type != "DATE" && !strings.HasPrefix(c.Type, "TIMESTAMP") {
			return variable{}, datasets.Errorf("year(%s): not a date column", c.Name)
		}
		return variable{Name: "year(" + c.Name + ")", expr: s.d.year("x." + quoteIdent(c.Name))}, nil
	}
	switch {
	case c.Concept:
		return variable{Name: c.Name, expr: "x." + quoteIdent(c.Name), concept: true}, nil
	case c.Type == "DATE" || strings.HasPrefix(c.Type, "TIMESTAMP"):
		return variable{}, datasets.Errorf("cannot group by the date %s: use year(%s)", c.Name, c.Name)
	case c.Type == "DOUBLE" || c.Type == "FLOAT" || strings.HasPrefix(c.Type, "DECIMAL"):
		return variable{}, datasets.Errorf("cannot group by the measured value %s: summarise it with stats.Describe or plot.Histogram", c.Name)
	}
	return variable{Name: c.Name, expr: "x." + quoteIdent(c.Name), numeric: c.Type != "VARCHAR"}, nil
}

// numericExpr resolves a numeric column of a handle for summaries: an
// events table column, or "age" for any handle.
func (s *Server) numericExpr(h *handle, col, at string) (string, string, error) {
	n := strings.ToLower(strings.TrimSpace(col))
	if n == "age" {
		return s.ageExpr("p", at), "age", nil
	}
	if h.events == nil {
		return "", "", datasets.Errorf("a cohort has no column %q: summarise \"age\", or an events handle's column", clip(col, 60))
	}
	t := s.table(h.events.Table)
	c, err := s.column(t, n)
	if err != nil {
		return "", "", err
	}
	switch c.Type {
	case "INTEGER", "BIGINT", "DOUBLE", "FLOAT", "SMALLINT", "HUGEINT":
	default:
		if !strings.HasPrefix(c.Type, "DECIMAL") {
			return "", "", datasets.Errorf("column %s is not numeric (%s)", c.Name, strings.ToLower(c.Type))
		}
	}
	if c.Concept {
		return "", "", datasets.Errorf("column %s holds concept ids, not quantities", c.Name)
	}
	return s.d.cast("x."+quoteIdent(c.Name), "DOUBLE"), c.Name, nil
}

// label renders a group value of v.
func (s *Server) label(ctx context.Context, v variable, val any) string {
	if val == nil {
		return "Unknown"
	}
	switch x := val.(type) {
	case int64:
		if v.concept {
			if x == 0 {
				return "No matching concept"
			}
			names, err := s.conceptNames(ctx, []int64{x})
			if err == nil && names[x] != "" {
				return names[x]
			}
			return fmt.Sprintf("concept %d", x)
		}
		if v.decade {
			return fmt.Sprintf("%d–%d", x, x+9)
		}
		return fmt.Sprint(x)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return label(s, ctx, v, int64(x))
		}
		return fmt.Sprint(x)
	case time.Time:
		return x.Format("2006-01-02")
	case string:
		return x
	case bool:
		return fmt.Sprint(x)
	}
	return fmt.Sprint(val)
}

func label(s *Server, ctx context.Context, v variable, x int64) string { return s.label(ctx, v, x) }

// normaliseKey maps driver values to int64, float64, string, bool or nil
// (dates as YYYY-MM-DD).
func normaliseKey(v any) any {
	x := omop.Normalise(v)
	if t, ok := x.(time.Time); ok {
		return t.Format("2006-01-02")
	}
	return x
}
