package kernel

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"enclave/kernel/wire"
)

// eventsFunc is an executor whose every cell calls it.
type eventsFunc func(ev Events)

func (f eventsFunc) Execute(_ context.Context, _ *Cell, ev Events) *CellError { f(ev); return nil }
func (f eventsFunc) Close() error                                             { return nil }

// TestRawBundles checks that a bundle the worker encoded is spliced into
// display_data, update_display_data and execute_result exactly as the
// kernel encodes the same bundle built as a map, and that its
// execute_result text reaches the history.
func TestRawBundles(t *testing.T) {
	const bundle = `{"text/html":"<b>x & y</b>","text/plain":"x \"y\""}`
	id := "d\"1\\\u2028" // a display id that needs escaping
	var fromMap map[string]any
	json.Unmarshal([]byte(bundle), &fromMap)
	var cell func(ev Events)
	tk := newTestKernel(t, func(c *Config) { c.Executor = eventsFunc(func(ev Events) { cell(ev) }) })
	run := func(f func(ev Events)) []*wire.Message {
		t.Helper()
		cell = f
		_, iopub := tk.run("cell")
		var outs []*wire.Message
		for _, m := range iopub {
			if m.Header.MsgType != "status" && m.Header.MsgType != "execute_input" {
				outs = append(outs, m)
			}
		}
		return outs
	}
	raw := run(func(ev Events) {
		ev.Display(&Display{Raw: json.RawMessage(bundle), DisplayID: id})
		ev.Display(&Display{Raw: json.RawMessage(bundle), RawMetadata: json.RawMessage(`{"isolated":true}`), DisplayID: id, Update: true})
		ev.Display(&Display{Raw: json.RawMessage(`{}`)})
		ev.RawResult(json.RawMessage(bundle), nil)
	})
	mapped := run(func(ev Events) {
		ev.Display(&Display{Data: fromMap, DisplayID: id})
		ev.Display(&Display{Data: fromMap, Metadata: map[string]any{"isolated": true}, DisplayID: id, Update: true})
		ev.Display(&Display{})
		ev.Result(fromMap, nil)
	})
	if types(raw) != "display_data update_display_data display_data execute_result" || types(mapped) != types(raw) {
		t.Fatalf("raw bundles published %q, maps %q", types(raw), types(mapped))
	}
	for i := range raw {
		r, m := string(raw[i].Content), string(mapped[i].Content)
		// The execution counts differ (cells 1 and 2); the rest must not.
		m = strings.Replace(m, `"execution_count":2,`, `"execution_count":1,`, 1)
		if r != m {
			t.Errorf("%s:\nraw %s\nmap %s", raw[i].Header.MsgType, r, m)
		}
		if !json.Valid(raw[i].Content) {
			t.Errorf("%s content is not JSON: %s", raw[i].Header.MsgType, r)
		}
	}
	h, _ := tk.call(wire.Shell, "history_request", map[string]any{"hist_access_type": "tail", "n": 10, "output": true, "raw": true})
	if e := h["history"].([]any)[0].([]any); e[2].([]any)[1] != `x "y"` {
		t.Errorf("history entry %v, want the result's text/plain", e)
	}
}

// TestRawBundleNotAnObject checks that a raw bundle that is not a JSON
// object, or an empty result, publishes nothing.
func TestRawBundleNotAnObject(t *testing.T) {
	tk := newTestKernel(t, func(c *Config) {
		c.Executor = eventsFunc(func(ev Events) {
			ev.Display(&Display{Raw: json.RawMessage(`"text"`)})
			ev.Display(&Display{Raw: json.RawMessage(`{}`), RawMetadata: json.RawMessage(`[1]`)})
			ev.RawResult(json.RawMessage(`[1]`), nil)
			ev.RawResult(json.RawMessage(` { } `), nil)
			ev.RawResult(nil, nil)
		})
	})
	if _, iopub := tk.run("cell"); types(iopub) != "status execute_input status" {
		t.Errorf("published %s", types(iopub))
	}
}
