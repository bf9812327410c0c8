package plot

import (
	"enclave/api/internal/call"
	"enclave/api/spec"
)

// Scan is a released association scan (genomics.GLM's result): anything
// with the kernel's reference of its released rows.
type Scan interface{ ResultRef() string }

func scanRef(op string, r Scan) string {
	if r == nil {
		panic(&call.Error{Op: op, Msg: "needs an association scan from genomics.GLM"})
	}
	ref := r.ResultRef()
	if ref == "" {
		panic(&call.Error{Op: op, Msg: "needs an association scan from genomics.GLM"})
	}
	return ref
}

// Manhattan draws -log10 p of the scan's released rows along the genome,
// chromosomes in alternating colours, with the genome-wide significance
// line at p = 5e-8 and λ_GC in the title. Dropped rows are not drawn.
func Manhattan(r Scan) Plot {
	var p Plot
	call.Must("plot.Manhattan", spec.MManhattan, spec.GenoPlotArgs{Ref: scanRef("plot.Manhattan", r)}, &p.Plot)
	return p
}

// QQ draws the observed against the expected -log10 p of the scan's
// released rows, with the diagonal and λ_GC in the title.
func QQ(r Scan) Plot {
	var p Plot
	call.Must("plot.QQ", spec.MQQ, spec.GenoPlotArgs{Ref: scanRef("plot.QQ", r)}, &p.Plot)
	return p
}
