package kernel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"enclave/kernel/wire"
)

// Sender sends a message on a channel; the wire layer implements it by
// signing and writing the frames. For iopub the message's identities are
// its topic.
type Sender interface {
	Send(ch wire.Channel, m *wire.Message) error
}

// WorkspaceInfo is what %workspace shows about the open workspace.
type WorkspaceInfo struct {
	Name       string
	Purpose    string
	Tier       string
	Datasets   []string
	Researcher string
	// Text and Markdown, when set, are the workspace layer's own renderings.
	Text, Markdown string
}

// Config configures a Kernel. Zero values get the defaults noted.
type Config struct {
	Session    string   // kernel session id; a new UUID if empty
	Executor   Executor // runs cells (required)
	Gate       Gate     // every iopub message passes it; NewEgressGate(OutputCap) if nil
	IsComplete func(code string) (status, indent string)
	Log        *log.Logger    // the kernel log (stderr if nil)
	Ports      map[string]int // for connect_reply: shell_port, …

	FlushInterval time.Duration // stream coalescing timer; 30 ms
	FlushSize     int           // stream bytes that force a flush; 1 MiB
	OutputCap     int64         // output bytes per cell; 32 MiB
	CellTimeout   time.Duration // a cell running longer is stopped; 10 min

	// Workspace is the open workspace; WorkspaceErr is why it could not be
	// opened. With WorkspaceErr set, every cell fails with its text.
	Workspace    *WorkspaceInfo
	WorkspaceErr error
	// OpenWorkspace, when set, is called once, at the first request that
	// needs the workspace, and its result replaces Workspace and
	// WorkspaceErr: the caller starts opening it in the background so that
	// a slow catalog does not delay kernel_info.
	OpenWorkspace func() (*WorkspaceInfo, error)
	// NoWorkspace is what %workspace says when no workspace is open: how
	// this kernel's deployment names one (the kernelspec's environment in
	// single-user mode, the kernelspec checked by the enclave service in
	// service mode). Empty: a sentence that names no mechanism.
	NoWorkspace string

	// API serves enclave API calls from user code; nil answers every call
	// with "no such API method".
	// cell is the msg_id of the execute_request whose code made the call.
	API func(ctx context.Context, cell, method string, args json.RawMessage) (json.RawMessage, error)
	// Magics are magics served by other layers, by name without '%'.
	Magics map[string]Magic
	// Audit records requests of the AuditCode and AuditSession classes;
	// nil logs them.
	Audit func(class AuditClass, msgType, detail string)

	Implementation  string // implementation_version in kernel_info
	LanguageVersion string // Go version the worker runs
}

// Kernel is a running kernel core.
type Kernel struct {
	cfg     Config
	out     Sender
	gate    Gate
	log     *log.Logger
	session string

	shellQ   chan arrival
	controlQ chan *wire.Message
	stdinQ   chan *wire.Message

	// Shell-loop state.
	count     int                      // execution counter
	abortLeft int                      // queued requests to abort after a failed cell (stop_on_error)
	abortPre  abortClock               // and requests the client sent before it could see the failure
	offsets   map[string]time.Duration // per client session: least (arrival − header date)
	hist      history                  // this session's inputs and released outputs

	cellMu     sync.Mutex
	cellCancel context.CancelCauseFunc // cancels the running cell; nil when idle

	done     chan struct{}
	doneOnce sync.Once
	restart  bool

	wsOnce sync.Once
}

// workspace returns the open workspace or why it could not be opened,
// waiting for a background open on first use.
func (k *Kernel) workspace() (*WorkspaceInfo, error) {
	k.wsOnce.Do(func() {
		if k.cfg.OpenWorkspace != nil {
			k.cfg.Workspace, k.cfg.WorkspaceErr = k.cfg.OpenWorkspace()
		}
	})
	return k.cfg.Workspace, k.cfg.WorkspaceErr
}

// New returns a kernel core that sends through out.
func New(cfg Config, out Sender) *Kernel {
	if cfg.Session == "" {
		cfg.Session = uuid.NewString()
	}
	if cfg.Log == nil {
		cfg.Log = log.New(os.Stderr, "enclave kernel: ", log.LstdFlags)
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 30 * time.Millisecond
	}
	if cfg.FlushSize <= 0 {
		cfg.FlushSize = 1 << 20
	}
	if cfg.OutputCap == 0 {
		cfg.OutputCap = 32 << 20
	}
	if cfg.CellTimeout <= 0 {
		cfg.CellTimeout = 10 * time.Minute
	}
	k := &Kernel{
		cfg: cfg, out: out, gate: cfg.Gate, log: cfg.Log, session: cfg.Session,
		shellQ:   make(chan arrival, 1024),
		offsets:  map[string]time.Duration{},
		controlQ: make(chan *wire.Message, 64),
		stdinQ:   make(chan *wire.Message, 1),
		done:     make(chan struct{}),
	}
	if k.gate == nil {
		k.gate = NewEgressGate(cfg.OutputCap)
	}
	return k
}

// Deliver hands the kernel a verified message that arrived on ch. It is
// called by the wire layer's receive goroutines; it queues shell and
// control requests for their loops and passes stdin replies on at once.
func (k *Kernel) Deliver(ch wire.Channel, m *wire.Message) {
	switch ch {
	case wire.Shell:
		select {
		case k.shellQ <- arrival{m, time.Now()}:
		case <-k.done:
		}
	case wire.Control:
		select {
		case k.controlQ <- m:
		case <-k.done:
		}
	case wire.Stdin:
		// An input reply only hands its text to the waiting cell, whose
		// context (from Run's) bounds the wait; it needs none of its own.
		k.dispatch(context.Background(), ch, m)
	default:
		k.log.Printf("dropped %s on %s: not a request channel", m.Header.MsgType, ch)
	}
}

// Run serves shell and control requests until a shutdown request or ctx
// ends. It reports whether the frontend asked for a restart.
func (k *Kernel) Run(ctx context.Context) (restart bool, err error) {
	go func() {
		for {
			select {
			case m := <-k.controlQ:
				k.dispatch(ctx, wire.Control, m)
			case <-k.done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case a := <-k.shellQ:
			k.noteClock(a)
			k.dispatch(ctx, wire.Shell, a.msg)
		case <-k.done:
			return k.restart, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// Done is closed once the kernel has answered a shutdown request.
func (k *Kernel) Done() <-chan struct{} { return k.done }

// Interrupt cancels the running cell, if any (interrupt_request, SIGINT).
func (k *Kernel) Interrupt() {
	k.cellMu.Lock()
	defer k.cellMu.Unlock()
	if k.cellCancel != nil {
		k.cellCancel(ErrInterrupted)
	}
}

// request is a message being handled, the channel it came on and the
// context of the Run serving it: work done for the request ends with it.
type request struct {
	ctx context.Context
	ch  wire.Channel
	msg *wire.Message
}

// dispatch routes one message, wrapped in busy/idle status for shell and
// control requests so that no handler can forget it.
func (k *Kernel) dispatch(ctx context.Context, ch wire.Channel, m *wire.Message) {
	t := m.Header.MsgType
	r, ok := routes[t]
	if !ok {
		k.log.Printf("ignored unknown message type %q on %s (msg_id %s)", t, ch, m.Header.MsgID)
		return
	}
	if !r.allows(ch) {
		k.log.Printf("ignored %s on the %s channel, where it does not belong", t, ch)
		return
	}
	if r.audit == AuditCode || r.audit == AuditSession {
		k.audit(r.audit, t, m)
	}
	req := &request{ctx: ctx, ch: ch, msg: m}
	if ch == wire.Stdin {
		if err := r.handle(k, req); err != nil {
			k.log.Printf("%s: %v", t, err)
		}
		return
	}
	k.publish(m, "status", statusContent{"busy"})
	defer k.publish(m, "status", statusContent{"idle"})
	if ch == wire.Shell && k.aborted(m) {
		k.reply(req, "execute_reply", map[string]any{"status": "aborted", "execution_count": k.count})
		return
	}
	defer func() {
		if p := recover(); p != nil { // a handler bug must not take the kernel down
			k.log.Printf("%s handler panicked: %v", t, p)
		}
	}()
	if err := r.handle(k, req); err != nil {
		k.log.Printf("%s: %v", t, err)
	}
}

// arrival is a shell request and when it reached the kernel.
type arrival struct {
	msg *wire.Message
	at  time.Time
}

// noteClock keeps, per client session, the least difference between a
// request's arrival (kernel clock) and its header date (client clock): the
// clock skew plus the shortest trip seen, an upper bound of the skew.
func (k *Kernel) noteClock(a arrival) {
	d, err := time.Parse(time.RFC3339Nano, a.msg.Header.Date)
	if err != nil || a.msg.Header.Session == "" {
		return
	}
	off := a.at.Sub(d)
	if old, ok := k.offsets[a.msg.Header.Session]; ok && old <= off {
		return
	}
	if len(k.offsets) >= 256 { // forget old sessions rather than grow
		clear(k.offsets)
	}
	k.offsets[a.msg.Header.Session] = off
}

// abortClock records a failed cell under stop_on_error: the client session
// and the kernel time its error reply was sent. A later request of that
// session whose date, moved to the kernel clock with the session's offset,
// is before that time was sent before the client could have seen the
// failure: a "Run All" already on the wire behind the failing cell. The
// offset overestimates the skew, so the rule never aborts a request sent
// after the reply; no timer is involved.
type abortClock struct {
	session string
	replied time.Time
}

// aborted reports whether a shell request must be answered "aborted"
// because a cell before it failed with stop_on_error: it was already queued
// when the failure was answered, or its client sent it before the failure
// was answered (a pipelining client whose request was in flight).
func (k *Kernel) aborted(m *wire.Message) bool {
	queued := k.abortLeft > 0
	if queued {
		k.abortLeft--
	}
	if m.Header.MsgType != "execute_request" {
		return false
	}
	if queued {
		return true
	}
	if k.abortPre.session == "" || m.Header.Session != k.abortPre.session {
		return false
	}
	off, known := k.offsets[m.Header.Session]
	d, err := time.Parse(time.RFC3339Nano, m.Header.Date)
	if known && err == nil && d.Add(off).Before(k.abortPre.replied) {
		return true
	}
	k.abortPre = abortClock{} // the client has moved past the failure
	return false
}

func (k *Kernel) audit(class AuditClass, msgType string, m *wire.Message) {
	detail := ""
	if msgType == "execute_request" {
		var c struct {
			Code string `json:"code"`
		}
		json.Unmarshal(m.Content, &c)
		detail = c.Code
	}
	k.auditDetail(class, msgType, detail)
}

func (k *Kernel) auditDetail(class AuditClass, msgType, detail string) {
	if k.cfg.Audit != nil {
		k.cfg.Audit(class, msgType, detail)
		return
	}
	if detail != "" {
		k.log.Printf("audit %s %s: %d bytes of code", class, msgType, len(detail))
	} else {
		k.log.Printf("audit %s %s", class, msgType)
	}
}

type statusContent struct {
	State string `json:"execution_state"`
}

// release passes content about parent through the gate and returns what
// may leave. Everything derived from user code or data goes through here:
// iopub messages (publish) and the parts of shell and stdin messages that
// echo them (error fields and user_expressions of execute_reply, inspect
// data, input prompts).
func (k *Kernel) release(parent *wire.Message, msgType string, content any) []Output {
	body, ok := content.(json.RawMessage)
	if !ok {
		var err error
		if body, err = wire.Marshal(content); err != nil {
			k.log.Printf("encode %s: %v", msgType, err)
			return nil
		}
	}
	cell := ""
	if parent != nil {
		cell = parent.Header.MsgID
	}
	return k.gate.Release(Output{Cell: cell, MsgType: msgType, Content: body})
}

// publish sends an iopub message about parent through the gate and
// returns what was sent.
func (k *Kernel) publish(parent *wire.Message, msgType string, content any) []Output {
	outs := k.release(parent, msgType, content)
	for _, o := range outs {
		m := &wire.Message{
			Identities: [][]byte{[]byte("kernel." + k.session + "." + o.MsgType)},
			Header:     wire.NewHeader(o.MsgType, k.session),
			Metadata:   json.RawMessage("{}"),
			Content:    o.Content,
		}
		if parent != nil {
			m.Parent = parent.RawHeader
		}
		if err := k.out.Send(wire.IOPub, m); err != nil {
			k.log.Printf("publish %s: %v", o.MsgType, err)
		}
	}
	return outs
}

// released returns the content of the first output of type msgType, or
// nil when the gate withheld it.
func released(outs []Output, msgType string) json.RawMessage {
	for _, o := range outs {
		if o.MsgType == msgType {
			return o.Content
		}
	}
	return nil
}

// reply answers req on the channel it came from.
func (k *Kernel) reply(req *request, msgType string, content any) {
	m, err := wire.Reply(req.msg, msgType, k.session, content)
	if err != nil {
		k.log.Printf("%v", err)
		return
	}
	if err := k.out.Send(req.ch, m); err != nil {
		k.log.Printf("reply %s: %v", msgType, err)
	}
}

// decode unmarshals req's content into v; on failure it answers with an
// error reply of replyType and returns false.
func (k *Kernel) decode(req *request, v any, replyType string) bool {
	if err := json.Unmarshal(req.msg.Content, v); err != nil {
		k.reply(req, replyType, errorReply("BadRequest", fmt.Sprintf("cannot read %s: %v", req.msg.Header.MsgType, err), nil))
		k.log.Printf("bad %s content: %v", req.msg.Header.MsgType, err)
		return false
	}
	return true
}

func errorReply(name, value string, tb []string) map[string]any {
	if tb == nil {
		tb = []string{name + ": " + value}
	}
	return map[string]any{"status": "error", "ename": name, "evalue": value, "traceback": tb}
}

func (k *Kernel) finish(restart bool) {
	k.doneOnce.Do(func() {
		k.restart = restart
		close(k.done)
	})
}

var errNoAPI = errors.New("no such API method")

func decodeContent(m *wire.Message, v any) error { return json.Unmarshal(m.Content, v) }
