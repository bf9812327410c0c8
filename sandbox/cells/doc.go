// Package cells reads a notebook cell of Go the way the enclave worker runs
// it: top-level imports, declarations and statements in any order, no
// package clause, no func main. Split cuts a cell into runs that yaegi can
// evaluate one after the other (a source that begins with a declaration is
// parsed as a file, one that begins with a statement as a function body),
// each carrying a //line directive so that errors and panics name the
// cell's own line and column. IsComplete answers Jupyter's is_complete for
// consoles.
//
// Trust level: pure functions over text, used on both sides (the worker
// runs cells; the kernel answers is_complete). It must never panic on any
// input.
package cells
