//go:build linux

package confine

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"github.com/landlock-lsm/go-landlock/landlock"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// checkFDs reports descriptors the worker should not hold: anything above
// the two RPC pipes (3, 4) that is not the Go runtime's own (epoll, eventfd,
// its cgroup CPU quota files). It closes nothing: launch is what prevents
// leaks; this makes a leak visible. Without /proc (an empty root) it tells
// descriptors apart by fstat alone.
func checkFDs() string {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return checkFDsByStat()
	}
	var odd []string
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 4 {
			continue
		}
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the descriptor ReadDir used, closed by now
		}
		if strings.HasPrefix(target, "anon_inode:") || strings.HasPrefix(target, "/sys/fs/cgroup/") {
			continue
		}
		odd = append(odd, fmt.Sprintf("%d → %s", fd, target))
	}
	return fdsReport(odd)
}

// checkFDsByStat scans descriptors 5 up to RLIMIT_NOFILE: anonymous inodes
// (epoll, eventfd: no file type) are the runtime's; a file, directory,
// socket, pipe or device is not expected.
func checkFDsByStat() string {
	var rl unix.Rlimit
	max := uint64(1024)
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Cur < max {
		max = rl.Cur
	}
	kinds := map[uint32]string{unix.S_IFREG: "file", unix.S_IFDIR: "directory", unix.S_IFSOCK: "socket",
		unix.S_IFIFO: "pipe", unix.S_IFCHR: "device", unix.S_IFBLK: "device", unix.S_IFLNK: "link"}
	var odd []string
	for fd := 5; uint64(fd) < max; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			continue
		}
		if k, ok := kinds[st.Mode&unix.S_IFMT]; ok {
			odd = append(odd, fmt.Sprintf("%d → %s", fd, k))
		}
	}
	return fdsReport(odd)
}

func fdsReport(odd []string) string {
	if len(odd) > 0 {
		return LayerFDs + ": partial (unexpected descriptors: " + strings.Join(odd, ", ") + ")"
	}
	return LayerFDs + ": active (nothing open beyond stdio, the RPC pipes and the Go runtime's own)"
}

func noNewPrivs() string {
	// On every thread at once where the runtime allows it (not with cgo);
	// Landlock and seccomp's TSYNC spread it to all threads anyway.
	if _, _, e := syscall.AllThreadsSyscall(syscall.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); e != 0 {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return unavailable(LayerNoNewPrivs, "%v", err)
		}
	}
	if v, _ := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0); v != 1 {
		return unavailable(LayerNoNewPrivs, "PR_GET_NO_NEW_PRIVS = %d after setting it", v)
	}
	return LayerNoNewPrivs + ": active (no privilege gain through exec)"
}

// LandlockABI returns the host's Landlock ABI version, 0 if none.
func LandlockABI() int {
	const createRulesetVersion = 1 // LANDLOCK_CREATE_RULESET_VERSION
	v, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, createRulesetVersion)
	if e != 0 {
		return 0
	}
	return int(v)
}

// landlockAll handles every access right the host knows and grants none:
// no path can be opened, read, written, executed or listed; no TCP port can
// be bound or connected (ABI ≥ 4); no signal or abstract unix socket can
// reach a process outside the sandbox (ABI ≥ 6).
func landlockAll() string {
	abi := LandlockABI()
	if abi < 1 {
		return unavailable(LayerLandlock, "kernel has no Landlock or it is disabled at boot")
	}
	if err := landlock.V11.BestEffort().Restrict(); err != nil {
		return unavailable(LayerLandlock, "ABI %d: %v", abi, err)
	}
	// Trust, but verify: the root directory must now be out of reach.
	if f, err := os.Open("/"); err == nil {
		f.Close()
		return LayerLandlock + fmt.Sprintf(": partial (ABI %d applied, yet / still opens)", abi)
	}
	what := []string{"filesystem: nothing"}
	state := "active"
	if abi >= 4 {
		what = append(what, "TCP bind/connect: none")
	} else {
		state = "partial"
		what = append(what, "network: not covered below ABI 4")
	}
	if abi >= 6 {
		what = append(what, "signals and abstract unix sockets: own domain only")
	}
	return fmt.Sprintf("%s: %s (ABI %d; %s)", LayerLandlock, state, abi, strings.Join(what, "; "))
}

// Errno actions: go-seccomp-bpf's ActionErrno carries errno 0 (a silent
// success), so the errno is or-ed in here.
var (
	denyEPERM  = seccomp.ActionErrno | seccomp.Action(unix.EPERM)
	denyENOSYS = seccomp.ActionErrno | seccomp.Action(unix.ENOSYS)
)

// deniedSyscalls are refused with EPERM. The Go runtime needs none of them
// after start (it clones threads, maps memory, waits on futexes, signals its
// own threads — all still allowed).
var deniedSyscalls = []string{
	// new programs and processes
	"execve", "execveat", "fork", "vfork",
	// other processes' memory and descriptors
	"ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "kcmp",
	"pidfd_open", "pidfd_getfd", "pidfd_send_signal", "tkill",
	// network and IPC endpoints
	"socket", "socketpair", "mq_open", "msgget", "semget", "shmget",
	// namespaces, mounts, roots
	"unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount",
	"open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
	"name_to_handle_at", "open_by_handle_at", "open_tree_attr", "listmount", "statmount",
	// kernel interfaces an analyst never needs
	"bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
	"io_uring_register", "keyctl", "add_key", "request_key", "fanotify_init",
	"inotify_init", "inotify_init1", "memfd_create", "memfd_secret",
	"init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
	"reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog",
	"iopl", "ioperm", "modify_ldt", "settimeofday", "clock_settime", "clock_adjtime",
	"adjtimex", "sethostname", "setdomainname", "vhangup", "uselib", "personality",
	"lookup_dcookie", "sysfs", "ustat", "nfsservctl",
	// identity and limits
	"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid",
	"setgroups", "setfsuid", "setfsgid", "capset", "setrlimit",
}

// policy builds the seccomp filter for the process with the given pid.
func policy(pid int, a *arch.Info) seccomp.Policy {
	var names []string
	for _, n := range deniedSyscalls {
		if _, ok := a.SyscallNames[n]; ok {
			names = append(names, n)
		}
	}
	notSelf := seccomp.ArgumentConditions{{Argument: 0, Operation: seccomp.NotEqual, Value: uint64(pid)}}
	return seccomp.Policy{
		DefaultAction: seccomp.ActionAllow,
		Syscalls: []seccomp.SyscallGroup{
			{Action: denyEPERM, Names: names},
			{Action: denyEPERM, NamesWithCondtions: []seccomp.NameWithConditions{
				// A clone that is not a thread is a new process.
				{Name: "clone", Conditions: seccomp.ArgumentConditions{{Argument: 0, Operation: seccomp.BitsNotSet, Value: unix.CLONE_THREAD}}},
				// Signals only to itself (the runtime's preemption and crash paths).
				{Name: "kill", Conditions: notSelf},
				{Name: "tgkill", Conditions: notSelf},
				{Name: "rt_sigqueueinfo", Conditions: notSelf},
				{Name: "rt_tgsigqueueinfo", Conditions: notSelf},
				// Limits may be read, not changed.
				{Name: "prlimit64", Conditions: seccomp.ArgumentConditions{{Argument: 2, Operation: seccomp.NotEqual, Value: 0}}},
				// No typing into a terminal.
				{Name: "ioctl", Conditions: seccomp.ArgumentConditions{{Argument: 1, Operation: seccomp.Equal, Value: unix.TIOCSTI}}},
			}},
			// clone3 passes its flags in memory a filter cannot read: make
			// it look absent, so callers fall back to clone.
			{Action: denyENOSYS, Names: []string{"clone3"}},
		},
	}
}

// Program assembles the filter for pid, guarded so that a system call made
// through another ABI (32-bit int 0x80 on amd64) kills the process instead
// of skipping the filter, as go-seccomp-bpf's own arch check would.
func Program(pid int) ([]bpf.RawInstruction, error) {
	a, err := arch.GetInfo("")
	if err != nil {
		return nil, err
	}
	pol := policy(pid, a)
	insts, err := pol.Assemble()
	if err != nil {
		return nil, err
	}
	guard := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4}, // seccomp_data.arch
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(a.ID), SkipTrue: 1},
		bpf.RetConstant{Val: uint32(seccomp.ActionKillProcess)},
	}
	return bpf.Assemble(append(guard, insts...))
}

func seccompFilter() (string, error) {
	raw, err := Program(os.Getpid())
	if err != nil {
		return unavailable(LayerSeccomp, "%v", err), nil
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	r, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	switch {
	case e == unix.ENOSYS || e == unix.EINVAL:
		return unavailable(LayerSeccomp, "kernel refused the filter: %v", e), nil
	case e != 0:
		return unavailable(LayerSeccomp, "%v", e), nil
	case r != 0:
		// TSYNC names a thread it could not synchronise: some threads are
		// filtered and some not. Not a state to run user code in.
		return unavailable(LayerSeccomp, "thread %d could not be synchronised", r),
			fmt.Errorf("confine: seccomp: thread %d not synchronised", r)
	}
	// Verify: creating any socket must now fail.
	if fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err == nil {
		unix.Close(fd)
		return LayerSeccomp + ": partial (filter loaded, yet socket() still works)", nil
	} else if !errors.Is(err, unix.EPERM) {
		return LayerSeccomp + fmt.Sprintf(": partial (socket() failed with %v, not EPERM)", err), nil
	}
	return fmt.Sprintf("%s: active (all threads; %d instructions: no exec, fork, ptrace, sockets, mounts, namespaces, bpf, keyrings, io_uring; signals to itself only; limits read-only)", LayerSeccomp, len(raw)), nil
}
