package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/traefik/yaegi/interp"

	"enclave/api/display"
	"enclave/api/remote"
	"enclave/rpc"
	"enclave/sandbox/symbols/allowlist"
)

// YaegiVersion is the interpreter version linked in, from the binary's
// build information (go.mod pins it).
func YaegiVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/traefik/yaegi" {
				return d.Version
			}
		}
	}
	return "unknown"
}

// Options tunes a worker.
type Options struct {
	// Confinement lists the hardening layers the process applied to itself
	// (confine.Apply), reported to the kernel in Ready.
	Confinement []string
	// MaxOutput is the default cap on a cell's stream output in bytes
	// (DefaultMaxOutput if 0); an ExecRequest may set its own.
	MaxOutput int64
	// FlushInterval is how long output may wait before it is sent
	// (DefaultFlushInterval if 0).
	FlushInterval time.Duration
	// Interrupts, if set, interrupts the running cell on each receive
	// (the worker's main relays SIGINT here).
	Interrupts <-chan os.Signal
	// StopGrace is how long an interrupted cell may take to return
	// (DefaultStopGrace if 0). Interpreted code returns within
	// milliseconds; one long call into compiled code (a regexp over a
	// huge string) cannot be reached and runs on.
	StopGrace time.Duration
	// Stuck is called, once, when an interrupted cell has not returned
	// within StopGrace; msg says so in a sentence. The worker's main exits
	// there (the process is the only thing that can stop such a call). If
	// Stuck is nil or returns, the worker stays busy with the cell and
	// reports it only once it has really returned, leaving the kernel to
	// kill the process.
	Stuck func(msg string)
}

// DefaultStopGrace is under the kernel's 2 s between its interrupt and its
// kill, so that the worker ends itself first and says why.
const DefaultStopGrace = 1500 * time.Millisecond

// Worker runs cells for one kernel connection.
type Worker struct {
	conn *rpc.Conn
	opts Options
	out  *streams
	in   *stdin
	ip   *interp.Interpreter
	// stop runs the interpreter's programs; an interrupt stops them.
	stop *stopper
	// trace collects what yaegi writes to its stderr: the positions a
	// panic unwound through.
	trace *traceBuffer
	// spans number the lines of executed cells (see addSpan).
	spans    []span
	nextBase int
	names    *names
	// imported maps the package names imported so far to their paths.
	imported map[string]string
	// resultN numbers the variable that holds results (resultVar).
	resultN int
	// genericsDone is set once cmp, maps and slices are compiled;
	// sourceResults then has their functions' result counts ("slices.Max").
	genericsDone  bool
	sourceResults map[string]int

	// busy is held while a cell runs; completion and inspection look at
	// the interpreter's variables only when they can take it.
	busy sync.Mutex

	mu        sync.Mutex
	cell      *cellRun // running cell, or nil
	latePanic string   // a goroutine's panic between cells, told next cell

	calls  chan *rpc.Msg // CallReply for the pending Call
	callMu sync.Mutex
}

// cellRun is the state of the running cell.
type cellRun struct {
	id         uint64
	ctx        context.Context
	cancel     context.CancelCauseFunc
	allowStdin bool
	goPanic    string // first panic of a goroutine during the cell (w.mu)
}

// ErrInterrupted is the cause of a cell cancelled by the kernel.
var ErrInterrupted = errors.New("interrupted")

// New builds a worker and its interpreter. Call Serve to run it.
func New(conn *rpc.Conn, opts Options) (*Worker, error) {
	if opts.MaxOutput <= 0 {
		opts.MaxOutput = DefaultMaxOutput
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = DefaultStopGrace
	}
	w := &Worker{
		conn:     conn,
		opts:     opts,
		trace:    &traceBuffer{},
		nextBase: firstBase,
		imported: map[string]string{},
		names:    newNames(),
		calls:    make(chan *rpc.Msg, 1),
	}
	w.out = newStreams(conn, opts.FlushInterval)
	w.in = newStdin(w)
	ip, err := w.newInterpreter()
	if err != nil {
		return nil, fmt.Errorf("sandbox: start interpreter: %w", err)
	}
	w.ip = ip
	if w.stop, err = newStopper(ip); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	display.SetSink(sink{w})
	remote.SetTransport(w.call)
	return w, nil
}

// Serve runs a worker on conn until the kernel sends Shutdown or closes the
// pipe. It sends Ready first.
func Serve(conn *rpc.Conn, opts Options) error {
	w, err := New(conn, opts)
	if err != nil {
		return err
	}
	return w.Serve()
}

// Serve sends Ready and answers the kernel's requests until Shutdown or the
// end of the pipe.
func (w *Worker) Serve() error {
	hello := &rpc.Hello{
		GoVersion:    runtime.Version(),
		YaegiVersion: YaegiVersion(),
		Packages:     allowlist.Paths(),
		Confinement:  w.opts.Confinement,
	}
	if err := w.conn.Send(&rpc.Msg{Type: rpc.Ready, Hello: hello}); err != nil {
		return err
	}
	// Cells wait here in order; the reader goes on answering interrupts,
	// input and completion meanwhile.
	execs := make(chan *rpc.Msg, 4096)
	if w.opts.Interrupts != nil {
		go func() {
			for range w.opts.Interrupts {
				w.interrupt(0)
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range execs {
			w.execute(m)
		}
	}()
	defer func() {
		w.interrupt(0)
		close(execs)
		select {
		case <-done:
		case <-time.After(time.Second):
		}
		w.out.flush()
	}()
	for {
		m, err := w.conn.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch m.Type {
		case rpc.Execute:
			if m.Exec == nil {
				w.sendError(m.ID, "ProtocolError", "execute request without code", nil)
				w.conn.Send(&rpc.Msg{Type: rpc.Done, ID: m.ID, Done: &rpc.DoneInfo{Status: "error"}})
				continue
			}
			execs <- m
		case rpc.Interrupt:
			w.interrupt(m.ID)
		case rpc.InputReply:
			select {
			case w.in.replies <- m:
			default:
			}
		case rpc.CallReply:
			select {
			case w.calls <- m:
			default:
			}
		case rpc.Complete:
			w.conn.Send(&rpc.Msg{Type: rpc.CompleteReply, ID: m.ID, Matches: w.complete(m.Query)})
		case rpc.Inspect:
			w.conn.Send(&rpc.Msg{Type: rpc.InspectReply, ID: m.ID, Found: w.inspect(m.Query)})
		case rpc.Shutdown:
			return nil
		}
	}
}

// interrupt cancels the running cell if it is id (any cell if id is 0).
func (w *Worker) interrupt(id uint64) {
	w.mu.Lock()
	c := w.cell
	w.mu.Unlock()
	if c != nil && (id == 0 || c.id == id) {
		c.cancel(ErrInterrupted)
	}
}

func (w *Worker) currentCell() *cellRun {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cell
}

// cellContext is the running cell's context, or a cancelled one between
// cells (so that Sleep called from a leftover goroutine returns).
func (w *Worker) cellContext() context.Context {
	if c := w.currentCell(); c != nil {
		return c.ctx
	}
	return context.Background()
}

// maxErrorText bounds an error's value and each traceback line: a panic
// value can be any size, and a message over rpc.MaxFrame would be lost.
const maxErrorText = 64 << 10

func (w *Worker) sendError(id uint64, name, value string, tb []string) {
	// fail and failPanic clip at maxErrorText; this is the backstop for
	// every other error (with room for their prefixes).
	value = clip(value, maxErrorText+1024)
	if tb == nil {
		tb = []string{name + ": " + value}
	}
	for i, l := range tb {
		tb[i] = clip(l, maxErrorText+1024) // room for "panic: " + value
	}
	w.out.flush()
	w.conn.Send(&rpc.Msg{Type: rpc.Error, ID: id, Err: &rpc.ErrorInfo{Name: name, Value: value, Traceback: tb}})
}

// sink is how enclave/display reaches the kernel.
type sink struct{ w *Worker }

// Display sends a display, counting its text against the cell's output cap
// like stream output; those over the cap, or too large for a frame, are
// replaced by a notice on stderr. The bundle is encoded here, once; an
// entry JSON cannot hold is left out and the notice says why.
func (s sink) Display(data, metadata map[string]any, id string, update bool) {
	c := s.w.currentCell()
	var cid uint64
	if c != nil {
		cid = c.id
	}
	if !s.w.out.charge(bundleSize(data)) {
		s.w.out.notice("displays dropped: the cell's output passed its limit of " + sizeText(s.w.out.limit()))
		return
	}
	raw, problems := encodeBundle(data)
	meta, metaProblems := encodeMetadata(metadata)
	for _, p := range append(problems, metaProblems...) {
		s.w.out.notice(p + "; that part of the display is not shown")
	}
	if len(problems) == len(data) && len(data) > 0 {
		return // nothing left to show; an empty bundle would be a clear_output
	}
	s.w.out.flush()
	err := s.w.conn.Send(&rpc.Msg{Type: rpc.Display, ID: cid, Display: &rpc.DisplayData{Data: raw, Metadata: meta, DisplayID: id, Update: update}})
	if errors.Is(err, rpc.ErrFrameTooLarge) {
		s.w.out.notice("a display was dropped: larger than the " + sizeText(rpc.MaxFrame) + " a message may carry")
	}
}

// Notice tells the cell, on its stderr, about something enclave/display
// could not show.
func (s sink) Notice(text string) { s.w.out.notice(text) }

// bundleSize approximates the bytes a bundle carries.
func bundleSize(data map[string]any) int64 {
	var n int64
	for k, v := range data {
		n += int64(len(k))
		switch x := v.(type) {
		case string:
			n += int64(len(x))
		case []byte:
			n += int64(len(x))
		default:
			n += 64
		}
	}
	return n
}

func (s sink) Stdout() io.Writer { return streamWriter{s.w.out, "stdout"} }
