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
// The interpreter can import only the packages of the generated allowlist
// (enclave/sandbox/symbols); it loads no source from disk. This package
// must never import the data layer, the release machinery or the kernel:
// a test with `go list -deps` enforces it.
//
// Trust level: untrusted worker side. Nothing here holds a secret; the
// kernel treats every message from it as hostile input.
package sandbox
