package launch

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"enclave/rpc"
)

// Config says which worker binary to start and how. The zero value of every
// hardening field means "the safe default"; Plain turns hardening off.
type Config struct {
	// Path is the enclave-worker binary.
	Path string
	// Args are extra arguments for the worker.
	Args []string

	// Plain starts the worker without the process-level hardening (no
	// namespaces, no rlimits, no uid drop) and tells it not to confine
	// itself. The environment stays empty and the descriptors are still
	// limited to the pipes. For measurement and debugging only.
	Plain bool
	// MemoryBytes caps the worker's address space (RLIMIT_AS).
	// 0 means DefaultMemoryBytes; a negative value means no cap.
	MemoryBytes int64
	// CPUSeconds is the RLIMIT_CPU backstop for the worker's whole life
	// (the kernel's per-cell watchdog acts long before): 4 h by default,
	// two dozen cells at the default 10-minute cell limit; past it the
	// worker is killed and restarted, its variables lost.
	// 0 means DefaultCPUSeconds; a negative value means no cap.
	CPUSeconds int64
	// OpenFiles is RLIMIT_NOFILE. 0 means DefaultOpenFiles.
	OpenFiles int64
	// Procs, when positive, sets RLIMIT_NPROC. Off by default: the limit
	// counts every thread of every process of the worker's uid, so a shared
	// uid would make unrelated workers fail; fork and exec are denied by
	// the worker's seccomp filter instead.
	Procs int64
	// KeepUID keeps a root kernel's uid for the worker instead of running it
	// as nobody (65534), e.g. when the binary is not reachable by nobody.
	KeepUID bool
	// NoNetNS skips the new network namespace.
	NoNetNS bool
	// NoEmptyRoot skips the chroot into an empty directory (the filesystem
	// layer that holds without Landlock).
	NoEmptyRoot bool
}

// Defaults for Config's zero values.
const (
	DefaultMemoryBytes = 4 << 30
	DefaultCPUSeconds  = 4 * 3600
	DefaultOpenFiles   = 32
	NobodyID           = 65534
)

// ConfineOffArg is passed to the worker as its first argument when Config.Plain
// is set; confine.FromArgs recognises and removes it.
const ConfineOffArg = "-confine=off"

// Process is a running worker.
type Process struct {
	Conn *rpc.Conn
	cmd  *exec.Cmd
	tail *outputBuffer

	layers []string
	plain  bool

	waitOnce sync.Once
	waitErr  error
	done     chan struct{}
}

// ErrNoWorker is returned when the worker binary cannot be found or run.
var ErrNoWorker = errors.New("launch: worker binary not available")

// Start starts the worker. It does not wait for the worker's Ready message,
// but the worker's resource limits are in force before Start returns, so
// they hold before the worker can receive any code.
func Start(cfg Config) (*Process, error) {
	if cfg.Path == "" {
		return nil, fmt.Errorf("%w: no path configured", ErrNoWorker)
	}
	if fi, err := os.Stat(cfg.Path); err != nil || fi.IsDir() {
		return nil, fmt.Errorf("%w: %s", ErrNoWorker, cfg.Path)
	}
	markCloseOnExec()
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
	growPipe(evR)
	tail := newOutputBuffer(4<<10, 12<<10)
	args := cfg.Args
	if cfg.Plain {
		args = append([]string{ConfineOffArg}, args...)
	}

	var layers []string
	var cmd *exec.Cmd
	for _, attempt := range plan(cfg) {
		path, dir := cfg.Path, ""
		if attempt.emptyRoot {
			var inside string
			dir, inside, err = prepareRoot(cfg.Path)
			if err != nil {
				err = fmt.Errorf("prepare empty root: %w", err)
				if attempt.fallback == nil {
					break
				}
				remember(attempt.fallback, err)
				continue
			}
			attempt.attr.Chroot = dir
			path = inside
		}
		cmd = exec.Command(path, args...)
		cmd.Env = []string{}
		cmd.Dir = "/" // after the chroot: no working directory outside it
		cmd.Stdout = tail
		cmd.Stderr = tail
		cmd.ExtraFiles = []*os.File{reqR, evW}
		cmd.SysProcAttr = attempt.attr
		err = cmd.Start()
		if dir != "" {
			// The worker keeps its root and binary open; the names go.
			os.RemoveAll(dir)
		}
		if err == nil {
			layers = append(layers, attempt.layers...)
			break
		}
		// Fall back only when the host refuses the layer; a transient
		// failure (out of memory, too many processes) fails the start rather
		// than quietly running a weaker worker.
		if attempt.fallback == nil || !refusal(err) {
			break
		}
		remember(attempt.fallback, err)
	}
	if err != nil {
		for _, f := range []*os.File{reqR, reqW, evR, evW} {
			f.Close()
		}
		return nil, fmt.Errorf("%w: %v", ErrNoWorker, err)
	}
	reqR.Close()
	evW.Close()
	if !cfg.Plain {
		l, err := applyLimits(cmd.Process.Pid, cfg)
		if err != nil {
			// A worker we cannot limit must not run user code.
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Process.Kill()
			cmd.Wait()
			reqW.Close()
			evR.Close()
			return nil, fmt.Errorf("launch: %w", err)
		}
		layers = append(layers, l...)
	} else {
		layers = append(layers, "hardening: off (plain worker)")
	}
	p := &Process{
		Conn:   rpc.NewConn(evR, reqW, closers{reqW, evR}),
		cmd:    cmd,
		tail:   tail,
		layers: layers,
		plain:  cfg.Plain,
		done:   make(chan struct{}),
	}
	go func() { p.Wait(); close(p.done) }()
	return p, nil
}

// Layers describes the process-level hardening applied to the worker by
// the kernel side, one human-readable line per layer ("netns: active",
// "uid: unavailable (…)"). The worker reports its own layers in
// rpc.Hello.Confinement.
func (p *Process) Layers() []string { return append([]string(nil), p.layers...) }

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

// Output returns what the worker wrote to its stdout and stderr: the first
// 4 KiB (where Go puts "fatal error: stack overflow" or "panic: …") and
// the last 12 KiB, joined by a "…" line when something between was lost.
func (p *Process) Output() string { return p.tail.String() }

// outputBuffer keeps the first head and the last tail bytes written to it:
// Go prints "fatal error: stack overflow" (or a panic line) at the start of
// a crash report that can run on for megabytes of goroutine dumps, and the
// kernel needs both that line and the end.
type outputBuffer struct {
	mu      sync.Mutex
	head    []byte
	headMax int
	tail    tailBuffer
	dropped bool // bytes between head and tail were lost
}

func newOutputBuffer(headMax, tailMax int) *outputBuffer {
	return &outputBuffer{headMax: headMax, tail: tailBuffer{max: tailMax}}
}

func (o *outputBuffer) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(b)
	if room := o.headMax - len(o.head); room > 0 {
		k := min(room, len(b))
		o.head = append(o.head, b[:k]...)
		b = b[k:]
	}
	if len(b) > 0 {
		if o.tail.buf.Len()+len(b) > o.tail.max {
			o.dropped = true
		}
		o.tail.Write(b)
	}
	return n, nil
}

// String is the head, then " …" on a line of its own if anything was
// dropped, then the tail.
func (o *outputBuffer) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.tail.String()
	if !o.dropped {
		return string(o.head) + t
	}
	return string(o.head) + "\n…\n" + t
}

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
