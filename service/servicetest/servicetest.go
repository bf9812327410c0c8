// Package servicetest holds what tests of the enclave service and of its
// clients (enclave launch) share: a stand-in kernel that a test binary
// becomes when the service starts it, and a log that tests wait on instead
// of sleeping.
//
// Trust level: test support only; nothing outside _test.go files imports it.
package servicetest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"enclave/datasets/workspace"
	"enclave/kernel/wire"
	"enclave/service"
)

// Environment of the stand-in kernel.
const (
	EnvKernel      = "ENCLAVE_SERVICETEST_KERNEL"      // "1": the test binary is a stand-in kernel
	EnvDir         = "ENCLAVE_SERVICETEST_DIR"         // where it writes KERNEL.json, its assignment
	EnvIgnoreTerm  = "ENCLAVE_SERVICETEST_IGNORE_TERM" // "1": it ignores SIGTERM (tests of SIGKILL)
	HelperTestName = "TestServiceHelperKernel"
)

// KernelCommand is the service's Config.Kernel for a stand-in kernel: the
// running test binary, running only the helper test (which calls
// RunKernelIfAsked). The service appends "--service-fd 3" after "--".
func KernelCommand() []string {
	return []string{os.Args[0], "-test.run=^" + HelperTestName + "$", "--"}
}

// KernelEnv is the stand-in kernel's environment.
func KernelEnv(dir string, ignoreTerm bool) []string {
	// A race-enabled test binary sleeps 1 s at exit unless told not to,
	// past the test service's grace period.
	env := []string{EnvKernel + "=1", EnvDir + "=" + dir, "GORACE=atexit_sleep_ms=0"}
	if ignoreTerm {
		env = append(env, EnvIgnoreTerm+"=1")
	}
	return env
}

// RunKernelIfAsked makes the process a stand-in kernel when the service
// started it (EnvKernel=1), and exits; otherwise it returns. A stand-in
// kernel reads its assignment from fd 3 like enclave kernel --service-fd,
// writes it to EnvDir/KERNEL.json, logs "stand-in kernel KERNEL listening"
// (and "stand-in kernel KERNEL interrupt N" at each SIGINT) and listens on
// the shell port for lines: "interrupts" (answers how many SIGINTs it got)
// and "exit N".
func RunKernelIfAsked() {
	if os.Getenv(EnvKernel) != "1" {
		return
	}
	os.Exit(kernel())
}

func kernel() int {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	a, err := service.ReadAssignment(os.NewFile(3, "assignment"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "stand-in kernel:", err)
		return 1
	}
	b, _ := json.Marshal(a)
	dir := os.Getenv(EnvDir)
	tmp := filepath.Join(dir, a.Kernel+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil || os.Rename(tmp, filepath.Join(dir, a.Kernel+".json")) != nil {
		fmt.Fprintln(os.Stderr, "stand-in kernel: cannot write the assignment:", err)
		return 1
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(a.Connection.IP, strconv.Itoa(a.Connection.ShellPort)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "stand-in kernel:", err)
		return 1
	}
	var interrupts atomic.Int64
	exit := make(chan int, 1)
	go func() {
		for s := range sigs {
			switch {
			case s == syscall.SIGINT:
				fmt.Fprintf(os.Stderr, "stand-in kernel %s interrupt %d\n", a.Kernel, interrupts.Add(1))
			case os.Getenv(EnvIgnoreTerm) != "1":
				exit <- 0
			}
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					f := strings.Fields(sc.Text())
					switch {
					case len(f) == 1 && f[0] == "interrupts":
						fmt.Fprintln(c, interrupts.Load())
					case len(f) == 2 && f[0] == "exit":
						n, _ := strconv.Atoi(f[1])
						exit <- n
					}
				}
			}()
		}
	}()
	fmt.Fprintf(os.Stderr, "stand-in kernel %s listening\n", a.Kernel)
	return <-exit
}

// Ask sends one line to the stand-in kernel on port and returns its answer
// ("" for exit).
func Ask(port int, line string) (string, error) {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintln(c, line); err != nil {
		return "", err
	}
	if strings.HasPrefix(line, "exit") {
		return "", nil
	}
	r, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(r), err
}

// Log is an io.Writer for a log.Logger whose lines tests wait for.
type Log struct {
	mu    sync.Mutex
	lines []string
	part  string
	grew  chan struct{} // closed and replaced when a line arrives
}

// NewLog returns an empty log.
func NewLog() *Log { return &Log{grew: make(chan struct{})} }

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.part + string(p)
	parts := strings.Split(s, "\n")
	l.part = parts[len(parts)-1]
	if len(parts) > 1 {
		l.lines = append(l.lines, parts[:len(parts)-1]...)
		close(l.grew)
		l.grew = make(chan struct{})
	}
	return len(p), nil
}

// Mark returns the number of lines so far, to wait for later lines only.
func (l *Log) Mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// Wait returns the first line from line number since on matching pattern,
// waiting for it up to timeout.
func (l *Log) Wait(since int, pattern string, timeout time.Duration) ([]string, error) {
	rx := regexp.MustCompile(pattern)
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		for _, line := range l.lines[min(since, len(l.lines)):] {
			if m := rx.FindStringSubmatch(line); m != nil {
				l.mu.Unlock()
				return m, nil
			}
		}
		grew := l.grew
		all := strings.Join(l.lines, "\n")
		l.mu.Unlock()
		select {
		case <-grew:
		case <-deadline:
			return nil, fmt.Errorf("no log line matching %q within %v; the log:\n%s", pattern, timeout, all)
		}
	}
}

// FreePorts returns n distinct TCP ports free on 127.0.0.1 just now.
func FreePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for len(ports) < n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Options of a test service.
type Options struct {
	Unmapped   bool // do not map the user running the test to alice
	IgnoreTerm bool // stand-in kernels ignore SIGTERM
	Spares     int
	MaxPerUser int
}

// Env is a running test service on a fresh home: researchers alice (the
// Unix user running the test, unless Unmapped) and bob, workspaces wa
// (alice's) and wb (bob's), stand-in kernels. Close (registered with
// tb.Cleanup) stops it.
type Env struct {
	Home   string
	Out    string // where stand-in kernels write their assignments
	Socket string
	Log    *Log
	Server *service.Server
}

// Start starts a test service. It sets the process's umask to 077 and
// ENCLAVE_HOME for the test's duration.
func Start(tb testing.TB, o Options) *Env {
	tb.Helper()
	old := syscall.Umask(0o077)
	tb.Cleanup(func() { syscall.Umask(old) })
	base := tb.TempDir()
	e := &Env{Home: filepath.Join(base, "home"), Out: filepath.Join(base, "out"), Socket: filepath.Join(base, "run", "sock"), Log: NewLog()}
	if err := os.Mkdir(e.Out, 0o700); err != nil {
		tb.Fatal(err)
	}
	tb.Setenv("ENCLAVE_HOME", e.Home)
	reg := workspace.RegistryPath(e.Home)
	today := workspace.Day(time.Now())
	err := workspace.UpdateRegistry(reg, func(g *workspace.Registry) error {
		for _, id := range []string{"alice", "bob"} {
			g.Researchers[id] = &workspace.Researcher{ID: id, Identity: workspace.Identity{Method: workspace.LoginGov, Verified: today},
				RCRTraining: today, CodeOfConduct: today, Institution: workspace.Institution{Name: "U", DURA: workspace.Controlled}, CTTraining: today}
		}
		if !o.Unmapped {
			g.UnixUsers[Me()] = "alice"
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	g, err := workspace.LoadRegistry(reg)
	if err != nil {
		tb.Fatal(err)
	}
	for _, w := range []workspace.Workspace{
		{Name: "WA", Purpose: "test", Tier: workspace.Registered, Researchers: []string{"alice"}},
		{Name: "WB", Purpose: "test", Tier: workspace.Registered, Researchers: []string{"bob"}},
	} {
		if _, err := workspace.Create(filepath.Join(e.Home, service.WorkspacesDir, strings.ToLower(w.Name)), w, g, time.Now()); err != nil {
			tb.Fatal(err)
		}
	}
	srv, err := service.New(service.Config{Home: e.Home, Socket: e.Socket, Kernel: KernelCommand(),
		Env: KernelEnv(e.Out, o.IgnoreTerm), Spares: o.Spares, MaxPerUser: o.MaxPerUser,
		Grace: 200 * time.Millisecond, Log: log.New(e.Log, "", 0)})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := service.Listen(e.Socket)
	if err != nil {
		srv.Close()
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
	e.Server = srv
	return e
}

// Me is the name of the Unix user running the test (or its uid).
func Me() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

// Conn returns a connection on five free loopback ports with a key.
func Conn(tb testing.TB) *wire.ConnectionInfo {
	tb.Helper()
	p, err := FreePorts(5)
	if err != nil {
		tb.Fatal(err)
	}
	// A key of its own: the service takes a start with the key and a port
	// of a running kernel for that kernel's restart, and the ports of two
	// Conns can meet (a stand-in kernel binds only its shell port).
	key := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		tb.Fatal(err)
	}
	return &wire.ConnectionInfo{Transport: "tcp", IP: "127.0.0.1", ShellPort: p[0], ControlPort: p[1], IOPubPort: p[2],
		StdinPort: p[3], HBPort: p[4], SignatureScheme: "hmac-sha256", Key: hex.EncodeToString(key)}
}

// Assignment returns what the stand-in kernel named kernel was assigned.
func (e *Env) Assignment(tb testing.TB, kernel string) service.Assignment {
	tb.Helper()
	var a service.Assignment
	b, err := os.ReadFile(filepath.Join(e.Out, kernel+".json"))
	if err == nil {
		err = json.Unmarshal(b, &a)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return a
}
