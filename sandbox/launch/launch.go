// Package launch starts the untrusted worker process from the trusted
// kernel side and hands back the RPC connection to it.
//
// The worker gets no environment, no inherited descriptors but its pipes
// (fd 3: requests from the kernel, fd 4: events to the kernel; stdin is
// /dev/null, stdout and stderr are kept by the kernel for its log and for
// the reason a worker died), and its own process group so that a kill
// reaches everything it started.
package launch

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"enclave/sandbox/rpc"
)

// Config says which worker binary to start and how.
type Config struct {
	// Path is the enclave-worker binary.
	Path string
	// Args are extra arguments for the worker.
	Args []string
}

// Process is a running worker.
type Process struct {
	Conn *rpc.Conn
	cmd  *exec.Cmd
	tail *tailBuffer

	waitOnce sync.Once
	waitErr  error
	done     chan struct{}
}

// ErrNoWorker is returned when the worker binary cannot be found or run.
var ErrNoWorker = errors.New("launch: worker binary not available")

// Start starts the worker. It does not wait for the worker's Ready message.
func Start(cfg Config) (*Process, error) {
	if cfg.Path == "" {
		return nil, fmt.Errorf("%w: no path configured", ErrNoWorker)
	}
	if fi, err := os.Stat(cfg.Path); err != nil || fi.IsDir() {
		return nil, fmt.Errorf("%w: %s", ErrNoWorker, cfg.Path)
	}
	reqR, reqW, err := os.Pipe() // kernel → worker
	if err != nil {
		return nil, fmt.Errorf("launch: pipe: %w", err)
	}
	evR, evW, err := os.Pipe() // worker → kernel
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, fmt.Errorf("launch: pipe: %w", err)
	}
	tail := &tailBuffer{max: 16 << 10}
	cmd := exec.Command(cfg.Path, cfg.Args...)
	cmd.Env = []string{}
	cmd.Stdout = tail
	cmd.Stderr = tail
	cmd.ExtraFiles = []*os.File{reqR, evW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		for _, f := range []*os.File{reqR, reqW, evR, evW} {
			f.Close()
		}
		return nil, fmt.Errorf("%w: %v", ErrNoWorker, err)
	}
	reqR.Close()
	evW.Close()
	p := &Process{
		Conn: rpc.NewConn(evR, reqW, closers{reqW, evR}),
		cmd:  cmd,
		tail: tail,
		done: make(chan struct{}),
	}
	go func() { p.Wait(); close(p.done) }()
	return p, nil
}

// Pid is the worker's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Wait waits for the worker to exit and returns how it ended.
func (p *Process) Wait() error {
	p.waitOnce.Do(func() { p.waitErr = p.cmd.Wait() })
	return p.waitErr
}

// Exited is closed once the worker has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Kill kills the worker's whole process group.
func (p *Process) Kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.cmd.Process.Kill()
}

// Signal sends sig to the worker process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Output returns the last bytes the worker wrote to its stdout and stderr,
// such as Go's "fatal error: stack overflow" report.
func (p *Process) Output() string { return p.tail.String() }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(b)
	if len(b) > t.max {
		b = b[len(b)-t.max:]
	}
	if over := t.buf.Len() + len(b) - t.max; over > 0 {
		t.buf.Next(over)
	}
	t.buf.Write(b)
	return n, nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

type closers []*os.File

func (cs closers) Close() error {
	var first error
	for _, c := range cs {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
