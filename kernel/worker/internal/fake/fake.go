// Package fake is a stand-in for enclave-worker that speaks rpc on
// fds 3 and 4 and runs a tiny command language instead of Go, so the
// kernel's executor and protocol can be tested without yaegi. Test-only;
// untrusted-worker side of the boundary.
//
// Cell lines: "print TEXT", "eprint TEXT", "result TEXT", "display",
// "update ID", "clear", "err TEXT", "input PROMPT", "call METHOD",
// "spin" (ignores interrupts), "wait" (until interrupted), "spinbg"
// (answers the interrupt but keeps a goroutine computing), "crash"
// (prints a Go fatal error and exits 2), "exit", "big N" (N bytes of
// stdout), "bigdisplay N" and "bigresult N" (an N-byte text/html
// display_data or execute_result), "sleep MS".
package fake

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"enclave/rpc"
)

// Main runs the fake worker until its pipe closes.
func Main() {
	in := os.NewFile(3, "requests")
	out := os.NewFile(4, "events")
	c := rpc.NewConn(in, out, nil)
	c.Send(&rpc.Msg{Type: rpc.Ready, Hello: &rpc.Hello{GoVersion: "go-fake", YaegiVersion: "none"}})
	var (
		mu          sync.Mutex
		interrupted = map[uint64]chan struct{}{}
		replies     = make(chan *rpc.Msg, 1)
	)
	intr := func(id uint64) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		ch := interrupted[id]
		if ch == nil {
			ch = make(chan struct{})
			interrupted[id] = ch
		}
		return ch
	}
	for {
		m, err := c.Recv()
		if err != nil {
			os.Exit(0)
		}
		switch m.Type {
		case rpc.Execute:
			go run(c, m.ID, m.Exec, intr(m.ID), replies)
		case rpc.Interrupt:
			ch := intr(m.ID)
			mu.Lock()
			select {
			case <-ch:
			default:
				close(ch)
			}
			mu.Unlock()
		case rpc.InputReply, rpc.CallReply:
			replies <- m
		case rpc.Complete:
			c.Send(&rpc.Msg{Type: rpc.CompleteReply, ID: m.ID, Matches: &rpc.Completion{
				Matches: []string{"fmt.Printf", "fmt.Println"}, CursorStart: 0, CursorEnd: m.Query.CursorPos}})
		case rpc.Inspect:
			c.Send(&rpc.Msg{Type: rpc.InspectReply, ID: m.ID, Found: &rpc.Inspection{
				Data: map[string]any{"text/plain": "func Println(a ...any) (n int, err error)"}}})
		case rpc.Shutdown:
			os.Exit(0)
		}
	}
}

// bundle encodes a MIME bundle as the worker does.
func bundle(m map[string]any) json.RawMessage {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func run(c *rpc.Conn, id uint64, ex *rpc.ExecRequest, stop chan struct{}, replies chan *rpc.Msg) {
	send := func(m *rpc.Msg) { m.ID = id; c.Send(m) }
	fail := func(name, value string) {
		send(&rpc.Msg{Type: rpc.Error, Err: &rpc.ErrorInfo{Name: name, Value: value, Traceback: []string{name + ": " + value}}})
		send(&rpc.Msg{Type: rpc.Done, Done: &rpc.DoneInfo{Status: "error"}})
	}
	for _, line := range strings.Split(ex.Code, "\n") {
		cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch cmd {
		case "":
		case "print", "eprint":
			name := "stdout"
			if cmd == "eprint" {
				name = "stderr"
			}
			send(&rpc.Msg{Type: rpc.Stream, Stream: &rpc.StreamChunk{Name: name, Text: arg + "\n"}})
		case "result":
			send(&rpc.Msg{Type: rpc.Result, Display: &rpc.DisplayData{Data: bundle(map[string]any{"text/plain": arg})}})
		case "display":
			send(&rpc.Msg{Type: rpc.Display, Display: &rpc.DisplayData{Data: bundle(map[string]any{
				"text/html": "<b>hi</b>", "text/plain": "hi"}), DisplayID: arg}})
		case "update":
			send(&rpc.Msg{Type: rpc.Display, Display: &rpc.DisplayData{Data: bundle(map[string]any{"text/plain": "updated"}), DisplayID: arg, Update: true}})
		case "clear":
			send(&rpc.Msg{Type: rpc.Display, Display: &rpc.DisplayData{Data: bundle(map[string]any{}),
				Metadata: bundle(map[string]any{"clear_output": map[string]any{"wait": false}})}})
		case "bigdisplay", "bigresult": // an N-byte text/html bundle, as display_data or execute_result
			n, _ := strconv.Atoi(arg)
			d := &rpc.DisplayData{Data: bundle(map[string]any{"text/html": strings.Repeat("x", n), "text/plain": "<HTML>"})}
			t := rpc.Display
			if cmd == "bigresult" {
				t = rpc.Result
			}
			send(&rpc.Msg{Type: t, Display: d})
		case "err":
			fail("Error", arg)
			return
		case "input":
			send(&rpc.Msg{Type: rpc.InputRequest, Input: &rpc.InputPrompt{Prompt: arg}})
			r := <-replies
			if r.Reply != nil && r.Reply.Error != "" {
				fail("InputError", r.Reply.Error)
				return
			}
			send(&rpc.Msg{Type: rpc.Stream, Stream: &rpc.StreamChunk{Name: "stdout", Text: "got " + r.Text + "\n"}})
		case "call":
			send(&rpc.Msg{Type: rpc.Call, Call: &rpc.CallRequest{Method: arg, Args: json.RawMessage(`{}`)}})
			r := <-replies
			if r.Reply.Error != "" {
				fail("APIError", r.Reply.Error)
				return
			}
			send(&rpc.Msg{Type: rpc.Stream, Stream: &rpc.StreamChunk{Name: "stdout", Text: string(r.Reply.Result) + "\n"}})
		case "spin":
			select {}
		case "wait":
			<-stop
			fail("Interrupted", "the cell was interrupted")
			return
		case "spinbg": // like yaegi inside a compiled call: says stopped, keeps computing
			go func() {
				for {
				}
			}()
			<-stop
			fail("Interrupted", "the cell was interrupted")
			return
		case "sleep":
			ms, _ := strconv.Atoi(arg)
			time.Sleep(time.Duration(ms) * time.Millisecond)
		case "crash":
			fmt.Fprintln(os.Stderr, "runtime: goroutine stack exceeds 1000000000-byte limit")
			fmt.Fprintln(os.Stderr, "fatal error: stack overflow")
			os.Exit(2)
		case "exit":
			os.Exit(3)
		case "big":
			n, _ := strconv.Atoi(arg)
			chunk := strings.Repeat(strings.Repeat("x", 63)+"\n", 1024)
			for n > 0 {
				k := min(n, len(chunk))
				send(&rpc.Msg{Type: rpc.Stream, Stream: &rpc.StreamChunk{Name: "stdout", Text: chunk[:k]}})
				n -= k
			}
		default:
			fail("SyntaxError", fmt.Sprintf("cell line 1: unknown command %q", cmd))
			return
		}
	}
	send(&rpc.Msg{Type: rpc.Done, Done: &rpc.DoneInfo{Status: "ok"}})
}
