package kernel

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"testing"

	"enclave/kernel/wire"
)

// redactingGate replaces a token in everything it releases and records
// which message types it saw: whatever reaches the frontend with the token
// took a path around the gate.
type redactingGate struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (g *redactingGate) Release(o Output) []Output {
	g.mu.Lock()
	g.seen[o.MsgType] = true
	g.mu.Unlock()
	o.Content = bytes.ReplaceAll(o.Content, []byte("TOKEN"), []byte("GATED"))
	return []Output{o}
}

func (g *redactingGate) CellDone(string) []Output { return nil }

// requestFor is a request of each routed type that makes the fake
// executor produce every kind of output it can (with the token), or the
// plainest valid request for housekeeping types.
func requestFor(msgType string) (wire.Channel, map[string]any) {
	switch msgType {
	case "execute_request":
		return wire.Shell, map[string]any{"code": "emitall", "allow_stdin": false, "store_history": true,
			"user_expressions": map[string]string{"u": "emitall"}}
	case "inspect_request":
		return wire.Shell, map[string]any{"code": "emitall", "cursor_pos": 3, "detail_level": 0}
	case "complete_request":
		return wire.Shell, map[string]any{"code": "emitall", "cursor_pos": 3}
	case "history_request":
		return wire.Shell, map[string]any{"hist_access_type": "tail", "n": 10, "output": true, "raw": true}
	case "is_complete_request":
		return wire.Shell, map[string]any{"code": "emitall"}
	case "comm_open":
		return wire.Shell, map[string]any{"comm_id": "c1", "target_name": "x", "data": map[string]any{}}
	case "comm_msg", "comm_close":
		return wire.Shell, map[string]any{"comm_id": "c1", "data": map[string]any{}}
	case "input_reply":
		return wire.Stdin, map[string]any{"value": "v"}
	case "shutdown_request":
		return wire.Control, map[string]any{"restart": true}
	case "interrupt_request", "debug_request":
		return wire.Control, map[string]any{}
	}
	return wire.Shell, map[string]any{}
}

// TestRouteTableOutputsPassTheGate walks the route table: every request
// type is sent, the executor answers with outputs carrying a token, and no
// message the kernel sends on any channel may still hold it.
func TestRouteTableOutputsPassTheGate(t *testing.T) {
	g := &redactingGate{seen: map[string]bool{}}
	tk := newTestKernel(t, func(c *Config) { c.Gate = g })
	types := make([]string, 0, len(routes))
	for mt := range routes {
		types = append(types, mt)
	}
	sort.Strings(types)
	// Run an execute first so history has something to echo; a cell
	// asking for input and shutdown come last.
	order := []string{"execute_request"}
	for _, mt := range types {
		if mt != "execute_request" && mt != "shutdown_request" {
			order = append(order, mt)
		}
	}
	for _, mt := range order {
		ch, content := requestFor(mt)
		id := tk.send(ch, mt, content)
		if ch == wire.Stdin || strings.HasPrefix(mt, "comm_") && mt != "comm_info_request" {
			continue // no reply: checked below with everything else
		}
		tk.rec.await(t, id)
	}
	// User expressions run only after a cell that succeeded.
	tk.rec.await(t, tk.send(wire.Shell, "execute_request", map[string]any{"code": "out fine",
		"user_expressions": map[string]string{"u": "emitall"}}))
	// A cell asking for input, answered, so the prompt path is walked too.
	id := tk.send(wire.Shell, "execute_request", map[string]any{"code": "emitall", "allow_stdin": true})
	waitFor(t, func() bool { return tk.sentOn(wire.Stdin) > 0 })
	tk.send(wire.Stdin, "input_reply", map[string]any{"value": "v"})
	tk.rec.await(t, id)
	ch, content := requestFor("shutdown_request")
	tk.rec.await(t, tk.send(ch, "shutdown_request", content))

	tk.rec.mu.Lock()
	defer tk.rec.mu.Unlock()
	for _, s := range tk.rec.msgs {
		b, _ := json.Marshal(s.msg.Content)
		if strings.Contains(string(s.msg.Content), "TOKEN") || strings.Contains(string(b), "TOKEN") {
			t.Errorf("%s on %s bypassed the gate: %s", s.msg.Header.MsgType, s.ch, s.msg.Content)
		}
	}
	for _, want := range []string{"stream", "display_data", "update_display_data", "clear_output", "execute_result",
		"error", "user_expression", "inspect_reply", "complete_reply", "input_request"} {
		if !g.seen[want] {
			t.Errorf("the gate never saw %s", want)
		}
	}
}
