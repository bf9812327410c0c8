// Package render turns results that have already passed the release rules
// into Jupyter MIME bundles: tables (plain text, HTML and a Frictionless
// data resource) and plots (PNG and SVG drawn with gonum.org/v1/plot, plus a
// short plain-text summary).
//
// The package never decides what may be released. It draws exactly the
// numbers it is given and nothing derived from them beyond what is needed
// to lay out a figure: a suppressed table cell is shown by its marker text
// only, and a suppressed bar is drawn as an outlined, hatched box of fixed
// size with the marker above it, so neither its height nor its value can be
// read from any of the outputs, even when the caller left a number in the
// input by mistake. Axis ranges are computed from released values only.
//
// Text that comes from titles, labels and cells is escaped in HTML and
// stripped of control characters everywhere, and the same input always
// gives byte-identical output.
//
// Trust level: trusted kernel side.
package render
