// Command enclave-worker is the untrusted process that runs researchers' Go
// cells for the enclave kernel. The kernel starts it (enclave/kernel/worker/launch)
// with fd 3 carrying requests and fd 4 carrying events, no environment and
// its stdout and stderr captured for the kernel's log. It confines itself
// (enclave/sandbox/confine) before it creates the interpreter, then serves.
//
// Trust level: untrusted. It is built with CGO off and links nothing of the
// data layer, the release machinery or the kernel.
package main
