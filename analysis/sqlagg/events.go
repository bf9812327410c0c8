package sqlagg

import (
	"encoding/json"
	"slices"
	"strings"
)

// EventRows says that a query reads, in each group, every row of one
// table whose concept column holds one of Concepts, of the group's persons:
// the rows an analysis-API events handle reads (omop.Measurements(C)).
// A %sql median of HbA1c and a stats.Describe of the HbA1c handle then
// read the same rows of the same persons, and the release rules may take
// them for one statistic rather than for two over other rows (which hid
// the Describe that followed a checking %sql query, review 56).
//
// Only one shape qualifies: FROM the table alone or inner-joined to person
// on person_id; WHERE the table's concept column equal to a constant or IN
// a list of them, and optionally IS NOT NULL tests of the table's columns,
// all ANDed; GROUP BY person columns only (or nothing); no CTE, SAMPLE or
// QUALIFY.
type EventRows struct {
	Table         string
	ConceptColumn string // the column the concepts were compared with
	Concepts      []int64
	// NotNull is the table's columns the WHERE requires to be set: a
	// statistic of another column reads fewer rows than the handle's.
	NotNull []string
	alias   string // the table's name in the query
	person  string // the person table's, if joined
	// tables are the schema's columns by table: an unqualified name in a
	// join with person is the one table's that has it (JOIN person USING
	// (person_id) … GROUP BY gender_concept_id, review 62).
	tables map[string][]string
}

// has reports whether table t has column c.
func (e *EventRows) has(t, c string) bool {
	return slices.ContainsFunc(e.tables[t], func(x string) bool { return strings.EqualFold(x, c) })
}

// Reads reports whether an aggregate whose argument is arg (a Part's Arg,
// "" for count(*)) reads every row the events handle reads of a column of
// the table, and which column ("" for count(*)).
func (e *EventRows) Reads(arg string) (column string, ok bool) {
	if e == nil {
		return "", false
	}
	if arg == "" {
		return "", len(e.NotNull) == 0
	}
	m, err := decode(arg)
	if err != nil {
		return "", false
	}
	col, ok := e.column(asMap(m))
	if !ok || col == "person_id" {
		return "", false
	}
	for _, nn := range e.NotNull {
		if nn != col {
			return "", false
		}
	}
	return col, true
}

// column is the column of the events table that a COLUMN_REF names.
func (e *EventRows) column(m map[string]any) (string, bool) {
	if str(m, "class") != "COLUMN_REF" {
		return "", false
	}
	var names []string
	for _, n := range arr(m, "column_names") {
		s, _ := n.(string)
		names = append(names, strings.ToLower(s))
	}
	switch {
	case len(names) == 2 && names[0] == e.alias:
		return names[1], true
	case len(names) == 1 && e.person == "":
		return names[0], true
	case len(names) == 1 && e.has(e.Table, names[0]) && !e.has("person", names[0]):
		return names[0], true
	}
	return "", false
}

// eventRows recognises the one shape of EventRows in a checked SELECT node.
func eventRows(node map[string]any, tables map[string][]string) *EventRows {
	if str(node, "type") != "SELECT_NODE" || node["sample"] != nil || node["qualify"] != nil {
		return nil
	}
	if ctes := arr(obj(node, "cte_map"), "map"); len(ctes) > 0 {
		return nil
	}
	e := &EventRows{tables: tables}
	if !e.from(obj(node, "from_table")) {
		return nil
	}
	if !e.where(asMap(node["where_clause"])) || len(e.Concepts) == 0 {
		return nil
	}
	sel := arr(node, "select_list")
	for _, g := range arr(node, "group_expressions") {
		gm := asMap(g)
		if str(gm, "class") == "CONSTANT" { // GROUP BY 1: the first select item
			k, ok := intConstant(gm)
			if !ok || k < 1 || int(k) > len(sel) {
				return nil
			}
			gm = asMap(sel[k-1])
		}
		if !e.personColumn(gm) {
			return nil
		}
	}
	return e
}

// from reads FROM table [alias] or FROM table JOIN person ON the two
// person_ids (either order, or USING (person_id)).
func (e *EventRows) from(f map[string]any) bool {
	base := func(t map[string]any) (name, alias string, ok bool) {
		if str(t, "type") != "BASE_TABLE" || str(t, "schema_name") != "" || str(t, "catalog_name") != "" {
			return "", "", false
		}
		name = strings.ToLower(str(t, "table_name"))
		alias = strings.ToLower(str(t, "alias"))
		if alias == "" {
			alias = name
		}
		return name, alias, true
	}
	if str(f, "type") == "BASE_TABLE" {
		name, alias, ok := base(f)
		if !ok || name == "person" {
			return false
		}
		e.Table, e.alias = name, alias
		return true
	}
	if str(f, "type") != "JOIN" || str(f, "join_type") != "INNER" || str(f, "ref_type") != "REGULAR" {
		return false
	}
	ln, la, lok := base(obj(f, "left"))
	rn, ra, rok := base(obj(f, "right"))
	if !lok || !rok {
		return false
	}
	switch {
	case rn == "person" && ln != "person":
		e.Table, e.alias, e.person = ln, la, ra
	case ln == "person" && rn != "person":
		e.Table, e.alias, e.person = rn, ra, la
	default:
		return false
	}
	if using := arr(f, "using_columns"); len(using) > 0 {
		s, _ := using[0].(string)
		return len(using) == 1 && strings.EqualFold(s, "person_id") && f["condition"] == nil
	}
	c := obj(f, "condition")
	if str(c, "type") != "COMPARE_EQUAL" {
		return false
	}
	sides := []string{qualified(obj(c, "left")), qualified(obj(c, "right"))}
	slices.Sort(sides)
	want := []string{e.alias + ".person_id", e.person + ".person_id"}
	slices.Sort(want)
	return slices.Equal(sides, want)
}

// qualified is a two-part COLUMN_REF as alias.column, lower case.
func qualified(m map[string]any) string {
	names := arr(m, "column_names")
	if str(m, "class") != "COLUMN_REF" || len(names) != 2 {
		return ""
	}
	a, _ := names[0].(string)
	c, _ := names[1].(string)
	return strings.ToLower(a + "." + c)
}

// where reads the WHERE clause: concept tests and IS NOT NULL tests,
// ANDed (each may be wrapped in the guard's TRY).
func (e *EventRows) where(w map[string]any) bool {
	if w == nil {
		return true
	}
	w = unwrapTry(w)
	if str(w, "type") == "CONJUNCTION_AND" {
		for _, ch := range arr(w, "children") {
			if !e.where(asMap(ch)) {
				return false
			}
		}
		return true
	}
	switch str(w, "type") {
	case "COMPARE_EQUAL":
		l, r := asMap(w["left"]), asMap(w["right"])
		if str(l, "class") == "CONSTANT" {
			l, r = r, l
		}
		return e.concepts(l, []any{r})
	case "COMPARE_IN":
		ch := arr(w, "children")
		return len(ch) >= 2 && e.concepts(asMap(ch[0]), ch[1:])
	case "OPERATOR_IS_NOT_NULL":
		ch := arr(w, "children")
		if len(ch) != 1 {
			return false
		}
		col, ok := e.column(asMap(ch[0]))
		if ok {
			e.NotNull = append(e.NotNull, col)
		}
		return ok
	}
	return false
}

// concepts reads col = const or col IN (consts) over one concept column.
func (e *EventRows) concepts(col map[string]any, vals []any) bool {
	name, ok := e.column(col)
	// One concept test only: c IN (1, 2) AND c = 1 reads concept 1's rows
	// alone, not those of both.
	if !ok || !strings.HasSuffix(name, "_concept_id") || e.ConceptColumn != "" {
		return false
	}
	e.ConceptColumn = name
	for _, v := range vals {
		id, ok := intConstant(asMap(v))
		if !ok {
			return false
		}
		if !slices.Contains(e.Concepts, id) { // IN (c, c) is IN (c)
			e.Concepts = append(e.Concepts, id)
		}
	}
	return true
}

// personColumn reports whether m names a column of the joined person
// table.
func (e *EventRows) personColumn(m map[string]any) bool {
	names := arr(m, "column_names")
	if e.person == "" || str(m, "class") != "COLUMN_REF" {
		return false
	}
	a, _ := names[0].(string)
	switch len(names) {
	case 1:
		return e.has("person", a) && !e.has(e.Table, a)
	case 2:
		return strings.EqualFold(a, e.person)
	}
	return false
}

// unwrapTry looks through the guard's TRY around an expression.
func unwrapTry(m map[string]any) map[string]any {
	for str(m, "type") == "OPERATOR_TRY" {
		ch := arr(m, "children")
		if len(ch) != 1 {
			return m
		}
		m = asMap(ch[0])
	}
	return m
}

// intConstant reads an integer VALUE_CONSTANT.
func intConstant(m map[string]any) (int64, bool) {
	if str(m, "class") != "CONSTANT" {
		return 0, false
	}
	v := obj(m, "value")
	if b, _ := v["is_null"].(bool); b {
		return 0, false
	}
	switch id := str(obj(v, "type"), "id"); id {
	case "INTEGER", "BIGINT", "SMALLINT", "TINYINT":
	default:
		return 0, false
	}
	switch x := v["value"].(type) {
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case float64:
		if x == float64(int64(x)) {
			return int64(x), true
		}
	case int64:
		return x, true
	}
	return 0, false
}
