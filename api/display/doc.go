// Package display shows rich output from a notebook cell: HTML, Markdown,
// images, SVG, JSON or any MIME bundle, and updates an output in place
// (progress) through a display handle.
//
// Cells import it as "enclave/display":
//
//	display.Markdown("**12** cohorts")           // shown at once
//	h := display.New(display.AsText("0%"))       // a handle…
//	h.Update(display.AsText("50%"))              // …updated in place
//	display.Clear(true)                          // clear the cell's output
//	tw := tabwriter.NewWriter(display.Stdout(), 0, 4, 1, ' ', 0)
//
// The functions without "As" show at once; the As* functions build a
// [Bundle] for New, Update or Publish. A value that is the last expression
// of a cell is shown richly when it has one of the methods of [HTMLer],
// [Markdowner], [SVGer], [PNGer] or [MIMEBundler] (its String method, if
// any, gives the plain text); an image.Image is shown as a PNG. Displays
// count against the cell's output limit.
//
// Trust level: untrusted worker side. Everything shown goes to the kernel,
// which checks it before it leaves; this package only builds bundles.
package display
