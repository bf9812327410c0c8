package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"enclave/kernel"
	"enclave/kernel/wire"
	"enclave/rpc"
)

// iopubTap is a kernel Sender that keeps no message: it notes the size of
// the large outputs, checks their content, samples the heap while the
// content is alive, and signals the execute_reply.
type iopubTap struct {
	mu      sync.Mutex
	shown   map[string]int // msg_type → content bytes, for display_data and execute_result
	bad     []string
	replied chan struct{}
	peak    *atomic.Uint64
}

func (s *iopubTap) Send(ch wire.Channel, m *wire.Message) error {
	switch m.Header.MsgType {
	case "execute_reply":
		s.replied <- struct{}{}
	case "display_data", "execute_result":
		notePeak(s.peak)
		s.mu.Lock()
		s.shown[m.Header.MsgType] = len(m.Content)
		// Valid JSON, spliced around the bundle; json.Valid allocates nothing.
		if !json.Valid(m.Content) || !bytes.HasPrefix(m.Content, []byte(`{"data":{"text/html":"xxxx`)) {
			s.bad = append(s.bad, m.Header.MsgType+": "+string(m.Content[:min(len(m.Content), 80)]))
		}
		s.mu.Unlock()
	}
	return nil
}

// notePeak raises peak to the heap in use now, if higher.
func notePeak(peak *atomic.Uint64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for {
		p := peak.Load()
		if ms.HeapAlloc <= p || peak.CompareAndSwap(p, ms.HeapAlloc) {
			return
		}
	}
}

// TestLargeDisplayMemory sends a 50 MB display, and a 50 MB result, from the
// worker through the kernel (rpc frame, executor, cell sink, gate, iopub)
// and checks the kernel's heap grows by less than 4× the payload: the
// bundle passes through as raw JSON, never as a tree of Go values.
func TestLargeDisplayMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 100 MB through a pipe")
	}
	const payload = 50 << 20
	var peak atomic.Uint64
	tap := &iopubTap{shown: map[string]int{}, replied: make(chan struct{}, 1), peak: &peak}
	k := kernel.New(kernel.Config{Executor: newExecutor(t), Log: log.New(io.Discard, "", 0), OutputCap: 4 * payload}, tap)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go k.Run(ctx)
	execute := func(code string) {
		t.Helper()
		content, _ := json.Marshal(map[string]any{"code": code, "silent": false})
		h := wire.NewHeader("execute_request", "client")
		raw, _ := json.Marshal(h)
		k.Deliver(wire.Shell, &wire.Message{Identities: [][]byte{[]byte("id")}, Header: h, RawHeader: raw,
			Parent: json.RawMessage("{}"), Metadata: json.RawMessage("{}"), Content: content})
		select {
		case <-tap.replied:
		case <-time.After(time.Minute):
			t.Fatalf("no execute_reply for %q", code)
		}
	}
	execute("print warm up") // the worker is started and the paths are warm

	for _, tc := range []struct{ cmd, msgType string }{
		{"bigdisplay", "display_data"},
		{"bigresult", "execute_result"},
	} {
		t.Run(tc.msgType, func(t *testing.T) {
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			peak.Store(before.HeapAlloc)
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() { // the heap's high-water mark, sampled
				defer close(sampled)
				for {
					select {
					case <-stop:
						return
					default:
					}
					notePeak(&peak)
					time.Sleep(time.Millisecond)
				}
			}()
			execute(tc.cmd + " " + strconv.Itoa(payload))
			close(stop)
			<-sampled
			var after runtime.MemStats
			runtime.ReadMemStats(&after)

			tap.mu.Lock()
			n, bad := tap.shown[tc.msgType], tap.bad
			tap.mu.Unlock()
			if n < payload || len(bad) > 0 {
				t.Fatalf("%s of %d bytes, want over %d; malformed: %q", tc.msgType, n, payload, bad)
			}
			growth := int64(peak.Load()) - int64(before.HeapAlloc)
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("%s: peak heap growth %.1f MB (%.2f× the payload), %.1f MB allocated",
				tc.msgType, float64(growth)/(1<<20), float64(growth)/payload, float64(allocated)/(1<<20))
			if growth > 4*payload {
				t.Errorf("peak heap grew by %d bytes for a %d-byte %s, over 4× the payload", growth, payload, tc.msgType)
			}
		})
	}
}

// TestVetBundle checks what the kernel accepts as a raw bundle from the
// worker, which it passes on without decoding.
func TestVetBundle(t *testing.T) {
	cases := []struct {
		name, data string
		want       string // "" for none
		err        bool
	}{
		{"object", `{"text/plain":"a"}`, `{"text/plain":"a"}`, false},
		{"absent", ``, ``, false},
		{"null", `null`, ``, false},
		{"string", `"<script>"`, ``, true},
		{"array", `[1]`, ``, true},
		{"invalid UTF-8 is replaced", "{\"text/plain\":\"a\xffb\"}", `{"text/plain":"a` + "\uFFFD" + `b"}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, _, err := vetBundle(&rpc.DisplayData{Data: json.RawMessage(tc.data)})
			if (err != nil) != tc.err || string(data) != tc.want {
				t.Fatalf("vetBundle(%q) = %q, %v; want %q, error %v", tc.data, data, err, tc.want, tc.err)
			}
			if data != nil && !json.Valid(data) {
				t.Fatalf("vetted bundle %q is not JSON", data)
			}
		})
	}
}

func TestClearOutput(t *testing.T) {
	cases := []struct {
		data, meta  string
		clear, wait bool
	}{
		{`{}`, `{"clear_output":{"wait":true}}`, true, true},
		{``, `{"clear_output":{"wait":false}}`, true, false},
		{`{ }`, `{"clear_output":true}`, true, true},
		{`{}`, `{"clear_output":{"wait":"yes"}}`, true, false},
		{`{"text/plain":"x"}`, `{"clear_output":{"wait":true}}`, false, false},
		{`{}`, `{"other":1}`, false, false},
		{`{}`, ``, false, false},
	}
	for _, tc := range cases {
		d := &rpc.DisplayData{Data: json.RawMessage(tc.data), Metadata: json.RawMessage(tc.meta)}
		if got := isClear(d); got != tc.clear {
			t.Errorf("isClear(%s, %s) = %v", tc.data, tc.meta, got)
		}
		if got := tc.clear && clearWait(d); got != tc.wait {
			t.Errorf("clearWait(%s) = %v", tc.meta, got)
		}
	}
}
