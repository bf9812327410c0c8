package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"enclave/analysis/render"
	"enclave/api/spec"
	"enclave/datasets"
	"enclave/release"
)

// niceStep is a round bin width near w: 1, 2 or 5 times a power of ten.
func niceStep(w float64) float64 {
	if w <= 0 || math.IsNaN(w) || math.IsInf(w, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(w)))
	for _, m := range []float64{1, 2, 5, 10} {
		if w <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func (s *Server) histogram(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.HistogramArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	h, err := s.handle(a.Handle)
	if err != nil {
		return nil, err
	}
	at, err := s.at(a.At)
	if err != nil {
		return nil, err
	}
	if a.Bins <= 0 {
		a.Bins = 20
	}
	if a.Bins > 100 {
		return nil, datasets.Errorf("at most 100 bins")
	}
	expr, name, err := s.numericExpr(h, a.Column, at)
	if err != nil {
		return nil, err
	}
	if name == "age" && h.events != nil {
		h = agePersons(h) // a bin of more rows than persons placed the padded person
	}
	b := &sqlb{s: s}
	from, where, pid, err := s.base(b, h)
	if err != nil {
		return nil, err
	}
	where = append(where, "("+expr+") IS NOT NULL")
	cond := " FROM " + from + " WHERE " + strings.Join(where, " AND ")
	lo, hi := a.Min, a.Max
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return nil, datasets.Errorf("the histogram range must be finite")
	}
	// An automatic range takes in every value: the first bar also counts
	// the values below it and the last those above, so the bars add up to
	// the persons the range was judged with (values left out would be a
	// count of the few beyond the 1st and 99th percentiles).
	clamp := lo == 0 && hi == 0
	if clamp {
		if lo, hi, a.Bins, err = s.autoRange(ctx, cell, h, expr, name, pid, cond, at, a.Bins, b.args); err != nil {
			return nil, err
		}
	}
	if hi <= lo {
		return nil, datasets.Errorf("the histogram range needs min < max")
	}
	width := (hi - lo) / float64(a.Bins)
	if name == "age" {
		width = math.Max(1, math.Round(width))
		hi = lo + width*float64(a.Bins)
	}
	binExpr := fmt.Sprintf("least(%d, %s)", a.Bins-1, s.d.cast(fmt.Sprintf("floor(((%s) - %s) / %s)", expr, fmtNum(lo), fmtNum(width)), "BIGINT"))
	inRange := " AND (" + expr + ") >= " + fmtNum(lo) + " AND (" + expr + ") <= " + fmtNum(hi)
	if clamp {
		binExpr, inRange = "greatest(0, "+binExpr+")", ""
	}
	q := "SELECT " + binExpr + ", " + s.countPersons(ctx, h, pid, "") + ", count(*)" + cond + inRange + " GROUP BY 1"
	rows, err := s.db.QueryContext(ctx, q, b.args...)
	if err != nil {
		return nil, err
	}
	persons, recs := make([]int64, a.Bins), make([]int64, a.Bins)
	for rows.Next() {
		var bin, p, r int64
		if err := rows.Scan(&bin, &p, &r); err != nil {
			rows.Close()
			return nil, err
		}
		if bin >= 0 && bin < int64(a.Bins) {
			persons[bin], recs[bin] = p, r
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	t := &built{title: fmt.Sprintf("Distribution of %s: %s", name, h.desc)}
	unit := "rows"
	if h.events == nil {
		unit = "persons"
	}
	t.columns = []string{name, "persons"}
	if h.events != nil {
		t.columns = append(t.columns, unit)
	}
	var heights, pcs, rcs []*release.Cell
	var labels []string
	for i := 0; i < a.Bins; i++ {
		blo, bhi := lo+float64(i)*width, lo+float64(i+1)*width
		last := i == a.Bins-1
		label := fmt.Sprintf("[%s, %s)", fmtNum(blo), fmtNum(bhi))
		if last {
			label = fmt.Sprintf("[%s, %s]", fmtNum(blo), fmtNum(bhi))
		}
		if clamp && i == 0 {
			blo = math.Inf(-1)
		}
		if clamp && last {
			bhi = math.Inf(1)
		}
		if clamp {
			label = "[" + fmtNum(blo) + ", " + fmtNum(bhi) + ")"
			if i == 0 {
				label = "(" + label[1:]
			}
		}
		bh := binHandle(h, name, blo, bhi, last, at)
		plan := planFor(bh, at, nil, nil, nil).bytes()
		pc := t.add(&release.Cell{Stat: release.Count, Value: float64(persons[i]), Persons: persons[i], Plan: plan, Desc: name + " in " + label + ": " + h.desc})
		hc := pc
		row := []*slot{{text: label}, {cell: pc}}
		if h.events != nil {
			hc = t.add(&release.Cell{Stat: release.Rows, Value: float64(recs[i]), Persons: persons[i], Of: pc})
			row = append(row, &slot{cell: hc})
			rcs = append(rcs, hc)
		}
		pcs = append(pcs, pc)
		heights = append(heights, hc)
		labels = append(labels, label)
		t.rows = append(t.rows, row)
	}
	// The bins add up to the persons (ages: one per person) and rows with
	// a value in [lo, hi], which other results release (stats.Count of the
	// cohort when the range holds everyone): their total less the bins
	// would show a bin hidden alone, or the few persons outside the range.
	// The total is judged and recorded (differencing sees it) but not
	// shown, with a margin over the bins, as Describe's (hiddenTotals).
	if name == "age" {
		var n int64
		for _, p := range persons {
			n += p
		}
		span := binHandle(h, name, lo, hi, true, at)
		label := fmt.Sprintf("[%s, %s]", fmtNum(lo), fmtNum(hi))
		if clamp {
			span, label = h, "all"
		}
		tc := t.add(&release.Cell{Stat: release.Count, Value: float64(n), Persons: n, Plan: planFor(span, at, nil, nil, nil).bytes(),
			Desc: name + " in " + label + ": " + h.desc + " (total, not shown)"})
		t.margins = append(t.margins, release.Margin{Total: tc, Parts: pcs})
	}
	if len(rcs) > 0 {
		var n int64
		for i := range recs {
			n += recs[i]
		}
		// The rows in range are a row-level statistic of the column: the
		// same persons with a few more rows (one more day) would show, in
		// the bars that did not change, where those rows' values lie. So
		// the total is differenced by its rows, and every bar follows it.
		span := binHandle(h, name, lo, hi, true, at)
		src := meanSource(span.events, name, at)
		label := fmt.Sprintf("[%s, %s]", fmtNum(lo), fmtNum(hi))
		if clamp {
			// Every row with a value: the rows the range was judged
			// with, as a Describe of the handle reads them.
			span, src, label = withValue(h, name, at), meanSource(h.events, name, at), "all"
		}
		plan := planFor(span, at, nil, nil, nil).bytes()
		set, err := s.PersonSet(ctx, plan)
		if err != nil {
			return nil, err
		}
		np := int64(set.GetCardinality())
		tc := t.add(&release.Cell{Stat: release.Rows, Value: float64(n), Persons: np})
		t.margins = append(t.margins, release.Margin{Total: tc, Parts: rcs})
		// Judged for the row rule alone, in no margin (secondary
		// suppression never picks it to hide).
		tq := t.add(&release.Cell{Stat: release.Rows, Value: float64(n), Persons: np, Plan: plan,
			Quantity: quantityOf(name) + " in " + label, RowCount: n, Source: src, Concepts: h.events.Concepts,
			Desc: "rows of " + name + " in " + label + ": " + h.desc + " (not shown)"})
		for _, pc := range pcs {
			pc.Of = tq
		}
	}
	if clamp {
		t.notes = append(t.notes, "the range is the 1st to the 99th percentile (smoothed); the first bar also counts the values below it, the last those above")
	} else {
		t.notes = append(t.notes, fmt.Sprintf("values outside [%s, %s] are not drawn", fmtNum(lo), fmtNum(hi)))
	}
	tab, err := s.finish(ctx, cell, "plot.Histogram("+name+" of "+h.desc+")", t)
	if err != nil {
		return nil, err
	}
	return s.barsPlot(cell, tab, render.Bars{Title: tab.Title, XLabel: name, YLabel: unit, Labels: labels}, heights)
}

// barsPlot draws released bar heights and registers the plot.
func (s *Server) barsPlot(cell string, tab *spec.Table, bars render.Bars, heights []*release.Cell) (*spec.Plot, error) {
	other := false // a bar hidden for another reason than its own few persons
	for _, c := range heights {
		bars.Heights = append(bars.Heights, c.Value)
		bars.Suppressed = append(bars.Suppressed, c.Suppressed())
		other = other || c.Suppressed() && c.Status != spec.Small
	}
	bars.Marker = s.sess.Policy.Marker
	bars.Note = fmt.Sprintf("bars of 1–%d persons are not drawn (%s)", s.sess.Policy.MinCount-1, s.sess.Policy.Marker)
	if other {
		// "≤20" over a bar of thousands hidden for differencing would
		// say something false (review 62): the table under the plot
		// says which bar is hidden why.
		bars.Marker = "*"
		bars.Note = fmt.Sprintf("bars hidden by the release rules are not drawn (*: 1–%d persons, or hidden for another reason; the table says which)", s.sess.Policy.MinCount-1)
	}
	bundle, err := render.BarsBundle(bars)
	if err != nil {
		return nil, err
	}
	return &spec.Plot{Ref: s.register(cell, bundle, tab), Title: bars.Title, Table: tab}, nil
}

// autoRange is a histogram's range when none is given: the 1st and 99th
// percentiles, smoothed as Describe's quartiles are, widened to round
// numbers. Both ends are values of the data, so they are judged first, as
// a Describe's quartiles of the same rows would be, and used only when
// released: a range printed beside hidden bars gave one person's glucose
// reading (the top end of 20 known readings and theirs, review 36). The
// persons and rows behind them are recorded, not shown.
func (s *Server) autoRange(ctx context.Context, cell string, h *handle, expr, name, pid, cond, at string, bins int, args []any) (lo, hi float64, n int, err error) {
	var persons, rows int64
	r, err := s.db.QueryContext(ctx, "SELECT "+s.countPersons(ctx, h, pid, "")+", count(*)"+cond, args...)
	if err != nil {
		return 0, 0, 0, err
	}
	if r.Next() {
		err = r.Scan(&persons, &rows)
	}
	r.Close()
	if err != nil {
		return 0, 0, 0, err
	}
	if persons < int64(s.sess.Policy.MinCount) {
		return 0, 0, 0, datasets.Errorf("too few persons have a value of %s to draw its distribution", name)
	}
	win, _, err := s.smoothedQuantiles(ctx, h, nil, expr, "("+expr+") IS NOT NULL", []string{"0.01", "0.99"}, s.sess.Policy.MinCount, false)
	if err != nil {
		return 0, 0, 0, err
	}
	w := win[keyString(nil, nil)]
	if len(w) < 2*smoothedWidth {
		return 0, 0, 0, datasets.Errorf("the distribution of %s has no range to draw; give one with plot.HistogramRange", name)
	}
	hv := withValue(h, name, at)
	plan := planFor(hv, at, nil, nil, nil).bytes()
	pc := &release.Cell{Stat: release.Count, Value: float64(persons), Persons: persons, Plan: plan,
		Desc: "persons with " + name + " of " + h.desc + " (histogram range, not shown)"}
	rc := &release.Cell{Stat: release.Rows, Value: float64(rows), Persons: persons, Of: pc, Plan: plan,
		Quantity: quantityOf(name), RowCount: rows, Desc: "rows of " + name + " of " + h.desc + " (histogram range, not shown)"}
	if h.events == nil {
		rc.Quantity, rc.Source = ageQuantity, ageSource(at)
	} else {
		rc.Source, rc.Table, rc.Concepts = meanSource(h.events, name, at), h.events.Table, h.events.Concepts
	}
	ends := make([]*release.Cell, 2)
	for i := range ends {
		col := w[smoothedWidth*i:]
		win, err := windowPersons(col)
		if err != nil {
			return 0, 0, 0, err
		}
		ends[i] = &release.Cell{Stat: release.Quantile, Value: toFloat(col[0]), Persons: persons, Of: rc, Near: max(1, toInt(col[1])),
			Window: win, Table: rc.Table, Concepts: rc.Concepts,
			Desc: fmt.Sprintf("%s percentile of %s of %s (histogram range)", []string{"1st", "99th"}[i], name, h.desc)}
	}
	d := &release.Decision{What: "plot.Histogram range (" + name + " of " + h.desc + ")", Cells: append([]*release.Cell{pc, rc}, ends...), Held: s.held}
	if _, err := s.sess.Decide(ctx, cell, d); err != nil {
		return 0, 0, 0, err
	}
	for _, c := range ends {
		if c.Suppressed() {
			why := "hidden"
			if l := s.sess.Policy.Legend([]*release.Cell{c}); len(l) > 0 {
				why = l[0]
			}
			return 0, 0, 0, datasets.Errorf("the automatic range of this histogram is not released (%s): give one with plot.HistogramRange", why)
		}
	}
	lo, hi = ends[0].Value, ends[1].Value
	step := niceStep((hi - lo) / float64(bins))
	lo, hi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	if hi <= lo {
		hi = lo + step
	}
	return lo, hi, min(100, max(1, int(math.Round((hi-lo)/step)))), nil
}

// binHandle restricts h to values of column name in [lo, hi) ([lo, hi]
// for the last bin); an infinite end is no bound.
func binHandle(h *handle, name string, lo, hi float64, last bool, at string) *handle {
	if name == "age" {
		c := &cohortPlan{Op: "age", Min: math.MinInt32, Max: math.MaxInt32, At: at}
		if !math.IsInf(lo, -1) {
			c.Min = int(math.Ceil(lo))
		}
		if !math.IsInf(hi, 1) {
			c.Max = int(math.Ceil(hi)) - 1
			if last {
				c.Max = int(math.Floor(hi))
			}
		}
		return ageBin(h, c)
	}
	e := *h.events
	upper := "<"
	if last {
		upper = "<="
	}
	e.Where = append([]filterPlan(nil), e.Where...)
	if !math.IsInf(lo, -1) {
		e.Where = append(e.Where, filterPlan{Column: name, Op: ">=", Values: []any{lo}})
	}
	if !math.IsInf(hi, 1) {
		e.Where = append(e.Where, filterPlan{Column: name, Op: upper, Values: []any{hi}})
	} else if math.IsInf(lo, -1) {
		e.Where = append(e.Where, filterPlan{Column: name, Op: "is not null"})
	}
	return &handle{events: &e, desc: h.desc}
}

// ageBin restricts h to an age range; the age is taken at the plan's date.
func ageBin(h *handle, c *cohortPlan) *handle {
	if h.cohort != nil {
		return &handle{cohort: &cohortPlan{Op: "and", A: h.cohort, B: c}, desc: h.desc}
	}
	e := *h.events
	if e.Of != nil {
		e.Of = &cohortPlan{Op: "and", A: e.Of, B: c}
	} else {
		e.Of = c
	}
	return &handle{events: &e, desc: h.desc}
}

func fmtNum(f float64) string {
	if math.IsInf(f, 0) {
		return map[bool]string{true: "+∞", false: "-∞"}[f > 0]
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return fmt.Sprintf("%.0f", f)
	}
	return strconv.FormatFloat(f, 'g', 10, 64)
}

func (s *Server) bar(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.CountArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	if len(a.By) != 1 {
		return nil, datasets.Errorf("plot.Bar needs exactly one grouping variable")
	}
	tab, t, err := s.countTable(ctx, cell, a)
	if err != nil {
		return nil, err
	}
	var heights []*release.Cell
	var labels []string
	for i, r := range t.rows {
		if i == len(t.rows)-1 { // the total
			break
		}
		labels = append(labels, r[0].text)
		heights = append(heights, r[1].cell)
	}
	return s.barsPlot(cell, tab, render.Bars{Title: tab.Title, XLabel: a.By[0], YLabel: "persons", Labels: labels}, heights)
}
