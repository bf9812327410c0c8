package sqlagg

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
)

// A mean is a sum divided by a count, and the sum can carry more than the
// mean seems to say:
//
//   - over a value that takes few values it is a table of counts: avg(x)
//     over 0s and 1s says how many 1s there are; the mean of
//     gender_concept_id says how many women a group has, and with the sd
//     also how many of a third gender (with markers as far apart as 8532
//     and 2000000009 even one mean is enough);
//   - a single row far from the others (a CASE that gives 2000000000 when a
//     condition holds for one person, an outlier) shows whether that row is
//     in the group at all.
//
// So for each released item that is one mean-like aggregate of one
// argument, the rewritten query also returns, per cell, the argument's
// count of distinct values and the magnitudes the dominance rules read
// (splitItems), and Shape reads them for the release rules.

// splitAggregates are the aggregates whose value is a function of the sum
// (and sum of squares) of their argument.
var splitAggregates = map[string]bool{
	"avg": true, "mean": true, "favg": true,
	"stddev": true, "stddev_samp": true, "stddev_pop": true,
	"var_samp": true, "var_pop": true, "variance": true,
}

// SplitWidth is the number of hidden columns per split item: count of
// distinct values, Σ|x|, a slot for the two largest per-person Σ|x| (NULL
// here: Plan.Tops computes them, and the caller fills the slot), and the
// rows with a value.
const SplitWidth = 4

// splitTemplate computes the hidden columns of one argument.
const splitTemplate = "SELECT count(DISTINCT __enclave_arg_0), sum(abs(TRY_CAST(__enclave_arg_0 AS DOUBLE))), NULL, count(__enclave_arg_0)"

// splitItems returns, for select item m (already guarded), the hidden items
// over its argument and the argument's quantity (see quantityOf); nil when m
// is not one aggregate (without DISTINCT) of one argument in
// splitAggregates, or a quantile (median, quantile_cont(x, p)…) of one
// argument. A quantile is an order statistic, not a function of the sum:
// only its rows count (the last hidden column) is read for it, so that the
// same persons with one more row cannot show both quantiles.
func splitItems(ctx context.Context, q Querier, m map[string]any, k int) ([]any, string, error) {
	if str(m, "class") != "FUNCTION" || flag(m, "is_operator") || flag(m, "distinct") {
		return nil, "", nil
	}
	name, ch := strings.ToLower(str(m, "function_name")), arr(m, "children")
	switch {
	case splitAggregates[name] && len(ch) == 1:
	case name == "median" && len(ch) == 1, quantileFuncs[name] && len(ch) == 2:
		ch = ch[:1]
	default:
		return nil, "", nil
	}
	tmpl, err := parse(ctx, q, splitTemplate)
	if err != nil {
		return nil, "", fmt.Errorf("sqlagg: split template: %w", err)
	}
	items := arr(obj(firstStatement(tmpl), "node"), "select_list")
	if len(items) != SplitWidth {
		return nil, "", errors.New("sqlagg: split template has an unexpected shape")
	}
	out := make([]any, len(items))
	for i, it := range items {
		v, err := fillPlaceholders(it, ch)
		if err != nil {
			return nil, "", err
		}
		v.(map[string]any)["alias"] = fmt.Sprintf("__enclave_split_%d_%d", k, i)
		out[i] = v
	}
	return out, quantityOf(ch[0]), nil
}

// RowsOf is the number of rows with a value that the hidden columns of a
// split item count in one cell (0 = not known): with the item's Quantity
// it makes the cell a row-level statistic for differencing.
func RowsOf(hidden []any) int64 {
	if len(hidden) != SplitWidth {
		return 0
	}
	if d := toF(hidden[3]); !math.IsNaN(d) {
		return int64(d)
	}
	return 0
}

// countQuantity names what a count item counts, for Item.Quantity: "rows"
// for count(*), "rows of X" for count(X) (rows where X is set), as the
// analysis API names its row counts. "" for count(DISTINCT …), which
// counts persons.
func countQuantity(m map[string]any) string {
	if m == nil || flag(m, "distinct") {
		return ""
	}
	ch := arr(m, "children")
	if strings.EqualFold(str(m, "function_name"), "count_star") || len(ch) == 0 {
		return "rows"
	}
	if len(ch) != 1 {
		return ""
	}
	return "rows of " + quantityOf(ch[0])
}

// quantityOf names the values a split item's argument takes, for
// Item.Quantity: a plain column by its name (as the analysis API names the
// column it describes), anything else by its tree without source
// positions. Wrappers the guard added are looked through.
func quantityOf(arg any) string {
	m := asMap(arg)
	for m != nil && (str(m, "type") == "OPERATOR_TRY" || (str(m, "class") == "CAST" && fmt.Sprint(m["query_location"]) == fmt.Sprint(noLocation))) {
		var inner any
		if ch := arr(m, "children"); len(ch) == 1 {
			inner = ch[0]
		} else {
			inner = m["child"]
		}
		m = asMap(inner)
	}
	if m == nil {
		return ""
	}
	if str(m, "class") == "COLUMN_REF" {
		if names := arr(m, "column_names"); len(names) > 0 {
			if name, ok := names[len(names)-1].(string); ok {
				return strings.ToLower(name)
			}
		}
	}
	tree := stripLocations(m)
	if t, ok := tree.(map[string]any); ok {
		delete(t, "alias")
	}
	b, err := encode(tree)
	if err != nil {
		return ""
	}
	return "expr:" + string(b)
}

// Shape is what the hidden columns of a split item say about one cell:
// how many distinct values its argument takes there (0 = not known), Σ|x|
// and the two largest per-person Σ|x| (largest first; the caller puts
// them in the third column, as a []any).
func Shape(hidden []any) (values int64, magnitude float64, top []float64) {
	if len(hidden) != SplitWidth {
		return 0, 0, nil
	}
	if d := toF(hidden[0]); !math.IsNaN(d) {
		values = int64(d)
	}
	magnitude = toF(hidden[1])
	if list, ok := hidden[2].([]any); ok {
		for _, v := range list {
			if f := toF(v); !math.IsNaN(f) {
				top = append(top, f)
			}
		}
	}
	if math.IsNaN(magnitude) {
		magnitude, top = 0, nil
	}
	return values, magnitude, top
}

// toF reads a hidden column: counts are BIGINT, magnitudes DOUBLE.
func toF(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return math.NaN()
}
