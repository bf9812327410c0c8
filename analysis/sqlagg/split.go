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
// So for each mean-like aggregate of one argument in a released item, the
// rewritten query also returns, per cell, the argument's count of
// distinct values and the magnitudes the dominance rules read
// (partItems), and Shape reads them for the release rules.

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

// Part is one aggregate of a derived select item.
type Part struct {
	// Col is the index of its first hidden column.
	Col int
	// Kind is KindCount for a count (one hidden column: its value) and
	// KindDerived for a mean-like aggregate or a quantile (SplitWidth
	// hidden columns, see Shape and RowsOf).
	Kind Kind
	// Mean is set for a mean-like aggregate (a function of Σx, Σx²): the
	// few-values and dominance rules read its Shape. A quantile reads
	// only its rows (RowsOf), with Tail.
	Mean bool
	// Spread is set for a standard deviation or variance: a function of
	// the squared deviations, whose dominance rules read each person's
	// share of them (Quantile.Spread lists its rows).
	Spread bool
	// P is a quantile's p (a median's 0.5) and Tail the smaller of p and
	// 1−p.
	P, Tail float64
	// Quantity names the values it is computed from (a column name, or
	// the argument's tree; for a count "rows", "rows of x", or "" for
	// count(DISTINCT person_id)): with its rows it makes the part a
	// row-level statistic for differencing.
	Quantity string
	// Arg is the aggregate's argument as canonical JSON, qualifiers and
	// all ("" for count(*)): which rows of the query's Rows it reads
	// (m.value_as_number and, through a LEFT JOIN that leaves a person's
	// rows out, m2.value_as_number are one Quantity over other rows).
	Arg string
}

// aggregateCalls returns the aggregate calls in a derived select item's
// tree, outermost first (the item itself when it is one).
func aggregateCalls(cat *funcCatalog, v any) []map[string]any {
	var out []map[string]any
	findNode(v, func(m map[string]any) (bool, bool) {
		if isAggregateCall(cat, m) {
			out = append(out, m)
			return false, true
		}
		return false, false
	})
	return out
}

// partItems returns the hidden items of aggregate m (already guarded),
// numbered from k for their aliases, and the part they describe (Col not
// set).
func partItems(ctx context.Context, q Querier, m map[string]any, k int) ([]any, Part, error) {
	name, ch := strings.ToLower(str(m, "function_name")), arr(m, "children")
	alias := func(v any, j int) { asMap(v)["alias"] = fmt.Sprintf("__enclave_split_%d", k+j) }
	if name == "count" || name == "count_star" {
		v, err := fillPlaceholders(m, nil)
		if err != nil {
			return nil, Part{}, err
		}
		alias(v, 0)
		return []any{v}, Part{Kind: KindCount, Quantity: countQuantity(m), Arg: ArgOf(m)}, nil
	}
	part := Part{Kind: KindDerived, Mean: splitAggregates[name]}
	part.Spread = part.Mean && (strings.HasPrefix(name, "stddev") || strings.HasPrefix(name, "var"))
	switch {
	case part.Mean && len(ch) == 1:
	case name == "median" && len(ch) == 1:
		part.P, part.Tail = 0.5, 0.5
	case quantileFuncs[name] && len(ch) == 2:
		p, _ := constFloat(ch[1])
		part.P, part.Tail = p, tailOf(0, p)
		ch = ch[:1]
	default:
		return nil, Part{}, refuse("aggregate", "%s cannot be checked as part of a derived value; %s", name, acceptedShape)
	}
	if flag(m, "distinct") {
		// A mean of distinct values has no persons behind its terms.
		return nil, Part{}, refuse("distinct", "%s(DISTINCT …) is not accepted: the values it averages are no longer persons' values, so the rules cannot judge it; drop DISTINCT", name)
	}
	tmpl, err := parse(ctx, q, splitTemplate)
	if err != nil {
		return nil, Part{}, fmt.Errorf("sqlagg: split template: %w", err)
	}
	items := arr(obj(firstStatement(tmpl), "node"), "select_list")
	if len(items) != SplitWidth {
		return nil, Part{}, errors.New("sqlagg: split template has an unexpected shape")
	}
	out := make([]any, len(items))
	for i, it := range items {
		v, err := fillPlaceholders(it, ch)
		if err != nil {
			return nil, Part{}, err
		}
		alias(v, i)
		out[i] = v
	}
	part.Quantity, part.Arg = quantityOf(ch[0]), argTree(ch[0])
	return out, part, nil
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
// for count(*) and count(X) (rows where X is set) alike, as the analysis
// API names every count of rows: which rows is the query's (a count of
// the same persons' rows by another query is another reading of them).
// "" for count(DISTINCT …), which counts persons.
func countQuantity(m map[string]any) string {
	if m == nil || flag(m, "distinct") {
		return ""
	}
	if ch := arr(m, "children"); len(ch) > 1 {
		return ""
	}
	return "rows"
}

// ArgOf is Part.Arg of aggregate call m: its arguments' trees without
// source positions; "" when it has none (count(*)).
func ArgOf(m map[string]any) string {
	ch := arr(m, "children")
	if len(ch) == 0 {
		return ""
	}
	return argTree(ch)
}

func argTree(v any) string {
	b, err := encode(stripLocations(v))
	if err != nil {
		return "?" // never equal to a tree
	}
	return string(b)
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
