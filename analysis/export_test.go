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
