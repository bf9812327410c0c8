// Package rpc is the pipe protocol between the trusted kernel and the
// untrusted worker that runs researchers' Go code.
//
// It is imported by both sides, so it holds nothing but message shapes and
// framing: no data access, no keys. Each message is one frame: a 4-byte
// big-endian length followed by that many bytes of JSON. The kernel writes
// requests (execute, complete, inspect, interrupt, input and call replies);
// the worker writes events (stream, display, result, error, done) and its own
// requests (input, API calls). IDs tie replies and events to the request that
// caused them; an execute's ID is the cell's ID for all its events.
package rpc

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"unsafe"
)

// MaxFrame bounds one frame. A peer that announces a larger one is treated as
// broken: the connection fails rather than allocate what it asks for.
const MaxFrame = 64 << 20

// ErrFrameTooLarge is returned by Recv for a frame longer than MaxFrame.
var ErrFrameTooLarge = errors.New("rpc: frame too large")

// Type names a message.
type Type string

// Kernel → worker.
const (
	Execute    Type = "execute"     // Exec: run a cell
	Complete   Type = "complete"    // Query: completions at the cursor
	Inspect    Type = "inspect"     // Query: documentation at the cursor
	Interrupt  Type = "interrupt"   // cancel the running cell (ID = cell)
	InputReply Type = "input_reply" // Text: the frontend's answer to InputRequest; or Reply.Error: why there is none
	CallReply  Type = "call_reply"  // Reply: the kernel's answer to Call
	Shutdown   Type = "shutdown"    // finish and exit cleanly
)

// Worker → kernel.
const (
	Ready         Type = "ready"          // Hello: the worker is up
	Stream        Type = "stream"         // Stream: stdout/stderr text of a cell
	Display       Type = "display"        // Display: display_data / update_display_data
	Result        Type = "result"         // Display: the value of the cell's last expression
	Error         Type = "error"          // Err: the cell failed
	Done          Type = "done"           // Done: the cell finished (after its events)
	InputRequest  Type = "input_request"  // Input: ask the frontend for a line
	Call          Type = "call"           // Call: an enclave API request served by the kernel
	CompleteReply Type = "complete_reply" // Matches
	InspectReply  Type = "inspect_reply"  // Found
)

// Msg is one frame. Type says which one of the optional fields is set
// (payloadOf); Send and Recv refuse a message that carries another.
type Msg struct {
	Type Type   `json:"t"`
	ID   uint64 `json:"id,omitempty"`

	Exec    *ExecRequest `json:"exec,omitempty"`
	Query   *CodeQuery   `json:"query,omitempty"`
	Text    string       `json:"text,omitempty"`
	Reply   *CallResult  `json:"reply,omitempty"`
	Hello   *Hello       `json:"hello,omitempty"`
	Stream  *StreamChunk `json:"stream,omitempty"`
	Display *DisplayData `json:"display,omitempty"`
	Err     *ErrorInfo   `json:"err,omitempty"`
	Done    *DoneInfo    `json:"done,omitempty"`
	Input   *InputPrompt `json:"input,omitempty"`
	Call    *CallRequest `json:"call,omitempty"`
	Matches *Completion  `json:"matches,omitempty"`
	Found   *Inspection  `json:"found,omitempty"`
}

// ExecRequest asks the worker to run one cell.
type ExecRequest struct {
	Code       string `json:"code"`
	Silent     bool   `json:"silent,omitempty"`
	AllowStdin bool   `json:"allow_stdin,omitempty"`
	CellNumber int    `json:"cell_number,omitempty"` // execution count, for tracebacks
	MaxOutput  int64  `json:"max_output,omitempty"`  // bytes of stream output before truncation; 0 = worker default
}

// CodeQuery is a completion or inspection request.
type CodeQuery struct {
	Code        string `json:"code"`
	CursorPos   int    `json:"cursor_pos"` // in Unicode code points, as Jupyter counts
	DetailLevel int    `json:"detail_level,omitempty"`
}

// Hello is the worker's first message.
type Hello struct {
	GoVersion    string   `json:"go_version"`
	YaegiVersion string   `json:"yaegi_version"`
	Packages     []string `json:"packages"`    // importable package paths
	Confinement  []string `json:"confinement"` // active hardening layers, human-readable
}

// StreamChunk is text written by the cell to stdout or stderr.
type StreamChunk struct {
	Name string `json:"name"` // "stdout" or "stderr"
	Text string `json:"text"`
}

// DisplayData is a MIME bundle. Update marks update_display_data for DisplayID.
//
// Data and Metadata are JSON objects, encoded once by the worker: the kernel
// passes them on into the Jupyter message without decoding them, so a
// display of tens of megabytes costs it a few copies, not a tree of Go
// values. A bundle with no entries and metadata {"clear_output": …} is a
// clear_output request.
type DisplayData struct {
	Data      json.RawMessage `json:"data"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
	DisplayID string          `json:"display_id,omitempty"`
	Update    bool            `json:"update,omitempty"`
}

// ErrorInfo is a failed cell as Jupyter shows it.
type ErrorInfo struct {
	Name      string   `json:"ename"`
	Value     string   `json:"evalue"`
	Traceback []string `json:"traceback"`
}

// DoneInfo ends a cell. Status is "ok", "error" or "aborted".
type DoneInfo struct {
	Status string `json:"status"`
}

// InputPrompt asks the frontend for one line of input.
type InputPrompt struct {
	Prompt   string `json:"prompt"`
	Password bool   `json:"password,omitempty"`
}

// CallRequest is an enclave API call from user code, served on the trusted
// side. Method names an operation ("catalog.tables", …); Args is its JSON.
type CallRequest struct {
	Method string          `json:"method"`
	Args   json.RawMessage `json:"args,omitempty"`
}

// CallResult answers a CallRequest: Result on success, else Error (a text
// already safe to show the researcher).
type CallResult struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// Completion answers Complete; offsets are in code points.
type Completion struct {
	Matches     []string `json:"matches"`
	CursorStart int      `json:"cursor_start"`
	CursorEnd   int      `json:"cursor_end"`
}

// Inspection answers Inspect. Data is empty when nothing was found.
type Inspection struct {
	Data map[string]any `json:"data,omitempty"`
}

// Conn sends and receives frames. Send is safe for concurrent use; Recv must
// be called from one goroutine.
type Conn struct {
	r    *bufio.Reader
	rbuf []byte // Recv's frame buffer
	wm   sync.Mutex
	w    io.Writer
	c    io.Closer
}

// NewConn returns a Conn reading frames from r and writing them to w. Close
// closes c if it is not nil.
func NewConn(r io.Reader, w io.Writer, c io.Closer) *Conn {
	return &Conn{r: bufio.NewReaderSize(r, 64<<10), w: w, c: c}
}

// framePool recycles encoding buffers: streams send many large frames.
var framePool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// streamTag starts the body of a stream frame, which carries a Stream
// message in binary: tag, 8-byte big-endian ID, 1-byte name length, name,
// then the text as raw bytes. Every other body is JSON and starts with '{'.
// Streams are most of the bytes a cell sends; the binary form spares both
// sides JSON's per-byte escaping and validation. Send and Recv pick the
// form themselves: users of Conn see only Msg.
const streamTag = 0

// smallStream is the most text a stream frame copies to go out in one
// write; larger text is written from where it lies.
const smallStream = 16 << 10

// recvKeep is the largest frame Recv reads into its reused buffer: a full
// stream chunk (1 MiB of text) and its header.
const recvKeep = 2 << 20

// Send writes m as one frame. It refuses a message whose payload does not
// match its Type.
func (c *Conn) Send(m *Msg) error {
	if isPlainStream(m) {
		return c.sendStream(m)
	}
	if err := m.check(); err != nil {
		return err
	}
	buf := framePool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 1<<20 {
			buf.Reset()
			framePool.Put(buf)
		}
	}()
	buf.Reset()
	buf.Write([]byte{0, 0, 0, 0}) // length, set below
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("rpc: encode %s: %w", m.Type, err)
	}
	frame := buf.Bytes()
	n := len(frame) - 4
	if n > MaxFrame {
		return fmt.Errorf("rpc: encode %s: %w", m.Type, ErrFrameTooLarge)
	}
	binary.BigEndian.PutUint32(frame, uint32(n))
	c.wm.Lock()
	defer c.wm.Unlock()
	if _, err := c.w.Write(frame); err != nil {
		return fmt.Errorf("rpc: send %s: %w", m.Type, err)
	}
	return nil
}

// isPlainStream reports whether m is a Stream message with nothing else
// set, which the binary stream form carries exactly.
func isPlainStream(m *Msg) bool {
	if m.Type != Stream || m.Stream == nil || len(m.Stream.Name) >= 256 {
		return false
	}
	n, _ := m.payloads()
	return n == 1
}

func (c *Conn) sendStream(m *Msg) error {
	return c.writeStream(m.ID, m.Stream.Name, len(m.Stream.Text), func(w io.Writer) error {
		_, err := io.WriteString(w, m.Stream.Text)
		return err
	})
}

// SendStream sends a Stream message for cell id, exactly as Send would
// send &Msg{Type: Stream, ID: id, Stream: &StreamChunk{name, text}}, but
// from bytes the caller keeps: the text is written to the pipe as it is,
// without the two copies (into a string, into a frame) that building a
// Msg costs. Streams are most of a cell's bytes. name is at most 255
// bytes.
func (c *Conn) SendStream(id uint64, name string, text []byte) error {
	return c.writeStream(id, name, len(text), func(w io.Writer) error {
		_, err := w.Write(text)
		return err
	})
}

// writeStream writes a stream frame's header and name, then has body write
// its size bytes of text.
func (c *Conn) writeStream(id uint64, name string, size int, body func(io.Writer) error) error {
	if len(name) > 255 {
		return fmt.Errorf("rpc: encode %s: stream name longer than 255 bytes", Stream)
	}
	n := 1 + 8 + 1 + len(name) + size
	if n > MaxFrame {
		return fmt.Errorf("rpc: encode %s: %w", Stream, ErrFrameTooLarge)
	}
	var hdr [14 + 255]byte
	binary.BigEndian.PutUint32(hdr[0:], uint32(n))
	hdr[4] = streamTag
	binary.BigEndian.PutUint64(hdr[5:], id)
	hdr[13] = byte(len(name))
	head := append(hdr[:14], name...)
	if size <= smallStream {
		// One write: a short line costs one syscall, as before.
		buf := framePool.Get().(*bytes.Buffer)
		defer framePool.Put(buf)
		buf.Reset()
		buf.Write(head)
		body(buf)
		c.wm.Lock()
		defer c.wm.Unlock()
		if _, err := c.w.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("rpc: send %s: %w", Stream, err)
		}
		return nil
	}
	// The header and name in one small write, the text in a second: a
	// pipe reader sees one frame either way, and the text is not copied.
	c.wm.Lock()
	defer c.wm.Unlock()
	if _, err := c.w.Write(head); err != nil {
		return fmt.Errorf("rpc: send %s: %w", Stream, err)
	}
	if err := body(c.w); err != nil {
		return fmt.Errorf("rpc: send %s: %w", Stream, err)
	}
	return nil
}

// decodeStream decodes a stream frame's body. With view, the text is not
// copied: it is a string over body.
func decodeStream(body []byte, view bool) (*Msg, error) {
	if len(body) < 10 || len(body) < 10+int(body[9]) {
		return nil, fmt.Errorf("rpc: decode frame: short stream frame")
	}
	name := 10 + int(body[9])
	text := ""
	switch {
	case len(body) == name:
	case view:
		text = unsafe.String(&body[name], len(body)-name)
	default:
		text = string(body[name:])
	}
	return &Msg{Type: Stream, ID: binary.BigEndian.Uint64(body[1:9]),
		Stream: &StreamChunk{Name: string(body[10:name]), Text: text}}, nil
}

// Recv reads the next frame. It returns io.EOF when the peer closed cleanly
// between frames, and an error for a message whose payload does not match
// its Type.
func (c *Conn) Recv() (*Msg, error) { return c.recv(false) }

// RecvView is Recv, except that the Text of a Stream message shares the
// Conn's read buffer instead of being copied: it stays valid only until
// the next Recv or RecvView, and whoever keeps it longer must copy it
// (strings.Clone). Every other field is the message's own. Stream text is
// most of the bytes a worker sends; a reader that hands each chunk on at
// once (into a buffer of its own) spares a copy and an allocation of up to
// a megabyte per chunk.
func (c *Conn) RecvView() (*Msg, error) { return c.recv(true) }

func (c *Conn) recv(view bool) (*Msg, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("rpc: truncated frame header: %w", err)
		}
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrame {
		return nil, fmt.Errorf("rpc: %d-byte frame: %w", n, ErrFrameTooLarge)
	}
	// Decoding copies what it keeps (strings, RawMessage), so one buffer
	// serves every frame up to recvKeep: a cell's megabytes of stream
	// frames do not each cost an allocation the GC must then return.
	var body []byte
	if n <= recvKeep {
		if cap(c.rbuf) < int(n) {
			c.rbuf = make([]byte, n, max(int(n), 64<<10))
		}
		body = c.rbuf[:n]
	} else {
		body = make([]byte, n)
	}
	if _, err := io.ReadFull(c.r, body); err != nil {
		return nil, fmt.Errorf("rpc: truncated frame: %w", err)
	}
	if len(body) > 0 && body[0] == streamTag {
		return decodeStream(body, view)
	}
	m := new(Msg)
	if err := json.Unmarshal(body, m); err != nil {
		return nil, fmt.Errorf("rpc: decode frame: %w", err)
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return m, nil
}

// Close closes the underlying pipe, if any.
func (c *Conn) Close() error {
	if c.c == nil {
		return nil
	}
	return c.c.Close()
}
