package release

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"

	"enclave/api/spec"
)

// Stat says what a cell's number is; the rules that apply depend on it.
type Stat int

// Kinds of cells.
const (
	Count    Stat = iota // distinct persons
	Rows                 // rows (records), judged by their distinct persons
	Percent              // a share of a denominator, in percent
	Rate                 // a rate or proportion
	Mean                 // mean, standard deviation or another moment
	Quantile             // a quantile (median, quartiles), released smoothed (see Near)
	Sum                  // a sum of magnitudes: dominance rules apply
	Extreme              // minimum, maximum or any single-person value
	Coef                 // a model estimate (the model's checks are made by its caller)
)

// Cell is one number of a result awaiting the release decision.
type Cell struct {
	Stat    Stat
	Value   float64
	Persons int64 // distinct persons contributing to the number
	// Denom is the persons of a Percent or Rate's denominator.
	Denom int64
	// DenomOf is the count cell of that denominator, when the result has
	// one: a share follows it as it follows Of, since a share and its
	// numerator give the denominator (56.3% of a hidden N with 111 shown
	// is N = 197).
	DenomOf *Cell
	// Needs are count cells, not shown, whose numbers this cell's value
	// tells: it follows each of them as it follows Of. A smoothed
	// quantile whose window holds two tied values tells how many rows lie
	// below the boundary between them (a rank: padding blocks of known
	// size around a group gave the group's count, review 59).
	Needs []*Cell
	// Top holds the largest per-person contributions of a Sum, largest
	// first (at least Policy.DominanceN of them when there are that many);
	// for a Mean, the largest |x| of single rows (see Magnitude).
	Top []float64
	// Of is the count cell a Percent, Rate or derived value follows: when
	// Of is suppressed, so is this cell.
	Of *Cell
	// Plan rebuilds the cell's person set (see SetSource); nil when the
	// cell cannot be nested with others (then it is not differenced).
	Plan []byte
	// Quantity and RowCount mark a row-level statistic over the persons of
	// Plan: the values it is computed from (a column name such as
	// "value_as_number", "rows" for a count of rows, or an expression) and
	// how many rows of them. Two such releases over the same persons and
	// quantity from other rows give those rows' values or number (the same
	// persons, one more day of measurements; one person's diagnoses added
	// by a subquery), whichever paths produced them: the later, by another
	// plan, is hidden (whatever its rows), with the cells that follow it.
	Quantity string
	RowCount int64
	// Source, when set, defines a row-level statistic's rows exactly
	// given its persons (an events plan: every row of those persons that
	// it selects). Two releases of one Quantity over the same persons and
	// the same Source read the same rows, so neither gives the other's
	// rows: a genome scan of one phenotype with and without PCs is not a
	// twin of itself. Without a Source, another plan is always a twin.
	// A Source that QueryRows reports (%sql's) says which rows only for
	// those persons: it is not compared with other persons' statistics.
	Source []byte
	// Table is the table a row-level statistic's rows are of, when known:
	// statistics of different tables read different rows, whatever their
	// persons, and are not compared.
	Table string
	// Concepts, when set, are the only concepts a row-level statistic's
	// rows may hold (of Table's concept column). Two statistics whose
	// concepts are disjoint read no row in common, so one cannot leave out
	// a reading of the other's: they are not compared as other rows of the
	// same persons (the means of BMI and of LDL in one model).
	Concepts []int64
	// Desc describes the cell in words, from trusted names only, for the
	// release history and the audit log.
	Desc string
	// Partitions place a count cell in partitions of persons (see
	// Partition), so that counts released in separate results cannot be
	// subtracted to leave a small remainder.
	Partitions []Partition
	// Digits is the decimals shown for a non-count value (default 1;
	// Whole for none).
	Digits int
	// Tail is, for a Quantile, the smaller of p and 1−p: a quantile is an
	// individual's value (or between two) unless enough persons lie on
	// each side of it, so it needs Persons·Tail ≥ MinCount (a median 42
	// persons, quartiles 84). 0 means only the Persons rule applies.
	Tail float64
	// Near is, for a Quantile released as the mean of the values at the
	// ranks around its own (see analysis.QuantileWindow), how many
	// distinct persons hold a value in the range of those values; under
	// MinCount the quantile is one person's values or close to them. 0
	// means the quantile is not smoothed, and only the rules above apply.
	Near int64
	// Window is, for a smoothed Quantile, the persons whose rows its
	// value averages: a released window is kept in the history, and one
	// that holds nearly the same persons as a window released before
	// is hidden (see windows.go). nil: the quantile is not compared so.
	Window *roaring.Bitmap
	// Values is, for a Mean (mean or standard deviation), how many
	// distinct values its rows take (0 = not known). Over at most
	// MaxMeanValues values a mean is a table of counts in disguise (the
	// mean of 0s and 1s is a proportion; of gender_concept_id, how many
	// women), so it is not released.
	Values int64
	// Rarest is, for a Mean over at most MaxTableValues values, the fewest
	// persons that hold one of them (0 = not known).
	Rarest int64
	// Magnitude is, for a Mean, Σ|x| over its rows; with Top (the largest
	// |x| of single rows) the dominance rules apply to it as to a sum: a
	// row that dominates the sum shows whether it is in the group.
	Magnitude float64

	// Status is the outcome: spec.Released or why the cell is suppressed.
	// A caller may set it before Judge (e.g. spec.Model); Judge keeps it.
	Status string
}

// Suppressed reports whether the cell may not be shown.
func (c *Cell) Suppressed() bool { return c.Status != spec.Released }

// Partition places a count cell in a partition of persons: Group names the
// partition (a base set of persons and a person-level variable such as
// gender, in a canonical form the caller chooses), Level the part of it the
// cell counts ("" when the cell counts the whole base set). Across all the
// workspace's releases, once a group's total and some of its parts are
// released, what remains (the total less the parts) must be 0 or at least
// MinCount: "female" and "male" released after "all" would otherwise
// reveal the small count of everyone else.
type Partition struct {
	Group string `json:"g"`
	Level string `json:"l,omitempty"`
}

// Margin declares that Total is the sum of Parts (a row, column or grand
// total), so a suppressed part could be recomputed from the others.
type Margin struct {
	Total *Cell
	Parts []*Cell
	// Group marks a total that is a group the researcher chose (a column
	// of stats.Compare): when it holds 1–20 persons every part is hidden,
	// zeros and small parts alike, since which parts hold them would
	// describe them (a group of one person showed its sex, race and age
	// group, review 29).
	Group bool
}

// Decision is one result's cells and the relations between them.
type Decision struct {
	What    string // e.g. "stats.Table1(h3: persons with 201826…)"
	Cells   []*Cell
	Margins []Margin
	// Held says the result was made from a call the worker may have
	// chosen from rows it holds: its rendering is held for review, and
	// %releases shows neither its description nor how its cells fared.
	// Its cells are judged against the history but not recorded in it:
	// which of them a later result is hidden against would tell what the
	// worker chose (eight counts made or not by the bits of a person's
	// reading, then asked again after a restart, gave the reading: review
	// 36). Nor may a reviewer approve it (airlock.Item.Results).
	Held bool
}

// primary applies the rules that need only the cell itself.
func (p Policy) primary(c *Cell) {
	if c.Status != spec.Released {
		return
	}
	small := func(n int64) bool { return n > 0 && n < int64(p.MinCount) }
	switch c.Stat {
	case Count, Rows:
		if small(c.Persons) {
			c.Status = spec.Small
		}
	case Percent, Rate:
		if small(c.Persons) || c.Denom < int64(p.MinCount) {
			c.Status = spec.Derived
		}
	case Mean, Coef:
		switch {
		case c.Persons < int64(p.MinCount) || (c.Values > 0 && c.Values <= MaxMeanValues) ||
			(c.Values > MaxMeanValues && c.Values <= MaxTableValues && c.Rarest < int64(p.MinCount)):
			c.Status = spec.Derived
		case c.Magnitude > 0 && p.dominatedBy(c.Magnitude, c.Top, c.Persons):
			c.Status = spec.Dominance
		}
	case Quantile:
		if c.Persons < int64(p.MinCount) || (c.Tail > 0 && float64(c.Persons)*c.Tail < float64(p.MinCount)) ||
			(c.Near > 0 && c.Near < int64(p.MinCount)) {
			c.Status = spec.Derived
		}
	case Sum:
		if c.Persons < int64(p.MinCount) {
			c.Status = spec.Derived
		} else if p.dominatedBy(math.Abs(c.Value), c.Top, c.Persons) {
			c.Status = spec.Dominance
		}
	case Extreme:
		c.Status = spec.Extreme
	}
	if c.Status == spec.Released && (math.IsNaN(c.Value) || math.IsInf(c.Value, 0)) {
		c.Status = spec.NoData
	}
}

// MaxMeanValues is the most distinct values a mean's rows may take and
// the mean still not be released (see Cell.Values).
const MaxMeanValues = 3

// MaxTableValues is the most distinct values over which a mean is released
// only when each value is held by MinCount persons or more (Cell.Rarest).
// A group's count, mean, sd and smoothed quartiles over 4 or 5 values
// decode to how many persons hold each: one Describe of age over a few
// years gave hidden counts of 9, 10, 17 and 19 persons, and padding of
// three known values with one person gave that person's LDL (review 60).
// Over that many values the numbers are a table of counts, and it is
// released as one would be.
const MaxTableValues = 5

// dominatedBy applies the (n,k) and p-ratio rules to a total of
// magnitudes whose largest contributions are top (largest first).
func (p Policy) dominatedBy(total float64, top []float64, persons int64) bool {
	if total == 0 {
		return false
	}
	if int64(len(top)) < min(int64(p.DominanceN), persons) {
		return true // the contributions needed to check it are missing
	}
	topN := 0.0
	for i := 0; i < p.DominanceN && i < len(top); i++ {
		topN += math.Abs(top[i])
	}
	if topN > p.DominanceK*total {
		return true
	}
	top1 := math.Abs(top[0])
	top2 := 0.0
	if len(top) > 1 {
		top2 = math.Abs(top[1])
	}
	return total-top1-top2 < p.PRatio*top1
}

// secondary suppresses, for every margin with exactly one suppressed
// member, the smallest other member, until no margin has one: so no
// suppressed count can be recomputed from a total and the other parts.
// While a suppressed cell still follows from several margins taken
// together, it also suppresses the smallest other member of one of that
// cell's margins, and starts again. It reports whether it changed anything.
func (p Policy) secondary(margins []Margin) bool {
	changed := false
	for again := true; again; {
		again = false
		for _, m := range margins {
			hidden := 0
			if m.Total.Suppressed() {
				hidden++
			}
			for _, c := range m.Parts {
				if c.Suppressed() {
					hidden++
				}
			}
			if hidden != 1 {
				continue
			}
			if pick := complement(m); pick != nil {
				pick.Status = spec.Secondary
				again, changed = true, true
			} // else only zeros are left: a known zero reveals nothing
		}
		if again {
			continue
		}
		for _, x := range determined(margins) {
			if pick := linkedComplement(margins, x); pick != nil {
				pick.Status = spec.Secondary
				again, changed = true, true
				break
			}
		}
	}
	return changed
}

// linkedComplement is the smallest complement of x's margins; when they
// have none, of the margins linked to them through suppressed cells,
// nearest first.
func linkedComplement(margins []Margin, x *Cell) *Cell {
	used := make([]bool, len(margins))
	seen := map[*Cell]bool{x: true}
	for level := []*Cell{x}; len(level) > 0; {
		var pick *Cell
		var next []*Cell
		for _, c := range level {
			for i, m := range margins {
				if used[i] || !m.has(c) {
					continue
				}
				used[i] = true
				if k := complement(m); k != nil && (pick == nil || k.Value < pick.Value) {
					pick = k
				}
				for _, o := range append([]*Cell{m.Total}, m.Parts...) {
					if o.Suppressed() && !seen[o] {
						seen[o] = true
						next = append(next, o)
					}
				}
			}
		}
		if pick != nil {
			return pick
		}
		level = next
	}
	return nil
}

// complement is the member of m to suppress with its suppressed ones: the
// smallest released non-zero part, else the total if released.
func complement(m Margin) *Cell {
	var pick *Cell
	for _, c := range m.Parts {
		if c.Suppressed() || c.Value == 0 {
			continue
		}
		if pick == nil || c.Value < pick.Value {
			pick = c
		}
	}
	if pick == nil && !m.Total.Suppressed() {
		pick = m.Total
	}
	return pick
}

func (m Margin) has(c *Cell) bool {
	return m.Total == c || slices.Contains(m.Parts, c)
}

// determined returns the suppressed cells whose values follow from the
// released cells and the margins: x is determined when the margins,
// restricted to the suppressed cells and brought to reduced row echelon
// form, have a row that is 1 at x and 0 everywhere else.
func determined(margins []Margin) []*Cell {
	col := map[*Cell]int{}
	var hid []*Cell
	for _, m := range margins {
		for _, c := range append([]*Cell{m.Total}, m.Parts...) {
			if _, ok := col[c]; !ok && c.Suppressed() {
				col[c] = len(hid)
				hid = append(hid, c)
			}
		}
	}
	if len(hid) == 0 {
		return nil
	}
	a := make([][]float64, 0, len(margins))
	for _, m := range margins {
		r := make([]float64, len(hid))
		if j, ok := col[m.Total]; ok {
			r[j]--
		}
		for _, c := range m.Parts {
			if j, ok := col[c]; ok {
				r[j]++
			}
		}
		a = append(a, r)
	}
	const eps = 1e-9
	var pivots []int // pivots[i] is the column of row i's leading 1
	for j := 0; j < len(hid) && len(pivots) < len(a); j++ {
		r := len(pivots)
		best := r
		for i := r + 1; i < len(a); i++ {
			if math.Abs(a[i][j]) > math.Abs(a[best][j]) {
				best = i
			}
		}
		if math.Abs(a[best][j]) < eps {
			continue
		}
		a[r], a[best] = a[best], a[r]
		f := a[r][j]
		for k := range a[r] {
			a[r][k] /= f
		}
		for i := range a {
			if i != r && math.Abs(a[i][j]) >= eps {
				f := a[i][j]
				for k := range a[i] {
					a[i][k] -= f * a[r][k]
				}
			}
		}
		pivots = append(pivots, j)
	}
	var out []*Cell
	for i, j := range pivots {
		unit := true
		for k, v := range a[i] {
			if k != j && math.Abs(v) >= eps {
				unit = false
				break
			}
		}
		if unit {
			out = append(out, hid[j])
		}
	}
	return out
}

// follow suppresses derived cells whose count cell (or denominator's) is
// suppressed (also through chains, in any order). It reports whether it changed anything.
func follow(cells []*Cell) bool {
	changed := false
	for again := true; again; {
		again = false
		for _, c := range cells {
			if (c.Of != nil && c.Of.Suppressed() || c.DenomOf != nil && c.DenomOf.Suppressed() || slices.ContainsFunc(c.Needs, (*Cell).Suppressed)) && !c.Suppressed() {
				c.Status = spec.Derived
				again, changed = true, true
			}
		}
	}
	return changed
}

// smallTotals hides every part of a Group margin whose total is 1–20
// persons (see Margin.Group).
func smallTotals(margins []Margin) {
	for _, m := range margins {
		if !m.Group || m.Total == nil || m.Total.Status != spec.Small {
			continue
		}
		for _, c := range m.Parts {
			if c.Status == spec.Released || c.Status == spec.Small {
				c.Status = spec.Secondary
			}
		}
	}
}

// settle applies secondary suppression and derived cells until neither
// changes anything: a derived cell may be a member of a margin.
func (p Policy) settle(d *Decision) {
	for p.secondary(d.Margins) || follow(d.Cells) {
	}
}

// Judge applies the policy to d: primary rules, secondary suppression,
// derived cells, then differencing against the history (when h is not
// nil) and rounding. Released cells with a Plan are recorded in h. Only a
// failure to read or write the history or rebuild a set is an error; then
// nothing is released.
func (p Policy) Judge(ctx context.Context, d *Decision, h *History, sets SetSource) error {
	for _, c := range d.Cells {
		p.primary(c)
	}
	smallTotals(d.Margins)
	p.settle(d)
	if h != nil && p.Differencing {
		err := h.judge(ctx, p, d, sets, func() { p.settle(d) })
		if err != nil {
			for _, c := range d.Cells {
				if c.Status == spec.Released {
					c.Status = spec.NoData
				}
			}
			return err
		}
	}
	if p.Rounding > 0 {
		for _, c := range d.Cells {
			if (c.Stat == Count || c.Stat == Rows) && !c.Suppressed() {
				c.Value = math.Round(c.Value/float64(p.Rounding)) * float64(p.Rounding)
			}
		}
	}
	return nil
}

// SpecCell is the released form of c: its text as shown and its value
// only when released.
func (p Policy) SpecCell(c *Cell) spec.Cell {
	if c.Suppressed() {
		return spec.Cell{Text: p.MarkerFor(c), Status: c.Status}
	}
	text := formatValue(c.Stat, c.Value, c.Digits)
	v := c.Value
	if c.Stat != Count && c.Stat != Rows {
		v = shownValue(text)
	}
	return spec.Cell{Text: text, Value: &v}
}

// shownValue is the number a released text shows. For every value but a
// count a cell's code gets this, never the value before rounding: the
// hidden digits of a mean times its rows are a sum, and two such sums
// over row sets differing by a few rows (the same persons, another date
// range) give those rows' values; a share's digits give its denominator
// (56.34517766% of N with 111 is N = 197), a model's its groups' sizes.
func shownValue(text string) float64 {
	v, err := strconv.ParseFloat(strings.NewReplacer(",", "", "%", "").Replace(text), 64)
	if err != nil {
		return math.NaN() // formatValue writes only numbers; NaN/Inf stay so
	}
	return v
}

// MarkerFor is the text a suppressed cell shows: the policy's marker for
// counts hidden for being small (and cells hidden with them), a dash for
// other values.
func (p Policy) MarkerFor(c *Cell) string {
	switch {
	case c.Status == spec.NoData:
		return "–"
	case (c.Stat == Count || c.Stat == Rows) && c.Status == spec.Small:
		return p.Marker
	}
	// A count hidden to protect another (secondary, differencing) is not
	// small: "≤20" would tell the researcher something false.
	return "*"
}

// Legend explains the statuses present in cells, one line each.
func (p Policy) Legend(cells []*Cell) []string {
	seen := map[string]bool{}
	for _, c := range cells {
		seen[c.Status] = true
	}
	var out []string
	add := func(status, text string) {
		if seen[status] {
			out = append(out, text)
		}
	}
	add(spec.Small, fmt.Sprintf("%s: 1–%d persons (not shown, All of Us policy)", p.Marker, p.MinCount-1))
	add(spec.Secondary, "* (secondary): hidden so that a small cell cannot be recomputed from the totals")
	add(spec.Difference, fmt.Sprintf("* (differencing): with earlier releases of this workspace, or other cells of this result, it would reveal a group of 1–%d persons", p.MinCount-1))
	add(spec.Derived, fmt.Sprintf("*: a value over fewer than %d persons, or derived from a hidden count", p.MinCount))
	add(spec.Dominance, fmt.Sprintf("*: a sum dominated by one or two persons (n=%d, k=%.0f%%; p-ratio %.0f%%)", p.DominanceN, p.DominanceK*100, p.PRatio*100))
	add(spec.Extreme, "*: minimum, maximum and single-person values are never released")
	add(spec.Model, "*: model output refused (see the note)")
	add(spec.Overlap, windowNote(int64(p.MinCount-1)))
	add(spec.Ties, fmt.Sprintf("* (ties): a quantile whose window holds a few tied values: its value would tell how many rows hold each, a count of 1–%d", p.MinCount-1))
	add(spec.NoData, "–: no value")
	return out
}

// Whole is the Cell.Digits of a value shown without decimals (a model's
// residual degrees of freedom).
const Whole = -1

// formatValue renders a released number.
func formatValue(s Stat, v float64, digits int) string {
	switch s {
	case Count, Rows:
		return thousands(int64(math.Round(v)))
	case Percent:
		return strconv.FormatFloat(v, 'f', max(digits, 1), 64) + "%"
	}
	switch {
	case digits == Whole:
		digits = 0
	case digits <= 0:
		digits = 1
	}
	if math.Abs(v) >= 1e6 || (v != 0 && math.Abs(v) < math.Pow10(-digits)) {
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	return strconv.FormatFloat(v, 'f', digits, 64)
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
