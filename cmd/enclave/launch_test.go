package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"enclave/service"
	"enclave/service/servicetest"
)

// TestServiceHelperKernel is not a test: it is the stand-in kernel the
// test service starts.
func TestServiceHelperKernel(t *testing.T) { servicetest.RunKernelIfAsked() }

const envLaunchArgs = "ENCLAVE_LAUNCH_TEST_ARGS"

// TestLaunchHelper is not a test: it is `enclave launch` run as its own
// process, with the arguments in $ENCLAVE_LAUNCH_TEST_ARGS.
func TestLaunchHelper(t *testing.T) {
	var args []string
	if json.Unmarshal([]byte(os.Getenv(envLaunchArgs)), &args) != nil {
		return
	}
	os.Exit(run(append([]string{"launch"}, args...), os.Stderr))
}

// launcher is enclave launch running as Jupyter runs it.
type launcher struct {
	cmd    *exec.Cmd
	stderr strings.Builder
	done   chan error
}

func startLauncher(t *testing.T, e *servicetest.Env, ws string) (*launcher, *servicetest.Env, string) {
	t.Helper()
	ci := servicetest.Conn(t)
	b, _ := json.Marshal(ci)
	cf := filepath.Join(t.TempDir(), "kernel-1.json")
	if err := os.WriteFile(cf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	args, _ := json.Marshal([]string{"--socket", e.Socket, "--workspace", ws, cf})
	l := &launcher{done: make(chan error, 1)}
	l.cmd = exec.Command(os.Args[0], "-test.run=^TestLaunchHelper$")
	// What the researcher's environment claims reaches nobody.
	l.cmd.Env = append(os.Environ(), envLaunchArgs+"="+string(args), "ENCLAVE_RESEARCHER=bob", "JUPYTERHUB_USER=bob")
	l.cmd.Stderr = &l.stderr
	since := e.Log.Mark()
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { l.done <- l.cmd.Wait() }()
	t.Cleanup(func() {
		l.cmd.Process.Kill()
		<-l.done
	})
	m, err := e.Log.Wait(since, `stand-in kernel (k\d+) listening`, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return l, e, m[1]
}

// wait returns the launcher's exit status, waiting up to 10 s.
func (l *launcher) wait(t *testing.T) int {
	t.Helper()
	select {
	case err := <-l.done:
		l.done <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(10 * time.Second):
		t.Fatalf("the launcher is still running; its output:\n%s", l.stderr.String())
	}
	return -1
}

func TestLaunchRelaysInterruptAndStop(t *testing.T) {
	e := servicetest.Start(t, servicetest.Options{Spares: 1})
	l, _, k := startLauncher(t, e, "wa")
	a := e.Assignment(t, k)
	if a.Researcher != "alice" || a.Workspace != "wa" || a.UnixUser != servicetest.Me() {
		t.Errorf("assignment %+v", a)
	}
	l.cmd.Process.Signal(syscall.SIGINT)
	if _, err := e.Log.Wait(0, "stand-in kernel "+k+" interrupt 1", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	l.cmd.Process.Signal(syscall.SIGTERM) // the stand-in kernel exits 0 on SIGTERM
	if code := l.wait(t); code != 0 {
		t.Errorf("launcher exit %d:\n%s", code, l.stderr.String())
	}
	if _, err := e.Log.Wait(0, k+` pid \d+: ended \(exit status 0\)`, 10*time.Second); err != nil {
		t.Error(err)
	}
	if s := l.stderr.String(); !strings.Contains(s, `started by the enclave service for researcher "alice"`) || !strings.Contains(s, "terminated: stopping the kernel") {
		t.Errorf("launcher output:\n%s", s)
	}
}

func TestKillingTheLauncherEndsTheKernel(t *testing.T) {
	e := servicetest.Start(t, servicetest.Options{})
	l, _, k := startLauncher(t, e, "wa")
	since := e.Log.Mark()
	l.cmd.Process.Kill()
	if _, err := e.Log.Wait(since, k+` pid \d+: ended`, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestTheKernelsEndEndsTheLauncher(t *testing.T) {
	e := servicetest.Start(t, servicetest.Options{})
	l, _, k := startLauncher(t, e, "wa")
	servicetest.Ask(e.Assignment(t, k).Connection.ShellPort, "exit 3")
	if code := l.wait(t); code != 1 || !strings.Contains(l.stderr.String(), "the kernel exited with status 3") {
		t.Errorf("launcher exit %d:\n%s", code, l.stderr.String())
	}
}

func TestLaunchShowsTheRefusal(t *testing.T) {
	e := servicetest.Start(t, servicetest.Options{})
	l, _, k := startLauncher(t, e, "wb")
	if a := e.Assignment(t, k); a.Researcher != "alice" || a.WorkspaceDir != "" {
		t.Errorf("assignment %+v", a)
	}
	l.cmd.Process.Signal(syscall.SIGTERM)
	l.wait(t)
	if s := l.stderr.String(); !strings.Contains(s, `refused: researcher alice is not a member of workspace "WB"`) {
		t.Errorf("launcher output:\n%s", s)
	}
}

func TestLaunchWithoutService(t *testing.T) {
	cf := filepath.Join(t.TempDir(), "kernel.json")
	b, _ := json.Marshal(servicetest.Conn(t))
	os.WriteFile(cf, b, 0o600)
	err := runLaunch([]string{"--socket", filepath.Join(t.TempDir(), "none"), cf})
	if !errors.Is(err, service.ErrNoService) {
		t.Errorf("%v", err)
	}
}

func TestOpenAssignedUsesTheAssignmentNotTheEnvironment(t *testing.T) {
	t.Setenv("ENCLAVE_WORKSPACE", t.TempDir())
	t.Setenv("ENCLAVE_RESEARCHER", "bob")
	s, err := openAssigned(&service.Assignment{Researcher: "alice"}, time.Now())
	if s != nil || err != nil {
		t.Errorf("an assignment without a workspace opens nothing: %v %v", s, err)
	}
	_, err = openAssigned(&service.Assignment{Refusal: "no"}, time.Now())
	if !service.IsRefusal(err) || err.Error() != "no" {
		t.Errorf("refusal: %v", err)
	}
}
