package sqlagg

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// A mean's dominance rules read each person's share of Σ|x|, not each
// row's: one person with many rows (a day of minute-level heart rate is
// 1,400 rows) can carry a mean that none of their rows dominates. SQL has
// no aggregate of per-person sums, so the plan holds a second query,
// TopsSQL: the user's query grouped also by person, whose per-person
// sums are ranked within each cell and only the two largest kept.

// Tops is what TopsSQL returns and how to read it: per row, the values of
// the user's group items (in order), then for each entry of Cols a
// per-person Σ|x| and its rank (1 = largest) within the cell; a row holds
// the rank-1 or rank-2 person of at least one mean.
type Tops struct {
	SQL string
	// Groups is the number of key columns; Cols the Part.Col of each mean
	// whose top contributions the query ranks.
	Groups int
	Cols   []int
}

// topsTemplate is one mean's per-person magnitude.
const topsTemplate = "SELECT sum(abs(TRY_CAST(__enclave_arg_0 AS DOUBLE)))"

// topsQuery builds Tops for the mean parts of the select items (parts and
// their arguments args, per item) of top, the released SELECT of the
// checked (and guarded) tree; the tree is restored before it returns.
// render gives the tree's SQL in the tier's dialect once it has checked
// that the SQL parses back to the tree. It returns nil when no item needs
// it.
func topsQuery(ctx context.Context, q Querier, top *topResult, parts [][]Part, args [][]any, render func() (string, error)) (*Tops, error) {
	sel := arr(top.node, "select_list")
	var means []any
	var cols []int
	for i := range sel {
		for j, p := range parts[i] {
			if p.Mean {
				means = append(means, args[i][j])
				cols = append(cols, p.Col)
			}
		}
	}
	if len(cols) == 0 {
		return nil, nil
	}
	tmpl, err := parse(ctx, q, fmt.Sprintf("SELECT %s, NULL, %s", pidTemplate(top), strings.TrimPrefix(topsTemplate, "SELECT ")))
	if err != nil {
		return nil, fmt.Errorf("sqlagg: tops template: %w", err)
	}
	t := arr(obj(firstStatement(tmpl), "node"), "select_list")
	if len(t) != 3 {
		return nil, fmt.Errorf("sqlagg: tops template has an unexpected shape")
	}
	pid, nullItem, sumItem := t[0], t[1], t[2]

	// The select list keeps every group item where it is (GROUP BY 1 and
	// aliases still name them), puts NULL in place of each aggregate (no
	// need to compute a median per person), and adds a copy of each group
	// item, the person and the per-person sums under names of our own.
	var list []any
	for i, it := range sel {
		if top.kinds[i] == KindGroup {
			list = append(list, it)
			continue
		}
		null, err := fillPlaceholders(nullItem, nil)
		if err != nil {
			return nil, err
		}
		asMap(null)["alias"] = str(asMap(it), "alias")
		list = append(list, null)
	}
	copies, keys, err := keyCopies(top)
	if err != nil {
		return nil, err
	}
	list = append(append(list, copies...), pid)
	var sums []string
	for j, arg := range means {
		v, err := fillPlaceholders(sumItem, []any{arg})
		if err != nil {
			return nil, err
		}
		name := "__enclave_m" + strconv.Itoa(j)
		asMap(v)["alias"] = name
		sums = append(sums, name)
		list = append(list, v)
	}

	// Group also by the person: one more GROUP BY expression, in every
	// grouping set. GROUP BY ALL groups by it without being told.
	defer top.restore("select_list", "group_expressions", "group_sets", "modifiers")()
	top.node["select_list"] = list
	top.node["modifiers"] = []any{}
	if str(top.node, "aggregate_handling") != "FORCE_AGGREGATES" {
		groups := arr(top.node, "group_expressions")
		pidGroup, err := fillPlaceholders(pid, nil)
		if err != nil {
			return nil, err
		}
		asMap(pidGroup)["alias"] = ""
		// First, so that the rebuilt query lists the expressions in the
		// same order (DuckDB numbers them as they first appear in the
		// grouping sets).
		top.node["group_expressions"] = append([]any{pidGroup}, groups...)
		sets := arr(top.node, "group_sets")
		if len(sets) == 0 {
			all := []any{}
			for i := range groups {
				all = append(all, json.Number(strconv.Itoa(i)))
			}
			sets = []any{all}
		}
		out := make([]any, len(sets))
		for i, s := range sets {
			set := []any{json.Number("0")}
			for _, ix := range asSlice(s) {
				n, _ := asInt(ix)
				set = append(set, json.Number(strconv.Itoa(n+1)))
			}
			out[i] = set
		}
		top.node["group_sets"] = out
	}
	inner, err := render()
	if err != nil {
		return nil, err
	}

	// Rank each cell's persons by their sum and keep the two largest: the
	// outer query names only our own columns.
	var ranked, keep []string
	part := ""
	if len(keys) > 0 {
		part = "PARTITION BY " + strings.Join(keys, ", ") + " "
	}
	ranked = append(ranked, keys...)
	for j, m := range sums {
		r := "__enclave_r" + strconv.Itoa(j)
		ranked = append(ranked, m, "ROW_NUMBER() OVER ("+part+"ORDER BY "+m+" DESC) AS "+r)
		keep = append(keep, r+" <= 2")
	}
	sql := "SELECT * FROM (SELECT " + strings.Join(ranked, ", ") + " FROM (" + inner + ") AS __enclave_pp) AS __enclave_pr WHERE " + strings.Join(keep, " OR ")
	return &Tops{SQL: sql, Groups: len(keys), Cols: cols}, nil
}

// keyCopies returns a copy of each group item of the released SELECT under
// a name of our own (__enclave_k0, …), and those names, for the queries
// that must say which cell a row or a rank belongs to.
func keyCopies(top *topResult) ([]any, []string, error) {
	var out []any
	var names []string
	for i, it := range arr(top.node, "select_list") {
		if top.kinds[i] != KindGroup {
			continue
		}
		k, err := fillPlaceholders(it, nil)
		if err != nil {
			return nil, nil, err
		}
		name := "__enclave_k" + strconv.Itoa(len(names))
		asMap(k)["alias"] = name
		names = append(names, name)
		out = append(out, k)
	}
	return out, names, nil
}

// pidTemplate is the select item of the person the released SELECT
// counts, under a name of our own, for parsing into a template.
func pidTemplate(top *topResult) string {
	return quoteIdent(top.personOf) + ".person_id AS __enclave_pid"
}

// restore returns a function that puts back the released SELECT's node
// fields named, as they are now: the queries built beside the released one
// change them in place and render the whole tree.
func (t *topResult) restore(fields ...string) func() {
	saved := make(map[string]any, len(fields))
	for _, f := range fields {
		saved[f] = t.node[f]
	}
	return func() {
		for f, v := range saved {
			t.node[f] = v
		}
	}
}
