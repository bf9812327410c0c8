package render

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image/color"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure size and raster resolution: 6×4 inches at 96 dpi is 576×384
// pixels, about the width of a notebook output cell.
const (
	FigureWidth  = 6 * vg.Inch
	FigureHeight = 4 * vg.Inch
	FigureDPI    = 96
)

var (
	sansFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

	black     = color.Gray{Y: 0}
	grey      = color.Gray{Y: 0x76}
	lightGrey = color.Gray{Y: 0xb0}
	barFill   = color.RGBA{R: 0x4c, G: 0x72, B: 0xb0, A: 0xff}
	barEdge   = color.RGBA{R: 0x2b, G: 0x44, B: 0x6e, A: 0xff}
	refColour = color.RGBA{R: 0xc0, G: 0x39, B: 0x2b, A: 0xff}

	// curveColours are the colours of successive curves (Okabe–Ito, which
	// stay distinguishable for the common kinds of colour blindness).
	curveColours = []color.Color{
		color.RGBA{R: 0x00, G: 0x72, B: 0xb2, A: 0xff},
		color.RGBA{R: 0xe6, G: 0x9f, B: 0x00, A: 0xff},
		color.RGBA{R: 0x00, G: 0x9e, B: 0x73, A: 0xff},
		color.RGBA{R: 0xd5, G: 0x5e, B: 0x00, A: 0xff},
		color.RGBA{R: 0xcc, G: 0x79, B: 0xa7, A: 0xff},
		color.RGBA{R: 0x56, G: 0xb4, B: 0xe9, A: 0xff},
		color.RGBA{R: 0x00, G: 0x00, B: 0x00, A: 0xff},
	}

	// groupColours alternate between point groups (e.g. chromosomes).
	groupColours = []color.Color{
		color.RGBA{R: 0x1f, G: 0x4e, B: 0x79, A: 0xff},
		color.RGBA{R: 0x8a, G: 0xb6, B: 0xd6, A: 0xff},
	}
)

// newPlot makes a plot with the package's fonts and the given (cleaned)
// title and axis labels.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = strings.TrimSpace(cleanText(title))
	p.Title.TextStyle.Font = font.From(sansFont, 12)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = strings.TrimSpace(cleanText(xlabel))
	p.Y.Label.Text = strings.TrimSpace(cleanText(ylabel))
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sansFont, 10)
		a.Tick.Label.Font = font.From(sansFont, 8)
	}
	p.Legend.TextStyle.Font = font.From(sansFont, 9)
	return p
}

// textStyle is a plain-text style in the package's font.
func textStyle(size vg.Length, clr color.Color, xa text.XAlignment, ya text.YAlignment) text.Style {
	return text.Style{
		Color:   clr,
		Font:    font.From(sansFont, size),
		XAlign:  xa,
		YAlign:  ya,
		Handler: plot.DefaultTextHandler,
	}
}

// messagePlotter writes a message in the middle of an otherwise empty plot.
type messagePlotter struct{ msg string }

func (m messagePlotter) Plot(c draw.Canvas, _ *plot.Plot) {
	c.FillText(textStyle(11, grey, draw.XCenter, draw.YCenter), c.Center(), m.msg)
}

// emptyPlot is the figure drawn when there is nothing to plot.
func emptyPlot(title, xlabel, ylabel string) *plot.Plot {
	p := newPlot(title, xlabel, ylabel)
	p.HideAxes()
	p.Add(messagePlotter{msg: "no released data to plot"})
	return p
}

// wrapText breaks lines into lines no wider than w in style sty, at spaces.
func wrapText(lines []string, sty text.Style, w vg.Length) []string {
	var out []string
	for _, l := range lines {
		cur := ""
		for _, word := range strings.Fields(l) {
			next := word
			if cur != "" {
				next = cur + " " + word
			}
			if cur != "" && sty.Width(next) > w {
				out = append(out, cur)
				cur = word
				continue
			}
			cur = next
		}
		if cur != "" {
			out = append(out, cur)
		}
	}
	return out
}

// drawFigure draws p on c with a margin, and the footnote lines (if any)
// under it.
func drawFigure(c draw.Canvas, p *plot.Plot, note []string) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	pad := vg.Points(6)
	c = draw.Crop(c, pad, -pad, pad, -pad)
	if len(note) > 0 {
		sty := textStyle(8, grey, draw.XLeft, draw.YBottom)
		lines := wrapText(note, sty, c.Size().X)
		lh := sty.Height("Mg")
		for i := range lines {
			y := c.Min.Y + vg.Length(len(lines)-1-i)*lh*1.15
			c.FillText(sty, vg.Point{X: c.Min.X, Y: y}, lines[i])
		}
		c = draw.Crop(c, 0, 0, vg.Length(len(lines))*lh*1.15+pad, 0)
	}
	p.Draw(c)
}

// figureBundle draws p (with its footnote) as PNG and SVG and returns the
// MIME bundle with the given plain-text summary. A panic in the plotting
// library is returned as an error.
func figureBundle(p *plot.Plot, note []string, summary string) (bundle map[string]any, err error) {
	defer func() {
		if r := recover(); r != nil {
			bundle, err = nil, fmt.Errorf("render: drawing failed: %v", r)
		}
	}()

	img := vgimg.NewWith(
		vgimg.UseWH(FigureWidth, FigureHeight),
		vgimg.UseDPI(FigureDPI),
		vgimg.UseBackgroundColor(color.White),
	)
	drawFigure(draw.New(img), p, note)
	var pngBuf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&pngBuf); err != nil {
		return nil, fmt.Errorf("render: encoding PNG: %w", err)
	}

	svg := vgsvg.New(FigureWidth, FigureHeight)
	drawFigure(draw.New(svg), p, note)
	var svgBuf bytes.Buffer
	if _, err := svg.WriteTo(&svgBuf); err != nil {
		return nil, fmt.Errorf("render: encoding SVG: %w", err)
	}

	return map[string]any{
		MIMEPNG:  base64.StdEncoding.EncodeToString(pngBuf.Bytes()),
		MIMESVG:  svgBuf.String(),
		MIMEText: summary,
	}, nil
}
