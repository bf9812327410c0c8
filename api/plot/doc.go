// Package plot draws released aggregates as figures. The kernel computes
// the bins, judges each (a bar of 1–20 persons is drawn empty and marked
// ≤20) and draws the figure itself, so a plot carries only released values.
//
// Cells import it as "enclave/plot":
//
//	plot.Histogram(a1c, "value_as_number", 30)
//	plot.Bar(cohort, "age_group")
//
// Trust level: untrusted worker side.
package plot
