//go:build !linux

package launch

import (
	"os"
	"syscall"
)

type feature int

type attempt struct {
	attr      *syscall.SysProcAttr
	layers    []string
	fallback  *feature
	emptyRoot bool
}

func prepareRoot(bin string) (dir, inside string, err error) { return "", bin, nil }

func remember(*feature, error) {}

func refusal(error) bool { return false }

// plan on other systems: no namespaces, no uid drop; only the empty
// environment and explicit descriptors.
func plan(cfg Config) []attempt {
	return []attempt{{
		attr:   &syscall.SysProcAttr{Setpgid: true},
		layers: []string{"netns: unavailable (not Linux)", "uid: unchanged (not Linux)", "env: active (empty)"},
	}}
}

func applyLimits(pid int, cfg Config) ([]string, error) {
	return []string{"rlimits: unavailable (not Linux)"}, nil
}

func markCloseOnExec() {}

// Verify has nothing to read outside Linux.
func (p *Process) Verify() ([]string, bool) {
	return []string{"verified: unavailable (not Linux)"}, false
}

func growPipe(*os.File) {}
