//go:build linux

package launch

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"enclave/rpc"
	"enclave/sandbox/confine"
)

// The test binary doubles as a stand-in worker: started with the marker
// argument it probes its surroundings, reports them in its Ready message and
// waits for its request pipe to close.
const workerMarker = "enclave-launch-test-worker"

// kernelMarker makes the test binary a stand-in kernel: it launches a
// worker (path in the next argument), prints the worker's pid and waits to
// be killed.
const kernelMarker = "enclave-launch-test-kernel"

// probeReport is what the stand-in worker finds out about itself.
type probeReport struct {
	Args    []string          `json:"args"`
	Env     []string          `json:"env"`
	UID     int               `json:"uid"`
	Dial    string            `json:"dial"` // "connected" or the error
	Limits  map[string]uint64 `json:"limits"`
	Sid     int               `json:"sid"`
	Pgid    int               `json:"pgid"`
	Pid     int               `json:"pid"`
	Ifaces  []string          `json:"ifaces"`
	FDCount int               `json:"fd_count"`
	// With "confine" among the arguments: the worker's own layers and what
	// native code (an interpreter escape) could still do.
	Layers  []string          `json:"layers"`
	Escapes map[string]string `json:"escapes"`
	// What the worker sees at "/" before any confinement of its own.
	Root    []string `json:"root"`
	RootErr string   `json:"root_err"`
	Passwd  string   `json:"passwd"`
}

var workerBin string // a copy of the test binary that nobody can execute

func TestMain(m *testing.M) {
	for i, a := range os.Args {
		if a == workerMarker {
			runProbeWorker(os.Args[i+1:])
			return
		}
		if a == kernelMarker {
			p, err := Start(Config{Path: os.Args[i+1], Args: []string{workerMarker, "", "linger"}})
			if err != nil {
				fmt.Println("start:", err)
				os.Exit(1)
			}
			p.Conn.Send(&rpc.Msg{Type: rpc.Execute, Exec: &rpc.ExecRequest{Code: "probe"}})
			p.Conn.Recv() // its Ready: it is past its start and lingering
			fmt.Println(p.Pid())
			select {}
		}
	}
	dir, err := os.MkdirTemp("", "launchtest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755)
	self, _ := os.Executable()
	workerBin = filepath.Join(dir, "worker")
	// The empty root needs a statically linked worker: when this test
	// binary is not one (cgo on), build it again with CGO_ENABLED=0.
	if staticBinary(self) == "" {
		err = copyBinary(self, workerBin)
	} else if err = buildStatic(workerBin); err != nil {
		fmt.Fprintf(os.Stderr, "no static stand-in worker (%v); the empty-root layer goes untested\n", err)
		os.Remove(workerBin) // a failed build may have left part of one
		err = copyBinary(self, workerBin)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(workerBin, 0o755)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildStatic builds this package's test binary with cgo off.
func buildStatic(out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, "test", "-c", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, b)
	}
	return nil
}

// staticWorker says whether the stand-in worker can run in an empty root.
func staticWorker() bool { return staticBinary(workerBin) == "" }

func runProbeWorker(args []string) {
	in := os.NewFile(3, "requests")
	out := os.NewFile(4, "events")
	conn := rpc.NewConn(in, out, nil)
	// Probe only once the kernel has sent something, as user code can only
	// run once it arrives: launch promises its limits hold from then on.
	if _, err := conn.Recv(); err != nil {
		os.Exit(3)
	}
	rep := probeReport{Args: args, Env: os.Environ(), UID: os.Getuid(), Limits: map[string]uint64{}, Pid: os.Getpid()}
	if len(args) > 0 && args[0] != "" {
		c, err := net.DialTimeout("tcp", args[0], 2*time.Second)
		if err != nil {
			rep.Dial = err.Error()
		} else {
			rep.Dial = "connected"
			c.Close()
		}
	}
	for name, res := range map[string]int{"as": unix.RLIMIT_AS, "nofile": unix.RLIMIT_NOFILE, "fsize": unix.RLIMIT_FSIZE, "core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU} {
		var rl unix.Rlimit
		unix.Getrlimit(res, &rl)
		rep.Limits[name] = rl.Cur
	}
	if ents, err := os.ReadDir("/"); err != nil {
		rep.RootErr = err.Error()
	} else {
		for _, e := range ents {
			rep.Root = append(rep.Root, e.Name())
		}
	}
	if _, err := os.ReadFile("/etc/passwd"); err != nil {
		rep.Passwd = err.Error()
	} else {
		rep.Passwd = "readable"
	}
	rep.Sid, _ = unix.Getsid(0)
	rep.Pgid = unix.Getpgrp()
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		rep.Ifaces = append(rep.Ifaces, fmt.Sprintf("%s up=%v", i.Name, i.Flags&net.FlagUp != 0))
	}
	for i, a := range args {
		switch a {
		case "confine":
			rep.Layers, _ = confine.Apply(confine.Options{})
			rep.Escapes = tryEscapes(args[i+1:])
		case "noconfine":
			rep.Escapes = tryEscapes(args[i+1:])
		}
	}
	b, _ := json.Marshal(rep)
	conn.Send(&rpc.Msg{Type: rpc.Ready, Hello: &rpc.Hello{Confinement: []string{string(b)}}})
	io.Copy(io.Discard, in) // until the kernel closes the pipe
	for _, a := range args {
		if a == "spin" {
			for {
			}
		}
		if a == "linger" {
			select {} // like user code in an endless loop: only a signal ends it
		}
	}
	os.Exit(0)
}

// startProbe starts the stand-in worker and reads its report.
func startProbe(t *testing.T, cfg Config, dial string) (*Process, probeReport) {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = workerBin
	}
	cfg.Args = append([]string{workerMarker, dial}, cfg.Args...)
	p, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { p.Kill(); p.Wait() })
	if err := p.Conn.Send(&rpc.Msg{Type: rpc.Execute, Exec: &rpc.ExecRequest{Code: "probe"}}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := make(chan *rpc.Msg, 1)
	go func() {
		m, err := p.Conn.Recv()
		if err != nil {
			t.Errorf("Recv: %v (worker output: %s)", err, p.Output())
		}
		got <- m
	}()
	var m *rpc.Msg
	select {
	case m = <-got:
	case <-time.After(10 * time.Second):
		t.Fatalf("no Ready from worker; output: %s", p.Output())
	}
	if m == nil || m.Hello == nil || len(m.Hello.Confinement) != 1 {
		t.Fatalf("bad Ready %+v", m)
	}
	var rep probeReport
	if err := json.Unmarshal([]byte(m.Hello.Confinement[0]), &rep); err != nil {
		t.Fatal(err)
	}
	return p, rep
}

func listen(t *testing.T) (net.Listener, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	return ln, conns
}

func TestHardenedWorker(t *testing.T) {
	ln, conns := listen(t)
	p, rep := startProbe(t, Config{}, ln.Addr().String())
	t.Logf("layers: %q", p.Layers())

	if len(rep.Env) != 0 {
		t.Errorf("worker environment = %q, want empty", rep.Env)
	}
	if rep.Dial == "connected" {
		t.Errorf("worker reached the kernel's listener on %s", ln.Addr())
	}
	select {
	case c := <-conns:
		c.Close()
		t.Errorf("a connection from the worker arrived at %s", ln.Addr())
	case <-time.After(50 * time.Millisecond):
	}
	for _, i := range rep.Ifaces {
		if strings.HasSuffix(i, "up=true") {
			t.Errorf("worker sees an interface that is up: %s", i)
		}
	}
	if os.Geteuid() == 0 && rep.UID != NobodyID {
		t.Errorf("worker uid = %d, want nobody (%d)", rep.UID, NobodyID)
	}
	if rep.Sid != rep.Pid || rep.Pgid != rep.Pid {
		t.Errorf("worker pid %d has sid %d and pgid %d, want its own session and group", rep.Pid, rep.Sid, rep.Pgid)
	}
	want := map[string]uint64{"as": DefaultMemoryBytes, "nofile": DefaultOpenFiles, "fsize": 0, "core": 0, "cpu": DefaultCPUSeconds}
	for k, v := range want {
		if rep.Limits[k] != v {
			t.Errorf("worker RLIMIT_%s = %d, want %d", strings.ToUpper(k), rep.Limits[k], v)
		}
	}
	for _, l := range p.Layers() {
		if strings.Contains(l, "unavailable") {
			t.Errorf("layer not active on this host: %s", l)
		}
	}
	// This stand-in did not confine itself: the kernel must see that,
	// whatever a worker would claim.
	lines, ok := p.Verify()
	if ok || !contains(lines, "verified seccomp: NOT active") || !contains(lines, "verified no_new_privs: NOT active") {
		t.Errorf("Verify of an unconfined worker = %v, %q", ok, lines)
	}
	if !contains(lines, "verified netns: active") || !contains(lines, "verified capabilities: active") {
		t.Errorf("Verify misses the kernel-side layers: %q", lines)
	}
}

func TestConfigLimits(t *testing.T) {
	p, rep := startProbe(t, Config{MemoryBytes: 2 << 30, OpenFiles: 16, CPUSeconds: 60, NoNetNS: true}, "")
	if rep.Limits["as"] != 2<<30 || rep.Limits["nofile"] != 16 || rep.Limits["cpu"] != 60 {
		t.Errorf("limits = %v, want as=2GiB nofile=16 cpu=60", rep.Limits)
	}
	if !contains(p.Layers(), "netns: off") {
		t.Errorf("layers %q do not say netns is off", p.Layers())
	}
}

func TestPlainWorker(t *testing.T) {
	ln, conns := listen(t)
	p, rep := startProbe(t, Config{Plain: true}, ln.Addr().String())
	// The control case: without a namespace the same dial works, which
	// shows the hardened test's failure is the namespace's doing.
	if rep.Dial != "connected" {
		t.Errorf("plain worker could not dial %s: %s", ln.Addr(), rep.Dial)
	}
	select {
	case c := <-conns:
		c.Close()
	case <-time.After(2 * time.Second):
		t.Errorf("no connection arrived from the plain worker")
	}
	if len(rep.Env) != 0 {
		t.Errorf("plain worker environment = %q, want empty", rep.Env)
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.Pid()))
	if args := strings.Split(string(cmdline), "\x00"); len(args) < 2 || args[1] != ConfineOffArg {
		t.Errorf("plain worker args = %q, want %s first", args, ConfineOffArg)
	}
	if !contains(p.Layers(), "hardening: off") {
		t.Errorf("layers %q do not say hardening is off", p.Layers())
	}
}

// TestNoInheritedFDs opens a descriptor without close-on-exec, as C code in
// the kernel process might, and checks that the worker holds nothing but
// /dev/null, pipes and the Go runtime's own anonymous descriptors.
func TestNoInheritedFDs(t *testing.T) {
	leak, err := syscall.Open("/etc/passwd", syscall.O_RDONLY, 0) // no O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(leak)
	sock, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0) // no SOCK_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(sock)

	p, _ := startProbe(t, Config{}, "")
	dir := fmt.Sprintf("/proc/%d/fd", p.Pid())
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fd, _ := strconv.Atoi(e.Name())
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		// The Go runtime (1.25+) keeps its cgroup CPU quota files open to
		// follow GOMAXPROCS; everything else must be a pipe or anonymous.
		ok := target == "/dev/null" || strings.HasPrefix(target, "pipe:") || strings.HasPrefix(target, "anon_inode:") ||
			(fd > 4 && strings.HasPrefix(target, "/sys/fs/cgroup/"))
		if !ok {
			t.Errorf("worker fd %d → %s: not a pipe, /dev/null or Go runtime descriptor", fd, target)
		}
		if fd == 0 && target != "/dev/null" {
			t.Errorf("worker stdin → %s, want /dev/null", target)
		}
		if (fd >= 1 && fd <= 4) && !strings.HasPrefix(target, "pipe:") {
			t.Errorf("worker fd %d → %s, want a pipe", fd, target)
		}
	}
}

// TestUIDFallback starts, without the empty root (which links the binary
// into a directory nobody can reach), a binary nobody may not execute: the
// uid layer must be dropped with a reason, not the start.
func TestUIDFallback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("uid drop applies to root kernels only")
	}
	dir := t.TempDir() // mode 0700
	bin := filepath.Join(dir, "worker")
	if err := copyBinary(workerBin, bin); err != nil {
		t.Fatal(err)
	}
	unavailMu.Lock()
	saved := unavailable
	unavailable = map[feature]string{}
	unavailMu.Unlock()
	defer func() {
		unavailMu.Lock()
		unavailable = saved
		unavailMu.Unlock()
	}()
	p, rep := startProbe(t, Config{Path: bin, NoEmptyRoot: true}, "")
	if rep.UID != 0 {
		t.Errorf("uid = %d, want root kept", rep.UID)
	}
	if !contains(p.Layers(), "userns: unavailable") {
		t.Errorf("layers %q do not report the uid fallback", p.Layers())
	}
	if !contains(p.Layers(), "netns: active") {
		t.Errorf("netns lost in the uid fallback: %q", p.Layers())
	}
}

func TestKillEndsWorker(t *testing.T) {
	p, _ := startProbe(t, Config{}, "")
	p.Kill()
	select {
	case <-p.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("worker still running 5s after Kill")
	}
}

func TestMissingBinary(t *testing.T) {
	_, err := Start(Config{Path: "/nonexistent/enclave-worker"})
	if err == nil || !strings.Contains(err.Error(), "not available") {
		t.Errorf("Start of a missing binary: %v", err)
	}
}

func contains(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// tryEscapes is what an attacker who broke out of the interpreter (native
// code in the worker) would try next. args: canary file, listener address,
// a path in a world-writable directory to create.
func tryEscapes(args []string) map[string]string {
	canary, dial, write := args[0], args[1], args[2]
	out := map[string]string{}
	try := func(name string, f func() error) {
		if err := f(); err != nil {
			out[name] = err.Error()
		} else {
			out[name] = "ok"
		}
	}
	read := func(path string) func() error {
		return func() error { _, err := os.ReadFile(path); return err }
	}
	ppid := os.Getppid()
	try("read /etc/passwd", read("/etc/passwd"))
	try("read canary file", read(canary))
	try("read kernel environ", read(fmt.Sprintf("/proc/%d/environ", ppid)))
	try("list kernel fds", func() error { _, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", ppid)); return err })
	try("write /tmp", func() error { return os.WriteFile(write, []byte("x"), 0o644) })
	try("dial kernel listener", func() error {
		c, err := net.DialTimeout("tcp", dial, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	try("raw socket", func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err == nil {
			unix.Close(fd)
		}
		return err
	})
	try("start /bin/true", func() error {
		pid, err := syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{})
		if err == nil {
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, 0, nil)
		}
		return err
	})
	try("signal kernel", func() error { return unix.Kill(ppid, 0) })
	try("signal everyone", func() error { return unix.Kill(-1, 0) })
	try("ptrace kernel", func() error {
		err := unix.PtraceSeize(ppid)
		if err == nil {
			unix.PtraceDetach(ppid)
		}
		return err
	})
	try("raise RLIMIT_AS", func() error {
		return unix.Setrlimit(unix.RLIMIT_AS, &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY})
	})
	try("map 5 GiB", func() error {
		b, err := unix.Mmap(-1, 0, 5<<30, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
		if err == nil {
			unix.Munmap(b)
		}
		return err
	})
	try("new user namespace", func() error { return unix.Unshare(unix.CLONE_NEWUSER) })
	try("setuid root", func() error { return unix.Setuid(0) })
	return out
}

// TestEscapedInterpreter assumes the interpreter layer is broken: the
// stand-in worker runs native code after launch (namespaces, nobody,
// rlimits) and confine (Landlock, seccomp) and tries what an attacker would
// try next. Every attempt must fail.
func TestEscapedInterpreter(t *testing.T) {
	ln, conns := listen(t)
	dir, err := os.MkdirTemp("", "launch-canary")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	canary := filepath.Join(dir, "canary")
	os.WriteFile(canary, []byte("secret"), 0o644) // readable by nobody: only the sandbox keeps it out
	written := filepath.Join(os.TempDir(), fmt.Sprintf("enclave-escape-%d", os.Getpid()))
	defer os.Remove(written)
	p, rep := startProbe(t, Config{Args: []string{"confine", canary, ln.Addr().String(), written}}, "")
	if ok, missing := confine.Active(append(p.Layers(), rep.Layers...)); !ok {
		t.Errorf("layers not active: %q", missing)
	}
	if lines, ok := p.Verify(); !ok {
		t.Errorf("kernel-side verification failed: %q", lines)
	} else {
		t.Logf("%q", lines)
	}
	if len(rep.Escapes) == 0 {
		t.Fatal("no escape attempts reported")
	}
	for what, res := range rep.Escapes {
		if res == "ok" {
			t.Errorf("escaped worker could %s", what)
		} else {
			t.Logf("%-22s refused: %s", what, res)
		}
	}
	select {
	case c := <-conns:
		c.Close()
		t.Errorf("a connection from the escaped worker arrived")
	case <-time.After(20 * time.Millisecond):
	}
	if _, err := os.Stat(written); err == nil {
		t.Errorf("the escaped worker wrote %s", written)
	}
}

// TestLaunchLayersAlone shows the kernel-side layers hold on their own, with
// the worker's Landlock and seccomp off: what needs a uid, a network or
// limits is refused; reading world-readable files is left to Landlock.
func TestLaunchLayersAlone(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the uid layer applies to root kernels")
	}
	ln, _ := listen(t)
	written := filepath.Join(os.TempDir(), fmt.Sprintf("enclave-escape-alone-%d", os.Getpid()))
	defer os.Remove(written)
	_, rep := startProbe(t, Config{Args: []string{"noconfine", "/nonexistent", ln.Addr().String(), written}}, "")
	for _, what := range []string{"dial kernel listener", "read kernel environ", "list kernel fds", "signal kernel",
		"ptrace kernel", "raise RLIMIT_AS", "map 5 GiB", "setuid root"} {
		if rep.Escapes[what] == "ok" {
			t.Errorf("without confine, the launched worker could %s", what)
		}
	}
	if rep.Escapes["read /etc/passwd"] != "ok" {
		t.Logf("note: /etc/passwd unreadable even without Landlock: %s", rep.Escapes["read /etc/passwd"])
	}
}

// TestWorkerDiesWithKernel kills a kernel with SIGKILL: its worker, which
// ignores the end of its pipe as a cell stuck in a loop would, must not
// outlive it (Pdeathsig), or a crashed kernel would leave user code running.
func TestWorkerDiesWithKernel(t *testing.T) {
	self, _ := os.Executable()
	k := exec.Command(self, kernelMarker, workerBin)
	out, err := k.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Start(); err != nil {
		t.Fatal(err)
	}
	defer k.Process.Kill()
	var pid int
	if _, err := fmt.Fscan(out, &pid); err != nil || pid <= 0 {
		t.Fatalf("stand-in kernel printed no worker pid: %v", err)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("worker %d not running: %v", pid, err)
	}
	k.Process.Signal(syscall.SIGKILL)
	k.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(st), ") Z ") {
			return // gone, or a zombie waiting for init
		}
		time.Sleep(10 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("worker %d still running 5 s after its kernel was killed", pid)
}

// TestEmptyRoot: the worker's "/" is an empty, deleted directory, even
// before Landlock — no /etc, no /proc, not even its own binary; and a
// binary in a directory nobody cannot enter still starts as nobody.
func TestEmptyRoot(t *testing.T) {
	if !staticWorker() {
		t.Skip("no statically linked stand-in worker")
	}
	dir := t.TempDir() // 0700: nobody could not reach a binary here
	bin := filepath.Join(dir, "worker")
	if err := copyBinary(workerBin, bin); err != nil {
		t.Fatal(err)
	}
	p, rep := startProbe(t, Config{Path: bin}, "")
	if !contains(p.Layers(), "fsroot: active") {
		t.Fatalf("layers %q: no empty root", p.Layers())
	}
	if len(rep.Root) != 0 {
		t.Errorf("the worker's / holds %q, want nothing", rep.Root)
	}
	if rep.Passwd == "readable" {
		t.Errorf("the worker read /etc/passwd from its empty root")
	}
	if os.Geteuid() == 0 && rep.UID != NobodyID {
		t.Errorf("uid %d, want nobody", rep.UID)
	}
	root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", p.Pid()))
	if err != nil || !strings.HasSuffix(root, "(deleted)") {
		t.Errorf("worker root %q (%v), want a deleted directory", root, err)
	}
	if ents, _ := filepath.Glob(filepath.Join(os.TempDir(), "enclave-worker-root-*")); len(ents) > 0 {
		t.Logf("note: leftover root directories (other kernels starting now?): %q", ents)
	}
}

// TestCPUBackstop: a worker that spins past RLIMIT_CPU is killed by the
// host even if nothing on the kernel side acts (2 s of CPU).
func TestCPUBackstop(t *testing.T) {
	if testing.Short() {
		t.Skip("spends 2 s of CPU")
	}
	p, _ := startProbe(t, Config{CPUSeconds: 1, Args: []string{"spin"}}, "")
	p.Conn.Close() // the probe now reaches its spin loop
	select {
	case <-p.Exited():
		if err := p.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Errorf("worker ended with %v, want killed by the CPU limit", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("worker still spinning 20 s after a 1 s CPU limit")
	}
}

// The worker → kernel pipe holds a whole stream chunk (or as much as the
// system allows an unprivileged pipe).
func TestGrowPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	growPipe(r)
	want := eventPipeSize
	if b, err := os.ReadFile("/proc/sys/fs/pipe-max-size"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n < want && os.Geteuid() != 0 {
			want = n
		}
	}
	rc, err := r.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var size int
	rc.Control(func(fd uintptr) { size, err = unix.FcntlInt(fd, unix.F_GETPIPE_SZ, 0) })
	if err != nil || size < want {
		t.Errorf("pipe size %d (%v), want at least %d", size, err, want)
	}
}
