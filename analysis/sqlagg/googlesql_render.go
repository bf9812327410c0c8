package sqlagg

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The renderer writes a checked, guarded and extended DuckDB parse tree as
// GoogleSQL with DuckDB's meaning, so that a query gives the same cells on
// both backends:
//
//   - every function that can raise on a value is written in its total
//     form (SAFE_ADD, SAFE_DIVIDE, SAFE.LN, SAFE_CAST…): DuckDB's TRY(x),
//     which the guard puts around every scalar expression that reads data,
//     is then x itself; DuckDB's x / 0 is NULL, as SAFE_DIVIDE's;
//   - least/greatest skip NULLs as DuckDB's do (GoogleSQL's give NULL);
//   - an aggregate's FILTER (WHERE c) becomes IF(c, x, NULL) in its
//     arguments (COUNTIF(c) for count(*)), DuckDB's list() ARRAY_AGG(…
//     IGNORE NULLS) and max(x, n) the n largest values as an array;
//   - ORDER BY writes DuckDB's default NULLS LAST, GROUP BY ALL the
//     positions of the items without aggregates;
//   - tier tables are written as the dataset's tables, names in
//     backquotes, text constants as escaped ASCII literals and numbers as
//     parsed.
//
// A node, function or type it does not know is refused with a
// *RefusalError that names it and lists what is rendered: never passed
// through as text.

type renderer struct {
	g    *GoogleSQL
	cat  *funcCatalog
	ctes []map[string]bool // CTE names in scope, innermost last
}

// renderGoogle writes the statement root as GoogleSQL.
func renderGoogle(root map[string]any, g *GoogleSQL, cat *funcCatalog) (string, error) {
	st := firstStatement(root)
	if st == nil {
		return "", refuse("statement", "the query has no statement; %s", acceptedShape)
	}
	r := &renderer{g: g, cat: cat}
	return r.node(obj(st, "node"))
}

const renderedFunctions = "count, countif, sum, avg, min, max, stddev(_samp/_pop), var(_samp/_pop), any_value, logical_and/or; " +
	"abs, round, ceil, floor, sqrt, ln, log10, exp, pow, sign, mod, div, least, greatest, coalesce, ifnull, nullif, " +
	"EXTRACT(YEAR|QUARTER|MONTH|DAY FROM …), DATE_DIFF(a, b, DAY|MONTH|QUARTER|YEAR), SAFE_DIVIDE, SAFE_CAST, " +
	"upper, lower, length, trim, concat, LIKE, CASE, IN, BETWEEN, IS NULL"

func notRendered(what string) error {
	return refuse("googlesql", "%s is not accepted on a BigQuery workspace; %%sql there renders: %s", what, renderedFunctions)
}

// node writes a query node (SELECT, set operation) with its WITH list.
func (r *renderer) node(n map[string]any) (string, error) {
	var b strings.Builder
	names := map[string]bool{}
	entries := arr(obj(n, "cte_map"), "map")
	if len(entries) > 0 {
		b.WriteString("WITH ")
		r.ctes = append(r.ctes, names)
		defer func() { r.ctes = r.ctes[:len(r.ctes)-1] }()
		for i, e := range entries {
			em := asMap(e)
			body, err := r.node(obj(obj(obj(em, "value"), "query"), "node"))
			if err != nil {
				return "", err
			}
			if i > 0 {
				b.WriteString(", ")
			}
			key := str(em, "key")
			b.WriteString(ident(key) + " AS (" + body + ")")
			names[strings.ToLower(key)] = true // later CTEs see it
		}
		b.WriteByte(' ')
	}
	var body string
	var err error
	switch str(n, "type") {
	case "SELECT_NODE":
		body, err = r.selectNode(n)
	case "SET_OPERATION_NODE":
		body, err = r.setOp(n)
	default:
		return "", notRendered("this query form")
	}
	if err != nil {
		return "", err
	}
	b.WriteString(body)
	return b.String(), nil
}

func (r *renderer) setOp(n map[string]any) (string, error) {
	var op string
	switch str(n, "setop_type") {
	case "UNION", "UNION_BY_NAME":
		if str(n, "setop_type") == "UNION_BY_NAME" {
			return "", notRendered("UNION BY NAME")
		}
		op = "UNION DISTINCT"
		if flag(n, "setop_all") {
			op = "UNION ALL"
		}
	case "EXCEPT":
		op = "EXCEPT DISTINCT"
	case "INTERSECT":
		op = "INTERSECT DISTINCT"
	default:
		return "", notRendered("this set operation")
	}
	if flag(n, "setop_all") && op != "UNION ALL" {
		return "", notRendered("EXCEPT ALL / INTERSECT ALL")
	}
	var branches []map[string]any
	for _, k := range []string{"left", "right"} {
		if b := obj(n, k); b != nil {
			branches = append(branches, b)
		}
	}
	for _, c := range arr(n, "children") {
		branches = append(branches, asMap(c))
	}
	parts := make([]string, len(branches))
	for i, b := range branches {
		s, err := r.node(b)
		if err != nil {
			return "", err
		}
		parts[i] = "(" + s + ")"
	}
	out := strings.Join(parts, " "+op+" ")
	mods, err := r.modifiers(n, nil)
	if err != nil {
		return "", err
	}
	if mods != "" {
		out = "SELECT * FROM (" + out + ")" + mods
	}
	return out, nil
}

func (r *renderer) selectNode(n map[string]any) (string, error) {
	var b strings.Builder
	b.WriteString("SELECT ")
	for _, mv := range arr(n, "modifiers") {
		if m := asMap(mv); str(m, "type") == "DISTINCT_MODIFIER" {
			if len(arr(m, "distinct_on_targets")) > 0 {
				return "", notRendered("DISTINCT ON")
			}
			b.WriteString("DISTINCT ")
		}
	}
	if n["sample"] != nil || n["qualify"] != nil {
		return "", notRendered("this SELECT form")
	}
	sel := arr(n, "select_list")
	for i, it := range sel {
		if i > 0 {
			b.WriteString(", ")
		}
		m := asMap(it)
		s, err := r.expr(m)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
		if a := str(m, "alias"); a != "" {
			b.WriteString(" AS " + ident(a))
		}
	}
	if from := obj(n, "from_table"); from != nil && str(from, "type") != "EMPTY" {
		s, err := r.table(from)
		if err != nil {
			return "", err
		}
		b.WriteString(" FROM " + s)
	}
	if w := n["where_clause"]; w != nil {
		s, err := r.expr(asMap(w))
		if err != nil {
			return "", err
		}
		b.WriteString(" WHERE " + s)
	}
	groups := arr(n, "group_expressions")
	switch {
	case str(n, "aggregate_handling") == "FORCE_AGGREGATES":
		// GROUP BY ALL: the items without aggregates, by position.
		var pos []string
		for i, it := range sel {
			if !r.hasAggregate(it) {
				pos = append(pos, strconv.Itoa(i+1))
			}
		}
		if len(pos) > 0 {
			b.WriteString(" GROUP BY " + strings.Join(pos, ", "))
		}
	case len(groups) > 0:
		sets := arr(n, "group_sets")
		if len(sets) > 1 || (len(sets) == 1 && len(asSlice(sets[0])) != len(groups)) {
			return "", notRendered("GROUPING SETS, ROLLUP and CUBE")
		}
		parts := make([]string, len(groups))
		for i, g := range groups {
			s, err := r.positional(asMap(g))
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		b.WriteString(" GROUP BY " + strings.Join(parts, ", "))
	}
	if h := n["having"]; h != nil {
		s, err := r.expr(asMap(h))
		if err != nil {
			return "", err
		}
		b.WriteString(" HAVING " + s)
	}
	mods, err := r.modifiers(n, sel)
	if err != nil {
		return "", err
	}
	b.WriteString(mods)
	return b.String(), nil
}

// positional writes a GROUP BY or ORDER BY expression: an integer constant
// is a select position there, written as such.
func (r *renderer) positional(m map[string]any) (string, error) {
	if str(m, "class") == "CONSTANT" {
		if p, ok := asInt(obj(m, "value")["value"]); ok && str(obj(obj(m, "value"), "type"), "id") != "VARCHAR" {
			return strconv.Itoa(p), nil
		}
	}
	return r.expr(m)
}

func (r *renderer) modifiers(n map[string]any, sel []any) (string, error) {
	var order, limit string
	for _, mv := range arr(n, "modifiers") {
		m := asMap(mv)
		switch str(m, "type") {
		case "DISTINCT_MODIFIER":
		case "ORDER_MODIFIER":
			var parts []string
			for _, o := range arr(m, "orders") {
				om := asMap(o)
				s, err := r.positional(obj(om, "expression"))
				if err != nil {
					return "", err
				}
				dir := " ASC"
				if str(om, "type") == "DESCENDING" {
					dir = " DESC"
				}
				nulls := " NULLS LAST" // DuckDB's default
				if str(om, "null_order") == "NULLS_FIRST" {
					nulls = " NULLS FIRST"
				}
				parts = append(parts, s+dir+nulls)
			}
			if len(parts) > 0 {
				order = " ORDER BY " + strings.Join(parts, ", ")
			}
		case "LIMIT_MODIFIER":
			for _, k := range []string{"limit", "offset"} {
				v := m[k]
				if v == nil {
					continue
				}
				p, ok := asInt(obj(asMap(v), "value")["value"])
				if str(asMap(v), "class") != "CONSTANT" || !ok || p < 0 {
					return "", notRendered("LIMIT or OFFSET other than a whole number")
				}
				if k == "limit" {
					limit += " LIMIT " + strconv.Itoa(p)
				} else {
					if limit == "" {
						limit = " LIMIT 9223372036854775807"
					}
					limit += " OFFSET " + strconv.Itoa(p)
				}
			}
		default:
			return "", notRendered("this query modifier")
		}
	}
	return order + limit, nil
}

// hasAggregate reports an aggregate call in v outside nested subqueries.
func (r *renderer) hasAggregate(v any) bool {
	return findNode(v, func(m map[string]any) (bool, bool) {
		if str(m, "class") == "SUBQUERY" {
			return false, true
		}
		return isAggregateCall(r.cat, m), false
	})
}

func (r *renderer) isCTE(name string) bool {
	for _, s := range r.ctes {
		if s[strings.ToLower(name)] {
			return true
		}
	}
	return false
}

func (r *renderer) table(t map[string]any) (string, error) {
	switch str(t, "type") {
	case "BASE_TABLE":
		name := str(t, "table_name")
		alias := str(t, "alias")
		if alias == "" {
			alias = name
		}
		if r.isCTE(name) {
			return ident(name) + " AS " + ident(alias), nil
		}
		return r.g.Table(strings.ToLower(name)) + " AS " + ident(alias), nil
	case "SUBQUERY":
		s, err := r.node(obj(obj(t, "subquery"), "node"))
		if err != nil {
			return "", err
		}
		out := "(" + s + ")"
		if a := str(t, "alias"); a != "" {
			out += " AS " + ident(a)
		}
		return out, nil
	case "JOIN":
		l, err := r.table(obj(t, "left"))
		if err != nil {
			return "", err
		}
		rt, err := r.table(obj(t, "right"))
		if err != nil {
			return "", err
		}
		if str(obj(t, "right"), "type") == "JOIN" {
			rt = "(" + rt + ")"
		}
		if str(t, "ref_type") == "CROSS" {
			return l + " CROSS JOIN " + rt, nil
		}
		if rtype := str(t, "ref_type"); rtype != "REGULAR" && rtype != "" {
			return "", notRendered(strings.ToLower(SanitizeMessage(rtype)) + " joins")
		}
		var kw string
		switch str(t, "join_type") {
		case "INNER":
			kw = " JOIN "
		case "LEFT":
			kw = " LEFT JOIN "
		case "RIGHT":
			kw = " RIGHT JOIN "
		case "OUTER", "FULL":
			kw = " FULL JOIN "
		default:
			return "", notRendered("SEMI and ANTI joins (use IN (SELECT …) or EXISTS)")
		}
		out := l + kw + rt
		if us := arr(t, "using_columns"); len(us) > 0 {
			cols := make([]string, len(us))
			for i, u := range us {
				s, _ := u.(string)
				cols[i] = ident(s)
			}
			return out + " USING (" + strings.Join(cols, ", ") + ")", nil
		}
		c := t["condition"]
		if c == nil {
			return "", notRendered("a JOIN without ON or USING")
		}
		s, err := r.expr(asMap(c))
		if err != nil {
			return "", err
		}
		return out + " ON " + s, nil
	}
	return "", notRendered("this kind of FROM item")
}

var comparisons = map[string]string{
	"COMPARE_EQUAL": "=", "COMPARE_NOTEQUAL": "<>", "COMPARE_LESSTHAN": "<", "COMPARE_GREATERTHAN": ">",
	"COMPARE_LESSTHANOREQUALTO": "<=", "COMPARE_GREATERTHANOREQUALTO": ">=",
	"COMPARE_DISTINCT_FROM": "IS DISTINCT FROM", "COMPARE_NOT_DISTINCT_FROM": "IS NOT DISTINCT FROM",
}

func (r *renderer) exprs(list []any) ([]string, error) {
	out := make([]string, len(list))
	for i, v := range list {
		s, err := r.expr(asMap(v))
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

func (r *renderer) expr(m map[string]any) (string, error) {
	if m == nil {
		return "", notRendered("an empty expression")
	}
	switch str(m, "class") {
	case "COLUMN_REF":
		names := arr(m, "column_names")
		parts := make([]string, len(names))
		for i, n := range names {
			s, _ := n.(string)
			parts[i] = ident(s)
		}
		return strings.Join(parts, "."), nil
	case "CONSTANT":
		return constant(obj(m, "value"))
	case "STAR":
		return "*", nil
	case "CAST":
		if str(obj(m, "cast_type"), "id") == "BOOLEAN" {
			// TRUE and FALSE parse as CAST('t' AS BOOLEAN), which
			// GoogleSQL does not read.
			if s, ok := constString(m["child"]); ok {
				switch strings.ToLower(s) {
				case "t", "true", "y", "yes", "1":
					return "TRUE", nil
				case "f", "false", "n", "no", "0":
					return "FALSE", nil
				}
			}
		}
		child, err := r.expr(asMap(m["child"]))
		if err != nil {
			return "", err
		}
		t, err := castType(obj(m, "cast_type"))
		if err != nil {
			return "", err
		}
		if flag(m, "try_cast") || readsData(r.cat, m["child"]) {
			return "SAFE_CAST(" + child + " AS " + t + ")", nil
		}
		return "CAST(" + child + " AS " + t + ")", nil
	case "COMPARISON":
		op := comparisons[str(m, "type")]
		if op == "" {
			return "", notRendered("this comparison")
		}
		l, err := r.expr(obj(m, "left"))
		if err != nil {
			return "", err
		}
		rt, err := r.expr(obj(m, "right"))
		if err != nil {
			return "", err
		}
		return "(" + l + " " + op + " " + rt + ")", nil
	case "CONJUNCTION":
		parts, err := r.exprs(arr(m, "children"))
		if err != nil {
			return "", err
		}
		op := " AND "
		if str(m, "type") == "CONJUNCTION_OR" {
			op = " OR "
		}
		return "(" + strings.Join(parts, op) + ")", nil
	case "BETWEEN":
		parts, err := r.exprs([]any{m["input"], m["lower"], m["upper"]})
		if err != nil {
			return "", err
		}
		return "(" + parts[0] + " BETWEEN " + parts[1] + " AND " + parts[2] + ")", nil
	case "CASE":
		var b strings.Builder
		b.WriteString("CASE")
		for _, c := range arr(m, "case_checks") {
			cm := asMap(c)
			parts, err := r.exprs([]any{cm["when_expr"], cm["then_expr"]})
			if err != nil {
				return "", err
			}
			b.WriteString(" WHEN " + parts[0] + " THEN " + parts[1])
		}
		if e := m["else_expr"]; e != nil {
			s, err := r.expr(asMap(e))
			if err != nil {
				return "", err
			}
			b.WriteString(" ELSE " + s)
		}
		b.WriteString(" END")
		return b.String(), nil
	case "OPERATOR":
		return r.operator(m)
	case "SUBQUERY":
		return r.subquery(m)
	case "FUNCTION":
		return r.function(m)
	}
	return "", notRendered("this kind of expression (" + strings.ToLower(SanitizeMessage(str(m, "class"))) + ")")
}

func (r *renderer) operator(m map[string]any) (string, error) {
	parts, err := r.exprs(arr(m, "children"))
	if err != nil {
		return "", err
	}
	one := len(parts) == 1
	switch str(m, "type") {
	case "OPERATOR_TRY":
		// Everything below is written in its total form.
		if one {
			return parts[0], nil
		}
	case "OPERATOR_NOT":
		if one {
			return "(NOT " + parts[0] + ")", nil
		}
	case "OPERATOR_IS_NULL":
		if one {
			return "(" + parts[0] + " IS NULL)", nil
		}
	case "OPERATOR_IS_NOT_NULL":
		if one {
			return "(" + parts[0] + " IS NOT NULL)", nil
		}
	case "COMPARE_IN", "COMPARE_NOT_IN":
		if len(parts) < 2 {
			break
		}
		op := " IN ("
		if str(m, "type") == "COMPARE_NOT_IN" {
			op = " NOT IN ("
		}
		return "(" + parts[0] + op + strings.Join(parts[1:], ", ") + "))", nil
	case "OPERATOR_COALESCE":
		return "COALESCE(" + strings.Join(parts, ", ") + ")", nil
	}
	return "", notRendered("this operator (" + strings.ToLower(SanitizeMessage(str(m, "type"))) + ")")
}

func (r *renderer) subquery(m map[string]any) (string, error) {
	q, err := r.node(obj(obj(m, "subquery"), "node"))
	if err != nil {
		return "", err
	}
	switch str(m, "subquery_type") {
	case "EXISTS":
		return "EXISTS (" + q + ")", nil
	case "NOT_EXISTS":
		return "(NOT EXISTS (" + q + "))", nil
	case "ANY":
		if str(m, "comparison_type") != "COMPARE_EQUAL" {
			break
		}
		child, err := r.expr(obj(m, "child"))
		if err != nil {
			return "", err
		}
		return "(" + child + " IN (" + q + "))", nil
	}
	return "", notRendered("this kind of subquery (use … IN (SELECT …) or EXISTS (…))")
}

// safeScalars are DuckDB scalar functions written as the GoogleSQL
// function of the same meaning, SAFE. where it can raise.
var safeScalars = map[string]string{
	"abs": "SAFE.ABS", "sqrt": "SAFE.SQRT", "ln": "SAFE.LN", "log10": "SAFE.LOG10", "log": "SAFE.LOG10",
	"exp": "SAFE.EXP", "pow": "SAFE.POW", "power": "SAFE.POW", "mod": "SAFE.MOD", "sign": "SIGN",
	"round": "SAFE.ROUND", "ceil": "SAFE.CEIL", "ceiling": "SAFE.CEIL", "floor": "SAFE.FLOOR",
	"upper": "UPPER", "lower": "LOWER", "length": "LENGTH", "trim": "TRIM", "concat": "CONCAT",
	"nullif": "NULLIF", "ifnull": "IFNULL",
}

// simpleAggs are DuckDB aggregates written as the GoogleSQL one.
var simpleAggs = map[string]string{
	"count": "COUNT", "sum": "SUM", "avg": "AVG", "mean": "AVG", "favg": "AVG", "fsum": "SUM",
	"min": "MIN", "max": "MAX",
	"stddev": "STDDEV_SAMP", "stddev_samp": "STDDEV_SAMP", "stddev_pop": "STDDEV_POP",
	"variance": "VAR_SAMP", "var_samp": "VAR_SAMP", "var_pop": "VAR_POP",
	"any_value": "ANY_VALUE", "arbitrary": "ANY_VALUE", "bool_and": "LOGICAL_AND", "bool_or": "LOGICAL_OR",
}

var extractParts = map[string]string{"year": "YEAR", "quarter": "QUARTER", "month": "MONTH", "day": "DAY"}

func (r *renderer) function(m map[string]any) (string, error) {
	name := strings.ToLower(str(m, "function_name"))
	if flag(m, "is_operator") {
		return r.arith(name, m)
	}
	if r.cat.isAggregate(name) {
		return r.aggregate(name, m)
	}
	if m["filter"] != nil || len(arr(obj(m, "order_bys"), "orders")) > 0 || flag(m, "distinct") {
		return "", notRendered("this function form")
	}
	ch := arr(m, "children")
	args, err := r.exprs(ch)
	if err != nil {
		return "", err
	}
	switch name {
	case "year", "quarter", "month", "day":
		if len(args) == 1 {
			return "EXTRACT(" + extractParts[name] + " FROM " + args[0] + ")", nil
		}
	case "date_part", "datepart":
		if p, ok := constString(ch[0]); ok && len(args) == 2 && extractParts[strings.ToLower(p)] != "" {
			return "EXTRACT(" + extractParts[strings.ToLower(p)] + " FROM " + args[1] + ")", nil
		}
		return "", notRendered("EXTRACT of a part other than YEAR, QUARTER, MONTH, DAY")
	case "date_diff", "datediff":
		// date_diff('part', start, end) counts the part's boundaries
		// from start to end, as DATE_DIFF(end, start, PART) does.
		if p, ok := constString(ch[0]); ok && len(args) == 3 && datePartNames[strings.ToLower(p)] {
			return "DATE_DIFF(DATE(" + args[2] + "), DATE(" + args[1] + "), " + extractParts[strings.ToLower(p)] + ")", nil
		}
		return "", notRendered("DATE_DIFF by a part other than DAY, MONTH, QUARTER, YEAR")
	case "least", "greatest":
		// DuckDB's skip NULLs; GoogleSQL's give NULL if any is NULL.
		rot := make([]string, len(args))
		for i := range args {
			rot[i] = "COALESCE(" + strings.Join(append(append([]string{}, args[i:]...), args[:i]...), ", ") + ")"
		}
		if len(args) == 1 {
			rot[0] = args[0]
		}
		return strings.ToUpper(name) + "(" + strings.Join(rot, ", ") + ")", nil
	}
	if g, ok := safeScalars[name]; ok {
		return g + "(" + strings.Join(args, ", ") + ")", nil
	}
	return "", notRendered("function " + name)
}

// arith writes DuckDB's operators; arithmetic in its total form.
func (r *renderer) arith(name string, m map[string]any) (string, error) {
	args, err := r.exprs(arr(m, "children"))
	if err != nil {
		return "", err
	}
	if len(args) == 1 {
		switch name {
		case "-":
			return "SAFE_NEGATE(" + args[0] + ")", nil
		case "+":
			return args[0], nil
		}
	}
	if len(args) == 2 {
		switch name {
		case "+":
			return "SAFE_ADD(" + args[0] + ", " + args[1] + ")", nil
		case "-":
			return "SAFE_SUBTRACT(" + args[0] + ", " + args[1] + ")", nil
		case "*":
			return "SAFE_MULTIPLY(" + args[0] + ", " + args[1] + ")", nil
		case "/":
			return "SAFE_DIVIDE(" + args[0] + ", " + args[1] + ")", nil
		case "//":
			return "SAFE.DIV(" + args[0] + ", " + args[1] + ")", nil
		case "%":
			return "SAFE.MOD(" + args[0] + ", " + args[1] + ")", nil
		case "||":
			return "CONCAT(" + args[0] + ", " + args[1] + ")", nil
		case "~~":
			return "(" + args[0] + " LIKE " + args[1] + ")", nil
		case "!~~":
			return "(" + args[0] + " NOT LIKE " + args[1] + ")", nil
		}
	}
	return "", notRendered("operator " + SanitizeMessage(name))
}

func (r *renderer) aggregate(name string, m map[string]any) (string, error) {
	if len(arr(obj(m, "order_bys"), "orders")) > 0 {
		return "", notRendered("ORDER BY inside an aggregate")
	}
	ch := arr(m, "children")
	var filter string
	if f := m["filter"]; f != nil {
		s, err := r.expr(asMap(f))
		if err != nil {
			return "", err
		}
		filter = s
	}
	args, err := r.exprs(ch)
	if err != nil {
		return "", err
	}
	// FILTER (WHERE f) on an aggregate that skips NULLs: IF(f, x, NULL).
	filtered := func(x string) string {
		if filter == "" {
			return x
		}
		return "IF(" + filter + ", " + x + ", NULL)"
	}
	distinct := ""
	if flag(m, "distinct") {
		distinct = "DISTINCT "
	}
	switch name {
	case "count_star":
		args = nil
		fallthrough
	case "count":
		if len(args) == 0 {
			if filter != "" {
				return "COUNTIF(" + filter + ")", nil
			}
			return "COUNT(*)", nil
		}
	case "countif", "count_if":
		// DuckDB's count_if is NULL where no value is set (GoogleSQL's
		// COUNTIF is 0; it reaches here as coalesce(count_if(c), 0)).
		if len(args) == 1 {
			c := filtered(args[0])
			return "IF(COUNT(" + c + ") = 0, NULL, COUNTIF(" + c + "))", nil
		}
	case "list", "array_agg":
		if len(args) == 1 {
			return "ARRAY_AGG(" + distinct + filtered(args[0]) + " IGNORE NULLS)", nil
		}
	case "median", "quantile", "quantile_cont", "quantile_disc":
		return "", refuse("googlesql", "%s is not accepted on a BigQuery workspace: GoogleSQL has exact quantiles only as an analytic function (PERCENTILE_CONT … OVER), not as an aggregate; stats.Describe gives (smoothed) quartiles there", name)
	case "min", "max":
		if len(args) == 2 {
			// max(x, n): the n largest values, largest first.
			n, ok := asInt(obj(asMap(ch[1]), "value")["value"])
			if str(asMap(ch[1]), "class") != "CONSTANT" || !ok || n < 1 || distinct != "" {
				break
			}
			dir := " DESC"
			if name == "min" {
				dir = " ASC"
			}
			x := filtered(args[0])
			return "ARRAY_AGG(" + x + " IGNORE NULLS ORDER BY " + x + dir + " LIMIT " + strconv.Itoa(n) + ")", nil
		}
	}
	g, ok := simpleAggs[name]
	if !ok || len(args) != 1 {
		return "", notRendered("aggregate " + name)
	}
	return g + "(" + distinct + filtered(args[0]) + ")", nil
}

// castType names a DuckDB cast type in GoogleSQL.
func castType(t map[string]any) (string, error) {
	switch str(t, "id") {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER":
		return "INT64", nil
	case "DOUBLE", "FLOAT", "DECIMAL":
		return "FLOAT64", nil
	case "VARCHAR":
		return "STRING", nil
	case "BOOLEAN":
		return "BOOL", nil
	case "DATE":
		return "DATE", nil
	case "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_TZ":
		return "TIMESTAMP", nil
	}
	return "", notRendered("a cast to this type (INT64, FLOAT64, STRING, BOOL, DATE and TIMESTAMP are rendered)")
}

// constant writes a parsed constant as a GoogleSQL literal: numbers as
// parsed, text escaped to printable ASCII.
func constant(v map[string]any) (string, error) {
	if flag(v, "is_null") {
		return "NULL", nil
	}
	typ := obj(v, "type")
	switch id := str(typ, "id"); id {
	case "VARCHAR":
		s, ok := v["value"].(string)
		if !ok {
			break
		}
		return stringLiteral(s), nil
	case "BOOLEAN":
		b, ok := v["value"].(bool)
		if !ok {
			break
		}
		if b {
			return "TRUE", nil
		}
		return "FALSE", nil
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER":
		s, ok := numberText(v["value"])
		if _, err := strconv.ParseInt(s, 10, 64); !ok || err != nil {
			break
		}
		return s, nil
	case "DECIMAL":
		s, ok := numberText(v["value"])
		scale, sok := asInt(obj(typ, "type_info")["scale"])
		if _, err := strconv.ParseInt(s, 10, 64); !ok || !sok || err != nil || scale < 0 || scale > 38 {
			break
		}
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		for len(s) <= scale {
			s = "0" + s
		}
		if scale > 0 {
			s = s[:len(s)-scale] + "." + s[len(s)-scale:]
		} else {
			s += ".0"
		}
		if neg {
			s = "-" + s
		}
		return s, nil
	case "DOUBLE", "FLOAT":
		s, ok := numberText(v["value"])
		f, err := strconv.ParseFloat(s, 64)
		if !ok || err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			break
		}
		return strconv.FormatFloat(f, 'e', -1, 64), nil
	}
	return "", notRendered("a constant of this type")
}

// stringLiteral writes s as a GoogleSQL string literal of printable ASCII:
// every other byte sequence, the quote and the backslash as \U escapes.
func stringLiteral(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, c := range s {
		if c >= 0x20 && c < 0x7f && c != '\'' && c != '\\' {
			b.WriteRune(c)
			continue
		}
		fmt.Fprintf(&b, `\U%08x`, c)
	}
	b.WriteByte('\'')
	return b.String()
}

// ident writes a name in backquotes; a backquote or backslash in it is
// escaped, other bytes below space become \U escapes.
func ident(s string) string {
	var b strings.Builder
	b.WriteByte('`')
	for _, c := range s {
		if c >= 0x20 && c != '`' && c != '\\' && c != 0x7f {
			b.WriteRune(c)
			continue
		}
		fmt.Fprintf(&b, `\U%08x`, c)
	}
	b.WriteByte('`')
	return b.String()
}
