package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"enclave/api/remote"
	"enclave/rpc"
)

// kernelSide drives a worker over an in-memory pipe, as the kernel does.
type kernelSide struct {
	t      testing.TB
	conn   *rpc.Conn
	hello  *rpc.Hello
	nextID uint64
	events chan *rpc.Msg
	done   chan error
	// input answers InputRequests; nil means none expected.
	input func(prompt string) string
	mu    sync.Mutex
}

func startWorker(t testing.TB, opts Options) *kernelSide {
	t.Helper()
	reqR, reqW := io.Pipe()
	evR, evW := io.Pipe()
	wconn := rpc.NewConn(reqR, evW, nil)
	k := &kernelSide{t: t, conn: rpc.NewConn(evR, reqW, nil), events: make(chan *rpc.Msg, 1024), done: make(chan error, 1)}
	go func() {
		err := Serve(wconn, opts)
		evW.Close()
		reqR.Close() // like a process that ended: later sends fail
		k.done <- err
	}()
	m, err := k.conn.Recv()
	if err != nil || m.Type != rpc.Ready {
		t.Fatalf("first message %+v, %v; want ready", m, err)
	}
	k.hello = m.Hello
	go func() {
		for {
			m, err := k.conn.Recv()
			if err != nil {
				close(k.events)
				return
			}
			k.events <- m
		}
	}()
	t.Cleanup(func() {
		k.conn.Send(&rpc.Msg{Type: rpc.Shutdown})
		select {
		case <-k.done:
		case <-time.After(5 * time.Second):
			t.Errorf("worker did not stop after shutdown")
		}
		reqW.Close()
	})
	return k
}

// shownDisplay is a display event with its bundle decoded.
type shownDisplay struct {
	*rpc.DisplayData
	Bundle map[string]any
}

// decodeBundle decodes a bundle the worker encoded, which must be a JSON
// object.
func decodeBundle(t testing.TB, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		t.Errorf("bundle %.200q is not a JSON object: %v", raw, err)
	}
	return m
}

// cellOutcome is what a cell produced, in the order the kernel saw it.
type cellOutcome struct {
	Stdout, Stderr string
	Results        []map[string]any
	Displays       []shownDisplay
	Err            *rpc.ErrorInfo
	Status         string
	Inputs         int
	Events         []rpc.Type
}

func (k *kernelSide) exec(code string, req rpc.ExecRequest) *cellOutcome {
	k.t.Helper()
	k.nextID++
	id := k.nextID
	req.Code = code
	if req.CellNumber == 0 {
		req.CellNumber = int(id)
	}
	if err := k.conn.Send(&rpc.Msg{Type: rpc.Execute, ID: id, Exec: &req}); err != nil {
		k.t.Fatal(err)
	}
	return k.collect(id, 20*time.Second)
}

func (k *kernelSide) collect(id uint64, timeout time.Duration) *cellOutcome {
	k.t.Helper()
	out := &cellOutcome{}
	var so, se strings.Builder
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-k.events:
			if !ok {
				k.t.Fatalf("worker closed the pipe during cell %d", id)
			}
			if m.ID != id {
				continue
			}
			out.Events = append(out.Events, m.Type)
			switch m.Type {
			case rpc.Stream:
				if m.Stream.Name == "stdout" {
					so.WriteString(m.Stream.Text)
				} else {
					se.WriteString(m.Stream.Text)
				}
			case rpc.Result:
				out.Results = append(out.Results, decodeBundle(k.t, m.Display.Data))
			case rpc.Display:
				out.Displays = append(out.Displays, shownDisplay{m.Display, decodeBundle(k.t, m.Display.Data)})
			case rpc.Error:
				out.Err = m.Err
			case rpc.InputRequest:
				out.Inputs++
				reply := &rpc.Msg{Type: rpc.InputReply, ID: m.ID}
				if k.input != nil {
					reply.Text = k.input(m.Input.Prompt)
				} else {
					reply.Reply = &rpc.CallResult{Error: "no input in this test"}
				}
				k.conn.Send(reply)
			case rpc.Done:
				out.Status = m.Done.Status
				out.Stdout, out.Stderr = so.String(), se.String()
				return out
			}
		case <-deadline:
			k.t.Fatalf("cell %d did not finish in %v", id, timeout)
		}
	}
}

// TestSmoke runs one cell of each basic kind in one worker, in order (later
// cells use earlier ones' variables and types), and checks what each sent.
func TestSmoke(t *testing.T) {
	k := startWorker(t, Options{})
	for _, c := range []struct {
		code           string
		stdout, stderr string
		result         string // text/plain of the cell's value
		html           string // text/html of its display
		errName        string // the error's name; empty when the cell is ok
		errHas         string
	}{
		{code: "x := 5\nx * 2", result: "10"},
		{code: "import \"fmt\"\nfmt.Println(\"hi\", x)\nprintln(\"err\")", stdout: "hi 5\n", stderr: "err\n"},
		{code: "y := \"a\" + 1", errName: "CompileError", errHas: "mismatched types untyped string and untyped int"},
		{code: "func f(a int) int {\n\treturn 10 / a\n}\nf(0)", errName: "panic", errHas: "integer divide by zero"},
		{code: "import \"os\"", errName: "ImportError", errHas: `package "os" is not available`},
		{code: "type T struct{A int; B string}\nT{1, \"b\"}", result: `{A:1 B:"b"}`},
		{code: "func (t T) String() string { return \"T!\" }\nT{2, \"c\"}", result: "T!"},
		{code: "[]string{\"a b\", \"c\"}", result: `["a b" "c"]`},
		{code: "import \"enclave/display\"\ndisplay.HTML(\"<b>x</b>\")", html: "<b>x</b>"},
		{code: "for {}", errName: ErrInterrupt, errHas: "interrupted"},
	} {
		var o *cellOutcome
		if c.code == "for {}" {
			id := k.sendStarted(c.code)
			k.conn.Send(&rpc.Msg{Type: rpc.Interrupt, ID: id})
			o = k.collect(id, 5*time.Second)
			o.Stdout = strings.TrimPrefix(o.Stdout, startedMarker)
		} else {
			o = k.exec(c.code, rpc.ExecRequest{})
		}
		wantStatus := "ok"
		if c.errName != "" {
			wantStatus = "error"
		}
		if o.Status != wantStatus {
			t.Errorf("%q: status %q, want %q (error %+v)", c.code, o.Status, wantStatus, o.Err)
		}
		if o.Stdout != c.stdout || o.Stderr != c.stderr {
			t.Errorf("%q: stdout %q stderr %q, want %q and %q", c.code, o.Stdout, o.Stderr, c.stdout, c.stderr)
		}
		var result string
		if len(o.Results) == 1 {
			result, _ = o.Results[0]["text/plain"].(string)
		}
		if result != c.result || len(o.Results) > 1 {
			t.Errorf("%q: results %v, want text/plain %q", c.code, o.Results, c.result)
		}
		var html string
		if len(o.Displays) == 1 {
			html, _ = o.Displays[0].Bundle["text/html"].(string)
		}
		if html != c.html || len(o.Displays) > 1 {
			t.Errorf("%q: displays %v, want text/html %q", c.code, o.Displays, c.html)
		}
		switch {
		case c.errName == "" && o.Err != nil:
			t.Errorf("%q: unexpected error %+v", c.code, o.Err)
		case c.errName != "" && (o.Err == nil || o.Err.Name != c.errName || !strings.Contains(o.Err.Value, c.errHas)):
			t.Errorf("%q: error %+v, want %s containing %q", c.code, o.Err, c.errName, c.errHas)
		}
	}
}

// TestAPICall runs an API call from a compiled helper during a cell, as the
// enclave API packages do, with the kernel side answering.
func TestAPICall(t *testing.T) {
	k := startWorker(t, Options{})
	k.nextID++
	id := k.nextID
	// The cell says it has started and waits until the test interrupts it,
	// once the call made while it runs has been answered.
	code := "import (\"fmt\"; \"time\")\nfmt.Println(\"started\")\ntime.Sleep(time.Hour)"
	if err := k.conn.Send(&rpc.Msg{Type: rpc.Execute, ID: id, Exec: &rpc.ExecRequest{Code: code, CellNumber: 1}}); err != nil {
		t.Fatal(err)
	}
	result := make(chan error, 1)
	called, answered := false, false
	for done := false; !done; {
		select {
		case m, ok := <-k.events:
			if !ok {
				t.Fatal("the worker ended during the cell")
			}
			switch m.Type {
			case rpc.Stream:
				if !called && strings.Contains(m.Stream.Text, "started") {
					called = true
					go func() {
						var out map[string]int
						err := remote.Call("catalog.count", map[string]string{"table": "person"}, &out)
						if err == nil && out["n"] != 42 {
							err = fmt.Errorf("result %v", out)
						}
						result <- err
					}()
				}
			case rpc.Call:
				if m.ID != id || m.Call.Method != "catalog.count" || string(m.Call.Args) != `{"table":"person"}` {
					t.Fatalf("call %+v %s", m, m.Call.Args)
				}
				k.conn.Send(&rpc.Msg{Type: rpc.CallReply, ID: m.ID, Reply: &rpc.CallResult{Result: []byte(`{"n":42}`)}})
			case rpc.Done:
				done = true
			}
		case err := <-result:
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			answered = true
			k.conn.Send(&rpc.Msg{Type: rpc.Interrupt, ID: id})
		}
	}
	if !answered {
		t.Fatal("the cell ended before its API call was answered")
	}
}
