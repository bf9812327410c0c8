package kernel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"enclave/kernel/wire"
)

type executeContent struct {
	Code            string            `json:"code"`
	Silent          bool              `json:"silent"`
	StoreHistory    *bool             `json:"store_history"`
	UserExpressions map[string]string `json:"user_expressions"`
	AllowStdin      bool              `json:"allow_stdin"`
	StopOnError     *bool             `json:"stop_on_error"`
}

// execute runs a cell: execute_input, the cell's outputs as they come, an
// error message if it failed, then the reply. After a failure with
// stop_on_error, the requests already queued behind it are aborted.
func (k *Kernel) execute(req *request) error {
	var c executeContent
	if !k.decode(req, &c, "execute_reply") {
		return nil
	}
	started := time.Now()
	store := !c.Silent && (c.StoreHistory == nil || *c.StoreHistory)
	if !c.Silent {
		k.count++
		k.publish(req.msg, "execute_input", map[string]any{"code": c.Code, "execution_count": k.count})
	}
	if store {
		k.hist.add(k.count, c.Code)
	}
	sink := k.newSink(req, c.Silent, c.AllowStdin, store)

	ctx, cancel := context.WithCancelCause(req.ctx)
	ctx, stopTimer := context.WithTimeoutCause(ctx, k.cfg.CellTimeout, ErrCellTimeout)
	k.cellMu.Lock()
	k.cellCancel = cancel
	k.cellMu.Unlock()
	defer func() {
		k.cellMu.Lock()
		k.cellCancel = nil
		k.cellMu.Unlock()
		stopTimer()
		cancel(nil)
	}()

	cerr, payload := k.runCell(ctx, req, &c, sink)
	sink.stream.Stop()

	ue := map[string]any{}
	if cerr == nil && len(c.UserExpressions) > 0 {
		ue = k.userExpressions(ctx, req.msg, c.UserExpressions)
	}
	if p, ok := k.gate.(Pacer); ok {
		p.Pace(ctx, req.msg.Header.MsgID, started)
	}
	var r map[string]any
	if cerr != nil {
		r = k.releaseError(req.msg, cerr, !c.Silent)
	}
	k.cellDone(req.msg, c.Silent)
	if cerr == nil {
		k.reply(req, "execute_reply", map[string]any{
			"status": "ok", "execution_count": k.count, "user_expressions": ue, "payload": payload,
		})
		return nil
	}
	r["execution_count"] = k.count
	r["user_expressions"] = ue
	r["payload"] = []any{}
	if c.StopOnError == nil || *c.StopOnError {
		// Before the reply leaves: what arrives after it may have been sent
		// by a client that saw the failure.
		k.abortLeft = len(k.shellQ)
		k.abortPre = abortClock{session: req.msg.Header.Session, replied: time.Now()}
	}
	k.reply(req, "execute_reply", r)
	return nil
}

// cellDone tells the gate the cell's outputs are over and publishes what
// it has to add (a notice of withheld output) before the reply.
func (k *Kernel) cellDone(parent *wire.Message, silent bool) {
	for _, o := range k.gate.CellDone(parent.Header.MsgID) {
		if silent {
			continue
		}
		m := &wire.Message{
			Identities: [][]byte{[]byte("kernel." + k.session + "." + o.MsgType)},
			Header:     wire.NewHeader(o.MsgType, k.session),
			Parent:     parent.RawHeader,
			Metadata:   json.RawMessage("{}"),
			Content:    o.Content,
		}
		if err := k.out.Send(wire.IOPub, m); err != nil {
			k.log.Printf("publish %s: %v", o.MsgType, err)
		}
	}
}

// runCell runs what the cell asks for: nothing but the refusal when the
// workspace was refused, a documentation page for "name?", else its
// magics and then its Go code on the executor.
func (k *Kernel) runCell(ctx context.Context, req *request, c *executeContent, sink *cellSink) (*CellError, []any) {
	if _, err := k.workspace(); err != nil {
		return &CellError{Name: "WorkspaceRefused", Value: err.Error(),
			Traceback: []string{"The workspace could not be opened, so no cell runs: " + err.Error()}}, nil
	}
	if target, ok := helpRequest(c.Code); ok {
		return k.page(ctx, req, target)
	}
	// "…\nname?": the cell before it, then the page, as IPython does with
	// a last line of help (it was a syntax error that lost the cell's
	// declarations, review 62).
	if i := strings.LastIndexByte(strings.TrimRight(c.Code, " \t\r\n"), '\n'); i >= 0 && !strings.HasPrefix(strings.TrimSpace(c.Code), "%%") {
		if target, ok := helpRequest(c.Code[i+1:]); ok {
			before := *c
			before.Code = c.Code[:i]
			if cerr, payload := k.runCell(ctx, req, &before, sink); cerr != nil {
				return cerr, payload
			}
			return k.page(ctx, req, target)
		}
	}
	code, cerr := k.runMagics(ctx, req.msg.Header.MsgID, c.Code, sink)
	if cerr != nil || strings.TrimSpace(code) == "" {
		return cerr, []any{}
	}
	return k.cfg.Executor.Execute(ctx, &Cell{Code: code, Silent: c.Silent, AllowStdin: c.AllowStdin,
		Number: k.count, MaxOutput: k.cfg.OutputCap}, sink), []any{}
}

// page answers "fmt.Println?" with the documentation as a page payload, as
// IPython answers "obj?".
func (k *Kernel) page(ctx context.Context, req *request, target string) (*CellError, []any) {
	in, ok := k.cfg.Executor.(Inspector)
	if !ok {
		return &CellError{Name: "NotFound", Value: "no documentation available"}, nil
	}
	data, err := in.Inspect(ctx, target, utf8.RuneCountInString(target), 1)
	switch {
	case err != nil:
		return &CellError{Name: "InspectError", Value: err.Error()}, nil
	case len(data) == 0:
		return &CellError{Name: "NotFound", Value: "no documentation for " + target}, nil
	}
	b := released(k.release(req.msg, "inspect_reply", data), "inspect_reply")
	if b == nil {
		return &CellError{Name: "Withheld", Value: "the documentation was withheld by the release gate"}, nil
	}
	return nil, []any{map[string]any{"source": "page", "data": b, "start": 0}}
}

// releaseError passes a failed cell's error through the gate (publishing it
// on iopub unless the cell is silent) and returns the error part of the
// execute_reply: what the gate released, never more.
func (k *Kernel) releaseError(parent *wire.Message, cerr *CellError, publish bool) map[string]any {
	tb := cerr.Traceback
	if tb == nil {
		tb = []string{cerr.Name + ": " + cerr.Value}
	}
	content := map[string]any{"ename": cerr.Name, "evalue": cerr.Value, "traceback": tb}
	var outs []Output
	if publish {
		outs = k.publish(parent, "error", content)
	} else {
		outs = k.release(parent, "error", content)
	}
	var shown struct {
		Name      string   `json:"ename"`
		Value     string   `json:"evalue"`
		Traceback []string `json:"traceback"`
	}
	if b := released(outs, "error"); b == nil || json.Unmarshal(b, &shown) != nil {
		shown.Name, shown.Value = "Withheld", "the error text was withheld by the release gate"
		shown.Traceback = []string{shown.Name + ": " + shown.Value}
	}
	return errorReply(shown.Name, shown.Value, shown.Traceback)
}

// helpRequest recognises a cell that is just a Go name followed by "?"
// ("fmt.Println?", "strings.Builder?") and returns the name.
func helpRequest(code string) (string, bool) {
	code = strings.TrimSpace(code)
	name, ok := strings.CutSuffix(code, "?")
	if !ok || name == "" {
		return "", false
	}
	for _, r := range name {
		if !(r == '.' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return "", false
		}
	}
	return name, true
}

// userExpressions evaluates each expression in the worker after the cell,
// reporting an error per expression rather than failing the cell.
func (k *Kernel) userExpressions(ctx context.Context, parent *wire.Message, exprs map[string]string) map[string]any {
	names := make([]string, 0, len(exprs))
	for n := range exprs {
		names = append(names, n)
	}
	sort.Strings(names)
	out := map[string]any{}
	for _, n := range names {
		var capt captureSink
		// They run code that can change state: audited like a cell, and
		// their output bounded by the cell's budget.
		k.auditDetail(AuditCode, "user_expression", exprs[n])
		cerr := k.cfg.Executor.Execute(ctx, &Cell{Code: exprs[n], Number: k.count, MaxOutput: k.cfg.OutputCap}, &capt)
		var v any = map[string]any{"status": "ok", "data": objectOrEmpty(capt.data), "metadata": objectOrEmpty(capt.meta)}
		if cerr != nil {
			v = errorReply(cerr.Name, cerr.Value, cerr.Traceback)
		}
		if b := released(k.release(parent, "user_expression", v), "user_expression"); b != nil {
			out[n] = b
		} else {
			out[n] = errorReply("Withheld", "the value was withheld by the release gate", nil)
		}
	}
	return out
}

// captureSink keeps a user expression's value and drops its other output.
type captureSink struct{ data, meta json.RawMessage }

func (s *captureSink) Stream(string, string) {}
func (s *captureSink) Display(*Display)      {}
func (s *captureSink) Clear(bool)            {}
func (s *captureSink) Result(data, meta map[string]any) {
	s.data, _ = wire.Marshal(orEmptyMap(data))
	s.meta, _ = wire.Marshal(orEmptyMap(meta))
}
func (s *captureSink) RawResult(data, meta json.RawMessage) {
	s.data, s.meta = data, meta
}
func (s *captureSink) Input(context.Context, string, bool) (string, error) {
	return "", fmt.Errorf("user expressions cannot read input")
}
func (s *captureSink) Call(context.Context, string, json.RawMessage) (json.RawMessage, error) {
	return nil, fmt.Errorf("user expressions cannot call the enclave API")
}

func orEmptyMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// cellSink publishes a running cell's events on iopub (through the gate).
type cellSink struct {
	k          *Kernel
	req        *request
	silent     bool
	allowStdin bool
	store      bool
	stream     *streamBuffer
}

type streamContent struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

func (k *Kernel) newSink(req *request, silent, allowStdin, store bool) *cellSink {
	s := &cellSink{k: k, req: req, silent: silent, allowStdin: allowStdin, store: store}
	s.stream = newStreamBuffer(k.cfg.FlushInterval, k.cfg.FlushSize, func(name string, text []byte) {
		k.publish(req.msg, "stream", json.RawMessage(streamJSON(name, text)))
	})
	return s
}

func (s *cellSink) Stream(name, text string) {
	if s.silent {
		return
	}
	if name != "stdout" {
		name = "stderr"
	}
	s.stream.Write(name, text)
}

// Display publishes d as display_data or update_display_data. The content
// is spliced around the bundle, which is never decoded here: a display of
// tens of megabytes costs one copy of it, not a tree of Go values.
func (s *cellSink) Display(d *Display) {
	if s.silent {
		return
	}
	msgType := "display_data"
	if d.Update {
		msgType = "update_display_data"
	}
	data, err := bundleJSON(d.Raw, d.Data)
	if err != nil {
		s.k.log.Printf("%s not shown: data: %v", msgType, err)
		return
	}
	meta, err := bundleJSON(d.RawMetadata, d.Metadata)
	if err != nil {
		s.k.log.Printf("%s not shown: metadata: %v", msgType, err)
		return
	}
	s.stream.Flush()
	s.k.publish(s.req.msg, msgType, json.RawMessage(displayJSON(data, meta, d.DisplayID)))
}

func (s *cellSink) Result(data, meta map[string]any) {
	if s.silent || len(data) == 0 {
		return
	}
	d, err := wire.Marshal(data)
	if err != nil {
		s.k.log.Printf("execute_result not shown: data: %v", err)
		return
	}
	m, err := bundleJSON(nil, meta)
	if err != nil {
		s.k.log.Printf("execute_result not shown: metadata: %v", err)
		return
	}
	s.RawResult(d, m)
}

// RawResult publishes execute_result, spliced like Display's content.
func (s *cellSink) RawResult(data, meta json.RawMessage) {
	if s.silent || emptyObject(data) {
		return
	}
	data, err := bundleJSON(data, nil)
	if err != nil {
		s.k.log.Printf("execute_result not shown: data: %v", err)
		return
	}
	if meta, err = bundleJSON(meta, nil); err != nil {
		s.k.log.Printf("execute_result not shown: metadata: %v", err)
		return
	}
	s.stream.Flush()
	outs := s.k.publish(s.req.msg, "execute_result", json.RawMessage(resultJSON(s.k.count, data, meta)))
	var shown struct {
		Data struct {
			Text string `json:"text/plain"`
		} `json:"data"`
	}
	if b := released(outs, "execute_result"); b != nil && s.store && json.Unmarshal(b, &shown) == nil {
		s.k.hist.setOutput(s.k.count, shown.Data.Text) // history holds only what was released
	}
}

func (s *cellSink) Clear(wait bool) {
	if s.silent {
		return
	}
	s.stream.Flush()
	s.k.publish(s.req.msg, "clear_output", map[string]any{"wait": wait})
}

// bundleJSON is a bundle (or metadata) as a JSON object: raw as it is, or,
// when raw is nil, m encoded. An empty one is {}.
func bundleJSON(raw json.RawMessage, m map[string]any) (json.RawMessage, error) {
	if raw == nil {
		return wire.Marshal(orEmptyMap(m))
	}
	if emptyObject(raw) {
		return json.RawMessage("{}"), nil
	}
	if t := bytes.TrimLeft(raw, " \t\r\n"); t[0] != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	return raw, nil
}

// emptyObject reports whether raw is no bundle at all: nothing, null or {}.
func emptyObject(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return true
	}
	return t[0] == '{' && len(bytes.TrimSpace(t[1:])) == 1 && t[len(t)-1] == '}'
}

// objectOrEmpty is raw, or {} when it is empty, for a content field.
func objectOrEmpty(raw json.RawMessage) json.RawMessage {
	if emptyObject(raw) {
		return json.RawMessage("{}")
	}
	return raw
}

// displayJSON is the content of a display_data or update_display_data
// message, built in one allocation around data and meta (JSON objects):
// {"data":…,"metadata":…,"transient":{"display_id":…}}, the keys in the
// order encoding/json writes a map's, as before.
func displayJSON(data, meta json.RawMessage, displayID string) []byte {
	b := make([]byte, 0, len(data)+len(meta)+6*len(displayID)+64)
	b = append(b, `{"data":`...)
	b = append(b, data...)
	b = append(b, `,"metadata":`...)
	b = append(b, meta...)
	b = append(b, `,"transient":{`...)
	if displayID != "" {
		b = append(b, `"display_id":`...)
		b = appendJSONString(b, []byte(displayID))
	}
	return append(b, "}}"...)
}

// resultJSON is the content of an execute_result message, built like
// displayJSON's: {"data":…,"execution_count":n,"metadata":…}.
func resultJSON(count int, data, meta json.RawMessage) []byte {
	b := make([]byte, 0, len(data)+len(meta)+64)
	b = append(b, `{"data":`...)
	b = append(b, data...)
	b = append(b, `,"execution_count":`...)
	b = strconv.AppendInt(b, int64(count), 10)
	b = append(b, `,"metadata":`...)
	b = append(b, meta...)
	return append(b, '}')
}

// errInputHeld is the worker's answer to an input request while the cell's
// output is held for review.
var errInputHeld = errors.New("input is not available while this cell's output is held for review")

// Input asks the frontend for a line on the stdin channel and waits for
// the reply, the cell's interrupt or its timeout.
func (s *cellSink) Input(ctx context.Context, prompt string, password bool) (string, error) {
	if !s.allowStdin {
		return "", fmt.Errorf("this frontend does not accept input (allow_stdin is false)")
	}
	s.stream.Flush()
	for len(s.k.stdinQ) > 0 { // a stale reply to an earlier, abandoned prompt
		<-s.k.stdinQ
	}
	content := released(s.k.release(s.req.msg, "input_request", map[string]any{"prompt": prompt, "password": password}), "input_request")
	if content == nil {
		// The gate holds the cell's output (the worker holds rows): a
		// request with an empty prompt would still tell the frontend
		// when, and how often, the worker chose to ask (review 44).
		return "", errInputHeld
	}
	m, err := wire.Reply(s.req.msg, "input_request", s.k.session, content)
	if err != nil {
		return "", err
	}
	if err := s.k.out.Send(wire.Stdin, m); err != nil {
		return "", fmt.Errorf("cannot ask for input: %w", err)
	}
	select {
	case r := <-s.k.stdinQ:
		var c struct {
			Value string `json:"value"`
		}
		if err := json.Unmarshal(r.Content, &c); err != nil {
			return "", fmt.Errorf("unreadable input_reply: %w", err)
		}
		return c.Value, nil
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
}

func (s *cellSink) Call(ctx context.Context, method string, args json.RawMessage) (json.RawMessage, error) {
	if s.k.cfg.API == nil {
		return nil, fmt.Errorf("%w %q", errNoAPI, method)
	}
	return s.k.cfg.API(WithDisplay(ctx, s.Display), s.req.msg.Header.MsgID, method, args)
}

type displayKey struct{}

// WithDisplay returns ctx carrying show, for DisplayFrom.
func WithDisplay(ctx context.Context, show func(*Display)) context.Context {
	return context.WithValue(ctx, displayKey{}, show)
}

// DisplayFrom returns, inside an API call (Config.API), a function that
// shows a display in the calling cell (progress of long work), or nil.
// It may be used until the call returns, from one goroutine at a time.
func DisplayFrom(ctx context.Context) func(*Display) {
	f, _ := ctx.Value(displayKey{}).(func(*Display))
	return f
}

// inputReply passes a frontend's answer to the cell waiting for it.
func (k *Kernel) inputReply(req *request) error {
	select {
	case k.stdinQ <- req.msg:
	default:
		k.log.Printf("dropped an input_reply nobody was waiting for")
	}
	return nil
}

// queryTimeout bounds completion and inspection requests.
const queryTimeout = 5 * time.Second
