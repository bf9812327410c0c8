package rpc

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"
)

// TestEveryPayloadIsChecked sets each payload field of Msg alone and
// requires payloads to see it under its JSON key, and every key to be the
// payload of some Type: a field added to Msg without a case in payloads
// and payloadOf fails here instead of being dropped or ignored.
func TestEveryPayloadIsChecked(t *testing.T) {
	used := map[string]bool{}
	for _, p := range payloadOf {
		used[p] = true
	}
	rt := reflect.TypeOf(Msg{})
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		if f.Name == "Type" || f.Name == "ID" {
			continue
		}
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		var m Msg
		v := reflect.ValueOf(&m).Elem().Field(i)
		switch f.Type.Kind() {
		case reflect.Pointer:
			v.Set(reflect.New(f.Type.Elem()))
		case reflect.String:
			v.SetString("x")
		default:
			t.Fatalf("Msg.%s: a payload must be a pointer (or Text), not %s", f.Name, f.Type)
		}
		if n, got := m.payloads(); n != 1 || got != key {
			t.Errorf("Msg.%s set alone: payloads() = %d, %q; want 1, %q", f.Name, n, got, key)
		}
		if !used[key] {
			t.Errorf("Msg.%s (%q) is the payload of no Type in payloadOf", f.Name, key)
		}
		delete(used, key)
	}
	delete(used, "")
	for key := range used {
		t.Errorf("payloadOf names %q, which is no field of Msg", key)
	}
}

// TestPayloadMismatch: Send refuses, and Recv rejects, a message whose
// payloads differ from what its Type carries; matching ones pass.
func TestPayloadMismatch(t *testing.T) {
	bad := []*Msg{
		{Type: Done, ID: 1},
		{Type: Done, ID: 1, Done: &DoneInfo{Status: "ok"}, Err: &ErrorInfo{Name: "x"}},
		{Type: Interrupt, ID: 1, Exec: &ExecRequest{Code: "x"}},
		{Type: Stream, ID: 1, Stream: &StreamChunk{Name: "stdout"}, Text: "extra"},
		{Type: "no such type", ID: 1},
		{Type: Display, ID: 1, Done: &DoneInfo{}},
	}
	for _, m := range bad {
		if err := NewConn(nil, io.Discard, nil).Send(m); err == nil {
			t.Errorf("Send(%+v) = nil, want an error", m)
		}
	}
	frames := []string{
		`{"t":"done","id":1}`,
		`{"t":"done","id":1,"done":{"status":"ok"},"err":{"ename":"x"}}`,
		`{"t":"interrupt","id":1,"exec":{"code":"x"}}`,
		`{"t":"stream","id":1,"stream":{"name":"stdout","text":"a"},"text":"extra"}`,
		`{"t":"nonsense"}`,
		`{}`,
	}
	for _, f := range frames {
		var buf bytes.Buffer
		buf.Write([]byte{0, 0, 0, byte(len(f))})
		buf.WriteString(f)
		if m, err := NewConn(&buf, nil, nil).Recv(); err == nil {
			t.Errorf("Recv(%s) = %+v, want an error", f, m)
		}
	}
	good := []*Msg{
		{Type: Interrupt, ID: 1},
		{Type: Shutdown},
		{Type: InputReply, ID: 2},
		{Type: InputReply, ID: 2, Text: "yes"},
		{Type: InputReply, ID: 2, Reply: &CallResult{Error: "no input while the output is held"}},
		{Type: Result, ID: 3, Display: &DisplayData{Data: []byte(`{}`)}},
	}
	var buf bytes.Buffer
	c := NewConn(&buf, &buf, nil)
	for _, m := range good {
		if err := c.Send(m); err != nil {
			t.Fatalf("Send(%+v): %v", m, err)
		}
		if _, err := c.Recv(); err != nil {
			t.Fatalf("Recv of %+v: %v", m, err)
		}
	}
}
