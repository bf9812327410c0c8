// Package allowlist is the single, reviewed list of Go packages that
// researchers' cells may import in the enclave worker, and of the symbols
// dropped from them. It is pure data: the generator in ../gen reads it to
// write the symbol tables, the worker reads it to explain a refused import,
// and tests read it to prove nothing else is reachable.
//
// Trust level: untrusted worker side (compiled into enclave-worker), but
// the list itself is reviewed like kernel code: every entry widens what
// user code can touch.
package allowlist
