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
	if lo == 0 && hi == 0 {
		// The range from the 1st and 99th percentiles, smoothed as
		// Describe's quartiles are, over enough persons, widened to round
		// numbers: never an observed extreme, nor one person's value.
		var n int64
		var q1, q99 any
		rows, err := s.db.QueryContext(ctx, "SELECT "+s.countPersons(ctx, h, pid, "")+cond, b.args...)
		if err != nil {
			return nil, err
		}
		if rows.Next() {
			rows.Scan(&n)
		}
		rows.Close()
		win, err := s.smoothedQuantiles(ctx, h, nil, expr, "("+expr+") IS NOT NULL", []string{"0.01", "0.99"}, s.sess.Policy.MinCount, false)
		if err != nil {
			return nil, err
		}
		if w := win[keyString(nil, nil)]; len(w) >= 2*smoothedWidth {
			q1, q99 = w[0], w[smoothedWidth]
		}
		if n < int64(s.sess.Policy.MinCount) {
			return nil, datasets.Errorf("too few persons have a value of %s to draw its distribution", name)
		}
		lo, hi = toFloat(q1), toFloat(q99)
		step := niceStep((hi - lo) / float64(a.Bins))
		lo, hi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
		if hi <= lo {
			hi = lo + step
		}
		a.Bins = min(100, max(1, int(math.Round((hi-lo)/step))))
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
	q := "SELECT " + binExpr + ", " + s.countPersons(ctx, h, pid, "") + ", count(*)" + cond + " AND (" + expr + ") >= " + fmtNum(lo) +
		" AND (" + expr + ") <= " + fmtNum(hi) + " GROUP BY 1"
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
		bh := binHandle(h, name, blo, bhi, last, at)
		plan := planFor(bh, at, nil, nil, nil).bytes()
		label := fmt.Sprintf("[%s, %s)", fmtNum(blo), fmtNum(bhi))
		if last {
			label = fmt.Sprintf("[%s, %s]", fmtNum(blo), fmtNum(bhi))
		}
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
		plan := planFor(span, at, nil, nil, nil).bytes()
		set, err := s.PersonSet(ctx, plan)
		if err != nil {
			return nil, err
		}
		np := int64(set.GetCardinality())
		label := fmt.Sprintf("[%s, %s]", fmtNum(lo), fmtNum(hi))
		tc := t.add(&release.Cell{Stat: release.Rows, Value: float64(n), Persons: np})
		t.margins = append(t.margins, release.Margin{Total: tc, Parts: rcs})
		// Judged for the row rule alone, in no margin (secondary
		// suppression never picks it to hide).
		tq := t.add(&release.Cell{Stat: release.Rows, Value: float64(n), Persons: np, Plan: plan,
			Quantity: quantityOf(name) + " in " + label, RowCount: n, Source: meanSource(span.events, name, at),
			Desc: "rows of " + name + " in " + label + ": " + h.desc + " (not shown)"})
		for _, pc := range pcs {
			pc.Of = tq
		}
	}
	t.notes = append(t.notes, fmt.Sprintf("values outside [%s, %s] are not drawn", fmtNum(lo), fmtNum(hi)))
	tab, err := s.finish(ctx, cell, "plot.Histogram("+name+" of "+h.desc+")", t)
	if err != nil {
		return nil, err
	}
	return s.barsPlot(cell, tab, render.Bars{Title: tab.Title, XLabel: name, YLabel: unit, Labels: labels}, heights)
}

// barsPlot draws released bar heights and registers the plot.
func (s *Server) barsPlot(cell string, tab *spec.Table, bars render.Bars, heights []*release.Cell) (*spec.Plot, error) {
	for _, c := range heights {
		bars.Heights = append(bars.Heights, c.Value)
		bars.Suppressed = append(bars.Suppressed, c.Suppressed())
	}
	bars.Marker = s.sess.Policy.Marker
	bars.Note = fmt.Sprintf("bars of 1–%d persons are not drawn (%s)", s.sess.Policy.MinCount-1, s.sess.Policy.Marker)
	bundle, err := render.BarsBundle(bars)
	if err != nil {
		return nil, err
	}
	return &spec.Plot{Ref: s.register(cell, bundle, tab), Title: bars.Title, Table: tab}, nil
}

// binHandle restricts h to values of column name in [lo, hi) ([lo, hi]
// for the last bin).
func binHandle(h *handle, name string, lo, hi float64, last bool, at string) *handle {
	if name == "age" {
		c := &cohortPlan{Op: "age", Min: int(math.Ceil(lo)), Max: int(math.Ceil(hi)) - 1, At: at}
		if last {
			c.Max = int(math.Floor(hi))
		}
		return ageBin(h, c)
	}
	e := *h.events
	upper := "<"
	if last {
		upper = "<="
	}
	e.Where = append(append([]filterPlan(nil), e.Where...),
		filterPlan{Column: name, Op: ">=", Values: []any{lo}}, filterPlan{Column: name, Op: upper, Values: []any{hi}})
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
