package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"enclave/kernel"
	"enclave/rpc"
)

// Texts the researcher sees when the worker had to go.
const (
	lostInterrupt = "the Go worker was stopped by interrupt; variables were lost"
	lostTimeout   = "the Go worker was stopped because the cell ran past its time limit; variables were lost"
)

// Execute runs one cell in the worker.
func (e *Executor) Execute(ctx context.Context, c *kernel.Cell, ev kernel.Events) *kernel.CellError {
	p, notice, err := e.current(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return stopped(context.Cause(ctx))
		}
		return &kernel.CellError{Name: "WorkerStopped", Value: err.Error()}
	}
	if notice != "" {
		ev.Stream("stderr", "[enclave] "+notice+"\n")
	}
	id := e.nextID.Add(1)
	var cerr *kernel.CellError // set by the reader goroutine, read after Done
	inline := func(m *rpc.Msg) bool {
		switch m.Type {
		case rpc.Stream:
			if m.Stream != nil {
				ev.Stream(m.Stream.Name, m.Stream.Text)
			}
		case rpc.Display:
			if d := m.Display; d != nil {
				if isClear(d) {
					ev.Clear(clearWait(d))
				} else if data, meta, err := vetBundle(d); err != nil {
					e.log.Printf("cell %d: a display was dropped: %v", c.Number, err)
				} else {
					ev.Display(&kernel.Display{Raw: data, RawMetadata: meta, DisplayID: d.DisplayID, Update: d.Update})
				}
			}
		case rpc.Result:
			if d := m.Display; d != nil {
				if data, meta, err := vetBundle(d); err != nil {
					e.log.Printf("cell %d: a result was dropped: %v", c.Number, err)
				} else {
					ev.RawResult(data, meta)
				}
			}
		case rpc.Error:
			if m.Err != nil {
				cerr = &kernel.CellError{Name: m.Err.Name, Value: m.Err.Value, Traceback: m.Err.Traceback}
			}
		default:
			return false
		}
		return true
	}
	w := p.register(id, inline)
	defer p.unregister(id)
	req := &rpc.Msg{Type: rpc.Execute, ID: id, Exec: &rpc.ExecRequest{
		Code: c.Code, Silent: c.Silent, AllowStdin: c.AllowStdin, CellNumber: c.Number, MaxOutput: c.MaxOutput,
	}}
	if err := p.p.Conn.Send(req); err != nil {
		<-p.dead
		return died(p)
	}

	var (
		deadline <-chan time.Time // set once the cell is cancelled
		cause    error
		ctxDone  = ctx.Done()
	)
	for {
		select {
		case m := <-w.ch:
			switch m.Type {
			case rpc.Done:
				if cerr == nil && m.Done != nil && m.Done.Status != "ok" {
					cerr = &kernel.CellError{Name: "Error", Value: "the cell " + m.Done.Status}
				}
				if cause != nil && stillBusy(p.p.Pid()) {
					// The worker said the cell stopped, but it is still
					// computing (a compiled call the interrupt cannot reach).
					e.log.Printf("cell %d reported stopped but worker %d is still busy; killing it", c.Number, p.p.Pid())
					e.replace(p)
					return stopped(cause)
				}
				return cerr
			case rpc.InputRequest:
				e.serveInput(ctx, p, m, ev)
			case rpc.Call:
				e.serveCall(ctx, p, m, ev)
			}
		case <-p.dead:
			if cause != nil {
				return stopped(cause)
			}
			return died(p)
		case <-ctxDone:
			ctxDone = nil
			cause = context.Cause(ctx)
			if errors.Is(cause, kernel.ErrCellTimeout) {
				e.log.Printf("cell %d passed its time limit; stopping it", c.Number)
			}
			p.p.Conn.Send(&rpc.Msg{Type: rpc.Interrupt, ID: id})
			deadline = time.After(e.cfg.Grace)
		case <-deadline:
			e.log.Printf("cell %d did not stop within %v of the interrupt; killing the worker", c.Number, e.cfg.Grace)
			e.replace(p)
			return stopped(cause)
		}
	}
}

// stillBusy reports whether the process pid keeps computing after its cell
// ended, e.g. in a goroutine the cell left spinning. It samples the state of
// every thread in /proc over a short window and calls the process busy when
// some thread was running or runnable in nearly every sample. Being runnable
// does not depend on how loaded the machine is, unlike CPU time, and an idle
// worker (all threads asleep, sysmon waking briefly) is almost never seen so.
// False if /proc is unreadable.
func stillBusy(pid int) bool {
	const samples, every = 8, 8 * time.Millisecond
	busy := 0
	for i := 0; i < samples; i++ {
		if i > 0 {
			time.Sleep(every)
		}
		running, ok := anyThreadRunning(pid)
		if !ok {
			return false
		}
		if running {
			busy++
		}
	}
	return busy >= samples-1
}

// anyThreadRunning reports whether a thread of pid is in state R.
func anyThreadRunning(pid int) (running, ok bool) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return false, false
	}
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/stat")
		if err != nil {
			continue // the thread ended between ReadDir and ReadFile
		}
		_, rest, found := strings.Cut(string(b), ") ") // the command may hold spaces
		if found && strings.HasPrefix(rest, "R") {
			return true, true
		}
	}
	return false, true
}

// stopped is the error of a cell whose worker the kernel killed.
func stopped(cause error) *kernel.CellError {
	if errors.Is(cause, kernel.ErrCellTimeout) {
		return &kernel.CellError{Name: "WorkerStopped", Value: lostTimeout}
	}
	return &kernel.CellError{Name: "WorkerStopped", Value: lostInterrupt}
}

// died is the error of a cell whose worker ended on its own; a fresh
// worker is started for the next cell.
func died(p *proc) *kernel.CellError {
	p.e.replace(p)
	return &kernel.CellError{Name: "WorkerStopped", Value: "the Go worker stopped: " + p.reason + "; variables were lost"}
}

// vetBundle checks a display's bundle and metadata, which the kernel passes
// on without decoding (rpc.Conn.Recv has checked they are JSON): each must
// be a JSON object or absent. Invalid UTF-8, which decoding would have
// replaced, is replaced here, as frontends reject it; valid JSON has it
// only inside strings, so the replacement keeps it valid.
func vetBundle(d *rpc.DisplayData) (data, meta json.RawMessage, err error) {
	if data, err = vetObject(d.Data); err != nil {
		return nil, nil, fmt.Errorf("data: %w", err)
	}
	if meta, err = vetObject(d.Metadata); err != nil {
		return nil, nil, fmt.Errorf("metadata: %w", err)
	}
	return data, meta, nil
}

func vetObject(raw json.RawMessage) (json.RawMessage, error) {
	t := bytes.TrimSpace(raw)
	switch {
	case len(t) == 0 || string(t) == "null":
		return nil, nil
	case t[0] != '{':
		return nil, errors.New("not a JSON object")
	case !utf8.Valid(t):
		return bytes.ToValidUTF8(t, []byte("\uFFFD")), nil
	}
	return t, nil
}

// isClear reports whether a display event is a clear_output request: an
// empty bundle whose metadata carries "clear_output". Only then is the
// metadata decoded, and of it only that key.
func isClear(d *rpc.DisplayData) bool {
	if !emptyObject(d.Data) {
		return false
	}
	return clearOutput(d) != nil
}

func clearOutput(d *rpc.DisplayData) json.RawMessage {
	var m struct {
		Clear json.RawMessage `json:"clear_output"`
	}
	if json.Unmarshal(d.Metadata, &m) != nil {
		return nil
	}
	return m.Clear
}

func clearWait(d *rpc.DisplayData) bool {
	raw := clearOutput(d)
	var wait bool
	if json.Unmarshal(raw, &wait) == nil {
		return wait
	}
	var opts struct {
		Wait bool `json:"wait"`
	}
	json.Unmarshal(raw, &opts) // a wait that is not a bool is false
	return opts.Wait
}

// emptyObject reports whether raw is no bundle: nothing, null or {}.
func emptyObject(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return true
	}
	return t[0] == '{' && len(bytes.TrimSpace(t[1:])) == 1 && t[len(t)-1] == '}'
}

func (e *Executor) serveInput(ctx context.Context, p *proc, m *rpc.Msg, ev kernel.Events) {
	prompt, password := "", false
	if m.Input != nil {
		prompt, password = m.Input.Prompt, m.Input.Password
	}
	text, err := ev.Input(ctx, prompt, password)
	reply := &rpc.Msg{Type: rpc.InputReply, ID: m.ID, Text: text}
	if err != nil {
		reply = &rpc.Msg{Type: rpc.InputReply, ID: m.ID, Reply: &rpc.CallResult{Error: err.Error()}}
	}
	if err := p.p.Conn.Send(reply); err != nil {
		e.log.Printf("input reply to the worker: %v", err)
	}
}

func (e *Executor) serveCall(ctx context.Context, p *proc, m *rpc.Msg, ev kernel.Events) {
	reply := &rpc.Msg{Type: rpc.CallReply, ID: m.ID, Reply: &rpc.CallResult{}}
	if m.Call == nil {
		reply.Reply.Error = "empty API call"
	} else if res, err := ev.Call(ctx, m.Call.Method, m.Call.Args); err != nil {
		reply.Reply.Error = err.Error()
	} else {
		reply.Reply.Result = res
	}
	p.p.Conn.Send(reply)
}

// Complete asks the worker for completions at the cursor.
func (e *Executor) Complete(ctx context.Context, code string, cursor int) (kernel.Completion, error) {
	m, err := e.query(ctx, &rpc.Msg{Type: rpc.Complete, Query: &rpc.CodeQuery{Code: code, CursorPos: cursor}}, rpc.CompleteReply)
	if err != nil || m.Matches == nil {
		return kernel.Completion{Matches: []string{}, CursorStart: cursor, CursorEnd: cursor}, err
	}
	return kernel.Completion{Matches: m.Matches.Matches, CursorStart: m.Matches.CursorStart, CursorEnd: m.Matches.CursorEnd}, nil
}

// Inspect asks the worker for documentation at the cursor.
func (e *Executor) Inspect(ctx context.Context, code string, cursor, detail int) (map[string]any, error) {
	m, err := e.query(ctx, &rpc.Msg{Type: rpc.Inspect, Query: &rpc.CodeQuery{Code: code, CursorPos: cursor, DetailLevel: detail}}, rpc.InspectReply)
	if err != nil || m.Found == nil {
		return nil, err
	}
	return m.Found.Data, nil
}

func (e *Executor) query(ctx context.Context, req *rpc.Msg, want rpc.Type) (*rpc.Msg, error) {
	p, _, err := e.current(ctx)
	if err != nil {
		return nil, err
	}
	req.ID = e.nextID.Add(1)
	w := p.register(req.ID, nil)
	defer p.unregister(req.ID)
	if err := p.p.Conn.Send(req); err != nil {
		return nil, err
	}
	for {
		select {
		case m := <-w.ch:
			if m.Type == want {
				return m, nil
			}
			if m.Type == rpc.Error && m.Err != nil {
				return nil, errors.New(m.Err.Value)
			}
		case <-p.dead:
			return nil, errors.New("the Go worker stopped: " + p.reason)
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}
