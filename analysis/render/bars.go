package render

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Bars is what a histogram or bar chart is drawn from: released heights
// only.
type Bars struct {
	Title, XLabel, YLabel string
	// Labels names the bars, one per bar (bin ranges "40–50" or category
	// names). It sets the number of bars.
	Labels []string
	// Heights are the released heights, one per bar; the entry of a
	// suppressed bar is ignored (and may be missing at the end).
	Heights []float64
	// Suppressed marks the bars whose height was not released. They are
	// drawn as an empty, hatched, outlined box of fixed size with the
	// marker above it, never with a height. Nil means none.
	Suppressed []bool
	// Marker is the text shown for a suppressed bar, e.g. "≤20".
	Marker string
	// Note is a footnote under the plot (e.g. "bins with 1–20 persons are
	// not shown").
	Note string
}

// barsView is Bars checked and cleaned for drawing.
type barsView struct {
	labels     []string
	heights    []float64 // 0 where suppressed
	suppressed []bool
	marker     string
}

func viewBars(b Bars) (barsView, error) {
	n := len(b.Labels)
	if len(b.Heights) > n {
		return barsView{}, fmt.Errorf("render: %d heights for %d bar labels", len(b.Heights), n)
	}
	if len(b.Suppressed) > n {
		return barsView{}, fmt.Errorf("render: %d suppression flags for %d bar labels", len(b.Suppressed), n)
	}
	v := barsView{
		labels:     make([]string, n),
		heights:    make([]float64, n),
		suppressed: make([]bool, n),
		marker:     strings.TrimSpace(cleanText(b.Marker)),
	}
	if v.marker == "" {
		v.marker = "suppressed"
	}
	for i := range n {
		v.labels[i] = strings.TrimSpace(cleanText(b.Labels[i]))
		if i < len(b.Suppressed) && b.Suppressed[i] {
			v.suppressed[i] = true
			continue // the height is never read
		}
		if i >= len(b.Heights) {
			return barsView{}, fmt.Errorf("render: no height for released bar %d (%q)", i, v.labels[i])
		}
		h := b.Heights[i]
		if !finite(h) {
			return barsView{}, fmt.Errorf("render: height of bar %d (%q) is %v", i, v.labels[i], h)
		}
		v.heights[i] = h
	}
	return v, nil
}

// BarsBundle draws bars as "image/png" (base64), "image/svg+xml" and
// "text/plain" (the title and one line per bar; a suppressed bar shows its
// marker, never a height). It returns an error for a NaN or infinite
// released height or for mismatched lengths; zero bars give a plot saying
// there is nothing to show.
func BarsBundle(b Bars) (map[string]any, error) {
	v, err := viewBars(b)
	if err != nil {
		return nil, err
	}
	note := cleanLines(b.Note)
	if len(v.labels) == 0 {
		return figureBundle(emptyPlot(b.Title, b.XLabel, b.YLabel), note, barsSummary(b.Title, v, note))
	}
	p := newPlot(b.Title, b.XLabel, b.YLabel)
	p.Add(&barsPlotter{v: v})
	nominalX(p, v.labels)
	return figureBundle(p, note, barsSummary(b.Title, v, note))
}

// nominalX puts the bar labels under the bars, leaving some out when there
// are too many to read and slanting them when they would overlap.
func nominalX(p *plot.Plot, labels []string) {
	const maxLabels = 24
	step := (len(labels) + maxLabels - 1) / maxLabels
	shown := make([]string, len(labels))
	var total vg.Length
	for i, l := range labels {
		if i%step == 0 {
			shown[i] = l
			total += p.X.Tick.Label.Width(l) + vg.Points(6)
		}
	}
	p.NominalX(shown...)
	if total > FigureWidth-vg.Inch {
		p.X.Tick.Label.Rotation = math.Pi / 4
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
}

func barsSummary(title string, v barsView, note []string) string {
	var b strings.Builder
	if t := strings.TrimSpace(cleanText(title)); t != "" {
		b.WriteString(t + "\n")
	}
	if len(v.labels) == 0 {
		b.WriteString("(no bars)\n")
	}
	lw, hw := 0, 0
	vals := make([]string, len(v.labels))
	for i, l := range v.labels {
		lw = max(lw, width(l))
		if v.suppressed[i] {
			vals[i] = v.marker + " (suppressed)"
		} else {
			vals[i] = formatNum(v.heights[i])
			hw = max(hw, width(vals[i]))
		}
	}
	for i, l := range v.labels {
		val := vals[i]
		if !v.suppressed[i] {
			val = padLeft(val, hw)
		}
		b.WriteString(strings.TrimRight("  "+padRight(l, lw)+"  "+val, " ") + "\n")
	}
	for _, n := range note {
		b.WriteString(n + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// barsPlotter draws the bars at x = 0, 1, … n-1.
type barsPlotter struct{ v barsView }

// DataRange spans the released heights and zero only: a suppressed bar
// has no height and does not move the axis.
func (bp *barsPlotter) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = -0.5, float64(len(bp.v.labels))-0.5
	for i, h := range bp.v.heights {
		if !bp.v.suppressed[i] {
			ymin, ymax = min(ymin, h), max(ymax, h)
		}
	}
	if ymin == ymax {
		ymax = 1
	}
	return xmin, xmax, ymin, ymax
}

// Plot draws released bars filled from zero to their height, and
// suppressed bars as a fixed-size hatched box with the marker.
func (bp *barsPlotter) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	base := trY(0)
	const halfWidth = 0.4
	edge := draw.LineStyle{Color: barEdge, Width: vg.Points(0.75)}
	dashed := draw.LineStyle{Color: grey, Width: vg.Points(0.75), Dashes: []vg.Length{vg.Points(3), vg.Points(2)}}
	hatch := draw.LineStyle{Color: lightGrey, Width: vg.Points(0.5)}
	markerStyle := textStyle(8, grey, draw.XCenter, draw.YBottom)
	boxH := vg.Points(16)
	textH := markerStyle.Height(bp.v.marker)
	gap := vg.Points(2)

	for i := range bp.v.labels {
		x0, x1 := trX(float64(i)-halfWidth), trX(float64(i)+halfWidth)
		if !bp.v.suppressed[i] {
			y := trY(bp.v.heights[i])
			lo, hi := min(base, y), max(base, y)
			rect := []vg.Point{{X: x0, Y: lo}, {X: x1, Y: lo}, {X: x1, Y: hi}, {X: x0, Y: hi}}
			c.FillPolygon(barFill, rect)
			c.StrokeLines(edge, append(rect, rect[0]))
			continue
		}
		// A box of fixed size on the baseline, upwards unless that would
		// leave the plot area, with the marker beyond it; the marker
		// runs vertically when it is wider than the bar.
		sty, extent := markerStyle, textH
		vertical := markerStyle.Width(bp.v.marker) > x1-x0
		if vertical {
			sty.Rotation = math.Pi / 2
			sty.XAlign, sty.YAlign = draw.XLeft, draw.YCenter
			extent = markerStyle.Width(bp.v.marker)
		}
		lo, hi, ty := base, base+boxH, base+boxH+gap
		if hi+gap+extent > c.Max.Y && base-boxH-gap-extent >= c.Min.Y {
			lo, hi, ty = base-boxH, base, base-boxH-gap
			if vertical {
				sty.XAlign = draw.XRight
			} else {
				sty.YAlign = draw.YTop
			}
		}
		for _, l := range hatchLines(x0, lo, x1, hi, vg.Points(4)) {
			c.StrokeLines(hatch, l)
		}
		rect := []vg.Point{{X: x0, Y: lo}, {X: x1, Y: lo}, {X: x1, Y: hi}, {X: x0, Y: hi}, {X: x0, Y: lo}}
		c.StrokeLines(dashed, rect)
		c.FillText(sty, vg.Point{X: (x0 + x1) / 2, Y: ty}, bp.v.marker)
	}
}

// hatchLines returns 45° lines spaced by step that fill the rectangle
// (x0,y0)–(x1,y1).
func hatchLines(x0, y0, x1, y1, step vg.Length) [][]vg.Point {
	w, h := x1-x0, y1-y0
	if w <= 0 || h <= 0 || step <= 0 {
		return nil
	}
	var out [][]vg.Point
	// The line with offset k runs through (x0+k+t, y0+t) for t in [0, h],
	// kept where x0 ≤ x ≤ x1.
	for k := -h + step/2; k < w; k += step {
		t0, t1 := max(0, -k), min(h, w-k)
		if t0 >= t1 {
			continue
		}
		out = append(out, []vg.Point{{X: x0 + k + t0, Y: y0 + t0}, {X: x0 + k + t1, Y: y0 + t1}})
	}
	return out
}
