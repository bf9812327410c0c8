package export

import (
	"enclave/api/internal/call"
	"enclave/api/spec"
)

// Result is a released table or figure (stats.Table, plot.Plot).
type Result interface {
	ResultRef() string
}

// Receipt says which review item holds the request.
type Receipt struct{ spec.ExportReceipt }

// String says where the request went.
func (r Receipt) String() string {
	return "export request " + r.Review + " is " + r.Status + " review by a data steward"
}

// File asks for r to be exported as a CSV file named name.
func File(name string, r Result) Receipt {
	if r == nil || r.ResultRef() == "" {
		panic(&call.Error{Op: "export.File", Msg: "needs a table or plot returned by enclave/stats or enclave/plot"})
	}
	var out Receipt
	call.Must("export.File", spec.MExport, spec.ExportArgs{Name: name, Ref: r.ResultRef()}, &out.ExportReceipt)
	return out
}
