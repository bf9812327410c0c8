// Package remote is how the enclave API packages that cells import (data
// handles, statistics, plots built on the kernel side) ask the trusted
// kernel to do work: Call sends a method name and JSON arguments over the
// worker's pipe and waits for the kernel's answer.
//
// Cells cannot import this package: it is not in the allowlist. API
// packages call it on their behalf, and only with requests the kernel
// checks itself; nothing here is trusted by the kernel.
//
// Trust level: untrusted worker side.
package remote
