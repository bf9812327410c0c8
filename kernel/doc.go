// Package kernel is the core of the enclave Jupyter kernel: it routes
// verified Jupyter messages to handlers, publishes busy/idle around each,
// counts executions, keeps the session's history, coalesces stream output
// per cell, and passes every iopub message through the output Gate before
// it leaves. Cells run on an Executor (package kernel/worker drives the
// untrusted Go worker; tests use fakes).
//
// Trust level: trusted kernel side. It holds no key and no socket: the wire
// layer (kernel/wire, kernel/wire/zmqsock) verifies messages before they
// arrive here and signs what Send is given, and this package does not
// import ZeroMQ. Everything user code produces reaches the frontend only
// through Gate.Release, the seam where the release layer plugs in.
package kernel
