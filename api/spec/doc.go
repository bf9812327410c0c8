// Package spec holds the shapes that cross the pipe between the enclave API
// packages cells import (enclave/omop, enclave/stats, enclave/plot,
// enclave/fitbit) and the trusted kernel that serves them: handle
// references, the released tables and plots that come back, and the
// request arguments of each API method.
//
// It holds data shapes only, no behaviour that could be trusted: the kernel
// validates every request it decodes into these types, and the worker only
// ever receives values the kernel has already released.
//
// Trust level: neutral (imported by both sides).
package spec
