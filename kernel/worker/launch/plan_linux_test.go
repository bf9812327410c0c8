//go:build linux

package launch

import (
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestPlanDegrades checks what the kernel reports and tries when the host
// refuses a layer: the first attempt drops what is known to fail, says why,
// and later attempts fall back one layer at a time.
func TestPlanDegrades(t *testing.T) {
	if syscall.Geteuid() != 0 {
		t.Skip("these plans are a root kernel's; an unprivileged kernel needs the user namespace for a network namespace")
	}
	tests := []struct {
		name     string
		cfg      Config
		known    map[feature]string // remembered failures
		attempts int
		first    []string // prefixes expected among the first attempt's layers
		flags    uintptr  // clone flags of the first attempt that must be set
	}{
		{"full", Config{}, nil, 4, []string{"userns: active", "netns: active", "fsroot: active"},
			syscall.CLONE_NEWNET | syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS},
		{"plain", Config{Plain: true}, nil, 1, []string{"netns: off (plain", "userns: off (plain", "fsroot: off (plain"}, 0},
		{"no netns asked", Config{NoNetNS: true}, nil, 3, []string{"netns: off (Config.NoNetNS)", "userns: active"}, syscall.CLONE_NEWUSER},
		{"no empty root asked", Config{NoEmptyRoot: true}, nil, 3, []string{"fsroot: off (Config.NoEmptyRoot)", "netns: active"}, syscall.CLONE_NEWNET},
		{"netns refused before", Config{}, map[feature]string{featNetNS: "clone: operation not permitted"}, 3,
			[]string{"netns: unavailable (clone: operation not permitted)", "userns: active"}, syscall.CLONE_NEWUSER},
		{"userns refused before", Config{}, map[feature]string{featUserNS: "EPERM"}, 3,
			[]string{"userns: unavailable (EPERM)", "netns: active", "uid: unavailable"}, syscall.CLONE_NEWNET},
		{"dynamic binary", Config{Path: "/bin/true"}, nil, 3,
			[]string{"fsroot: unavailable (the worker binary is dynamically linked", "userns: active"}, syscall.CLONE_NEWUSER},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unavailMu.Lock()
			saved := unavailable
			unavailable = map[feature]string{}
			for f, r := range tt.known {
				unavailable[f] = r
			}
			unavailMu.Unlock()
			defer func() { unavailMu.Lock(); unavailable = saved; unavailMu.Unlock() }()

			if tt.cfg.Path == "" {
				if !staticWorker() {
					t.Skip("no statically linked stand-in worker")
				}
				tt.cfg.Path = workerBin
			}
			as := plan(tt.cfg)
			if len(as) != tt.attempts {
				t.Errorf("%d attempts, want %d", len(as), tt.attempts)
			}
			got := strings.Join(as[0].layers, "\n")
			for _, want := range tt.first {
				if !strings.Contains(got, want) {
					t.Errorf("first attempt layers lack %q:\n%s", want, got)
				}
			}
			if as[0].attr.Cloneflags&tt.flags != tt.flags {
				t.Errorf("clone flags %#x lack %#x", as[0].attr.Cloneflags, tt.flags)
			}
			last := as[len(as)-1]
			if last.fallback != nil || last.attr.Cloneflags != 0 {
				t.Errorf("last attempt must need nothing from the host: flags %#x", last.attr.Cloneflags)
			}
			for _, a := range as {
				if !a.attr.Setsid || a.attr.Pdeathsig != syscall.SIGKILL {
					t.Errorf("an attempt without its own session or death signal: %+v", a.attr)
				}
			}
		})
	}
}

func TestRefusal(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{&os.PathError{Op: "fork/exec", Path: "/w", Err: syscall.EPERM}, true},
		{&os.PathError{Op: "fork/exec", Path: "/w", Err: syscall.EACCES}, true},
		{&os.PathError{Op: "fork/exec", Path: "/w", Err: syscall.ENOSPC}, true}, // user namespace count
		{&os.PathError{Op: "fork/exec", Path: "/w", Err: syscall.ENOMEM}, false},
		{&os.PathError{Op: "fork/exec", Path: "/w", Err: syscall.EAGAIN}, false},
	} {
		if got := refusal(tt.err); got != tt.want {
			t.Errorf("refusal(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestPlanGivesUpFSRootFirst: when the fully hardened start is refused, the
// next attempt keeps the user and network namespaces and drops the empty
// root, which Landlock backs up; the uid has no such backup.
func TestPlanGivesUpFSRootFirst(t *testing.T) {
	if syscall.Geteuid() != 0 || !staticWorker() {
		t.Skip("needs a root kernel and a static stand-in worker")
	}
	as := plan(Config{Path: workerBin})
	if len(as) < 2 || *as[0].fallback != featRoot {
		t.Fatalf("first fallback is not the empty root: %d attempts", len(as))
	}
	f := as[1].attr.Cloneflags
	if f&syscall.CLONE_NEWNS != 0 || f&syscall.CLONE_NEWUSER == 0 || f&syscall.CLONE_NEWNET == 0 {
		t.Errorf("second attempt clone flags %#x: want user and network namespaces, no mount namespace", f)
	}
}
