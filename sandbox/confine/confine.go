// Package confine is run by the untrusted worker on itself, before it loads
// the interpreter: it drops what the process could use to reach outside
// (privileges, files, network, resources) and reports which layers are in
// force. Every layer is best effort where the host lacks it; the report
// says so plainly rather than failing the worker.
package confine

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Options tunes the confinement.
type Options struct{}

// Apply confines the calling process and returns a line per layer saying
// whether it is active.
func Apply(opts Options) (layers []string, err error) {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		layers = append(layers, fmt.Sprintf("no_new_privs: unavailable (%v)", err))
	} else {
		layers = append(layers, "no_new_privs: active")
	}
	return layers, nil
}
