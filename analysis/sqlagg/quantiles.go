package sqlagg

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// A quantile interpolated between two values is those values: a cohort of
// two blocks of known size with one person between them has that person's
// value as its median, though enough persons lie on each side. So %sql
// does not release DuckDB's quantile: the caller computes, per cell, the
// mean of the values around the quantile's rank (the smoothed quantile
// stats.Describe releases) from the cell's rows, which Quantile.Source
// lists, and shows that instead.

// Quantile is how to recompute a median or quantile select item smoothed,
// or, with Spread, the rows of a standard deviation or variance part.
type Quantile struct {
	Item int     // index into Plan.Items
	P    float64 // the quantile
	// Spread marks the rows of a standard deviation or variance part (the
	// part's first hidden column Col) instead of a quantile's.
	Spread bool
	Col    int
	// Source is a query whose columns are the item's cell key g0…g(Groups−1)
	// (the group items' values, as in SQL), v (the aggregate's argument, a
	// DOUBLE, never NULL) and pid (the person of the row): the rows each
	// cell's quantile is computed from. It is row-level and never shown.
	Source string
	Groups int
}

// quantileSources builds a Quantile for each select item that is one
// median or quantile (parts[i] one quantile part of a Direct item), and
// refuses a quantile anywhere else: inside arithmetic it could not be
// replaced, and with several grouping sets the rows of a subtotal are not
// the rows of one SELECT without GROUP BY.
func quantileSources(ctx context.Context, q Querier, top *topResult, parts [][]Part, args [][]any, direct []bool, google bool, render func() (string, error)) ([]Quantile, error) {
	var out []Quantile
	var qargs []any // each one's argument, in the checked tree
	rollup := len(arr(top.node, "group_sets")) > 1
	for i, ps := range parts {
		for j, p := range ps {
			if p.Spread && !rollup {
				// Without its rows (a subtotal's), the part is held as
				// dominated.
				out = append(out, Quantile{Item: i, Spread: true, Col: p.Col})
				qargs = append(qargs, args[i][j])
			}
			if p.Kind != KindDerived || p.Mean {
				continue
			}
			if !direct[i] {
				return nil, refuse("quantile", "a median or quantile is accepted only as a select item of its own, not inside arithmetic: it is released smoothed (the mean of the values around its rank), which arithmetic around it cannot be")
			}
			if rollup {
				return nil, refuse("quantile", "a median or quantile is not accepted with ROLLUP, CUBE or GROUPING SETS: run one query per grouping")
			}
			out = append(out, Quantile{Item: i, P: p.P})
			qargs = append(qargs, args[i][0])
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	tmpl, err := parse(ctx, q, "SELECT "+pidTemplate(top))
	if err != nil {
		return nil, fmt.Errorf("sqlagg: quantile template: %w", err)
	}
	pid := arr(obj(firstStatement(tmpl), "node"), "select_list")[0]
	copies, keys, err := keyCopies(top)
	if err != nil {
		return nil, err
	}
	defer top.restore("select_list", "group_expressions", "group_sets", "modifiers", "aggregate_handling")()
	var cols []string
	for k, name := range keys {
		cols = append(cols, name+" AS g"+strconv.Itoa(k))
	}
	// The wrapper is not rendered from the tree: its cast is the tier's.
	v := "TRY_CAST(__enclave_v AS DOUBLE) AS v"
	if google {
		v = "SAFE_CAST(__enclave_v AS FLOAT64) AS v"
	}
	cols = append(cols, v, "__enclave_pid AS pid")
	for j := range out {
		arg, err := fillPlaceholders(qargs[j], nil)
		if err != nil {
			return nil, err
		}
		asMap(arg)["alias"] = "__enclave_v"
		// The rows of the query: its FROM and WHERE, without grouping.
		top.node["select_list"] = append(append(append([]any{}, copies...), arg), pid)
		top.node["group_expressions"] = []any{}
		top.node["group_sets"] = []any{}
		top.node["modifiers"] = []any{}
		top.node["aggregate_handling"] = "STANDARD_HANDLING"
		rows, err := render()
		if err != nil {
			return nil, err
		}
		out[j].Source = "SELECT " + strings.Join(cols, ", ") + " FROM (" + rows + ") AS __enclave_rows WHERE __enclave_v IS NOT NULL"
		out[j].Groups = len(keys)
	}
	return out, nil
}
