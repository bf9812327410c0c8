package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"enclave/kernel"
	"enclave/kernel/worker/launch"
	"enclave/rpc"
)

// Config says how to run the worker.
type Config struct {
	Path         string        // the enclave-worker binary
	Args         []string      // extra worker arguments
	Grace        time.Duration // interrupt → kill; 2 s
	ReadyTimeout time.Duration // start → Ready; 30 s
	Log          *log.Logger
	// Plain starts the worker without process hardening (tests and
	// measurement only; see launch.Config.Plain).
	Plain bool
	// OnFresh, when set, is called when a request is first served by a
	// worker other than the one that served the last request: the worker
	// was restarted and its memory is gone (the release layer clears taint).
	// Output of the request that saw the old worker die comes before it.
	// It reports whether the worker replaced held rows: then how it
	// stopped between cells is not told (a worker holding rows chose among
	// five ways to crash, and the next cell's notice named it: review 46).
	OnFresh func() (heldRows bool)
}

// Executor runs cells in a worker process and replaces the process when
// it dies. It implements kernel.Executor, kernel.Completer and
// kernel.Inspector.
type Executor struct {
	cfg    Config
	log    *log.Logger
	nextID atomic.Uint64

	mu       sync.Mutex
	cur      *proc
	lastUsed *proc // the worker that served the last request
	closed   bool
}

// New returns an executor and starts its first worker in the background.
func New(cfg Config) *Executor {
	if cfg.Grace <= 0 {
		cfg.Grace = 2 * time.Second
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = log.New(os.Stderr, "enclave worker: ", log.LstdFlags)
	}
	e := &Executor{cfg: cfg, log: cfg.Log}
	e.cur = e.spawn()
	return e
}

// proc is one worker process and the routing of its messages.
type proc struct {
	e         *Executor
	started   chan struct{} // closed when launch.Start returned
	startedAt time.Time
	p         *launch.Process
	err       error // launch failure

	ready      chan struct{} // closed on Ready or death
	readyOnce  sync.Once
	hello      *rpc.Hello
	verified   []string // what /proc says about the worker's confinement
	verifiedOK bool

	dead   chan struct{} // closed after the process is gone
	reason string        // why it is gone, for the researcher

	mu      sync.Mutex
	waiters map[uint64]*waiter
	killed  bool
}

func (e *Executor) spawn() *proc {
	p := &proc{e: e, startedAt: time.Now(), started: make(chan struct{}), ready: make(chan struct{}), dead: make(chan struct{}),
		waiters: map[uint64]*waiter{}}
	go func() {
		lp, err := launch.Start(launch.Config{Path: e.cfg.Path, Args: e.cfg.Args, Plain: e.cfg.Plain})
		p.p, p.err = lp, err
		close(p.started)
		if err != nil {
			p.reason = err.Error()
			p.readyOnce.Do(func() { close(p.ready) })
			close(p.dead)
			return
		}
		go p.read()
		go func() {
			select {
			case <-p.ready:
			case <-time.After(e.cfg.ReadyTimeout):
				e.log.Printf("worker %d sent no Ready in %v; killing it", lp.Pid(), e.cfg.ReadyTimeout)
				p.kill()
			}
		}()
	}()
	return p
}

// read routes the worker's messages until its pipe closes, then waits for
// the process to end and records why.
func (p *proc) read() {
	conn := p.p.Conn
	var rerr error
	for {
		// A stream's text is read in place: the cell's sink copies it
		// into its buffer during the inline delivery (Events.Stream).
		m, err := conn.RecvView()
		if err != nil {
			rerr = err
			break
		}
		switch m.Type {
		case rpc.Ready:
			if m.Hello == nil {
				m.Hello = &rpc.Hello{}
			}
			p.hello = m.Hello
			p.verified, p.verifiedOK = p.p.Verify()
			if !p.verifiedOK && !p.e.cfg.Plain {
				p.e.log.Printf("WARNING: worker %d is not confined as it should be: %s", p.p.Pid(), strings.Join(p.verified, "; "))
			}
			p.e.log.Printf("worker %d ready in %v (Go %s, yaegi %s); process layers: %s; worker confinement: %s",
				p.p.Pid(), time.Since(p.startedAt).Round(time.Microsecond), m.Hello.GoVersion, m.Hello.YaegiVersion,
				strings.Join(p.p.Layers(), "; "), strings.Join(m.Hello.Confinement, "; "))
			p.readyOnce.Do(func() { close(p.ready) })
			continue
		}
		p.mu.Lock()
		w := p.waiters[m.ID]
		p.mu.Unlock()
		if w == nil {
			p.e.log.Printf("worker sent %s for unknown id %d; ignored", m.Type, m.ID)
			continue
		}
		if w.deliverInline(m) {
			continue
		}
		if m.Stream != nil {
			m.Stream.Text = strings.Clone(m.Stream.Text) // it outlives the next RecvView
		}
		select {
		case w.ch <- m:
		case <-w.gone:
		}
	}
	if !errors.Is(rerr, os.ErrClosed) && !errors.Is(rerr, io.EOF) {
		p.e.log.Printf("worker pipe: %v", rerr)
	}
	select {
	case <-p.p.Exited():
	case <-time.After(2 * time.Second):
		p.e.log.Printf("worker closed its pipe but did not exit; killing it")
		p.kill()
		<-p.p.Exited()
	}
	p.reason = deathReason(p.p.Output(), p.p.Wait(), p.wasKilled())
	if out := strings.TrimSpace(p.p.Output()); out != "" {
		if len(out) > 2048 {
			out = "…" + out[len(out)-2048:]
		}
		p.e.log.Printf("worker %d ended (%s); its last output:\n%s", p.p.Pid(), p.reason, out)
	} else {
		p.e.log.Printf("worker %d ended (%s)", p.p.Pid(), p.reason)
	}
	p.readyOnce.Do(func() { close(p.ready) })
	conn.Close()
	close(p.dead)
}

func (p *proc) kill() {
	p.mu.Lock()
	p.killed = true
	p.mu.Unlock()
	if p.p != nil {
		p.p.Kill()
	}
}

func (p *proc) wasKilled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.killed
}

func (p *proc) isDead() bool {
	select {
	case <-p.dead:
		return true
	default:
		return false
	}
}

// waiter receives the worker's messages for one id (a cell or a query).
// Messages its inline function accepts (a cell's output events) are handled
// on the reader goroutine, in order, saving a goroutine switch per event;
// the rest go through ch.
type waiter struct {
	ch   chan *rpc.Msg
	gone chan struct{} // closed when nobody reads ch any more

	mu     sync.Mutex
	inline func(*rpc.Msg) bool
	closed bool
}

func (w *waiter) deliverInline(m *rpc.Msg) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inline == nil || w.closed {
		return false
	}
	return w.inline(m)
}

func (p *proc) register(id uint64, inline func(*rpc.Msg) bool) *waiter {
	w := &waiter{ch: make(chan *rpc.Msg, 64), gone: make(chan struct{}), inline: inline}
	p.mu.Lock()
	p.waiters[id] = w
	p.mu.Unlock()
	return w
}

func (p *proc) unregister(id uint64) {
	p.mu.Lock()
	w := p.waiters[id]
	delete(p.waiters, id)
	p.mu.Unlock()
	if w != nil {
		close(w.gone)
		w.mu.Lock() // wait for an inline delivery in progress
		w.closed = true
		w.mu.Unlock()
	}
}

// deathReason says in one line why the worker ended: Go's fatal error
// line when there is one, else the panic line, else the exit status.
func deathReason(output string, waitErr error, killed bool) string {
	lines := strings.Split(output, "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "fatal error: ") {
			return strings.TrimSpace(l)
		}
	}
	if strings.Contains(output, "goroutine stack exceeds") {
		return "fatal error: stack overflow"
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "panic: ") {
			l = strings.TrimSpace(l)
			if len(l) > 200 {
				l = l[:200] + "…"
			}
			return l
		}
	}
	if killed {
		return "killed by the kernel"
	}
	if waitErr != nil {
		if strings.Contains(output, "\ngoroutine ") || strings.HasPrefix(output, "goroutine ") {
			if deepRecursion(lines) {
				return "it crashed with a Go runtime error (" + waitErr.Error() + "), its trace showing very deep recursion: most likely a stack overflow"
			}
			return "it crashed with a Go runtime error (" + waitErr.Error() + ")"
		}
		return waitErr.Error()
	}
	return "it exited"
}

// deepRecursion reports whether one function fills most of a Go
// traceback, as in the tail of a stack overflow's trace.
func deepRecursion(lines []string) bool {
	counts := map[string]int{}
	for _, l := range lines {
		if fn, _, ok := strings.Cut(l, "("); ok && !strings.HasPrefix(l, "\t") && fn != "" {
			counts[fn]++
			if counts[fn] >= 40 {
				return true
			}
		}
	}
	return false
}

// current returns the worker to use, ready, starting a fresh one when the
// last has died. notice says what happened to a worker that died idle.
func (e *Executor) current(ctx context.Context) (p *proc, notice string, err error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, "", errors.New("the executor is closed")
	}
	p = e.cur
	why := ""
	if p.isDead() {
		if p.hello != nil {
			why = p.reason
		}
		p = e.spawn()
		e.cur = p
	}
	e.mu.Unlock()
	select {
	case <-p.ready:
	case <-ctx.Done():
		return nil, "", context.Cause(ctx)
	}
	if p.hello == nil {
		<-p.dead
		return nil, "", fmt.Errorf("the Go worker could not start: %s", p.reason)
	}
	e.mu.Lock()
	fresh := e.lastUsed != nil && e.lastUsed != p
	e.lastUsed = p
	e.mu.Unlock()
	if fresh && e.cfg.OnFresh != nil && e.cfg.OnFresh() && why != "" {
		why = "how is not told: it held row-level data"
	}
	if why != "" {
		notice = "the Go worker stopped between cells (" + why + "); a fresh worker runs this cell and variables were lost"
	}
	return p, notice, nil
}

// replace kills p (if it is still current) and starts a fresh worker.
func (e *Executor) replace(p *proc) {
	p.kill()
	e.mu.Lock()
	if e.cur == p && !e.closed {
		e.cur = e.spawn()
	}
	e.mu.Unlock()
}

// Hello returns a copy of the current worker's Ready message whose
// Confinement lists the launcher's process layers first and then the
// worker's own, or nil if no worker is ready yet.
func (e *Executor) Hello() *rpc.Hello {
	e.mu.Lock()
	p := e.cur
	e.mu.Unlock()
	select {
	case <-p.ready:
	default:
		return nil
	}
	if p.hello == nil || p.p == nil {
		return nil
	}
	h := *p.hello
	h.Confinement = append(p.p.Layers(), p.hello.Confinement...)
	return &h
}

// Describe says where cells run: the worker process, the hardening the
// launcher applied and the confinement the worker reports.
func (e *Executor) Describe(ctx context.Context) (string, error) {
	p, _, err := e.current(ctx)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	h := p.hello
	fmt.Fprintf(&b, "worker       pid %d, %s, yaegi %s, %d importable packages\n", p.p.Pid(), h.GoVersion, h.YaegiVersion, len(h.Packages))
	for i, l := range p.p.Layers() {
		label := ""
		if i == 0 {
			label = "process"
		}
		fmt.Fprintf(&b, "%-12s %s\n", label, l)
	}
	for i, c := range h.Confinement {
		label := ""
		if i == 0 {
			label = "confinement"
		}
		fmt.Fprintf(&b, "%-12s %s\n", label, c)
	}
	for i, v := range p.verified {
		label := ""
		if i == 0 {
			label = "checked"
		}
		fmt.Fprintf(&b, "%-12s %s\n", label, v)
	}
	return b.String(), nil
}

// Close shuts the worker down, killing it if it does not exit at once.
func (e *Executor) Close() error {
	e.mu.Lock()
	e.closed = true
	p := e.cur
	e.mu.Unlock()
	<-p.started
	if p.p == nil {
		return nil
	}
	p.p.Conn.Send(&rpc.Msg{Type: rpc.Shutdown})
	select {
	case <-p.p.Exited():
	case <-time.After(500 * time.Millisecond):
		p.kill()
	}
	return nil
}

var _ kernel.Executor = (*Executor)(nil)
var _ kernel.Completer = (*Executor)(nil)
var _ kernel.Inspector = (*Executor)(nil)
var _ kernel.Describer = (*Executor)(nil)
