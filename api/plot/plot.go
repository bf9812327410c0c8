package plot

import (
	"enclave/api/internal/call"
	"enclave/api/omop"
	"enclave/api/spec"
	"enclave/api/stats"
)

// Plot is a released figure.
type Plot struct{ spec.Plot }

// MIMEBundle shows the figure as the kernel drew it (PNG and SVG).
func (p Plot) MIMEBundle() map[string]any {
	return map[string]any{spec.MIMERef: spec.Ref{Ref: p.Ref}}
}

// ResultRef is the kernel's reference of the figure (for export.File).
func (p Plot) ResultRef() string { return p.Ref }

// Data is the released table the figure was drawn from.
func (p Plot) Data() stats.Table {
	if p.Table == nil {
		return stats.Table{}
	}
	return stats.Table{Table: *p.Table}
}

// String names the figure.
func (p Plot) String() string { return "plot: " + p.Title }

func id(op string, h omop.Handle) string {
	if h == nil || h.Ref().ID == "" {
		panic(&call.Error{Op: op, Msg: "needs a cohort or events handle from enclave/omop"})
	}
	return h.Ref().ID
}

// Histogram draws the distribution of a numeric column of an events handle
// ("age" for any handle) in bins bins, over a range from the data's 1st to
// 99th percentile widened to round numbers.
func Histogram(h omop.Handle, column string, bins int) Plot {
	return HistogramRange(h, column, bins, 0, 0)
}

// HistogramRange is Histogram over [min, max].
func HistogramRange(h omop.Handle, column string, bins int, min, max float64) Plot {
	var p Plot
	call.Must("plot.Histogram", spec.MHistogram, spec.HistogramArgs{Handle: id("plot.Histogram", h), Column: column, Bins: bins, Min: min, Max: max}, &p.Plot)
	return p
}

// Bar draws the persons of a handle per level of one variable.
func Bar(h omop.Handle, by string) Plot {
	var p Plot
	call.Must("plot.Bar", spec.MBar, spec.CountArgs{Handle: id("plot.Bar", h), By: []string{by}}, &p.Plot)
	return p
}
