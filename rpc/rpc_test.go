package rpc

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	msgs := []*Msg{
		{Type: Execute, ID: 1, Exec: &ExecRequest{Code: "x := 1\nx", CellNumber: 3}},
		{Type: Stream, ID: 1, Stream: &StreamChunk{Name: "stdout", Text: "héllo\n"}},
		{Type: Stream, ID: 1<<40 + 7, Stream: &StreamChunk{Name: "stderr", Text: ""}},
		{Type: Stream, ID: 2, Stream: &StreamChunk{Name: "stdout", Text: "{\"t\":\"not json\"}\x00\xff"}},
		{Type: Display, ID: 1, Display: &DisplayData{Data: json.RawMessage(`{"text/html":"<b>1</b>","text/plain":"1"}`),
			Metadata: json.RawMessage(`{"isolated":true}`), DisplayID: "d", Update: true}},
		{Type: Error, ID: 1, Err: &ErrorInfo{Name: "panic", Value: "boom", Traceback: []string{"cell 3, line 2"}}},
		{Type: Done, ID: 1, Done: &DoneInfo{Status: "ok"}},
	}
	var buf bytes.Buffer
	c := NewConn(&buf, &buf, nil)
	for _, m := range msgs {
		if err := c.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range msgs {
		got, err := c.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if got.Type != want.Type || got.ID != want.ID {
			t.Fatalf("got %s/%d, want %s/%d", got.Type, got.ID, want.Type, want.ID)
		}
		if want.Stream != nil && (got.Stream == nil || *got.Stream != *want.Stream) {
			t.Fatalf("stream %+v, want %+v", got.Stream, want.Stream)
		}
		// A bundle arrives as the bytes the worker encoded ("<" unescaped).
		if w := want.Display; w != nil && (got.Display == nil || string(got.Display.Data) != string(w.Data) ||
			string(got.Display.Metadata) != string(w.Metadata) || got.Display.DisplayID != w.DisplayID || got.Display.Update != w.Update) {
			t.Fatalf("display %+v, want %+v", got.Display, w)
		}
	}
	if got, _ := c.Recv(); got != nil {
		t.Fatalf("extra frame %+v", got)
	}
	if _, err := c.Recv(); err != io.EOF {
		t.Fatalf("after last frame: err = %v, want io.EOF", err)
	}
}

func TestBadFrames(t *testing.T) {
	huge := make([]byte, 4)
	binary.BigEndian.PutUint32(huge, MaxFrame+1)
	short := []byte{0, 0, 0, 10, '{'}
	notJSON := append([]byte{0, 0, 0, 3}, "abc"...)
	cases := []struct {
		name  string
		in    []byte
		check func(error) bool
	}{
		{"oversized", huge, func(err error) bool { return errors.Is(err, ErrFrameTooLarge) }},
		{"truncated body", short, func(err error) bool { return err != nil && strings.Contains(err.Error(), "truncated") }},
		{"truncated header", []byte{0, 0}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "truncated") }},
		{"invalid json", notJSON, func(err error) bool { return err != nil && strings.Contains(err.Error(), "decode") }},
		{"short stream", []byte{0, 0, 0, 3, 0, 1, 2}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "short stream") }},
		{"stream name past end", []byte{0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 200}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "short stream") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewConn(bytes.NewReader(tc.in), io.Discard, nil)
			if _, err := c.Recv(); !tc.check(err) {
				t.Fatalf("Recv error = %v", err)
			}
		})
	}
}
