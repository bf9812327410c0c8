package sqlagg

import (
	"cmp"
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Messages shared by several rules. None of them echoes query text.
const (
	msgRowLevel = "row-level SQL is not released: every select item must be a GROUP BY column or an aggregate (count, sum, avg, stddev, median, quantile…)"
	msgIDUse    = "person_id and other *_id columns (except *_concept_id) identify persons or rows: they may only be used to join tables (a.person_id = b.person_id, USING (person_id)), in x.person_id IN (SELECT person_id …), in count(DISTINCT person_id), in IS [NOT] NULL, or passed unchanged through a subquery or CTE; filtering, grouping or computing on them is not accepted"
	msgGroupID  = "grouping by person_id or another *_id column (other than *_concept_id) identifies persons or rows and is not released; group by concepts, dates or demographics instead"
	msgTable    = "only the tier's own tables are accepted, unqualified (no table functions such as read_csv, read_parquet or glob, no duckdb_* or pragma_* functions, no information_schema, pg_catalog or sqlite_master, no other schemas or databases)"
	msgJoinRows = "join at most one table with several rows per person to others that have one: person, or a subquery or CTE grouped by person_id (SELECT person_id, min(…) … GROUP BY person_id); to keep the persons of another table, filter with person_id IN (SELECT person_id FROM …) or EXISTS"
	msgJoin     = "tables that hold person rows must be joined to each other on person_id (JOIN … ON a.person_id = b.person_id, or USING (person_id)); joining person data on other columns or as a cross join mixes different persons' values into one cell"
	msgSubAgg   = "inside subqueries and CTEs, data about persons may only be aggregated per person (GROUP BY person_id, in every grouping set); aggregate across persons in the outer SELECT"
	msgWindow   = "window functions (OVER, QUALIFY) are not accepted: they put other rows' values on each row; use GROUP BY aggregates"
)

type checker struct {
	tables     map[string]bool   // lower-case table name → holds person_id
	schemaCols map[string]bool   // every column name of the schema, lower-case
	relNames   map[string]bool   // every relation name/alias/CTE name in the query
	types      map[string]string // column name → type, where the schema says
	cat        *funcCatalog
	reload     func() (*funcCatalog, error)
	reloaded   bool
	// constCasts are the CASTs of constant expressions: they are run once
	// at check time (see checkConstCasts), so that one that fails is refused
	// whatever the data.
	constCasts []map[string]any
}

func newChecker(s Schema, cat *funcCatalog, reload func() (*funcCatalog, error)) *checker {
	c := &checker{
		tables:     map[string]bool{},
		schemaCols: map[string]bool{},
		relNames:   map[string]bool{},
		types:      map[string]string{},
		cat:        cat,
		reload:     reload,
	}
	for t, cols := range s.Tables {
		person := false
		for _, col := range cols {
			lc := strings.ToLower(col)
			c.schemaCols[lc] = true
			if lc == "person_id" {
				person = true
			}
		}
		c.tables[strings.ToLower(t)] = person
	}
	for col, typ := range s.Types {
		c.types[strings.ToLower(col)] = strings.ToUpper(typ)
	}
	return c
}

type topResult struct {
	node  map[string]any
	kinds []Kind
	tails []float64
	// args holds, per released aggregate that has value arguments (not
	// count(*), count(1); not a quantile's p), those arguments: aggregates
	// skip NULLs, so each one describes only the persons of rows where its
	// arguments are all non-NULL.
	args     [][]any
	personOf string
}

// scope is what names a query node can see: CTEs by name, and the
// relations of the enclosing FROM clauses (for qualified column refs).
type scope struct {
	parent *scope
	ctes   map[string]bool            // CTE name → its body touches person data
	counts map[string]map[string]bool // CTE name → its outputs that are counts
	unique map[string]bool            // CTE name → its body has a row per person at most
	rels   map[string]bool            // relation names of this SELECT's FROM
}

func (s *scope) cte(name string) (touches, ok bool) {
	for p := s; p != nil; p = p.parent {
		if t, ok := p.ctes[name]; ok {
			return t, true
		}
	}
	return false, false
}

// cteUnique reports whether CTE name has at most one row per person.
func (s *scope) cteUnique(name string) bool {
	for p := s; p != nil; p = p.parent {
		if _, ok := p.ctes[name]; ok {
			return p.unique[name]
		}
	}
	return false
}

// cteCounts is the outputs of CTE name that are counts.
func (s *scope) cteCounts(name string) map[string]bool {
	for p := s; p != nil; p = p.parent {
		if _, ok := p.ctes[name]; ok {
			return p.counts[name]
		}
	}
	return nil
}

func countOuts(outs []outCol) map[string]bool {
	m := map[string]bool{}
	for _, o := range outs {
		if o.count && o.name != "" {
			m[o.name] = true
		}
	}
	return m
}

func (s *scope) rel(name string) bool {
	for p := s; p != nil; p = p.parent {
		if p.rels[name] {
			return true
		}
	}
	return false
}

// outCol describes one output column of a subquery, CTE or set operation.
type outCol struct {
	id    string // the *_id column name if the item is that bare column
	name  string
	count bool // the item is a count(…) aggregate: a quantity a mean may take
}

type nodeInfo struct {
	touches    bool // reads person data (directly or through a subquery/CTE)
	outs       []outCol
	star       bool
	correlated bool // linked to an outer relation by person_id equality
	perPerson  bool // at most one row per person: GROUP BY person_id alone
}

// ectx is the state of walking the expressions of one SELECT node.
type ectx struct {
	sc      *scope
	top     bool
	aggs    int
	inAgg   bool
	touches bool
	tail    float64    // smallest min(p, 1-p) of the quantiles seen (top level)
	args    [][]any    // value arguments of each aggregate seen (top level)
	from    *fromState // the relations of the top SELECT (aggregate arguments)
}

type ref struct {
	name         string // lower-case alias or table name
	orig         string
	person       bool            // holds person rows
	schemaPerson bool            // a base table of the schema with person_id
	base         bool            // a base table of the schema (not a CTE or subquery)
	unique       bool            // at most one row per person (person, or grouped by person_id)
	counts       map[string]bool // of a CTE or subquery: its outputs that are counts
	nullable     bool            // on the optional side of an outer join
	filterOnly   bool            // right side of SEMI/ANTI joins
}

type eqLink struct{ a, b string } // qualifiers of a.person_id = b.person_id

type usingLink struct {
	a, b, e int // refs[a:b] left, refs[b:e] right
	natural bool
}

type fromState struct {
	refs   []ref
	eqs    []eqLink
	usings []usingLink
}

// vocabularyIDs are OMOP vocabulary keys named *_id that identify concepts,
// not persons or their rows.
var vocabularyIDs = map[string]bool{
	"concept_id": true, "domain_id": true, "vocabulary_id": true,
	"concept_class_id": true, "relationship_id": true,
}

// isIDName reports a column name that identifies persons or rows:
// person_id, rowid, and every *_id except *_concept_id and vocabulary keys.
func isIDName(s string) bool {
	s = strings.ToLower(s)
	if s == "rowid" || s == "id" {
		return true
	}
	if vocabularyIDs[s] || strings.HasSuffix(s, "_concept_id") {
		return false
	}
	return strings.HasSuffix(s, "_id")
}

func lowerNames(m map[string]any) []string {
	var out []string
	for _, v := range arr(m, "column_names") {
		s, _ := v.(string)
		out = append(out, strings.ToLower(s))
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (c *checker) checkStatement(root map[string]any) (*topResult, error) {
	sts := arr(root, "statements")
	if len(sts) == 0 {
		return nil, refuse("statement", "the query has no statement; %s", acceptedShape)
	}
	if len(sts) > 1 {
		return nil, refuse("statement", "only one statement is accepted (found several separated by ;); %s", acceptedShape)
	}
	stmt, _ := sts[0].(map[string]any)
	node := obj(stmt, "node")
	if node == nil {
		return nil, refuse("statement", "the statement could not be read; %s", acceptedShape)
	}
	if len(arr(stmt, "named_param_map")) > 0 {
		return nil, refuse("parameter", "query parameters ($1, ?) are not accepted; write values into the query")
	}
	if err := c.scan(stmt); err != nil {
		return nil, err
	}
	switch str(node, "type") {
	case "SELECT_NODE":
		return c.topSelect(node)
	case "SET_OPERATION_NODE":
		return nil, refuse("set-operation", "UNION, EXCEPT and INTERSECT are accepted only inside subqueries and CTEs, not as the released query; %s", acceptedShape)
	}
	return nil, refuse("statement", "this statement form is not accepted; %s", acceptedShape)
}

// scan checks the whole tree for constructs refused wherever they occur and
// collects relation names.
func (c *checker) scan(v any) error {
	switch t := v.(type) {
	case []any:
		for _, x := range t {
			if err := c.scan(x); err != nil {
				return err
			}
		}
	case map[string]any:
		if err := c.scanObject(t); err != nil {
			return err
		}
		for _, k := range sortedKeys(t) {
			if err := c.scan(t[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *checker) scanObject(m map[string]any) error {
	if strings.HasPrefix(strings.ToLower(str(m, "alias")), "__enclave") {
		return refuse("reserved", "names starting with __enclave are reserved for the kernel")
	}
	if s, ok := m["sample"]; ok && s != nil {
		return refuse("sample", "sampling (USING SAMPLE, TABLESAMPLE) is not accepted")
	}
	_, isExpr := m["class"]
	if !isExpr {
		switch str(m, "type") {
		case "TABLE_FUNCTION":
			return refuse("table", "table functions are not accepted; %s", msgTable)
		case "EXPRESSION_LIST":
			return refuse("values", "VALUES lists are not accepted; filter the tier's tables with WHERE … IN (…) instead")
		case "SHOW_REF":
			return refuse("statement", "DESCRIBE, SHOW and SUMMARIZE are not accepted here (use %%tables); %s", acceptedShape)
		case "PIVOT":
			return refuse("pivot", "PIVOT and UNPIVOT are not accepted; use GROUP BY")
		case "RECURSIVE_CTE_NODE":
			return refuse("recursive", "WITH RECURSIVE is not accepted")
		case "BASE_TABLE":
			c.relNames[strings.ToLower(str(m, "table_name"))] = true
			if a := str(m, "alias"); a != "" {
				c.relNames[strings.ToLower(a)] = true
			}
		case "SUBQUERY", "JOIN":
			if a := str(m, "alias"); a != "" {
				c.relNames[strings.ToLower(a)] = true
			}
		}
		if cm := obj(m, "cte_map"); cm != nil {
			for _, e := range arr(cm, "map") {
				if em, ok := e.(map[string]any); ok {
					c.relNames[strings.ToLower(str(em, "key"))] = true
				}
			}
		}
		return nil
	}
	switch str(m, "class") {
	case "WINDOW":
		return refuse("window", msgWindow)
	case "PARAMETER":
		return refuse("parameter", "query parameters ($1, ?) are not accepted; write values into the query")
	case "POSITIONAL_REFERENCE":
		return refuse("positional", "positional column references (#n) are not accepted; name the columns")
	case "STAR":
		if flag(m, "columns") || len(arr(m, "replace_list")) > 0 || len(arr(m, "rename_list")) > 0 || m["expr"] != nil {
			return refuse("star", "COLUMNS(…), * REPLACE and * RENAME are not accepted; name the columns")
		}
	case "CAST":
		if flag(m, "try_cast") {
			return nil
		}
		if !c.constantExpr(m["child"]) {
			return refuse("cast", "CAST and :: are not accepted on column values: one that does not convert raises an error, and whether a query fails tells whether such a row exists; use TRY_CAST(… AS type), which gives NULL instead")
		}
		c.constCasts = append(c.constCasts, m)
	case "FUNCTION":
		if name := strings.ToLower(str(m, "function_name")); !flag(m, "is_operator") && raisingFuncs[name] != "" {
			return refuse("error-oracle", "%s raises an error on a value it cannot read, and whether a query fails tells whether such a row exists; use %s, which gives NULL instead", name, raisingFuncs[name])
		}
		return c.checkFunctionName(m)
	}
	return nil
}

// raisingFuncs raise an error on bad data values and have a form that gives
// NULL instead.
var raisingFuncs = map[string]string{"strptime": "try_strptime"}

// constantExpr reports an expression that reads no data: no column, *,
// subquery, aggregate or window.
func (c *checker) constantExpr(v any) bool { return !readsData(c.cat, v) }

func (c *checker) checkFunctionName(m map[string]any) error {
	if flag(m, "is_operator") {
		return nil
	}
	name := strings.ToLower(str(m, "function_name"))
	schema := strings.ToLower(str(m, "schema"))
	if (schema != "" && schema != "main") || str(m, "catalog") != "" {
		return refuse("function", "schema-qualified functions are not accepted")
	}
	if deniedFuncs[name] || strings.HasPrefix(name, "duckdb_") || strings.HasPrefix(name, "pragma_") {
		if c.cat.known(name) {
			return refuse("function", "function %s is not accepted (it reads session state, runs SQL or injects randomness or errors)", name)
		}
		return refuse("function", "a function that reads session state or the catalog is not accepted")
	}
	if !c.cat.known(name) && !c.reloaded && c.reload != nil {
		c.reloaded = true
		if cat, err := c.reload(); err == nil {
			c.cat = cat
		}
	}
	switch {
	case !c.cat.known(name):
		return refuse("function", "the query uses a function this DuckDB does not know; %s", acceptedShape)
	case c.cat.isAggregate(name) || c.cat.isScalar(name):
		return nil
	case c.cat.isMacro(name):
		if allowedMacros[name] {
			return nil
		}
		if individualValueAggs[name] {
			return refuse("individual-values", "aggregate %s returns individual values and is not released; accepted aggregates: %s", name, acceptedAggregates())
		}
		return refuse("function", "macro %s is not accepted; use the underlying functions", name)
	}
	return refuse("function", "%s is a table function; %s", name, msgTable)
}

// walkCTEs checks a node's WITH list; each CTE sees the ones before it.
func (c *checker) walkCTEs(n map[string]any, sc *scope) (*scope, error) {
	ctes := map[string]bool{}
	counts := map[string]map[string]bool{}
	unique := map[string]bool{}
	for _, e := range arr(obj(n, "cte_map"), "map") {
		em, _ := e.(map[string]any)
		val := obj(em, "value")
		if len(arr(val, "aliases")) > 0 {
			return nil, refuse("alias-list", "column alias lists (WITH t(a, b) AS …, FROM x AS t(a, b)) are not accepted; name columns in the select list")
		}
		body := obj(obj(val, "query"), "node")
		seen := make(map[string]bool, len(ctes))
		for k, v := range ctes {
			seen[k] = v
		}
		seenCounts := make(map[string]map[string]bool, len(counts))
		for k, v := range counts {
			seenCounts[k] = v
		}
		seenUnique := make(map[string]bool, len(unique))
		for k, v := range unique {
			seenUnique[k] = v
		}
		info, err := c.walkNode(body, &scope{parent: sc, ctes: seen, counts: seenCounts, unique: seenUnique})
		if err != nil {
			return nil, err
		}
		key := strings.ToLower(str(em, "key"))
		ctes[key], counts[key], unique[key] = info.touches, countOuts(info.outs), info.perPerson
	}
	return &scope{parent: sc, ctes: ctes, counts: counts, unique: unique}, nil
}

// walkNode checks a query node that is not the released one (CTE body,
// subquery, set-operation branch).
func (c *checker) walkNode(n map[string]any, sc *scope) (nodeInfo, error) {
	switch str(n, "type") {
	case "SELECT_NODE":
		return c.walkSelect(n, sc)
	case "SET_OPERATION_NODE":
		return c.walkSetOp(n, sc)
	case "RECURSIVE_CTE_NODE":
		return nodeInfo{}, refuse("recursive", "WITH RECURSIVE is not accepted")
	}
	return nodeInfo{}, refuse("feature", "this query form is not accepted; %s", acceptedShape)
}

func (c *checker) walkSetOp(n map[string]any, sc *scope) (nodeInfo, error) {
	scc, err := c.walkCTEs(n, sc)
	if err != nil {
		return nodeInfo{}, err
	}
	var branches []map[string]any
	for _, k := range []string{"left", "right"} {
		if b := obj(n, k); b != nil {
			branches = append(branches, b)
		}
	}
	for _, b := range arr(n, "children") {
		if bm, ok := b.(map[string]any); ok {
			branches = append(branches, bm)
		}
	}
	if len(branches) < 2 {
		return nodeInfo{}, refuse("feature", "this set operation could not be read")
	}
	var out nodeInfo
	for i, b := range branches {
		info, err := c.walkNode(b, scc)
		if err != nil {
			return nodeInfo{}, err
		}
		if info.star {
			return nodeInfo{}, refuse("star", "* is not accepted in UNION/EXCEPT/INTERSECT branches; list the columns")
		}
		out.touches = out.touches || info.touches
		if i == 0 {
			out.outs = info.outs
			continue
		}
		for j := 0; j < len(info.outs) && j < len(out.outs); j++ {
			a, b := out.outs[j], info.outs[j]
			if a.id != b.id || (a.id != "" && a.name != b.name) {
				return nodeInfo{}, refuse("identifier", "in UNION/EXCEPT/INTERSECT an *_id column must be at the same position, under the same name, in every branch; %s", msgIDUse)
			}
		}
	}
	x := &ectx{sc: scc}
	if err := c.walkModifiers(n, x, false); err != nil {
		return nodeInfo{}, err
	}
	out.touches = out.touches || x.touches
	return out, nil
}

func shallowRels(t map[string]any, into map[string]bool) {
	switch str(t, "type") {
	case "BASE_TABLE":
		name := str(t, "alias")
		if name == "" {
			name = str(t, "table_name")
		}
		into[strings.ToLower(name)] = true
	case "SUBQUERY":
		if a := str(t, "alias"); a != "" {
			into[strings.ToLower(a)] = true
		}
	case "JOIN":
		shallowRels(obj(t, "left"), into)
		shallowRels(obj(t, "right"), into)
	}
}

// prepareSelect walks the WITH list and FROM/WHERE of a SELECT node.
func (c *checker) prepareSelect(n map[string]any, sc *scope, top bool) (*scope, *fromState, *ectx, error) {
	scc, err := c.walkCTEs(n, sc)
	if err != nil {
		return nil, nil, nil, err
	}
	from := obj(n, "from_table")
	if from == nil {
		return nil, nil, nil, refuse("feature", "the FROM clause could not be read")
	}
	ns := &scope{parent: scc, rels: map[string]bool{}}
	shallowRels(from, ns.rels)
	st := &fromState{}
	x := &ectx{sc: ns, top: top}
	if err := c.walkFrom(from, st, x, false, false); err != nil {
		return nil, nil, nil, err
	}
	if w := n["where_clause"]; w != nil {
		if err := c.cond(w, x, st); err != nil {
			return nil, nil, nil, err
		}
	}
	if n["qualify"] != nil {
		return nil, nil, nil, refuse("window", msgWindow)
	}
	switch str(n, "aggregate_handling") {
	case "STANDARD_HANDLING", "FORCE_AGGREGATES", "":
	default:
		return nil, nil, nil, refuse("feature", "this aggregation form is not accepted; %s", acceptedShape)
	}
	if err := linkRefs(st); err != nil {
		return nil, nil, nil, err
	}
	return ns, st, x, nil
}

func (c *checker) walkSelect(n map[string]any, sc *scope) (nodeInfo, error) {
	ns, st, x, err := c.prepareSelect(n, sc, false)
	if err != nil {
		return nodeInfo{}, err
	}
	var info nodeInfo
	for _, it := range arr(n, "select_list") {
		m, _ := it.(map[string]any)
		if str(m, "class") == "STAR" {
			info.star = true
			continue
		}
		alias := strings.ToLower(str(m, "alias"))
		id, ok, err := c.bareID(m, ns)
		if err != nil {
			return nodeInfo{}, err
		}
		if ok {
			if alias != "" && alias != id {
				return nodeInfo{}, refuse("identifier", "renaming an *_id column is not accepted; %s", msgIDUse)
			}
			info.outs = append(info.outs, outCol{id: id, name: id})
			continue
		}
		if isIDName(alias) {
			return nodeInfo{}, refuse("identifier", "only the column itself may be output under an *_id name; %s", msgIDUse)
		}
		if err := c.expr(m, x); err != nil {
			return nodeInfo{}, err
		}
		name := alias
		if name == "" && str(m, "class") == "COLUMN_REF" {
			if names := lowerNames(m); len(names) > 0 {
				name = names[len(names)-1]
			}
		}
		fn := strings.ToLower(str(m, "function_name"))
		info.outs = append(info.outs, outCol{name: name, count: str(m, "class") == "FUNCTION" && !flag(m, "is_operator") && (fn == "count" || fn == "count_star")})
	}
	groups := arr(n, "group_expressions")
	personGroup := map[int]bool{}
	for i, g := range groups {
		gm, _ := g.(map[string]any)
		id, ok, err := c.bareID(gm, ns)
		if err != nil {
			return nodeInfo{}, err
		}
		if ok {
			personGroup[i] = id == "person_id"
			continue
		}
		if err := c.expr(gm, x); err != nil {
			return nodeInfo{}, err
		}
	}
	if h := n["having"]; h != nil {
		if err := c.expr(h, x); err != nil {
			return nodeInfo{}, err
		}
	}
	if err := c.walkModifiers(n, x, false); err != nil {
		return nodeInfo{}, err
	}
	for _, r := range st.refs {
		if r.person {
			info.touches = true
		}
	}
	info.touches = info.touches || x.touches
	force := str(n, "aggregate_handling") == "FORCE_AGGREGATES"
	aggregated := x.aggs > 0 || len(groups) > 0 || force
	if info.touches && aggregated {
		ok := false
		if force {
			for _, o := range info.outs {
				ok = ok || o.id == "person_id"
			}
		} else {
			sets := arr(n, "group_sets")
			if len(sets) == 0 && len(groups) > 0 {
				all := make([]any, len(groups))
				for i := range groups {
					all[i] = json.Number(itoa(i))
				}
				sets = []any{all}
			}
			ok = len(sets) > 0
			for _, s := range sets {
				has := false
				for _, ix := range asSlice(s) {
					if i, ok := asInt(ix); ok && personGroup[i] {
						has = true
					}
				}
				ok = ok && has
			}
		}
		if !ok {
			return nodeInfo{}, refuse("aggregation", msgSubAgg)
		}
		sets := arr(n, "group_sets")
		info.perPerson = !force && len(groups) == 1 && personGroup[0] && len(sets) <= 1
	}
	if !aggregated && len(st.refs) > 0 {
		// Rows of relations of one row per person (person, or those
		// grouped by person_id), filtered, are one per person too.
		info.perPerson = true
		for _, r := range st.refs {
			info.perPerson = info.perPerson && (r.filterOnly || r.person && r.unique)
		}
	}
	// Correlated on person_id with an outer relation?
	local := map[string]ref{}
	for _, r := range st.refs {
		if r.name != "" {
			local[r.name] = r
		}
	}
	for _, e := range st.eqs {
		for _, p := range [][2]string{{e.a, e.b}, {e.b, e.a}} {
			r, in := local[p[0]]
			_, otherLocal := local[p[1]]
			if in && r.person && !otherLocal && p[1] != "" && ns.parent.rel(p[1]) {
				info.correlated = true
			}
		}
	}
	return info, nil
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func asInt(v any) (int, bool) {
	switch t := v.(type) {
	case json.Number:
		i, err := t.Int64()
		return int(i), err == nil
	case float64:
		return int(t), t == float64(int(t))
	}
	return 0, false
}

func (c *checker) walkModifiers(n map[string]any, x *ectx, top bool) error {
	for _, mv := range arr(n, "modifiers") {
		m, _ := mv.(map[string]any)
		switch str(m, "type") {
		case "ORDER_MODIFIER":
			for _, o := range arr(m, "orders") {
				if err := c.expr(obj(asMap(o), "expression"), x); err != nil {
					return err
				}
			}
		case "LIMIT_MODIFIER", "LIMIT_PERCENT_MODIFIER":
			for _, k := range []string{"limit", "offset"} {
				if v := m[k]; v != nil {
					if err := c.expr(v, x); err != nil {
						return err
					}
				}
			}
		case "DISTINCT_MODIFIER":
			targets := arr(m, "distinct_on_targets")
			if top && len(targets) > 0 {
				return refuse("distinct-on", "DISTINCT ON picks individual rows and is not accepted in the released query")
			}
			for _, t := range targets {
				if _, ok, err := c.bareID(asMap(t), x.sc); err != nil {
					return err
				} else if ok {
					continue
				}
				if err := c.expr(t, x); err != nil {
					return err
				}
			}
		default:
			return refuse("feature", "this query modifier is not accepted; %s", acceptedShape)
		}
	}
	return nil
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

func (c *checker) walkFrom(t map[string]any, st *fromState, x *ectx, nullable, filterOnly bool) error {
	switch str(t, "type") {
	case "EMPTY":
		return nil
	case "BASE_TABLE":
		if len(arr(t, "column_name_alias")) > 0 {
			return refuse("alias-list", "column alias lists (FROM t AS x(a, b)) are not accepted; name columns in the select list")
		}
		if t["at_clause"] != nil {
			return refuse("feature", "AT (VERSION/TIMESTAMP) is not accepted")
		}
		if str(t, "schema_name") != "" || str(t, "catalog_name") != "" {
			return refuse("table", "schema- or database-qualified tables are not accepted; %s", msgTable)
		}
		table := str(t, "table_name")
		orig := str(t, "alias")
		if orig == "" {
			orig = table
		}
		r := ref{name: strings.ToLower(orig), orig: orig, nullable: nullable, filterOnly: filterOnly}
		if touches, ok := x.sc.cte(strings.ToLower(table)); ok {
			r.person, r.counts, r.unique = touches, x.sc.cteCounts(strings.ToLower(table)), x.sc.cteUnique(strings.ToLower(table))
		} else if person, ok := c.tables[strings.ToLower(table)]; ok {
			// person_id is person's key: the tier keeps one row of each.
			r.person, r.schemaPerson, r.base, r.unique = person, person, true, strings.EqualFold(table, "person")
		} else {
			return refuse("table", "the query reads a table that is not part of this tier's data; %s", msgTable)
		}
		st.refs = append(st.refs, r)
		return nil
	case "SUBQUERY":
		if len(arr(t, "column_name_alias")) > 0 {
			return refuse("alias-list", "column alias lists (FROM (…) AS x(a, b)) are not accepted; name columns in the select list")
		}
		info, err := c.walkNode(obj(obj(t, "subquery"), "node"), x.sc)
		if err != nil {
			return err
		}
		a := str(t, "alias")
		st.refs = append(st.refs, ref{name: strings.ToLower(a), orig: a, person: info.touches, nullable: nullable, filterOnly: filterOnly, counts: countOuts(info.outs), unique: info.perPerson})
		return nil
	case "JOIN":
		rt := str(t, "ref_type")
		switch rt {
		case "REGULAR", "CROSS", "NATURAL", "ASOF", "DEPENDENT", "":
		default:
			return refuse("join", "%s joins are not accepted; %s", strings.ToUpper(SanitizeMessage(rt)), msgJoin)
		}
		ln, rn, lf, rf := nullable, nullable, filterOnly, filterOnly
		switch str(t, "join_type") {
		case "INNER":
		case "LEFT":
			rn = true
		case "RIGHT":
			ln = true
		case "OUTER", "FULL":
			ln, rn = true, true
		case "SEMI", "ANTI":
			rf = true
		default:
			return refuse("join", "this join type is not accepted; use INNER, LEFT, RIGHT, FULL, SEMI or ANTI joins")
		}
		a := len(st.refs)
		if err := c.walkFrom(obj(t, "left"), st, x, ln, lf); err != nil {
			return err
		}
		b := len(st.refs)
		if err := c.walkFrom(obj(t, "right"), st, x, rn, rf); err != nil {
			return err
		}
		e := len(st.refs)
		if cond := t["condition"]; cond != nil {
			if err := c.cond(cond, x, st); err != nil {
				return err
			}
		}
		using := false
		for _, u := range arr(t, "using_columns") {
			s, _ := u.(string)
			if strings.EqualFold(s, "person_id") {
				using = true
			}
		}
		if using || rt == "NATURAL" {
			st.usings = append(st.usings, usingLink{a: a, b: b, e: e, natural: rt == "NATURAL" && !using})
		}
		return nil
	}
	return refuse("table", "this kind of FROM item is not accepted; %s", msgTable)
}

// cond checks a WHERE or ON condition and records its person_id equalities.
func (c *checker) cond(v any, x *ectx, st *fromState) error {
	for _, cj := range conjuncts(v) {
		m := asMap(cj)
		if str(m, "class") != "COMPARISON" {
			continue
		}
		typ := str(m, "type")
		if typ != "COMPARE_EQUAL" && typ != "COMPARE_NOT_DISTINCT_FROM" {
			continue
		}
		l, r := obj(m, "left"), obj(m, "right")
		ln, rn := lowerNames(l), lowerNames(r)
		if str(l, "class") != "COLUMN_REF" || str(r, "class") != "COLUMN_REF" || len(ln) == 0 || len(rn) == 0 {
			continue
		}
		if ln[len(ln)-1] != "person_id" || rn[len(rn)-1] != "person_id" {
			continue
		}
		st.eqs = append(st.eqs, eqLink{a: qualifier(ln), b: qualifier(rn)})
	}
	return c.expr(v, x)
}

func qualifier(names []string) string {
	if len(names) == 2 {
		return names[0]
	}
	return ""
}

func conjuncts(v any) []any {
	m := asMap(v)
	if str(m, "class") == "CONJUNCTION" && str(m, "type") == "CONJUNCTION_AND" {
		var out []any
		for _, ch := range arr(m, "children") {
			out = append(out, conjuncts(ch)...)
		}
		return out
	}
	return []any{v}
}

// linkRefs requires every person-holding relation of one FROM clause to be
// connected to the others by person_id equalities.
func linkRefs(st *fromState) error {
	n := len(st.refs)
	parent := make([]int, n)
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(a, b int) { parent[find(a)] = find(b) }
	idx := map[string]int{}
	for i, r := range st.refs {
		if _, dup := idx[r.name]; !dup && r.name != "" {
			idx[r.name] = i
		}
	}
	for _, e := range st.eqs {
		i, ok1 := idx[e.a]
		j, ok2 := idx[e.b]
		if ok1 && ok2 {
			union(i, j)
		}
	}
	persons := func(a, b int) (out []int, allSchema bool) {
		allSchema = true
		for i := a; i < b; i++ {
			if st.refs[i].person {
				out = append(out, i)
				allSchema = allSchema && st.refs[i].schemaPerson
			}
		}
		return out, allSchema
	}
	connected := func(ix []int) bool {
		for _, i := range ix {
			if find(i) != find(ix[0]) {
				return false
			}
		}
		return true
	}
	for _, u := range st.usings {
		l, ls := persons(u.a, u.b)
		r, rs := persons(u.b, u.e)
		if u.natural && !(ls && rs) {
			continue
		}
		if len(l) > 0 && len(r) > 0 && connected(l) && connected(r) {
			union(l[0], r[0])
		}
	}
	all, _ := persons(0, n)
	if len(all) > 1 && !connected(all) {
		return refuse("join", msgJoin)
	}
	// Joined on person_id, a relation with several rows per person
	// repeats each row of the other by that many: a person's rows joined
	// to a relation of their own rows, three times over, held 27,000
	// copies of each, so one person filled a median's window and the
	// row counts of a breakdown (review 53). One relation may have many
	// rows per person; the others have one (person, or a subquery or CTE
	// grouped by person_id alone).
	var many []string
	for _, r := range st.refs {
		if r.person && !r.unique && !r.filterOnly {
			many = append(many, cmp.Or(r.orig, "a subquery"))
		}
	}
	if len(many) > 1 {
		return refuse("join-rows", "%s each have several rows per person, and joined they repeat each other's rows (a person's rows counted as many times as they have rows in the other); %s", quotedList(many), msgJoinRows)
	}
	return nil
}

// quotedList is names as "a", "b" and "c".
func quotedList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(SanitizeMessage(n))
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

// bareID reports whether m is a column reference to an *_id column, and
// checks that a qualifier names a relation (not a struct value).
func (c *checker) bareID(m map[string]any, sc *scope) (string, bool, error) {
	if str(m, "class") != "COLUMN_REF" {
		return "", false, nil
	}
	names := lowerNames(m)
	if len(names) == 0 || !isIDName(names[len(names)-1]) {
		return "", false, nil
	}
	switch len(names) {
	case 1:
	case 2:
		if !sc.rel(names[0]) {
			return "", false, refuse("identifier", "an *_id field is read from a value that is not a table of the FROM clause; %s", msgIDUse)
		}
	default:
		return "", false, refuse("identifier", "*_id columns must be referenced as column or table.column; %s", msgIDUse)
	}
	return names[len(names)-1], true, nil
}

func (c *checker) expr(v any, x *ectx) error {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			if err := c.expr(e, x); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		switch str(t, "class") {
		case "COLUMN_REF":
			return c.colref(t)
		case "COMPARISON":
			if ok, err := c.idEquality(t, x); ok || err != nil {
				return err
			}
		case "OPERATOR":
			typ := str(t, "type")
			if ch := arr(t, "children"); (typ == "OPERATOR_IS_NULL" || typ == "OPERATOR_IS_NOT_NULL") && len(ch) == 1 {
				if _, ok, err := c.bareID(asMap(ch[0]), x.sc); ok || err != nil {
					return err
				}
			}
		case "SUBQUERY":
			return c.subqueryExpr(t, x)
		case "FUNCTION":
			return c.function(t, x)
		case "WINDOW":
			return refuse("window", msgWindow)
		case "STAR":
			return refuse("star", "* is accepted only as a whole select item of a subquery or CTE (and in count(*))")
		case "PARAMETER", "POSITIONAL_REFERENCE":
			return refuse("parameter", "parameters and positional references are not accepted")
		}
		for _, k := range sortedKeys(t) {
			if k == "query_location" {
				continue
			}
			if err := c.expr(t[k], x); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *checker) colref(m map[string]any) error {
	names := lowerNames(m)
	if len(names) == 0 {
		return nil
	}
	last := names[len(names)-1]
	if isIDName(last) {
		return refuse("identifier", msgIDUse)
	}
	if len(names) == 1 && c.relNames[last] && !c.schemaCols[last] {
		return refuse("whole-row", "a table name or alias is used as a value (a whole-row reference); refer to its columns")
	}
	return nil
}

// idEquality accepts a.x_id = b.x_id between two *_id columns of the same
// name (or two non-person ids).
func (c *checker) idEquality(m map[string]any, x *ectx) (bool, error) {
	typ := str(m, "type")
	if typ != "COMPARE_EQUAL" && typ != "COMPARE_NOT_DISTINCT_FROM" {
		return false, nil
	}
	a, okA, err := c.bareID(obj(m, "left"), x.sc)
	if err != nil {
		return false, err
	}
	b, okB, err := c.bareID(obj(m, "right"), x.sc)
	if err != nil {
		return false, err
	}
	if !okA || !okB {
		return false, nil
	}
	personish := func(s string) bool { return s == "person_id" || s == "rowid" || s == "id" }
	if a != b && (personish(a) || personish(b)) {
		return false, refuse("identifier", "person_id may only be joined to person_id; %s", msgIDUse)
	}
	return true, nil
}

func (c *checker) subqueryExpr(m map[string]any, x *ectx) error {
	node := obj(obj(m, "subquery"), "node")
	switch str(m, "subquery_type") {
	case "SCALAR":
		return refuse("subquery", "scalar subqueries (SELECT …) used as values are not accepted; join on person_id, or filter with … IN (SELECT …) / EXISTS (…)")
	case "EXISTS", "NOT_EXISTS":
		info, err := c.walkNode(node, x.sc)
		if err != nil {
			return err
		}
		if info.touches && !info.correlated {
			return refuse("subquery", "EXISTS (…) over person data must be correlated with the outer query on person_id (… WHERE c.person_id = p.person_id)")
		}
		x.touches = x.touches || info.touches
		return nil
	case "ANY":
		info, err := c.walkNode(node, x.sc)
		if err != nil {
			return err
		}
		x.touches = x.touches || info.touches
		child := obj(m, "child")
		id, ok, err := c.bareID(child, x.sc)
		if err != nil {
			return err
		}
		if ok {
			if str(m, "comparison_type") != "COMPARE_EQUAL" || info.star || len(info.outs) != 1 || info.outs[0].id != id {
				return refuse("subquery", "x.person_id IN (SELECT …) must select that same *_id column, unchanged; %s", msgIDUse)
			}
			return nil
		}
		if info.touches {
			return refuse("subquery", "IN (SELECT …) over person data must compare person_id (p.person_id IN (SELECT person_id FROM …)); comparing other values lets one person's data select others")
		}
		for _, o := range info.outs {
			if o.id != "" {
				return refuse("identifier", msgIDUse)
			}
		}
		return c.expr(child, x)
	}
	return refuse("subquery", "this kind of subquery is not accepted; use … IN (SELECT …) or EXISTS (…)")
}

func (c *checker) function(m map[string]any, x *ectx) error {
	name := strings.ToLower(str(m, "function_name"))
	if flag(m, "is_operator") || !c.cat.isAggregate(name) {
		for _, k := range []string{"children", "filter", "order_bys"} {
			if v := m[k]; v != nil {
				if err := c.expr(v, x); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if x.inAgg {
		return refuse("aggregate", "aggregates nested in aggregates are not accepted")
	}
	if x.top {
		if individualValueAggs[name] {
			return refuse("individual-values", "aggregate %s returns individual values and is not released; accepted aggregates: %s", name, acceptedAggregates())
		}
		if _, ok := aggKinds[name]; !ok {
			return refuse("aggregate", "aggregate %s is not accepted in released output; accepted aggregates: %s", name, acceptedAggregates())
		}
	}
	if x.top {
		if err := c.plainAggregate(name, m, x); err != nil {
			return err
		}
	}
	x.aggs++
	x.inAgg = true
	defer func() { x.inAgg = false }()
	children := arr(m, "children")
	if (name == "count" || name == "count_star") && len(children) == 1 {
		if _, ok, err := c.bareID(asMap(children[0]), x.sc); err != nil {
			return err
		} else if ok {
			children = nil
		}
	}
	if err := c.expr(children, x); err != nil {
		return err
	}
	for _, k := range []string{"filter", "order_bys"} {
		if v := m[k]; v != nil {
			if err := c.expr(v, x); err != nil {
				return err
			}
		}
	}
	return nil
}

// hasAggregate reports an aggregate call in v outside nested subqueries.
func (c *checker) hasAggregate(v any) bool {
	return findNode(v, func(m map[string]any) (bool, bool) {
		if str(m, "class") == "SUBQUERY" {
			return false, true
		}
		return isAggregateCall(c.cat, m), false
	})
}

func containsIDRef(v any) bool {
	return findNode(v, func(m map[string]any) (bool, bool) {
		if str(m, "class") == "COLUMN_REF" {
			names := lowerNames(m)
			return len(names) > 0 && isIDName(names[len(names)-1]), true
		}
		return false, false
	})
}

// findNode reports whether match finds a node in v (maps and lists of the
// parsed statement, walked in a fixed order). match returns whether m is
// the node sought and whether to leave m's children unvisited.
func findNode(v any, match func(m map[string]any) (found, skip bool)) bool {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			if findNode(e, match) {
				return true
			}
		}
	case map[string]any:
		found, skip := match(t)
		if found || skip {
			return found
		}
		for _, k := range sortedKeys(t) {
			if findNode(t[k], match) {
				return true
			}
		}
	}
	return false
}

// isAggregateCall reports a call of an aggregate function.
func isAggregateCall(cat *funcCatalog, m map[string]any) bool {
	return str(m, "class") == "FUNCTION" && !flag(m, "is_operator") && cat.isAggregate(strings.ToLower(str(m, "function_name")))
}

// readsData reports an expression that reads data: a column, *, subquery,
// aggregate or window.
func readsData(cat *funcCatalog, v any) bool {
	return findNode(v, func(m map[string]any) (bool, bool) {
		switch str(m, "class") {
		case "COLUMN_REF", "STAR", "SUBQUERY", "WINDOW", "LAMBDA_REF", "PARAMETER", "POSITIONAL_REFERENCE":
			return true, false
		}
		return isAggregateCall(cat, m), false
	})
}

func (c *checker) topSelect(n map[string]any) (*topResult, error) {
	ns, st, x, err := c.prepareSelect(n, nil, true)
	if err != nil {
		return nil, err
	}
	_ = x
	personOf := ""
	for _, r := range st.refs {
		if r.schemaPerson && !r.nullable && !r.filterOnly {
			personOf = r.orig
			break
		}
	}
	if personOf == "" {
		return nil, refuse("no-person-table", "the outer FROM must include one of the tier's tables that hold person rows (with person_id, e.g. person, condition_occurrence, measurement) directly, not only through subqueries or CTEs and not only on the optional side of an outer join")
	}
	groups := arr(n, "group_expressions")
	force := str(n, "aggregate_handling") == "FORCE_AGGREGATES"
	for _, g := range groups {
		if containsIDRef(g) {
			return nil, refuse("group-id", msgGroupID)
		}
		if err := c.groupKey(g, ns); err != nil {
			return nil, err
		}
		gx := &ectx{sc: ns, top: true}
		if err := c.expr(g, gx); err != nil {
			return nil, err
		}
		if gx.aggs > 0 {
			return nil, refuse("aggregate", "aggregates are not accepted in GROUP BY")
		}
	}
	sel := arr(n, "select_list")
	if len(sel) == 0 {
		return nil, refuse("row-level", msgRowLevel)
	}
	kinds := make([]Kind, 0, len(sel))
	tails := make([]float64, 0, len(sel))
	var args [][]any
	for i, it := range sel {
		m := asMap(it)
		if m == nil {
			return nil, refuse("row-level", msgRowLevel)
		}
		if str(m, "class") == "STAR" {
			return nil, refuse("star", "SELECT * is row-level output; %s", msgRowLevel)
		}
		isGroup := false
		if force {
			isGroup = !c.hasAggregate(m)
		} else {
			isGroup = matchesGroup(m, i, groups)
		}
		if isGroup {
			if containsIDRef(m) {
				return nil, refuse("group-id", msgGroupID)
			}
			gx := &ectx{sc: ns, top: true}
			if err := c.expr(m, gx); err != nil {
				return nil, err
			}
			if gx.aggs > 0 {
				return nil, refuse("row-level", msgRowLevel)
			}
			if err := c.groupKey(m, ns); err != nil {
				return nil, err
			}
			kinds = append(kinds, KindGroup)
			tails = append(tails, 0)
			continue
		}
		ax := &ectx{sc: ns, top: true, from: st}
		k, has, err := c.aggTree(m, ax)
		if err != nil {
			return nil, err
		}
		if !has {
			return nil, refuse("row-level", "select item %d is neither grouped nor aggregated: %s", i+1, msgRowLevel)
		}
		kinds = append(kinds, k)
		tails = append(tails, ax.tail)
		args = append(args, ax.args...)
	}
	hx := &ectx{sc: ns, top: true}
	if n["having"] != nil {
		// Which groups a HAVING keeps tells whether a hidden count has a
		// given value.
		return nil, refuse("having", "HAVING is not accepted: it filters groups by their aggregates, which reveals hidden counts; filter rows with WHERE")
	}
	if err := c.walkModifiers(n, hx, true); err != nil {
		return nil, err
	}
	for _, mv := range arr(n, "modifiers") {
		if str(asMap(mv), "type") != "ORDER_MODIFIER" {
			continue
		}
		for _, o := range arr(asMap(mv), "orders") {
			if !orderByGroup(obj(asMap(o), "expression"), sel, kinds, groups) {
				return nil, refuse("order", "ORDER BY is accepted only on grouping columns (by name, select alias or position): ordering by an aggregate, or by an alias or position of one, tells about hidden counts")
			}
		}
	}
	return &topResult{node: n, kinds: kinds, tails: tails, personOf: personOf, args: args}, nil
}

// aggTree classifies a released select item built from aggregates,
// constants, arithmetic, CAST and round.
func (c *checker) aggTree(v any, x *ectx) (Kind, bool, error) {
	m := asMap(v)
	rowLevel := func() (Kind, bool, error) {
		if c.hasAggregate(m) {
			return "", false, refuse("row-level", "an aggregate may be wrapped only in arithmetic (+ - * / %%), CAST, round, abs, ceil, floor, nullif or coalesce together with constants and other aggregates; %s", msgRowLevel)
		}
		return "", false, refuse("row-level", msgRowLevel)
	}
	switch str(m, "class") {
	case "CONSTANT":
		return "", false, nil
	case "CAST":
		return c.aggTree(m["child"], x)
	case "FUNCTION":
		name := strings.ToLower(str(m, "function_name"))
		op := flag(m, "is_operator")
		if !op && c.cat.isAggregate(name) {
			if err := c.function(m, x); err != nil {
				return "", false, err
			}
			return aggKinds[name], true, nil
		}
		isArith := op && (name == "+" || name == "-" || name == "*" || name == "/" || name == "//" || name == "%")
		if !isArith && (op || !wrapperFuncs[name]) {
			return rowLevel()
		}
		if m["filter"] != nil || len(arr(obj(m, "order_bys"), "orders")) > 0 {
			return rowLevel()
		}
		var kind Kind
		has := false
		for _, ch := range arr(m, "children") {
			k, h, err := c.aggTree(ch, x)
			if err != nil {
				return "", false, err
			}
			if h {
				has = true
				if kindRank(k) > kindRank(kind) {
					kind = k
				}
			}
		}
		if has && kindRank(kind) < kindRank(KindDerived) {
			kind = KindDerived
		}
		return kind, has, nil
	}
	return rowLevel()
}

// orderByGroup reports whether an ORDER BY expression of the released query
// is one of its grouping keys. Like DuckDB, a bare name is first a select
// alias and an integer constant a select position; otherwise the
// expression must be a grouping select item or GROUP BY expression.
func orderByGroup(e map[string]any, sel []any, kinds []Kind, groups []any) bool {
	switch str(e, "class") {
	case "CONSTANT":
		p, ok := asInt(obj(e, "value")["value"])
		return ok && p >= 1 && p <= len(kinds) && kinds[p-1] == KindGroup
	case "COLUMN_REF":
		if names := lowerNames(e); len(names) == 1 {
			for i, it := range sel {
				if a := strings.ToLower(str(asMap(it), "alias")); a != "" && a == names[0] {
					return kinds[i] == KindGroup
				}
			}
		}
	}
	for i, it := range sel {
		if kinds[i] == KindGroup && (sameExpr(e, asMap(it)) || matchesGroup(e, -1, []any{it})) {
			return true
		}
	}
	for _, g := range groups {
		if str(asMap(g), "class") != "CONSTANT" && (sameExpr(e, asMap(g)) || matchesGroup(e, -1, []any{g})) {
			return true
		}
	}
	return false
}

// matchesGroup reports whether select item i is one of the GROUP BY keys:
// the same expression, its alias, or its position.
func matchesGroup(m map[string]any, i int, groups []any) bool {
	alias := strings.ToLower(str(m, "alias"))
	for _, g := range groups {
		gm := asMap(g)
		switch str(gm, "class") {
		case "CONSTANT":
			if p, ok := asInt(obj(gm, "value")["value"]); ok && p == i+1 {
				return true
			}
		case "COLUMN_REF":
			gn := lowerNames(gm)
			if len(gn) == 1 && alias != "" && gn[0] == alias {
				return true
			}
			if str(m, "class") == "COLUMN_REF" {
				mn := lowerNames(m)
				if len(mn) > 0 && len(gn) > 0 && mn[len(mn)-1] == gn[len(gn)-1] &&
					(len(mn) == 1 || len(gn) == 1 || strings.Join(mn, ".") == strings.Join(gn, ".")) {
					return true
				}
			}
		}
		if sameExpr(m, gm) {
			return true
		}
	}
	return false
}

func sameExpr(a, b map[string]any) bool {
	return sameTree(stripAlias(a), stripAlias(b))
}

func stripAlias(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			if k == "alias" {
				continue
			}
			out[k] = stripAlias(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = stripAlias(x)
		}
		return out
	}
	return v
}

// quantileFuncs take the quantile as their second argument; median is 0.5.
var quantileFuncs = map[string]bool{"quantile": true, "quantile_cont": true, "quantile_disc": true}

// plainAggregate accepts a released aggregate only over plain columns: a
// FILTER, or an expression inside the aggregate (CASE, a comparison),
// would make the aggregate describe fewer persons than the cell's person
// count says, and the rules judge the cell by that count.
func (c *checker) plainAggregate(name string, m map[string]any, x *ectx) error {
	if m["filter"] != nil {
		return refuse("filter", "FILTER (WHERE …) on an aggregate is not accepted: the cell's person count would not describe it; put the condition in WHERE or group by it")
	}
	children := arr(m, "children")
	var values []any
	defer func() {
		if len(values) > 0 {
			x.args = append(x.args, values)
		}
	}()
	plain := func(v any) bool {
		ch := asMap(v)
		if str(ch, "class") == "CAST" {
			ch = asMap(ch["child"])
		}
		return str(ch, "class") == "COLUMN_REF" || str(ch, "class") == "STAR"
	}
	if name == "median" {
		x.tail = tailOf(x.tail, 0.5)
	}
	for i, ch := range children {
		if quantileFuncs[name] && i == 1 {
			p, ok := constFloat(ch)
			if !ok || p <= 0 || p >= 1 {
				// p = 0 and p = 1 are the minimum and maximum.
				return refuse("quantile", "the quantile of %s must be one number strictly between 0 and 1 (0 and 1 are the minimum and maximum)", name)
			}
			x.tail = tailOf(x.tail, p)
			continue
		}
		if (name == "count" || name == "count_star") && str(asMap(ch), "class") == "CONSTANT" {
			continue // count(1)
		}
		if str(asMap(ch), "class") != "STAR" {
			values = append(values, ch)
		}
		if !plain(ch) {
			return refuse("aggregate-argument", "%s takes a column here, not an expression: a CASE or comparison inside an aggregate counts fewer persons than its cell shows; filter with WHERE or group by the condition", name)
		}
		col := argColumn(ch)
		if k := aggKinds[name]; (k == KindDerived || k == KindSum) && strings.HasSuffix(col, "_concept_id") {
			return refuse("categorical", "%s of %s: concept ids are codes, not quantities, and a mean of codes tells how many persons hold each code; count by the code instead (GROUP BY %s)", name, col, col)
		}
		if k := aggKinds[name]; (k == KindDerived || k == KindSum) && !baseColumn(ch, x.from) {
			return refuse("derived-quantity", "%s takes a column of one of the tier's tables (qualified, e.g. m.value_as_number) or a count(…) of a subquery or CTE, not another computed column: a computed column can mark a few persons with a value far from the rest, and the mean then counts them", name)
		}
		if name == "count" && flag(m, "distinct") && col != "" && col != "person_id" {
			return refuse("count-distinct", "count(DISTINCT …) is accepted for person_id only: a count of distinct values tells whether a value that one person holds is in the group")
		}
	}
	return nil
}

// baseColumn reports whether a plain aggregate argument is a column of a
// base table of the top SELECT's FROM (qualified by that table's name or
// alias, or unqualified when every relation there is a base table), or a
// count(…) output of a CTE or subquery there (a count of rows cannot be
// made a marker).
func baseColumn(v any, st *fromState) bool {
	if st == nil {
		return false
	}
	m := asMap(v)
	if str(m, "class") == "CAST" {
		m = asMap(m["child"])
	}
	names := lowerNames(m)
	if str(m, "class") != "COLUMN_REF" || len(names) == 0 {
		return false
	}
	if len(names) == 1 {
		for _, r := range st.refs {
			if !r.base {
				return false
			}
		}
		return true
	}
	q, col := names[len(names)-2], names[len(names)-1]
	for _, r := range st.refs {
		if r.name == q {
			return r.base || r.counts[col]
		}
	}
	return false
}

// argColumn is the lower-case column name of a plain aggregate argument
// (a column, or a CAST of one); "" for *.
func argColumn(v any) string {
	m := asMap(v)
	if str(m, "class") == "CAST" {
		m = asMap(m["child"])
	}
	if names := lowerNames(m); str(m, "class") == "COLUMN_REF" && len(names) > 0 {
		return names[len(names)-1]
	}
	return ""
}

func tailOf(cur, p float64) float64 {
	t := min(p, 1-p)
	if cur == 0 || t < cur {
		return t
	}
	return cur
}

// constFloat reads a numeric constant. DuckDB's parse tree writes a decimal
// literal such as 0.25 as a DECIMAL value holding the unscaled integer (25)
// with the scale (2) in its type.
func constFloat(v any) (float64, bool) {
	m := asMap(v)
	if str(m, "class") == "CAST" {
		m = asMap(m["child"])
	}
	if str(m, "class") != "CONSTANT" {
		return 0, false
	}
	val := obj(m, "value")
	if flag(val, "is_null") {
		return 0, false
	}
	var f float64
	switch t := val["value"].(type) {
	case json.Number:
		x, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			return 0, false
		}
		f = x
	default:
		return 0, false
	}
	typ := obj(val, "type")
	switch str(typ, "id") {
	case "DECIMAL":
		scale, ok := asInt(obj(typ, "type_info")["scale"])
		if !ok || scale < 0 || scale > 38 {
			return 0, false
		}
		f /= math.Pow10(scale)
	case "DOUBLE", "FLOAT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT",
		"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT":
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// groupKey accepts a grouping expression only when it is a category: a
// concept column, a text or boolean column, year_of_birth, or year() of a
// date. Grouping by a measured value, a date or a day of birth labels each
// small cell with an individual's value.
func (c *checker) groupKey(v any, sc *scope) error {
	m := asMap(v)
	if str(m, "class") == "CONSTANT" {
		return nil // GROUP BY 1: the select item is checked
	}
	bad := func() error {
		return refuse("group-value", "group by categories: a *_concept_id column, a text column, year_of_birth or year(a date column), or arithmetic on them (year_of_birth // 10 * 10); grouping by measured values, dates or days shows individual values as labels")
	}
	switch str(m, "class") {
	case "CAST":
		return c.groupKey(m["child"], sc)
	case "FUNCTION":
		name := strings.ToLower(str(m, "function_name"))
		ch := arr(m, "children")
		if name == "year" {
			if len(ch) == 1 && str(asMap(ch[0]), "class") == "COLUMN_REF" {
				return nil
			}
			return bad()
		}
		if flag(m, "is_operator") && (name == "+" || name == "-" || name == "*" || name == "//" || name == "/") {
			for _, x := range ch {
				if err := c.groupKey(x, sc); err != nil {
					return err
				}
			}
			return nil
		}
		return bad()
	case "COLUMN_REF":
	default:
		return bad()
	}
	names := lowerNames(m)
	if len(names) == 0 {
		return bad()
	}
	col := names[len(names)-1]
	switch {
	case strings.HasSuffix(col, "_concept_id"), col == "year_of_birth":
		return nil
	}
	switch c.types[col] {
	case "VARCHAR", "BOOLEAN":
		return nil
	case "":
		// Not a column of the schema: an alias of a select item, which is
		// checked itself, or a CTE's column.
		if len(names) == 1 && !c.schemaCols[col] {
			return nil
		}
	}
	return bad()
}
