package service_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"enclave/datasets/workspace"
	"enclave/kernel/wire"
	"enclave/service"
	"enclave/service/servicetest"
)

// TestServiceHelperKernel is not a test: it is the stand-in kernel the
// service starts (servicetest.KernelCommand).
func TestServiceHelperKernel(t *testing.T) { servicetest.RunKernelIfAsked() }

type env struct {
	*servicetest.Env
	t *testing.T
}

type opts = servicetest.Options

func newEnv(t *testing.T, o opts) *env { return &env{servicetest.Start(t, o), t} }

func me() string { return servicetest.Me() }

func conn(t *testing.T) *wire.ConnectionInfo { return servicetest.Conn(t) }

// start asks for a kernel and waits until the stand-in kernel listens.
func (e *env) start(ws string, ci *wire.ConnectionInfo) (*service.Client, service.Event, service.Assignment) {
	e.t.Helper()
	c, err := service.Dial(e.Socket)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	since := e.Log.Mark()
	ev, err := c.Start(ws, ci)
	if err != nil {
		e.t.Fatalf("start: %v", err)
	}
	if _, err := e.Log.Wait(since, "stand-in kernel "+ev.Kernel+" listening", 30*time.Second); err != nil {
		e.t.Fatal(err)
	}
	return c, ev, e.Assignment(e.t, ev.Kernel)
}

func (e *env) waitEnded(kernel string, since int) {
	e.t.Helper()
	if _, err := e.Log.Wait(since, kernel+` pid \d+: ended`, 10*time.Second); err != nil {
		e.t.Fatal(err)
	}
}

func TestStartTakesTheResearcherFromThePeer(t *testing.T) {
	e := newEnv(t, opts{Spares: 1})
	ci := conn(t)
	c, ev, a := e.start("wa", ci)
	if ev.Researcher != "alice" || ev.Refusal != "" || ev.Workspace != "wa" || ev.UnixUser != me() {
		t.Errorf("started %+v", ev)
	}
	if a.Researcher != "alice" || a.UID != os.Getuid() || a.WorkspaceDir != filepath.Join(e.Home, "workspaces", "wa") ||
		a.Connection.Key != ci.Key || a.Connection.ShellPort != ci.ShellPort || a.Refusal != "" {
		t.Errorf("assignment %+v", a)
	}
	// The launcher's end (here: its connection closes) ends the kernel.
	since := e.Log.Mark()
	c.Close()
	e.waitEnded(ev.Kernel, since)
}

func TestRefusalsReachTheKernel(t *testing.T) {
	e := newEnv(t, opts{})
	for _, tc := range []struct{ ws, want string }{
		{"wb", `researcher alice is not a member of workspace "WB"`},
		{"nope", `there is no workspace "nope" on this enclave service`},
		{"../workspaces/wb", `workspace name "../workspaces/wb": use letters, digits`},
		{"", ""}, // a kernel without data
	} {
		_, ev, a := e.start(tc.ws, conn(t))
		if !strings.HasPrefix(ev.Refusal, tc.want) || a.Refusal != ev.Refusal || a.WorkspaceDir != "" || (tc.want == "") != (ev.Refusal == "") {
			t.Errorf("%q: refusal %q (assignment %q), want %q", tc.ws, ev.Refusal, a.Refusal, tc.want)
		}
		s, err := a.Open(time.Now())
		if tc.want == "" {
			if s != nil || err != nil {
				t.Errorf("no workspace: %v %v", s, err)
			}
			continue
		}
		if !errors.Is(err, workspace.ErrAccess) || !service.IsRefusal(err) || err.Error() != ev.Refusal {
			t.Errorf("%q: Open: %v", tc.ws, err)
		}
	}
	// A workspace file opened to others: the service will not open it.
	db := filepath.Join(e.Home, "workspaces", "wa", "workspace.yaml")
	os.Chmod(db, 0o644)
	_, ev, _ := e.start("wa", conn(t))
	if !strings.Contains(ev.Refusal, `workspace "wa" is not protected on disk`) {
		t.Errorf("open file: %q", ev.Refusal)
	}
	if _, err := e.Log.Wait(0, `workspace.yaml: is mode 0644, open to group or others`, time.Second); err != nil {
		t.Error(err)
	}
}

func TestUnmappedUserIsRefused(t *testing.T) {
	e := newEnv(t, opts{Unmapped: true})
	_, ev, a := e.start("wa", conn(t))
	want := fmt.Sprintf("Unix user %s (uid %d) is not mapped to a researcher", me(), os.Getuid())
	if !strings.HasPrefix(ev.Refusal, want) || a.Researcher != "" {
		t.Errorf("refusal %q, researcher %q", ev.Refusal, a.Researcher)
	}
}

func TestInterruptAndExitReachTheLauncher(t *testing.T) {
	e := newEnv(t, opts{})
	ci := conn(t)
	c, ev, _ := e.start("wa", ci)
	// One at a time: signals do not queue, two sent at once may arrive as one.
	for i := 1; i <= 2; i++ {
		if err := c.Interrupt(); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Log.Wait(0, "stand-in kernel "+ev.Kernel+" interrupt "+strconv.Itoa(i), 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := servicetest.Ask(ci.ShellPort, "interrupts"); n != "2" || err != nil {
		t.Fatalf("the kernel counted %q interrupts (%v), want 2", n, err)
	}
	servicetest.Ask(ci.ShellPort, "exit 3")
	got, err := c.Next()
	if err != nil || got.Event != service.EvExited || got.Code != 3 || got.Kernel != ev.Kernel {
		t.Fatalf("after exit 3: %+v %v", got, err)
	}
	if _, err := c.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("the service should close the connection: %v", err)
	}
}

func TestTerminateEscalatesToKill(t *testing.T) {
	e := newEnv(t, opts{IgnoreTerm: true})
	c, _, _ := e.start("", conn(t))
	t0 := time.Now()
	if err := c.Terminate(); err != nil {
		t.Fatal(err)
	}
	ev, err := c.Next()
	if err != nil || ev.Event != service.EvExited || ev.Signal != "killed" || ev.Code != 128+9 {
		t.Fatalf("%+v %v", ev, err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("SIGKILL came after %v", d)
	}
}

func TestRestartOnTheSamePortsReplacesTheKernel(t *testing.T) {
	e := newEnv(t, opts{Spares: 1})
	ci := conn(t)
	c1, ev1, _ := e.start("wa", ci)
	// The second start can bind the ports only once the first kernel is
	// gone; the stand-in kernel fails to listen otherwise.
	_, ev2, _ := e.start("wa", ci)
	if ev2.Kernel == ev1.Kernel {
		t.Fatal("same kernel")
	}
	got, err := c1.Next()
	if err != nil || got.Event != service.EvExited || got.Kernel != ev1.Kernel {
		t.Fatalf("the replaced kernel's launcher got %+v %v", got, err)
	}
	// Another notebook's key on the same ports replaces nothing.
	other := *ci
	other.Key = "another key, 16 bytes or more"
	c3, err := service.Dial(e.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	since := e.Log.Mark()
	ev3, err := c3.Start("wa", &other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Log.Wait(since, `kernel pid `+strconv.Itoa(ev3.PID)+`: stand-in kernel: listen tcp .*address already in use`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, err := c3.Next(); err != nil || got.Event != service.EvExited || got.Code != 1 {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestConnectionsTheServiceRefuses(t *testing.T) {
	e := newEnv(t, opts{})
	for name, change := range map[string]func(*wire.ConnectionInfo){
		"no key":      func(c *wire.ConnectionInfo) { c.Key = "" },
		"short key":   func(c *wire.ConnectionInfo) { c.Key = "abc" },
		"ipc":         func(c *wire.ConnectionInfo) { c.Transport = "ipc" },
		"all hosts":   func(c *wire.ConnectionInfo) { c.IP = "0.0.0.0" },
		"low port":    func(c *wire.ConnectionInfo) { c.HBPort = 80 },
		"same ports":  func(c *wire.ConnectionInfo) { c.HBPort = c.ShellPort },
		"bad scheme":  func(c *wire.ConnectionInfo) { c.SignatureScheme = "none" },
		"remote host": func(c *wire.ConnectionInfo) { c.IP = "192.0.2.1" },
	} {
		ci := conn(t)
		change(ci)
		c, err := service.Dial(e.Socket)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := c.Start("wa", ci)
		c.Close()
		if err == nil || ev.Event != service.EvError {
			t.Errorf("%s: started %+v", name, ev)
		}
	}
}

func TestKernelsPerUserAreCapped(t *testing.T) {
	e := newEnv(t, opts{MaxPerUser: 1})
	e.start("", conn(t))
	c, err := service.Dial(e.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Start("", conn(t)); err == nil || !strings.Contains(err.Error(), "already runs 1 kernels") {
		t.Errorf("second kernel: %v", err)
	}
}

func TestStatus(t *testing.T) {
	e := newEnv(t, opts{})
	e.start("wa", conn(t))
	st, err := service.QueryStatus(e.Socket, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode != "service" || st.Kernels != 1 || st.Permissions != "ok" || st.Checked == 0 || !strings.Contains(st.You, "is researcher alice") {
		t.Errorf("%+v", st)
	}
}

func TestNewRefusesOpenFiles(t *testing.T) {
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, "researchers.yaml"), []byte("researchers: {}\n"), 0o600)
	os.Mkdir(filepath.Join(home, "workspaces"), 0o755)
	_, err := service.New(service.Config{Home: home, Kernel: []string{"/bin/false"}})
	if err == nil || !strings.Contains(err.Error(), "refusing to serve") || !strings.Contains(err.Error(), "workspaces: is mode 0755, open to group or others (want 0700)") {
		t.Fatalf("%v", err)
	}
}

func TestListenReplacesAStaleSocketOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sock")
	ln, err := service.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o666 {
		t.Errorf("socket mode %v", fi.Mode())
	}
	if _, err := service.Listen(path); err == nil || !strings.Contains(err.Error(), "another enclave service") {
		t.Errorf("second listener: %v", err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close() // a stale socket file stays
	ln2, err := service.Listen(path)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	ln2.Close()
	var _ net.Listener = ln2
}
