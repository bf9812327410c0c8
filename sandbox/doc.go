// Package sandbox is the runtime of the untrusted worker process
// (cmd/enclave-worker) that runs researchers' Go cells with yaegi.
//
// Serve answers the kernel over the rpc pipe: it runs cells in one
// interpreter for the life of the process (variables, types, functions and
// imports persist), streams their stdout and stderr in coalesced chunks,
// sends the value of a cell's last expression as a MIME bundle, reports
// compile errors and panics with the cell's own line and column, asks the
// kernel for stdin, and cancels a cell on interrupt.
//
// How a cell runs (execute.go): enclave/sandbox/cells splits it into
// imports, runs of declarations and runs of statements. Imports are checked
// against the allowlist before anything runs. Each run goes to yaegi with a
// line directive that numbers the cell's lines from a base of its own, so
// positions in errors and panic traces map back to cell[N]:line:col (all
// runs share yaegi's one source name, because yaegi scopes imports by file
// name). A final expression known to have one value is bound to a hidden
// variable so that the value's own methods (HTML, Markdown, String, …) can
// be called for its rich forms. Function literals started as goroutines get
// a recover guard. Several yaegi behaviours are worked around and tested in
// testdata/cells: re-running a top-level func literal, a user func main, a
// half-declared name after a failed declaration, redeclared types and
// methods (refused, since yaegi keeps the first), missing generic slices
// functions (generic.go).
//
// Interrupts (stop.go): the cell runs in a goroutine the worker watches. An
// interrupt stops the interpreted code at its next step; the cell is
// reported Interrupted only once its code has returned, so the next cell
// never starts on a busy interpreter. A call into compiled library code
// cannot be reached by an interrupt: if the cell has not returned within
// Options.StopGrace, its stderr says the worker is being stopped and
// Options.Stuck is called (cmd/enclave-worker exits there).
//
// The interpreter can import only the packages of the generated allowlist
// (enclave/sandbox/symbols); it loads no source from disk and gets no
// environment. This package must never import the data layer, the release
// machinery or the kernel: a test with `go list -deps` enforces it.
//
// Trust level: untrusted worker side. Nothing here holds a secret; the
// kernel treats every message from it as hostile input.
package sandbox
