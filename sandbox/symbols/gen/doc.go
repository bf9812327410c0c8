// Command gen writes the symbol tables of the packages in the allowlist
// (enclave/sandbox/symbols/allowlist) as Go source, one z_*.go file per
// package, using yaegi's extractor. Run it with `go generate
// ./sandbox/symbols` after changing the allowlist or the Go version.
//
// Two changes are made to the extractor's output: package variables are
// exported as copies (see copyOf in ../copy.go), so a cell that assigns to
// io.EOF or time.Local changes its own view and not the worker's; and the
// table key of
// a package whose source lives elsewhere (enclave/api/display) is its
// import path as cells write it (enclave/display).
//
// Trust level: a build tool; its output is compiled into the untrusted
// worker and reviewed with the allowlist.
package main
