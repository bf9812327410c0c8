//go:build linux

package launch

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// feature is a process-level hardening layer that needs the kernel's help
// at clone time and may be refused by the host.
type feature int

const (
	featNetNS  feature = 1 << iota // new network (and IPC) namespace
	featUserNS                     // new user namespace; as root, the worker runs as nobody in it
)

var (
	unavailMu sync.Mutex
	// unavailable remembers why a feature failed once, so that restarts
	// after a crash do not pay for the failed attempt again.
	unavailable = map[feature]string{}
)

func remember(f *feature, err error) {
	unavailMu.Lock()
	defer unavailMu.Unlock()
	if _, ok := unavailable[*f]; !ok {
		unavailable[*f] = err.Error()
	}
}

func unavailableReason(f feature) (string, bool) {
	unavailMu.Lock()
	defer unavailMu.Unlock()
	r, ok := unavailable[f]
	return r, ok
}

// attempt is one way to start the worker; fallback names the feature to
// blame (and drop) if it fails.
type attempt struct {
	attr     *syscall.SysProcAttr
	layers   []string
	fallback *feature
}

// plan lists the ways to start the worker, most hardened first, each next
// one without one more feature.
//
// A root kernel puts the worker in a new user namespace mapping only nobody
// and makes it nobody there: the worker has no capabilities anywhere, while
// the kernel, owner of that namespace, may still set its resource limits
// (prlimit on another uid needs CAP_SYS_RESOURCE over the target's
// namespace, which a container's root often lacks on the host). An
// unprivileged kernel needs the user namespace to be allowed a network
// namespace at all; it maps its own uid.
func plan(cfg Config) []attempt {
	root := os.Geteuid() == 0
	var want []feature
	notes := map[feature]string{}
	if cfg.Plain {
		notes[featNetNS] = "netns: off (plain worker)"
		notes[featUserNS] = "userns: off (plain worker)"
	} else {
		if cfg.NoNetNS {
			notes[featNetNS] = "netns: off (Config.NoNetNS)"
		} else if r, bad := unavailableReason(featNetNS); bad {
			notes[featNetNS] = "netns: unavailable (" + r + ")"
		} else {
			want = append(want, featNetNS)
		}
		switch {
		case root && cfg.KeepUID:
			notes[featUserNS] = "userns: off, worker runs as root (Config.KeepUID)"
		default:
			if r, bad := unavailableReason(featUserNS); bad {
				notes[featUserNS] = "userns: unavailable (" + r + ")"
			} else {
				want = append(want, featUserNS)
			}
		}
	}
	var out []attempt
	for {
		a := attempt{attr: baseAttr()}
		has := map[feature]bool{}
		for _, f := range want {
			has[f] = true
		}
		if has[featUserNS] {
			a.attr.Cloneflags |= syscall.CLONE_NEWUSER
			a.attr.GidMappingsEnableSetgroups = true
			if root {
				a.attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: NobodyID, HostID: NobodyID, Size: 1}}
				a.attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: NobodyID, HostID: NobodyID, Size: 1}}
				a.attr.Credential = &syscall.Credential{Uid: NobodyID, Gid: NobodyID, Groups: []uint32{}}
				a.layers = append(a.layers, fmt.Sprintf("userns: active (runs as nobody %d in its own user namespace, no capabilities)", NobodyID))
			} else {
				uid, gid := os.Geteuid(), os.Getegid()
				a.attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
				a.attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
				a.attr.GidMappingsEnableSetgroups = false
				a.layers = append(a.layers, fmt.Sprintf("userns: active (uid %d in its own user namespace)", uid))
			}
		} else if n, ok := notes[featUserNS]; ok {
			a.layers = append(a.layers, n)
		}
		if has[featNetNS] {
			if !root && !has[featUserNS] {
				// Without a user namespace an unprivileged kernel cannot
				// create a network namespace: do not try.
				want = want[:0]
				notes[featNetNS] = "netns: unavailable (needs root or a user namespace)"
				continue
			}
			a.attr.Cloneflags |= syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC
			a.layers = append(a.layers, "netns: active (new network namespace, no interfaces up; new IPC namespace)")
		} else if n, ok := notes[featNetNS]; ok {
			a.layers = append(a.layers, n)
		}
		if !has[featUserNS] && root && !cfg.Plain {
			a.layers = append(a.layers, "uid: unavailable (still root: no user namespace)")
		}
		a.layers = append(a.layers,
			"env: active (empty)",
			"fds: active (only stdin=/dev/null, stdout/stderr and the two RPC pipes)",
			"session: active (own session and process group, no controlling terminal, SIGKILL on kernel death)")
		if len(want) == 0 {
			out = append(out, a)
			return out
		}
		// Drop the most recently added feature first: userns, then netns.
		last := want[len(want)-1]
		a.fallback = &last
		out = append(out, a)
		want = want[:len(want)-1]
		if last == featUserNS {
			notes[featUserNS] = "userns: unavailable (clone refused)"
		} else {
			notes[featNetNS] = "netns: unavailable (clone refused)"
		}
	}
}

// refusal reports whether a failed start means the host does not allow a
// layer (as opposed to a transient failure).
func refusal(err error) bool {
	for _, e := range []syscall.Errno{syscall.EPERM, syscall.EACCES, syscall.EINVAL, syscall.ENOSYS, syscall.ENOSPC, syscall.EUSERS} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func baseAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setsid:    true, // own session ⇒ own process group and no controlling tty
		Pdeathsig: syscall.SIGKILL,
	}
}

// applyLimits sets the worker's resource limits from the kernel side (a
// root kernel's limits cannot be raised back by a nobody worker).
func applyLimits(pid int, cfg Config) ([]string, error) {
	mem := cfg.MemoryBytes
	if mem == 0 {
		mem = DefaultMemoryBytes
	}
	cpu := cfg.CPUSeconds
	if cpu == 0 {
		cpu = DefaultCPUSeconds
	}
	files := cfg.OpenFiles
	if files <= 0 {
		files = DefaultOpenFiles
	}
	type lim struct {
		name string
		res  int
		cur  int64 // <0: unlimited
		max  int64
	}
	lims := []lim{
		{"as", unix.RLIMIT_AS, mem, mem},
		{"nofile", unix.RLIMIT_NOFILE, files, files},
		{"fsize", unix.RLIMIT_FSIZE, 0, 0},
		{"core", unix.RLIMIT_CORE, 0, 0},
		{"memlock", unix.RLIMIT_MEMLOCK, 0, 0},
		{"msgqueue", unix.RLIMIT_MSGQUEUE, 0, 0},
	}
	if cpu > 0 {
		// Soft limit sends SIGXCPU (fatal to a Go program), hard limit SIGKILL.
		lims = append(lims, lim{"cpu", unix.RLIMIT_CPU, cpu, cpu + 5})
	}
	if cfg.Procs > 0 {
		lims = append(lims, lim{"nproc", unix.RLIMIT_NPROC, cfg.Procs, cfg.Procs})
	}
	var desc []string
	for _, l := range lims {
		if l.cur < 0 {
			continue
		}
		rl := unix.Rlimit{Cur: uint64(l.cur), Max: uint64(l.max)}
		if err := unix.Prlimit(pid, l.res, &rl, nil); err != nil {
			return nil, fmt.Errorf("set RLIMIT_%s of worker %d: %w", strings.ToUpper(l.name), pid, err)
		}
		desc = append(desc, l.name+"="+fmtLimit(l.name, l.cur))
	}
	return []string{"rlimits: active (" + strings.Join(desc, " ") + ")"}, nil
}

func fmtLimit(name string, v int64) string {
	switch {
	case name == "cpu":
		return strconv.FormatInt(v, 10) + "s"
	case v >= 1<<30 && v%(1<<30) == 0:
		return strconv.FormatInt(v>>30, 10) + "GiB"
	case v >= 1<<20 && v%(1<<20) == 0:
		return strconv.FormatInt(v>>20, 10) + "MiB"
	}
	return strconv.FormatInt(v, 10)
}

// markCloseOnExec sets FD_CLOEXEC on every descriptor of the kernel process
// above stderr, so that a descriptor opened without it (by C code such as a
// database engine) cannot leak into the worker. Go's own descriptors have it
// already; the worker's pipes are passed explicitly and unaffected.
func markCloseOnExec() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			continue // e.g. the ReadDir descriptor itself, closed by now
		}
		if flags&unix.FD_CLOEXEC == 0 {
			unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC)
		}
	}
}
