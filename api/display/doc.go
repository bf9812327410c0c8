// Package display shows rich output from a notebook cell: HTML, Markdown,
// images, SVG, JSON or any MIME bundle, and updates an output in place
// (progress) through a display handle.
//
// Cells import it as "enclave/display":
//
//	display.Markdown("**12** cohorts")
//	h := display.New(display.AsText("0%"))
//	h.Update(display.AsText("50%"))
//
// A value that is the last expression of a cell is shown richly when it has
// one of the methods of [HTMLer], [Markdowner], [SVGer], [PNGer] or
// [MIMEBundler]; an image.Image is shown as a PNG.
//
// Trust level: untrusted worker side. Everything shown goes to the kernel,
// which checks it before it leaves; this package only builds bundles.
package display
