// Package call is how the enclave API packages reach the kernel: Must sends
// a call and panics with an *Error when the kernel refuses it, so that a
// notebook cell stops at the failing step with the kernel's reason.
//
// Cells cannot import it (it is not in the allowlist).
//
// Trust level: untrusted worker side.
package call

import (
	"enclave/api/remote"
)

// Error is a refused or failed enclave API call. Its text is the kernel's,
// which holds no data values.
type Error struct {
	Op  string // the API function, e.g. "stats.Count"
	Msg string
}

func (e *Error) Error() string { return "enclave: " + e.Op + ": " + e.Msg }

// Must calls method with args, decoding the answer into result, and
// panics with an *Error if the call fails.
func Must(op, method string, args, result any) {
	if err := remote.Call(method, args, result); err != nil {
		panic(&Error{Op: op, Msg: err.Error()})
	}
}
