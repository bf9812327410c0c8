package render

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Points is what Manhattan and QQ style scatter plots are drawn from
// (released rows only).
type Points struct {
	Title, XLabel, YLabel string
	X, Y                  []float64
	// Groups optionally gives each point a colour group; colours
	// alternate between groups (e.g. chromosome parity). Nil means one
	// group.
	Groups []int
	// Line is an optional reference line from (x0,y0) to (x1,y1), e.g.
	// the diagonal of a QQ plot.
	Line *[2][2]float64
	// HLine is an optional horizontal line, e.g. at -log10(5e-8).
	HLine *float64
}

func checkPoints(p Points) error {
	if len(p.X) != len(p.Y) {
		return fmt.Errorf("render: %d x values and %d y values", len(p.X), len(p.Y))
	}
	if p.Groups != nil && len(p.Groups) != len(p.X) {
		return fmt.Errorf("render: %d groups for %d points", len(p.Groups), len(p.X))
	}
	for i := range p.X {
		if !finite(p.X[i]) || !finite(p.Y[i]) {
			return fmt.Errorf("render: point %d is (%v, %v)", i, p.X[i], p.Y[i])
		}
	}
	if p.Line != nil {
		for _, pt := range p.Line {
			if !finite(pt[0]) || !finite(pt[1]) {
				return fmt.Errorf("render: reference line has a point (%v, %v)", pt[0], pt[1])
			}
		}
	}
	if p.HLine != nil && !finite(*p.HLine) {
		return fmt.Errorf("render: horizontal line at %v", *p.HLine)
	}
	return nil
}

// PointsBundle draws a scatter plot as "image/png" (base64),
// "image/svg+xml" and "text/plain" (title, axis labels and the number of
// points). It returns an error for NaN or infinite coordinates or
// mismatched lengths; no points give a plot saying there is nothing to
// show.
func PointsBundle(pts Points) (map[string]any, error) {
	if err := checkPoints(pts); err != nil {
		return nil, err
	}
	summary := pointsSummary(pts)
	if len(pts.X) == 0 {
		return figureBundle(emptyPlot(pts.Title, pts.XLabel, pts.YLabel), nil, summary)
	}
	p := newPlot(pts.Title, pts.XLabel, pts.YLabel)

	// One scatter per colour, in colour order, points in input order.
	byColour := make([]plotter.XYs, len(groupColours))
	for i := range pts.X {
		k := 0
		if pts.Groups != nil {
			k = pts.Groups[i] % len(groupColours)
			if k < 0 {
				k += len(groupColours)
			}
		}
		byColour[k] = append(byColour[k], plotter.XY{X: pts.X[i], Y: pts.Y[i]})
	}
	for k, xys := range byColour {
		if len(xys) == 0 {
			continue
		}
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, fmt.Errorf("render: %w", err)
		}
		s.GlyphStyle = draw.GlyphStyle{Color: groupColours[k], Radius: vg.Points(1.5), Shape: draw.CircleGlyph{}}
		p.Add(s)
	}

	ref := draw.LineStyle{Color: refColour, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
	if pts.Line != nil {
		l, err := plotter.NewLine(plotter.XYs{
			{X: pts.Line[0][0], Y: pts.Line[0][1]},
			{X: pts.Line[1][0], Y: pts.Line[1][1]},
		})
		if err != nil {
			return nil, fmt.Errorf("render: %w", err)
		}
		l.LineStyle = ref
		p.Add(l)
	}
	if pts.HLine != nil {
		p.Add(hline{y: *pts.HLine, style: ref})
	}
	return figureBundle(p, nil, summary)
}

func pointsSummary(pts Points) string {
	var b strings.Builder
	if t := strings.TrimSpace(cleanText(pts.Title)); t != "" {
		b.WriteString(t + "\n")
	}
	n := len(pts.X)
	switch n {
	case 0:
		b.WriteString("(no points)")
	case 1:
		b.WriteString("1 point")
	default:
		b.WriteString(strconv.Itoa(n) + " points")
	}
	if x := strings.TrimSpace(cleanText(pts.XLabel)); x != "" {
		b.WriteString("; x: " + x)
	}
	if y := strings.TrimSpace(cleanText(pts.YLabel)); y != "" {
		b.WriteString("; y: " + y)
	}
	b.WriteByte('\n')
	if pts.Line != nil {
		l := pts.Line
		fmt.Fprintf(&b, "reference line from (%s, %s) to (%s, %s)\n",
			formatNum(l[0][0]), formatNum(l[0][1]), formatNum(l[1][0]), formatNum(l[1][1]))
	}
	if pts.HLine != nil {
		fmt.Fprintf(&b, "horizontal line at y = %s\n", formatNum(*pts.HLine))
	}
	return strings.TrimRight(b.String(), "\n")
}

// hline is a horizontal line across the whole plot at y.
type hline struct {
	y     float64
	style draw.LineStyle
}

// DataRange keeps y in view and leaves the x range to the other plotters.
func (h hline) DataRange() (xmin, xmax, ymin, ymax float64) {
	return math.Inf(1), math.Inf(-1), h.y, h.y
}

func (h hline) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	y := trY(h.y)
	c.StrokeLine2(h.style, c.Min.X, y, c.Max.X, y)
}
