package render

import (
	"fmt"
	"strconv"
	"strings"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Step is one step-function curve, e.g. a Kaplan–Meier survival curve:
// times (days) and the survival from each time on.
type Step struct {
	Name string
	T, S []float64
}

// StepsBundle draws step-function curves (each value holds until the next
// time) as "image/png" (base64), "image/svg+xml" and "text/plain" (title
// and the number of time points of each curve). It returns an error for
// NaN or infinite values or mismatched lengths; no points at all give a
// plot saying there is nothing to show.
func StepsBundle(title, xlabel, ylabel string, steps []Step) (map[string]any, error) {
	total := 0
	unit := true // every survival value in [0, 1]
	for i, s := range steps {
		if len(s.T) != len(s.S) {
			return nil, fmt.Errorf("render: curve %d has %d times and %d values", i, len(s.T), len(s.S))
		}
		for j := range s.T {
			if !finite(s.T[j]) || !finite(s.S[j]) {
				return nil, fmt.Errorf("render: curve %d point %d is (%v, %v)", i, j, s.T[j], s.S[j])
			}
			if s.S[j] < 0 || s.S[j] > 1 {
				unit = false
			}
		}
		total += len(s.T)
	}
	summary := stepsSummary(title, steps)
	if total == 0 {
		return figureBundle(emptyPlot(title, xlabel, ylabel), nil, summary)
	}

	p := newPlot(title, xlabel, ylabel)
	p.Legend.Top = true
	for i, s := range steps {
		if len(s.T) == 0 {
			continue
		}
		xys := make(plotter.XYs, len(s.T))
		for j := range s.T {
			xys[j] = plotter.XY{X: s.T[j], Y: s.S[j]}
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("render: %w", err)
		}
		l.StepStyle = plotter.PostStep
		l.Color = curveColours[i%len(curveColours)]
		l.Width = vg.Points(1.5)
		p.Add(l)
		if strings.TrimSpace(s.Name) != "" || len(steps) > 1 {
			p.Legend.Add(curveName(s.Name, i), l)
		}
	}
	if unit {
		p.Y.Min, p.Y.Max = 0, 1
	}
	if p.X.Min > 0 {
		p.X.Min = 0
	}
	return figureBundle(p, nil, summary)
}

// curveName is the shown name of curve i.
func curveName(name string, i int) string {
	if n := strings.TrimSpace(cleanText(name)); n != "" {
		return n
	}
	return "curve " + strconv.Itoa(i+1)
}

func stepsSummary(title string, steps []Step) string {
	var b strings.Builder
	if t := strings.TrimSpace(cleanText(title)); t != "" {
		b.WriteString(t + "\n")
	}
	if len(steps) == 0 {
		b.WriteString("(no curves)\n")
	}
	names := make([]string, len(steps))
	w := 0
	for i, s := range steps {
		names[i] = curveName(s.Name, i)
		w = max(w, width(names[i]))
	}
	for i, s := range steps {
		n := strconv.Itoa(len(s.T)) + " time points"
		if len(s.T) == 1 {
			n = "1 time point"
		}
		b.WriteString("  " + padRight(names[i], w) + "  " + n + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}
