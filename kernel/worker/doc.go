// Package worker is the kernel.Executor that runs cells in the untrusted
// enclave-worker process over the rpc pipe protocol.
//
// Trust level: trusted kernel side. The worker is hostile: its events are
// bounded by rpc.MaxFrame, routed by id to the cell that asked, and its
// death is expected. Display bundles pass through as the JSON the worker
// encoded, undecoded (kernel.Display.Raw), once checked to be JSON objects
// in valid UTF-8. The worker is started as soon as the executor is made
// (in parallel with the kernel binding its sockets) and waited for lazily,
// at the first cell. An interrupt is first a cancel message; if the cell
// has not finished after a grace period the worker is killed and a fresh
// one started, and the researcher is told plainly that variables were
// lost. The same holds when the worker dies on its own (fatal error such as
// stack overflow, out of memory, killed) or a cell passes its time limit.
package worker
