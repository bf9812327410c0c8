//go:build linux

package launch

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
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
	featRoot                       // new mount namespace, chroot to an empty directory
	featUserNS                     // new user namespace; as root, the worker runs as nobody in it
)

var featNames = map[feature]string{featNetNS: "netns", featRoot: "fsroot", featUserNS: "userns"}

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
// blame (and drop) if it fails. emptyRoot asks Start to chroot the worker
// into a fresh directory holding only (a link to) its binary.
type attempt struct {
	attr      *syscall.SysProcAttr
	layers    []string
	fallback  *feature
	emptyRoot bool
}

// plan lists the ways to start the worker, most hardened first, each next
// one without one more feature (fsroot first, then userns, then netns).
//
// A root kernel puts the worker in a new user namespace mapping only nobody
// and makes it nobody there: the worker has no capabilities anywhere, while
// the kernel, owner of that namespace, may still set its resource limits
// (prlimit on another uid needs CAP_SYS_RESOURCE over the target's
// namespace, which a container's root often lacks on the host). An
// unprivileged kernel needs the user namespace to be allowed a network or
// mount namespace at all; it maps its own uid.
//
// The empty root is the filesystem layer that does not depend on Landlock:
// the worker is chrooted (in its own mount namespace) into a directory that
// holds only its binary and is deleted as soon as the worker has started,
// so its "/" is an empty, deleted directory with no /proc, /etc or /dev.
func plan(cfg Config) []attempt {
	root := os.Geteuid() == 0
	var want []feature
	notes := map[feature]string{}
	consider := func(f feature, off bool, why string) {
		switch {
		case cfg.Plain:
			notes[f] = featNames[f] + ": off (plain worker)"
		case off:
			notes[f] = featNames[f] + ": off (" + why + ")"
		default:
			if r, bad := unavailableReason(f); bad {
				notes[f] = featNames[f] + ": unavailable (" + r + ")"
			} else {
				want = append(want, f)
			}
		}
	}
	// The order is the order of giving up, last first: the empty root
	// (Landlock covers the filesystem too), then the user namespace, then
	// the network namespace.
	consider(featNetNS, cfg.NoNetNS, "Config.NoNetNS")
	consider(featUserNS, root && cfg.KeepUID, "Config.KeepUID, worker runs as root")
	if why := staticBinary(cfg.Path); why != "" && !cfg.Plain && !cfg.NoEmptyRoot {
		notes[featRoot] = "fsroot: unavailable (" + why + ")"
	} else {
		consider(featRoot, cfg.NoEmptyRoot, "Config.NoEmptyRoot")
	}

	var out []attempt
	for {
		has := map[feature]bool{}
		for _, f := range want {
			has[f] = true
		}
		if !root && !has[featUserNS] && (has[featNetNS] || has[featRoot]) {
			// Without a user namespace an unprivileged kernel can create
			// neither a network nor a mount namespace: do not try.
			for _, f := range []feature{featNetNS, featRoot} {
				if has[f] {
					notes[f] = featNames[f] + ": unavailable (needs root or a user namespace)"
				}
			}
			want = want[:0]
			continue
		}
		a := attempt{attr: baseAttr()}
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
			a.attr.Cloneflags |= syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC
			a.layers = append(a.layers, "netns: active (new network namespace, no interfaces up; new IPC namespace)")
		} else if n, ok := notes[featNetNS]; ok {
			a.layers = append(a.layers, n)
		}
		if has[featRoot] {
			a.attr.Cloneflags |= syscall.CLONE_NEWNS
			a.emptyRoot = true
			a.layers = append(a.layers, "fsroot: active (own mount namespace, chrooted into an empty deleted directory: no /proc, /etc, /dev)")
		} else if n, ok := notes[featRoot]; ok {
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
		// Drop the most recently added feature first: fsroot, then userns,
		// then netns.
		last := want[len(want)-1]
		a.fallback = &last
		out = append(out, a)
		want = want[:len(want)-1]
		notes[last] = featNames[last] + ": unavailable (clone refused)"
	}
}

// staticBinary returns why bin cannot run in an empty root, or "" if it
// can: a dynamically linked binary needs its loader and libraries.
func staticBinary(bin string) string {
	f, err := elf.Open(bin)
	if err != nil {
		return "cannot read the worker binary: " + err.Error()
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "the worker binary is dynamically linked; build it with CGO_ENABLED=0"
		}
	}
	return ""
}

// prepareRoot makes the directory the worker is chrooted into: fresh,
// traversable by nobody, holding only a hard link to (or else a copy of)
// the worker binary. It returns the directory and the binary's path inside
// it. The caller removes the directory once the worker has started.
func prepareRoot(bin string) (dir, inside string, err error) {
	dir, err = os.MkdirTemp("", "enclave-worker-root-")
	if err != nil {
		return "", "", err
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	name := "enclave-worker"
	dst := dir + "/" + name
	if err := os.Link(bin, dst); err != nil {
		if err := copyBinary(bin, dst); err != nil {
			os.RemoveAll(dir)
			return "", "", err
		}
	}
	return dir, "/" + name, nil
}

func copyBinary(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
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
		// The soft limit sends SIGXCPU, which the Go runtime ignores unless
		// asked; the hard limit one second later is the SIGKILL.
		lims = append(lims, lim{"cpu", unix.RLIMIT_CPU, cpu, cpu + 1})
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

// eventPipeSize is the capacity asked for the worker → kernel pipe: a whole
// stream chunk of the worker's (1 MiB), so that the worker writes its next
// chunk while the kernel publishes the last, where the default 64 KiB pipe
// made the two take turns. Linux caps it at /proc/sys/fs/pipe-max-size
// (1 MiB by default) for an unprivileged kernel.
const eventPipeSize = 1 << 20

// growPipe asks for eventPipeSize bytes of capacity in the pipe of f; the
// pipe keeps its default size when that is refused.
func growPipe(f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		unix.FcntlInt(fd, unix.F_SETPIPE_SZ, eventPipeSize)
	})
}
