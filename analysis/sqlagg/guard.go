package sqlagg

import (
	"encoding/json"
	"strings"
)

// Whether a query fails is itself an answer: ln(x) fails if some row that
// reaches it has x ≤ 0, year_of_birth * 1000000 fails on an INTEGER
// overflow, a text column compared with a number fails on the first value
// that is not a number, count(*) * 4611686018427387904 fails when the count
// is 2 or more. A researcher who can aim such an expression at one person's
// rows learns one bit about them per query, and a suppressed count can be
// found by bisection. DuckDB raises such errors only while reading values,
// so the accepted query is rewritten before it runs to make every
// expression that reads data total:
//
//   - a scalar expression that reads a column and holds no aggregate is
//     wrapped in TRY(…), which gives NULL where it would raise; a NULL
//     condition is false and a NULL aggregate argument is skipped, as for
//     any missing value;
//   - a comparison (=, <, IN, BETWEEN) of a column whose type is text or
//     not known with a constant that is not text is wrapped too: DuckDB
//     converts the column's values to the constant's type, and that fails
//     on a value that does not convert. Other comparisons stay as written,
//     so joins on person_id and filters on concept ids keep their plans;
//   - an aggregate that is an operand of arithmetic (+ - * / // % abs) is
//     converted with TRY_CAST(… AS DOUBLE), which cannot overflow: the
//     result of count(*) - count(x) is then a DOUBLE.
//
// Errors that do not depend on the data (a bad constant, a wrong type)
// are raised when the query is bound, before any row is read, and are
// answered as before.
type guard struct {
	cat   *funcCatalog
	types map[string]string // column name → DuckDB type, upper case
}

// arithmetic names the operators whose operands are converted to DOUBLE
// when they are aggregates.
var arithmetic = map[string]bool{"+": true, "-": true, "*": true, "/": true, "//": true, "%": true, "abs": true}

// noLocation is the query_location DuckDB gives nodes it wrote itself.
var noLocation = json.Number("18446744073709551615")

// tree guards every expression in v, in place. v is any part of the
// parsed statement (query nodes, table refs, lists).
func (g *guard) tree(v any) {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(t) {
			t[k] = g.value(t[k])
		}
	case []any:
		for i := range t {
			t[i] = g.value(t[i])
		}
	}
}

// value returns v guarded: an expression is replaced by its guarded form,
// anything else is guarded inside.
func (g *guard) value(v any) any {
	if m, ok := v.(map[string]any); ok && m["class"] != nil {
		return g.expr(m)
	}
	g.tree(v)
	return v
}

// expr returns the guarded form of expression m: m itself (guarded
// inside) or a node that wraps it.
func (g *guard) expr(m map[string]any) any {
	switch str(m, "class") {
	case "COLUMN_REF", "CONSTANT", "STAR", "PARAMETER", "DEFAULT", "POSITIONAL_REFERENCE", "LAMBDA_REF":
		return m
	case "OPERATOR":
		if str(m, "type") == "OPERATOR_TRY" {
			return m // already total (or written by us)
		}
		if strings.HasSuffix(str(m, "type"), "_IN") && g.castRisk(arr(m, "children")) {
			return g.wrap(m, "")
		}
	case "COMPARISON":
		if g.castRisk([]any{m["left"], m["right"]}) {
			return g.wrap(m, "")
		}
	case "BETWEEN":
		if g.castRisk([]any{m["input"], m["lower"]}) || g.castRisk([]any{m["input"], m["upper"]}) {
			return g.wrap(m, "")
		}
	case "CAST":
		if !flag(m, "try_cast") && g.constant(m) {
			return m // checked once at check time (checkConstCasts)
		}
	case "FUNCTION":
		name := strings.ToLower(str(m, "function_name"))
		aggregate := !flag(m, "is_operator") && g.cat.isAggregate(name)
		switch {
		case aggregate:
			// Arguments and FILTER hold no aggregate: guarded below.
		case g.constant(m):
			return m
		case !g.hasAggregate(m) && !hasSubquery(m):
			return g.wrap(m, "")
		case arithmetic[name]:
			ch := arr(m, "children")
			for i, c := range ch {
				if cm, ok := c.(map[string]any); ok && g.isAggregateCall(cm) {
					g.tree(cm)
					ch[i] = g.wrap(cm, "DOUBLE")
				} else {
					ch[i] = g.value(c)
				}
			}
			return m
		}
	}
	g.tree(m)
	return m
}

// wrap returns TRY(m) (to == "") or TRY_CAST(m AS to), moving m's alias
// to the wrapper so that the select list keeps its column names.
func (g *guard) wrap(m map[string]any, to string) map[string]any {
	alias := m["alias"]
	m["alias"] = ""
	if alias == nil {
		alias = ""
	}
	if to != "" {
		return map[string]any{
			"class": "CAST", "type": "OPERATOR_CAST", "alias": alias, "query_location": noLocation,
			"child": m, "try_cast": true, "cast_type": map[string]any{"id": to, "type_info": nil},
		}
	}
	return map[string]any{
		"class": "OPERATOR", "type": "OPERATOR_TRY", "alias": alias, "query_location": noLocation,
		"children": []any{m},
	}
}

// castRisk reports operands among which a column of text (or unknown)
// type meets a constant that is not text.
func (g *guard) castRisk(ops []any) bool {
	column, constant := false, false
	for _, o := range ops {
		m := asMap(o)
		switch str(m, "class") {
		case "COLUMN_REF":
			names := lowerNames(m)
			if len(names) == 0 {
				column = true
				continue
			}
			switch g.types[names[len(names)-1]] {
			case "", "VARCHAR", "MIXED":
				column = true
			}
		case "CONSTANT":
			if str(obj(obj(m, "value"), "type"), "id") != "VARCHAR" {
				constant = true
			}
		case "CAST":
			if g.constant(m) {
				constant = true
			}
		}
	}
	return column && constant
}

// constant reports an expression that reads no data.
func (g *guard) constant(v any) bool { return !readsData(g.cat, v) }

func (g *guard) isAggregateCall(m map[string]any) bool { return isAggregateCall(g.cat, m) }

// hasAggregate reports an aggregate call or window in v outside nested
// subqueries.
func (g *guard) hasAggregate(v any) bool {
	return findNode(v, func(m map[string]any) (bool, bool) {
		if str(m, "class") == "SUBQUERY" {
			return false, true
		}
		return g.isAggregateCall(m) || str(m, "class") == "WINDOW", false
	})
}

// hasSubquery reports a subquery in v: TRY(…) may not hold one.
func hasSubquery(v any) bool {
	return findNode(v, func(m map[string]any) (bool, bool) { return str(m, "class") == "SUBQUERY", false })
}
