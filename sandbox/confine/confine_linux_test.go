//go:build linux

package confine

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"
)

// The test binary doubles as a worker: with the marker argument it confines
// itself, tries what an attacker would, and prints what happened as JSON.
const marker = "enclave-confine-test-worker"

type probe struct {
	Layers []string          `json:"layers"`
	Err    string            `json:"err"`
	Tries  map[string]string `json:"tries"` // attempt → "ok" or the error
}

func TestMain(m *testing.M) {
	for i, a := range os.Args {
		if a == marker {
			runConfined(os.Args[i+1:])
			return
		}
	}
	os.Exit(m.Run())
}

func try(f func() error) string {
	if err := f(); err != nil {
		return err.Error()
	}
	return "ok"
}

func runConfined(args []string) {
	opts, rest := FromArgs(args)
	var p probe
	p.Layers, _ = Apply(opts)
	p.Tries = map[string]string{}
	dial := ""
	if len(rest) > 0 {
		dial = rest[0]
	}
	t := p.Tries
	t["read /etc/passwd"] = try(func() error { _, err := os.ReadFile("/etc/passwd"); return err })
	t["list /"] = try(func() error { _, err := os.ReadDir("/"); return err })
	t["read /proc/self/environ"] = try(func() error { _, err := os.ReadFile("/proc/self/environ"); return err })
	t["read /proc/self/fd/3 by path"] = try(func() error { _, err := os.Open("/proc/self/fd/3"); return err })
	t["create /tmp file"] = try(func() error {
		f, err := os.CreateTemp("", "escape")
		if err == nil {
			f.Close()
			os.Remove(f.Name())
		}
		return err
	})
	t["dial tcp"] = try(func() error {
		c, err := net.DialTimeout("tcp", dial, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	t["listen tcp"] = try(func() error {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			l.Close()
		}
		return err
	})
	t["socket AF_UNIX"] = try(func() error {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err == nil {
			unix.Close(fd)
		}
		return err
	})
	t["exec /bin/true"] = try(func() error { return exec.Command("/bin/true").Run() })
	t["fork"] = try(func() error {
		_, err := syscall.ForkExec("/bin/true", nil, &syscall.ProcAttr{})
		return err
	})
	t["kill init"] = try(func() error { return syscall.Kill(1, 0) })
	t["kill parent"] = try(func() error { return syscall.Kill(os.Getppid(), 0) })
	t["kill group"] = try(func() error { return syscall.Kill(0, 0) })
	t["ptrace parent"] = try(func() error {
		// SEIZE, not ATTACH: should it succeed, the parent is not stopped.
		err := unix.PtraceSeize(os.Getppid())
		if err == nil {
			unix.PtraceDetach(os.Getppid())
		}
		return err
	})
	t["raise nofile"] = try(func() error {
		var rl unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
		rl.Cur = rl.Max
		return unix.Setrlimit(unix.RLIMIT_NOFILE, &rl)
	})
	t["memfd_create"] = try(func() error {
		fd, err := unix.MemfdCreate("x", 0)
		if err == nil {
			unix.Close(fd)
		}
		return err
	})
	t["unshare netns"] = try(func() error { return unix.Unshare(unix.CLONE_NEWNET) })
	// What must keep working.
	t["signal self"] = try(func() error { return syscall.Kill(os.Getpid(), 0) })
	t["threads"] = try(func() error {
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread() // forces new OS threads: clone(CLONE_THREAD)
				time.Sleep(5 * time.Millisecond)
			}()
		}
		wg.Wait()
		return nil
	})
	t["preemption"] = try(func() error {
		old := runtime.GOMAXPROCS(1)
		defer runtime.GOMAXPROCS(old)
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
		done := make(chan struct{})
		go func() { time.Sleep(10 * time.Millisecond); close(done) }()
		select {
		case <-done:
			close(stop)
			return nil
		case <-time.After(3 * time.Second):
			close(stop)
			return fmt.Errorf("no preemption")
		}
	})
	t["allocate 200MB"] = try(func() error {
		b := make([]byte, 200<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		runtime.GC()
		return nil
	})
	t["local time"] = try(func() error { _ = time.Now().Local().String(); return nil })
	t["panic recover"] = try(func() (err error) {
		defer func() { recover() }()
		var m map[string]int
		m["x"] = 1
		return nil
	})
	out, _ := json.Marshal(p)
	os.Stdout.Write(out)
	os.Exit(0)
}

func runWorker(t *testing.T, args ...string) probe {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	arrived := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
			arrived <- struct{}{}
		}
	}()
	// Like launch does: descriptors the test process inherited without
	// close-on-exec (from whatever ran go test) must not reach the worker.
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		for _, e := range ents {
			var fd int
			if _, err := fmt.Sscan(e.Name(), &fd); err == nil && fd > 2 {
				unix.CloseOnExec(fd)
			}
		}
	}
	self, _ := os.Executable()
	cmd := exec.Command(self, append([]string{marker}, append(args, ln.Addr().String())...)...)
	cmd.Env = []string{}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("confined worker: %v\n%s", err, stderr.String())
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("worker output %q: %v", out, err)
	}
	select {
	case <-arrived:
		p.Tries["connection arrived"] = "ok"
	case <-time.After(20 * time.Millisecond):
		p.Tries["connection arrived"] = "none"
	}
	return p
}

func TestApplyConfines(t *testing.T) {
	p := runWorker(t)
	for _, l := range p.Layers {
		t.Log(l)
	}
	if ok, missing := Active(p.Layers); !ok {
		t.Errorf("layers not active on this host: %q", missing)
	}
	mustFail := []string{
		"read /etc/passwd", "list /", "read /proc/self/environ", "read /proc/self/fd/3 by path",
		"create /tmp file", "dial tcp", "listen tcp", "socket AF_UNIX", "exec /bin/true", "fork",
		"kill init", "kill parent", "kill group", "ptrace parent", "raise nofile", "memfd_create",
		"unshare netns",
	}
	for _, k := range mustFail {
		if p.Tries[k] == "ok" {
			t.Errorf("%s: succeeded inside the sandbox", k)
		} else {
			t.Logf("%-28s refused: %s", k, p.Tries[k])
		}
	}
	if p.Tries["connection arrived"] != "none" {
		t.Errorf("a TCP connection from the confined worker reached the test's listener")
	}
	for _, k := range []string{"signal self", "threads", "preemption", "allocate 200MB", "local time", "panic recover"} {
		if p.Tries[k] != "ok" {
			t.Errorf("%s: broken by confinement: %s", k, p.Tries[k])
		}
	}
}

// TestOffIsAControl runs the same probes unconfined: the attempts that the
// confined worker failed must work here, so their failure above is the
// sandbox's doing and not the test's.
func TestOffIsAControl(t *testing.T) {
	p := runWorker(t, OffArg)
	for _, l := range p.Layers {
		if !strings.Contains(l, ": off") {
			t.Errorf("plain worker layer %q, want off", l)
		}
	}
	for _, k := range []string{"read /etc/passwd", "list /", "dial tcp", "socket AF_UNIX", "exec /bin/true", "kill parent"} {
		if p.Tries[k] != "ok" {
			t.Errorf("unconfined %s failed: %s", k, p.Tries[k])
		}
	}
}

func TestFromArgs(t *testing.T) {
	tests := []struct {
		args []string
		off  bool
		rest []string
	}{
		{nil, false, []string{}},
		{[]string{"-x"}, false, []string{"-x"}},
		{[]string{OffArg, "-x"}, true, []string{"-x"}},
	}
	for _, tt := range tests {
		opts, rest := FromArgs(tt.args)
		if opts.Off != tt.off || strings.Join(rest, " ") != strings.Join(tt.rest, " ") {
			t.Errorf("FromArgs(%q) = %+v, %q; want off=%v rest %q", tt.args, opts, rest, tt.off, tt.rest)
		}
	}
}

func TestPolicyCoversEverySyscall(t *testing.T) {
	a, err := arch.GetInfo("")
	if err != nil {
		t.Skip(err)
	}
	missing := 0
	for _, n := range deniedSyscalls {
		if _, ok := a.SyscallNames[n]; !ok {
			missing++
			t.Logf("%s: no such syscall on %s", n, a.Name)
		}
	}
	if a.Name == "x86_64" && missing > 0 {
		t.Errorf("%d denied syscalls unknown on x86_64: a typo would silently allow them", missing)
	}
	if _, err := Program(os.Getpid()); err != nil {
		t.Fatalf("Program: %v", err)
	}
}

func TestActive(t *testing.T) {
	ok, missing := Active([]string{"a: active (x)", "b: unavailable (y)", "c: partial (z)"})
	if ok || len(missing) != 2 {
		t.Errorf("Active = %v, %q", ok, missing)
	}
}
