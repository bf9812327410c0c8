package analysis

import (
	"math"
	"strconv"
	"strings"
)

// ShownTol is shownTol for the external tests.
var ShownTol = shownTol

// shownTol is half a unit in the last place a released text shows
// ("12.4%" 0.05, "-0.9373" 0.00005, "2.5e-07" 0.05e-07): a cell's code
// gets the value as shown, so that is how far it may be from the exact one.
func shownTol(text string) float64 {
	text = strings.TrimSuffix(strings.ReplaceAll(text, ",", ""), "%")
	mant, exp, _ := strings.Cut(strings.ToLower(text), "e")
	e := 0
	if exp != "" {
		e, _ = strconv.Atoi(exp)
	}
	d := 0
	if _, frac, ok := strings.Cut(mant, "."); ok {
		d = len(frac)
	}
	return 0.5 * math.Pow(10, float64(e-d))
}

// Clusters is clusters over one column of values, for the external
// tests: each cluster's lowest and highest value.
func Clusters(vals []float64, minN int64) [][2]float64 {
	data := make([][]any, len(vals))
	for i, v := range vals {
		data[i] = []any{v}
	}
	var out [][2]float64
	for _, r := range clusters(data, 0, minN) {
		out = append(out, [2]float64{r.lo, r.hi})
	}
	return out
}

// SmoothingSQL is DuckDB's smoothingSQL, for the external tests.
var SmoothingSQL = duckSQL.smoothingSQL
