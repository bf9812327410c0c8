package sqlagg

import (
	"fmt"
	"math"
	"strings"
)

// A mean of a value that takes exactly two values is a proportion: avg(x)
// over 500 rows of 0s and 1s is 0.006 and says that 3 rows are 1; the mean
// of gender_concept_id says how many women a cohort has. A standard
// deviation says the same (up to which value is the rarer). So for each
// released item that is one such aggregate of one argument, the rewritten
// query also returns, per cell, the argument's count of distinct values,
// its minimum, maximum, mean and rows (splitAggregates), and Minority turns
// them into the rows holding the rarer value, which the release rules then
// treat as the contributors of the mean.

// splitAggregates are the aggregates whose value, for a two-valued
// argument, tells how many rows hold each value.
var splitAggregates = map[string]bool{
	"avg": true, "mean": true, "favg": true,
	"stddev": true, "stddev_samp": true, "stddev_pop": true,
	"var_samp": true, "var_pop": true, "variance": true,
}

// SplitWidth is the number of hidden columns per split item, in the order
// Minority reads them.
const SplitWidth = 5

// splitItems returns, for select item m (already guarded), the hidden
// items count(DISTINCT x), min(x), max(x), avg(x), count(x) with m's
// argument and FILTER; nil when m is not one aggregate (without DISTINCT)
// of one argument in splitAggregates.
func splitItems(m map[string]any, k int) ([]any, error) {
	if str(m, "class") != "FUNCTION" || flag(m, "is_operator") || flag(m, "distinct") || !splitAggregates[strings.ToLower(str(m, "function_name"))] || len(arr(m, "children")) != 1 {
		return nil, nil
	}
	var out []any
	for i, f := range []struct {
		name     string
		distinct bool
	}{{"count", true}, {"min", false}, {"max", false}, {"avg", false}, {"count", false}} {
		js, err := encode(m)
		if err != nil {
			return nil, err
		}
		v, err := decode(string(js))
		if err != nil {
			return nil, err
		}
		c := v.(map[string]any)
		c["function_name"] = f.name
		c["distinct"] = f.distinct
		c["alias"] = fmt.Sprintf("__enclave_split_%d_%d", k, i)
		out = append(out, c)
	}
	return out, nil
}

// Minority returns the rows holding the rarer value of a split item's
// argument, read from its hidden columns (see Item.Split): 0 when the
// argument does not take exactly two values or the columns cannot be read.
func Minority(hidden []any) int64 {
	if len(hidden) != SplitWidth {
		return 0
	}
	distinct, lo, hi, mean, rows := toF(hidden[0]), toF(hidden[1]), toF(hidden[2]), toF(hidden[3]), toF(hidden[4])
	if distinct != 2 || !(hi > lo) || rows < 2 || math.IsNaN(mean) {
		return 0
	}
	high := math.Round((mean - lo) / (hi - lo) * rows)
	return int64(max(1, min(high, rows-high)))
}

func toF(v any) float64 {
	switch t := v.(type) {
	case int64:
		return float64(t)
	case int32:
		return float64(t)
	case int:
		return float64(t)
	case uint64:
		return float64(t)
	case float64:
		return t
	case float32:
		return float64(t)
	case interface{ Float64() float64 }: // DECIMAL
		return t.Float64()
	case fmt.Stringer: // HUGEINT (*big.Int)
		var f float64
		if _, err := fmt.Sscan(t.String(), &f); err == nil {
			return f
		}
	}
	return math.NaN()
}
