package kernel

import (
	"context"
	"encoding/json"
	"errors"
)

// Executor runs cells. Implementations report a cell's outputs to Events
// while it runs, in order, from one goroutine.
//
// Execute returns nil when the cell succeeded and a CellError when it
// failed for any reason: user code, a stopped worker, an interrupt. The
// context is cancelled with cause ErrInterrupted when the researcher
// interrupts and with ErrCellTimeout when the cell runs too long.
type Executor interface {
	Execute(ctx context.Context, c *Cell, ev Events) *CellError
	// Close stops the executor and whatever process it runs.
	Close() error
}

// Completer is an optional capability of an Executor.
type Completer interface {
	Complete(ctx context.Context, code string, cursor int) (Completion, error)
}

// Inspector is an optional capability of an Executor. Inspect returns an
// empty bundle when nothing was found.
type Inspector interface {
	Inspect(ctx context.Context, code string, cursor, detail int) (map[string]any, error)
}

// Describer is an optional capability of an Executor: a plain-text account
// of where cells run and how that place is confined, for %sandbox.
type Describer interface {
	Describe(ctx context.Context) (string, error)
}

// Causes with which a cell's context is cancelled.
var (
	ErrInterrupted = errors.New("kernel: interrupted")
	ErrCellTimeout = errors.New("kernel: cell timed out")
)

// Cell is one execution.
type Cell struct {
	Code       string
	Silent     bool
	AllowStdin bool
	Number     int   // execution count shown in tracebacks
	MaxOutput  int64 // stream bytes before the worker truncates; 0 = default
}

// CellError is a failed cell as the researcher sees it. The texts must be
// safe to show; fuller detail goes to the log.
type CellError struct {
	Name      string
	Value     string
	Traceback []string
}

func (e *CellError) Error() string { return e.Name + ": " + e.Value }

// Completion answers a complete request; offsets are in code points.
type Completion struct {
	Matches     []string
	CursorStart int
	CursorEnd   int
}

// Display is a MIME bundle shown during a cell: Data, a bundle built on
// the trusted side (magics, API calls), or Raw, one the worker encoded.
type Display struct {
	Data     map[string]any
	Metadata map[string]any
	// Raw and RawMetadata, when set, take the place of Data and Metadata:
	// JSON objects in valid UTF-8, spliced into the message as they are.
	// The kernel does not decode them (a display can be tens of megabytes);
	// only a gate rule that needs to looks inside.
	Raw         json.RawMessage
	RawMetadata json.RawMessage
	DisplayID   string
	Update      bool // update_display_data for DisplayID
}

// Events receives a running cell's output and requests.
type Events interface {
	// Stream shows text the cell wrote to stdout or stderr (name). text
	// may share a buffer the caller reuses: it is valid only during the
	// call, and an implementation that keeps it copies it.
	Stream(name, text string)
	Display(d *Display)
	// Result shows the value of the cell's last expression (execute_result).
	Result(data, metadata map[string]any)
	// RawResult is Result for a bundle and metadata already encoded, as in
	// Display.Raw (nil metadata is none).
	RawResult(data, metadata json.RawMessage)
	// Clear asks the frontend to clear the cell's output (wait: on next output).
	Clear(wait bool)
	// Input asks the researcher for one line on the stdin channel.
	Input(ctx context.Context, prompt string, password bool) (string, error)
	// Call serves an enclave API call from user code on the trusted side.
	Call(ctx context.Context, method string, args json.RawMessage) (json.RawMessage, error)
}
