package kernel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"
	"sync"
	"testing"
	"time"

	"enclave/kernel/wire"
)

// sent is one message the kernel sent.
type sent struct {
	ch  wire.Channel
	msg *wire.Message
}

// recorder is a Sender that keeps what the kernel sends.
type recorder struct {
	mu   sync.Mutex
	msgs []sent
	note chan struct{}
}

func (r *recorder) Send(ch wire.Channel, m *wire.Message) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, sent{ch, m})
	r.mu.Unlock()
	select {
	case r.note <- struct{}{}:
	default:
	}
	return nil
}

// await returns the messages sent for parent once its reply is sent and
// status idle published, on the channel the request came from.
func (r *recorder) await(t *testing.T, parent string) (reply *wire.Message, iopub []*wire.Message) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		var idle bool
		reply, iopub = nil, nil
		for _, s := range r.msgs {
			if s.msg.ParentID() != parent {
				continue
			}
			switch {
			case s.ch == wire.IOPub:
				iopub = append(iopub, s.msg)
				if s.msg.Header.MsgType == "status" && strings.Contains(string(s.msg.Content), "idle") {
					idle = true
				}
			case s.ch != wire.Stdin:
				reply = s.msg
			}
		}
		r.mu.Unlock()
		if reply != nil && idle {
			return reply, iopub
		}
		select {
		case <-r.note:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no reply and idle for %s", parent)
		}
	}
}

// script is a fake executor: each cell line is a command.
type script struct {
	mu      sync.Mutex
	cells   []string
	blocked chan struct{} // one value each time a "block" command starts waiting
}

func (s *script) blockedEvents() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blocked == nil {
		s.blocked = make(chan struct{}, 64)
	}
	return s.blocked
}

// waitBlocked returns once a cell is inside a "block" command.
func (s *script) waitBlocked(t *testing.T) {
	t.Helper()
	select {
	case <-s.blockedEvents():
	case <-time.After(20 * time.Second):
		t.Fatal("no cell reached its block command")
	}
}

func (s *script) Execute(ctx context.Context, c *Cell, ev Events) *CellError {
	s.mu.Lock()
	s.cells = append(s.cells, c.Code)
	s.mu.Unlock()
	for _, line := range strings.Split(c.Code, "\n") {
		cmd, arg, _ := strings.Cut(line, " ")
		switch cmd {
		case "out":
			ev.Stream("stdout", arg)
		case "err":
			ev.Stream("stderr", arg)
		case "value":
			ev.Result(map[string]any{"text/plain": arg}, nil)
		case "show":
			ev.Display(&Display{Data: map[string]any{"text/html": arg}, DisplayID: "d1"})
		case "update":
			ev.Display(&Display{Data: map[string]any{"text/plain": arg}, DisplayID: "d1", Update: true})
		case "clear":
			ev.Clear(true)
		case "emitall": // every kind of output, each carrying a token not in the code
			tok := strings.ToUpper("token")
			ev.Stream("stdout", tok)
			ev.Stream("stderr", tok)
			ev.Display(&Display{Data: map[string]any{"text/html": tok}, DisplayID: "d-" + tok})
			ev.Display(&Display{Data: map[string]any{"text/plain": tok}, DisplayID: "d-" + tok, Update: true})
			ev.Clear(false)
			ev.Result(map[string]any{"text/plain": tok}, nil)
			if c.AllowStdin {
				ev.Input(ctx, tok, false)
			}
			return &CellError{Name: "E" + tok, Value: tok, Traceback: []string{tok}}
		case "fail":
			return &CellError{Name: "Boom", Value: arg, Traceback: []string{"cell line 1: " + arg}}
		case "ask":
			v, err := ev.Input(ctx, arg, false)
			if err != nil {
				return &CellError{Name: "InputError", Value: err.Error()}
			}
			ev.Stream("stdout", "answer="+v)
		case "api":
			_, err := ev.Call(ctx, arg, nil)
			return &CellError{Name: "APIError", Value: err.Error()}
		case "block":
			select {
			case s.blockedEvents() <- struct{}{}:
			default:
			}
			<-ctx.Done()
			if errors.Is(context.Cause(ctx), ErrInterrupted) {
				return &CellError{Name: "Interrupted", Value: "interrupted"}
			}
			return &CellError{Name: "Timeout", Value: "timed out"}
		case "bytes":
			var n int
			fmt.Sscan(arg, &n)
			for i := 0; i < n; i += 100 {
				ev.Stream("stdout", strings.Repeat("y", min(100, n-i)))
			}
		}
	}
	return nil
}

func (s *script) Close() error { return nil }

func (s *script) Complete(ctx context.Context, code string, cursor int) (Completion, error) {
	if strings.Contains(code, "emitall") {
		return Completion{Matches: []string{strings.ToUpper("token")}, CursorStart: 0, CursorEnd: cursor}, nil
	}
	return Completion{Matches: []string{"Println", "Printf"}, CursorStart: cursor - 3, CursorEnd: cursor}, nil
}

func (s *script) Inspect(ctx context.Context, code string, cursor, detail int) (map[string]any, error) {
	if strings.Contains(code, "nothing") {
		return nil, nil
	}
	if strings.Contains(code, "emitall") {
		return map[string]any{"text/plain": strings.ToUpper("token")}, nil
	}
	return map[string]any{"text/plain": "func Println(a ...any)"}, nil
}

type testKernel struct {
	*Kernel
	rec  *recorder
	exec *script
	t    *testing.T
}

func newTestKernel(t *testing.T, mod func(*Config)) *testKernel {
	t.Helper()
	ex := &script{}
	cfg := Config{Executor: ex, Log: log.New(io.Discard, "", 0), FlushInterval: 5 * time.Millisecond,
		IsComplete: func(code string) (string, string) {
			if strings.HasSuffix(code, "{") {
				return "incomplete", "\t"
			}
			return "complete", ""
		}}
	if mod != nil {
		mod(&cfg)
	}
	rec := &recorder{note: make(chan struct{}, 1)}
	k := New(cfg, rec)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go k.Run(ctx)
	return &testKernel{Kernel: k, rec: rec, exec: ex, t: t}
}

// send delivers a request and returns its msg_id.
func (tk *testKernel) send(ch wire.Channel, msgType string, content any) string {
	tk.t.Helper()
	body, _ := json.Marshal(content)
	h := wire.NewHeader(msgType, "client")
	raw, _ := json.Marshal(h)
	tk.Deliver(ch, &wire.Message{Identities: [][]byte{[]byte("id")}, Header: h, RawHeader: raw,
		Parent: json.RawMessage("{}"), Metadata: json.RawMessage("{}"), Content: body})
	return h.MsgID
}

func (tk *testKernel) call(ch wire.Channel, msgType string, content any) (map[string]any, []*wire.Message) {
	tk.t.Helper()
	id := tk.send(ch, msgType, content)
	reply, iopub := tk.rec.await(tk.t, id)
	var c map[string]any
	if err := json.Unmarshal(reply.Content, &c); err != nil {
		tk.t.Fatal(err)
	}
	return c, iopub
}

func (tk *testKernel) run(code string) (map[string]any, []*wire.Message) {
	return tk.call(wire.Shell, "execute_request", map[string]any{"code": code, "silent": false, "store_history": true})
}

func types(msgs []*wire.Message) string {
	var ts []string
	for _, m := range msgs {
		ts = append(ts, m.Header.MsgType)
	}
	return strings.Join(ts, " ")
}

func content(m *wire.Message) map[string]any {
	var c map[string]any
	json.Unmarshal(m.Content, &c)
	return c
}

func TestEveryRequestOfTheSpecHasARoute(t *testing.T) {
	// Messaging spec 5.3/5.4: requests on shell, control and stdin.
	spec := map[string]wire.Channel{
		"execute_request": wire.Shell, "inspect_request": wire.Shell, "complete_request": wire.Shell,
		"history_request": wire.Shell, "is_complete_request": wire.Shell, "connect_request": wire.Shell,
		"comm_info_request": wire.Shell, "kernel_info_request": wire.Shell, "comm_open": wire.Shell,
		"comm_msg": wire.Shell, "comm_close": wire.Shell, "shutdown_request": wire.Control,
		"interrupt_request": wire.Control, "debug_request": wire.Control, "input_reply": wire.Stdin,
	}
	for msgType, ch := range spec {
		r, ok := routes[msgType]
		if !ok {
			t.Errorf("no route for %s", msgType)
			continue
		}
		if !r.allows(ch) {
			t.Errorf("%s is not accepted on %s", msgType, ch)
		}
		if r.audit == "" {
			t.Errorf("%s has no audit class", msgType)
		}
	}
	for _, both := range []string{"kernel_info_request", "shutdown_request"} {
		if !routes[both].allows(wire.Control) || !routes[both].allows(wire.Shell) {
			t.Errorf("%s must be served on shell and control", both)
		}
	}
	if !routes["execute_request"].blocking || routes["execute_request"].audit != AuditCode {
		t.Error("execute_request must block the shell and be audited as code")
	}
}

func TestBusyIdleWrapsEveryRequest(t *testing.T) {
	tk := newTestKernel(t, nil)
	for _, req := range []struct {
		ch      wire.Channel
		msgType string
	}{{wire.Shell, "kernel_info_request"}, {wire.Control, "kernel_info_request"}, {wire.Shell, "comm_info_request"},
		{wire.Shell, "history_request"}, {wire.Shell, "complete_request"}, {wire.Shell, "execute_request"}} {
		_, iopub := tk.call(req.ch, req.msgType, map[string]any{"code": "out x", "hist_access_type": "tail", "n": 1})
		if len(iopub) < 2 || !strings.Contains(string(iopub[0].Content), "busy") || !strings.Contains(string(iopub[len(iopub)-1].Content), "idle") {
			t.Errorf("%s on %s: iopub %s does not start busy and end idle", req.msgType, req.ch, types(iopub))
		}
	}
}

func TestKernelInfo(t *testing.T) {
	tk := newTestKernel(t, nil)
	c, _ := tk.call(wire.Shell, "kernel_info_request", map[string]any{})
	li := c["language_info"].(map[string]any)
	want := map[string]string{"name": "go", "mimetype": "text/x-go", "file_extension": ".go", "pygments_lexer": "go", "codemirror_mode": "go"}
	for k, v := range want {
		if li[k] != v {
			t.Errorf("language_info.%s = %v, want %s", k, li[k], v)
		}
	}
	if c["protocol_version"] != "5.3" || c["banner"] == "" || len(c["help_links"].([]any)) == 0 || c["status"] != "ok" {
		t.Errorf("kernel_info_reply %v", c)
	}
}

func TestExecuteOutputsInOrder(t *testing.T) {
	tk := newTestKernel(t, nil)
	c, iopub := tk.run("out a\nout b\nerr c\nout d\nshow <b>x</b>\nupdate y\nclear\nvalue 42")
	if c["status"] != "ok" || c["execution_count"].(float64) != 1 {
		t.Fatalf("reply %v", c)
	}
	want := "status execute_input stream stream stream display_data update_display_data clear_output execute_result status"
	if got := types(iopub); got != want {
		t.Fatalf("iopub:\n got %s\nwant %s", got, want)
	}
	// stdout a+b coalesced, stderr c, then stdout d: order kept.
	var texts []string
	for _, m := range iopub {
		if m.Header.MsgType == "stream" {
			c := content(m)
			texts = append(texts, c["name"].(string)+":"+c["text"].(string))
		}
	}
	if strings.Join(texts, ",") != "stdout:ab,stderr:c,stdout:d" {
		t.Errorf("streams %v", texts)
	}
	upd := content(iopub[6])
	if upd["transient"].(map[string]any)["display_id"] != "d1" {
		t.Errorf("update_display_data lacks display_id: %v", upd)
	}
	res := content(iopub[8])
	if res["execution_count"].(float64) != 1 || res["data"].(map[string]any)["text/plain"] != "42" {
		t.Errorf("execute_result %v", res)
	}
	c, _ = tk.run("out again")
	if c["execution_count"].(float64) != 2 {
		t.Errorf("execution count did not advance: %v", c)
	}
}

func TestErrorCellAndStopOnError(t *testing.T) {
	tk := newTestKernel(t, nil)
	// Block the shell loop with a cell, queue an error cell and two more
	// behind it: both are aborted, the cell after them runs.
	first := tk.send(wire.Shell, "execute_request", map[string]any{"code": "ask ready?", "allow_stdin": true})
	waitFor(t, func() bool { return tk.sentOn(wire.Stdin) > 0 })
	bad := tk.send(wire.Shell, "execute_request", map[string]any{"code": "fail boom"})
	q1 := tk.send(wire.Shell, "execute_request", map[string]any{"code": "out never"})
	q2 := tk.send(wire.Shell, "execute_request", map[string]any{"code": "out never"})
	tk.send(wire.Stdin, "input_reply", map[string]any{"value": "yes"})
	tk.rec.await(t, first)
	r, iopub := tk.rec.await(t, bad)
	c := content(r)
	if c["status"] != "error" || c["ename"] != "Boom" || c["evalue"] != "boom" {
		t.Fatalf("error reply %v", c)
	}
	if types(iopub) != "status execute_input error status" {
		t.Errorf("iopub %s", types(iopub))
	}
	for _, id := range []string{q1, q2} {
		r, _ := tk.rec.await(t, id)
		if content(r)["status"] != "aborted" {
			t.Errorf("queued cell after an error: %v, want aborted", content(r))
		}
	}
	if c, _ := tk.run("out later"); c["status"] != "ok" {
		t.Errorf("a cell sent after the abort must run: %v", c)
	}
	for _, code := range tk.exec.cells {
		if code == "out never" {
			t.Error("an aborted cell reached the executor")
		}
	}
	// stop_on_error false: nothing is aborted.
	bad = tk.send(wire.Shell, "execute_request", map[string]any{"code": "fail x", "stop_on_error": false})
	next := tk.send(wire.Shell, "execute_request", map[string]any{"code": "out fine"})
	tk.rec.await(t, bad)
	if r, _ := tk.rec.await(t, next); content(r)["status"] != "ok" {
		t.Error("stop_on_error=false aborted a cell")
	}
}

func (tk *testKernel) sentOn(ch wire.Channel) int {
	tk.rec.mu.Lock()
	defer tk.rec.mu.Unlock()
	n := 0
	for _, s := range tk.rec.msgs {
		if s.ch == ch {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not reached")
}

func TestSilentAndStoreHistory(t *testing.T) {
	tk := newTestKernel(t, nil)
	c, iopub := tk.call(wire.Shell, "execute_request", map[string]any{"code": "out hidden\nvalue 1", "silent": true})
	if c["status"] != "ok" || types(iopub) != "status status" {
		t.Errorf("silent cell published %s", types(iopub))
	}
	c, _ = tk.call(wire.Shell, "execute_request", map[string]any{"code": "value 2", "store_history": false})
	c, _ = tk.run("value 3")
	h, _ := tk.call(wire.Shell, "history_request", map[string]any{"hist_access_type": "tail", "n": 10, "output": true, "raw": true})
	hist := h["history"].([]any)
	if len(hist) != 1 {
		t.Fatalf("history %v: silent and store_history=false cells must not be stored", hist)
	}
	e := hist[0].([]any)
	if e[1].(float64) != c["execution_count"].(float64) || e[2].([]any)[0] != "value 3" || e[2].([]any)[1] != "3" {
		t.Errorf("history entry %v", e)
	}
}

func TestHistoryAccess(t *testing.T) {
	tk := newTestKernel(t, nil)
	for _, code := range []string{"value 1", "out a", "value 1", "value 22"} {
		tk.run(code)
	}
	cases := []struct {
		name  string
		query map[string]any
		want  []string
	}{
		{"tail", map[string]any{"hist_access_type": "tail", "n": 2}, []string{"value 1", "value 22"}},
		{"range", map[string]any{"hist_access_type": "range", "session": 1, "start": 2, "stop": 3}, []string{"out a"}},
		{"range current session", map[string]any{"hist_access_type": "range", "session": 0, "start": 1, "stop": 0}, []string{"value 1", "out a", "value 1", "value 22"}},
		{"search", map[string]any{"hist_access_type": "search", "pattern": "value ?"}, []string{"value 1", "value 1"}},
		{"search unique", map[string]any{"hist_access_type": "search", "pattern": "val*", "unique": true}, []string{"value 1", "value 22"}},
		{"search n", map[string]any{"hist_access_type": "search", "pattern": "*", "n": 3}, []string{"out a", "value 1", "value 22"}},
		{"other session", map[string]any{"hist_access_type": "range", "session": 7, "start": 1}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.query["output"], tc.query["raw"] = false, true
			c, _ := tk.call(wire.Shell, "history_request", tc.query)
			var got []string
			for _, e := range c["history"].([]any) {
				got = append(got, e.([]any)[2].(string))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGlobMatchIsLinear(t *testing.T) {
	start := time.Now()
	if globMatch(strings.Repeat("*a", 30)+"b", strings.Repeat("a", 5000)) {
		t.Fatal("matched")
	}
	if time.Since(start) > time.Second {
		t.Fatal("glob backtracking blew up")
	}
}

func TestUserExpressions(t *testing.T) {
	tk := newTestKernel(t, nil)
	c, _ := tk.call(wire.Shell, "execute_request", map[string]any{"code": "out x",
		"user_expressions": map[string]string{"good": "value 7", "bad": "fail nope"}})
	ue := c["user_expressions"].(map[string]any)
	good := ue["good"].(map[string]any)
	if good["status"] != "ok" || good["data"].(map[string]any)["text/plain"] != "7" {
		t.Errorf("good expression %v", good)
	}
	bad := ue["bad"].(map[string]any)
	if bad["status"] != "error" || bad["ename"] != "Boom" {
		t.Errorf("bad expression %v", bad)
	}
}

func TestStdinInput(t *testing.T) {
	tk := newTestKernel(t, nil)
	id := tk.send(wire.Shell, "execute_request", map[string]any{"code": "ask name?", "allow_stdin": true})
	waitFor(t, func() bool { return tk.sentOn(wire.Stdin) > 0 })
	tk.rec.mu.Lock()
	var req *wire.Message
	for _, s := range tk.rec.msgs {
		if s.ch == wire.Stdin {
			req = s.msg
		}
	}
	tk.rec.mu.Unlock()
	if req.Header.MsgType != "input_request" || content(req)["prompt"] != "name?" || req.ParentID() != id {
		t.Fatalf("input_request %v", content(req))
	}
	tk.send(wire.Stdin, "input_reply", map[string]any{"value": "Ada"})
	_, iopub := tk.rec.await(t, id)
	if !strings.Contains(string(iopub[2].Content), "answer=Ada") {
		t.Errorf("iopub %s", types(iopub))
	}
	c, _ := tk.call(wire.Shell, "execute_request", map[string]any{"code": "ask name?", "allow_stdin": false})
	if c["status"] != "error" || !strings.Contains(c["evalue"].(string), "allow_stdin") {
		t.Errorf("input without allow_stdin: %v", c)
	}
}

func TestInterruptFromControlWhileRunning(t *testing.T) {
	tk := newTestKernel(t, nil)
	id := tk.send(wire.Shell, "execute_request", map[string]any{"code": "block"})
	tk.exec.waitBlocked(t)
	// Control is answered while the cell runs.
	info, _ := tk.call(wire.Control, "kernel_info_request", map[string]any{})
	if info["status"] != "ok" {
		t.Fatal("control did not answer while a cell ran")
	}
	ir, _ := tk.call(wire.Control, "interrupt_request", map[string]any{})
	if ir["status"] != "ok" {
		t.Fatal(ir)
	}
	r, _ := tk.rec.await(t, id)
	if c := content(r); c["ename"] != "Interrupted" {
		t.Errorf("interrupted cell: %v", c)
	}
}

func TestCellTimeout(t *testing.T) {
	tk := newTestKernel(t, func(c *Config) { c.CellTimeout = 50 * time.Millisecond })
	c, _ := tk.run("block")
	if c["ename"] != "Timeout" {
		t.Errorf("cell past its time limit: %v", c)
	}
}

func TestCompleteInspectIsComplete(t *testing.T) {
	tk := newTestKernel(t, nil)
	c, _ := tk.call(wire.Shell, "complete_request", map[string]any{"code": "fmt.Pri", "cursor_pos": 7})
	if len(c["matches"].([]any)) != 2 || c["cursor_start"].(float64) != 4 || c["cursor_end"].(float64) != 7 {
		t.Errorf("complete_reply %v", c)
	}
	c, _ = tk.call(wire.Shell, "inspect_request", map[string]any{"code": "fmt.Println", "cursor_pos": 5, "detail_level": 0})
	if c["found"] != true || c["data"].(map[string]any)["text/plain"] == nil {
		t.Errorf("inspect_reply %v", c)
	}
	c, _ = tk.call(wire.Shell, "inspect_request", map[string]any{"code": "nothing"})
	if c["found"] != false {
		t.Errorf("inspect_reply for nothing %v", c)
	}
	for code, want := range map[string]string{"for {": "incomplete", "x := 1": "complete", "%workspace": "complete"} {
		c, _ = tk.call(wire.Shell, "is_complete_request", map[string]any{"code": code})
		if c["status"] != want {
			t.Errorf("is_complete(%q) = %v, want %s", code, c, want)
		}
		if want == "incomplete" && c["indent"] != "\t" {
			t.Errorf("is_complete(%q) indent %q", code, c["indent"])
		}
	}
}

func TestCommOpenIsClosed(t *testing.T) {
	tk := newTestKernel(t, nil)
	id := tk.send(wire.Shell, "comm_open", map[string]any{"comm_id": "c1", "target_name": "jupyter.widget", "data": map[string]any{}})
	waitFor(t, func() bool {
		tk.rec.mu.Lock()
		defer tk.rec.mu.Unlock()
		for _, s := range tk.rec.msgs {
			if s.msg.Header.MsgType == "comm_close" && s.msg.ParentID() == id && strings.Contains(string(s.msg.Content), "c1") {
				return true
			}
		}
		return false
	})
	c, _ := tk.call(wire.Shell, "comm_info_request", map[string]any{})
	if c["status"] != "ok" || len(c["comms"].(map[string]any)) != 0 {
		t.Errorf("comm_info_reply %v", c)
	}
}

func TestUnknownAndMisroutedRequestsAreIgnored(t *testing.T) {
	tk := newTestKernel(t, nil)
	tk.send(wire.Shell, "frobnicate_request", map[string]any{})
	tk.send(wire.Control, "execute_request", map[string]any{"code": "out x"})
	tk.send(wire.Shell, "execute_request", "not an object")
	c, _ := tk.call(wire.Shell, "kernel_info_request", map[string]any{})
	if c["status"] != "ok" {
		t.Fatal("kernel stopped answering")
	}
	for _, code := range tk.exec.cells {
		if code == "out x" {
			t.Error("an execute_request on control ran")
		}
	}
}

func TestShutdown(t *testing.T) {
	tk := newTestKernel(t, nil)
	c, iopub := tk.call(wire.Control, "shutdown_request", map[string]any{"restart": true})
	if c["status"] != "ok" || c["restart"] != true {
		t.Errorf("shutdown_reply %v", c)
	}
	if !strings.Contains(types(iopub), "shutdown_reply") {
		t.Errorf("shutdown_reply not broadcast on iopub: %s", types(iopub))
	}
	select {
	case <-tk.Done():
	case <-time.After(time.Second):
		t.Fatal("kernel did not finish")
	}
}

func TestWorkspaceRefusalFailsEveryCellWithTheReason(t *testing.T) {
	reason := errors.New("researcher r1 has no Responsible Conduct of Research training since 2025-11-01")
	tk := newTestKernel(t, func(c *Config) { c.WorkspaceErr = reason })
	info, _ := tk.call(wire.Shell, "kernel_info_request", map[string]any{})
	if info["status"] != "ok" {
		t.Fatal("kernel_info must work when the workspace is refused")
	}
	for _, code := range []string{"out x", "%workspace"} {
		c, iopub := tk.run(code)
		if c["status"] != "error" || c["evalue"] != reason.Error() {
			t.Errorf("%q: reply %v", code, c)
		}
		if !strings.Contains(types(iopub), "error") {
			t.Errorf("%q: no error cell: %s", code, types(iopub))
		}
	}
	if len(tk.exec.cells) != 0 {
		t.Error("a cell ran although the workspace was refused")
	}
}

func TestWorkspaceMagic(t *testing.T) {
	tk := newTestKernel(t, nil)
	_, iopub := tk.run("%workspace")
	if !strings.Contains(string(iopub[2].Content), "No workspace is open") {
		t.Errorf("without workspace: %s", iopub[2].Content)
	}
	how := "This kernel's kernelspec names no workspace."
	tk = newTestKernel(t, func(c *Config) { c.NoWorkspace = how })
	_, iopub = tk.run("%workspace")
	if !strings.Contains(string(iopub[2].Content), how) {
		t.Errorf("without workspace, the deployment's text: %s", iopub[2].Content)
	}
	tk = newTestKernel(t, func(c *Config) {
		c.Workspace = &WorkspaceInfo{Name: "t2d", Purpose: "Study type 2 diabetes", Tier: "registered", Datasets: []string{"omop", "fitbit"}}
	})
	_, iopub = tk.run("%workspace\nout after")
	text := string(iopub[2].Content)
	for _, want := range []string{"t2d", "Study type 2 diabetes", "registered", "omop, fitbit"} {
		if !strings.Contains(text, want) {
			t.Errorf("%%workspace lacks %q: %s", want, text)
		}
	}
	if got := tk.exec.cells; len(got) != 1 || strings.TrimSpace(got[0]) != "out after" {
		t.Errorf("code after the magic: %q", got)
	}
	c, _ := tk.run("%nosuch")
	if c["ename"] != "UnknownMagic" {
		t.Errorf("unknown magic: %v", c)
	}
}

func TestAPICallsWithoutAPI(t *testing.T) {
	tk := newTestKernel(t, nil)
	c, _ := tk.run("api omop.tables")
	if !strings.Contains(c["evalue"].(string), "no such API method") {
		t.Errorf("reply %v", c)
	}
}

func TestOutputCapThroughTheGate(t *testing.T) {
	tk := newTestKernel(t, func(c *Config) { c.OutputCap = 10 << 10; c.FlushSize = 1 << 10 })
	c, iopub := tk.run("bytes 100000")
	if c["status"] != "ok" {
		t.Fatal(c)
	}
	total := 0
	var last string
	for _, m := range iopub {
		if m.Header.MsgType == "stream" {
			s := content(m)
			total += len(s["text"].(string))
			last = s["text"].(string)
		}
	}
	if total > 10<<10 || total < 8<<10 {
		t.Errorf("%d bytes of stream released, cap 10 KiB", total)
	}
	if !strings.Contains(last, "10 KiB limit") {
		t.Errorf("no notice at the end: %q", last)
	}
	if g := tk.gate.(*EgressGate); g.Withheld() < 80000 || g.Released() == 0 {
		t.Errorf("released %d withheld %d", g.Released(), g.Withheld())
	}
	// The next cell has its own budget.
	if _, iopub := tk.run("out fresh"); !strings.Contains(types(iopub), "stream") {
		t.Error("the cap leaked into the next cell")
	}
}

func TestStopOnErrorAbortsRequestsSentBeforeTheFailureWasSeen(t *testing.T) {
	tk := newTestKernel(t, nil)
	// The client sends the failing cell and the next request together, as
	// Run All does: the second was sent before the failure, whenever it comes.
	sentAt := time.Now().UTC()
	deliver := func(date time.Time, code string) string {
		h := wire.NewHeader("execute_request", "client")
		h.Date = date.Format("2006-01-02T15:04:05.000000Z")
		raw, _ := json.Marshal(h)
		body, _ := json.Marshal(map[string]any{"code": code})
		tk.Deliver(wire.Shell, &wire.Message{Header: h, RawHeader: raw, Content: body})
		return h.MsgID
	}
	bad := deliver(sentAt, "block")
	tk.exec.waitBlocked(t)
	tk.Interrupt() // the cell fails once it is running
	tk.rec.await(t, bad)
	// In flight: sent with the failing cell, arriving only now.
	r, _ := tk.rec.await(t, deliver(sentAt, "out x"))
	if content(r)["status"] != "aborted" {
		t.Errorf("a request sent before the client could see the failure ran: %v", content(r))
	}
	r, _ = tk.rec.await(t, deliver(time.Now().UTC(), "out y"))
	if content(r)["status"] != "ok" {
		t.Errorf("a request sent after the failure was aborted: %v", content(r))
	}
}

func TestHelpPagesDocumentation(t *testing.T) {
	tk := newTestKernel(t, nil)
	c, _ := tk.run("fmt.Println?")
	p := c["payload"].([]any)
	if c["status"] != "ok" || len(p) != 1 || p[0].(map[string]any)["source"] != "page" {
		t.Fatalf("reply %v", c)
	}
	if c, _ := tk.run("nothing?"); c["ename"] != "NotFound" {
		t.Errorf("unknown name: %v", c)
	}
	// A last line of help: the cell runs, then the page.
	c, iopub := tk.run("out before\nfmt.Println?")
	if p, _ := c["payload"].([]any); c["status"] != "ok" || len(p) != 1 || !strings.Contains(types(iopub), "stream") {
		t.Errorf("code then a help line: reply %v, iopub %s", c, types(iopub))
	}
	if _, ok := helpRequest("x := a?b"); ok {
		t.Error("code with a ? inside is not a help request")
	}
}

// withholdAll releases only protocol housekeeping.
type withholdAll struct{}

func (withholdAll) Release(o Output) []Output {
	switch o.MsgType {
	case "status", "execute_input", "comm_close", "shutdown_reply":
		return []Output{o}
	}
	return nil
}
func (withholdAll) CellDone(string) []Output { return nil }

// holdingGate is withholdAll that says so before the worker is asked.
type holdingGate struct{ withholdAll }

func (holdingGate) Holding() bool { return true }

// TestHoldingGateLeavesTheWorkerUnasked: while the gate holds the worker's
// answers, completion and inspection do not reach it at all: how long it
// took, and the cursor positions it chose, would still be told.
func TestHoldingGateLeavesTheWorkerUnasked(t *testing.T) {
	tk := newTestKernel(t, func(c *Config) { c.Gate = holdingGate{} })
	c, _ := tk.call(wire.Shell, "complete_request", map[string]any{"code": "fmt.Pri", "cursor_pos": 7})
	if len(c["matches"].([]any)) != 0 || c["cursor_start"] != float64(7) || c["cursor_end"] != float64(7) {
		t.Errorf("complete_reply under a holding gate: %v (the worker's cursor_start would be 4)", c)
	}
	if c, _ = tk.call(wire.Shell, "inspect_request", map[string]any{"code": "fmt.Println"}); c["found"] != false {
		t.Errorf("inspect_reply under a holding gate: %v", c)
	}
}

func TestNothingBypassesTheGate(t *testing.T) {
	tk := newTestKernel(t, func(c *Config) { c.Gate = withholdAll{} })
	c, iopub := tk.call(wire.Shell, "execute_request", map[string]any{"code": "out secret\nvalue secret",
		"user_expressions": map[string]string{"e": "value secret"}})
	if got := types(iopub); got != "status execute_input status" {
		t.Errorf("iopub %s", got)
	}
	if b, _ := json.Marshal(c); strings.Contains(string(b), "secret") {
		t.Errorf("execute_reply leaks: %s", b)
	}
	c, _ = tk.run("fail secret")
	if c["ename"] != "Withheld" || strings.Contains(fmt.Sprint(c), "secret") {
		t.Errorf("error reply leaks: %v", c)
	}
	c, _ = tk.call(wire.Shell, "inspect_request", map[string]any{"code": "fmt.Println"})
	if c["found"] != false {
		t.Errorf("inspect_reply leaks: %v", c)
	}
	c, _ = tk.call(wire.Shell, "complete_request", map[string]any{"code": "fmt.Pri", "cursor_pos": 7})
	if len(c["matches"].([]any)) != 0 {
		t.Errorf("complete_reply leaks: %v", c)
	}
	h, _ := tk.call(wire.Shell, "history_request", map[string]any{"hist_access_type": "tail", "n": 10, "output": true})
	if strings.Contains(fmt.Sprint(h), "secret\"") || strings.Contains(fmt.Sprint(h), " secret]") {
		t.Errorf("history leaks a withheld result: %v", h)
	}
	// A withheld prompt is not sent empty either: when, and how often, the
	// code asks would still be told. The code is refused input instead.
	id := tk.send(wire.Shell, "execute_request", map[string]any{"code": "ask secret", "allow_stdin": true})
	tk.rec.await(t, id)
	if n := tk.sentOn(wire.Stdin); n != 0 {
		t.Errorf("%d stdin messages sent for a withheld prompt", n)
	}
}

func TestSlowWorkspaceDoesNotDelayKernelInfo(t *testing.T) {
	release := make(chan struct{})
	tk := newTestKernel(t, func(c *Config) {
		c.OpenWorkspace = func() (*WorkspaceInfo, error) {
			<-release
			return nil, errors.New("researcher r1 is not on this workspace")
		}
	})
	start := time.Now()
	if c, _ := tk.call(wire.Shell, "kernel_info_request", map[string]any{}); c["status"] != "ok" {
		t.Fatal(c)
	}
	if time.Since(start) > time.Second {
		t.Error("kernel_info waited for the workspace")
	}
	close(release)
	if c, _ := tk.run("out x"); c["ename"] != "WorkspaceRefused" || c["evalue"] != "researcher r1 is not on this workspace" {
		t.Errorf("cell after a background refusal: %v", c)
	}
}
