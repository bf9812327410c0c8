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
	for _, view := range []bool{false, true} {
		roundTrip(t, msgs, view)
	}
}

// roundTrip sends msgs and checks what Recv (RecvView with view) returns,
// each message as soon as it is read.
func roundTrip(t *testing.T, msgs []*Msg, view bool) {
	t.Helper()
	var buf bytes.Buffer
	c := NewConn(&buf, &buf, nil)
	recv := c.Recv
	if view {
		recv = c.RecvView
	}
	for _, m := range msgs {
		if err := c.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range msgs {
		got, err := recv()
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
	if got, _ := recv(); got != nil {
		t.Fatalf("extra frame %+v", got)
	}
	if _, err := recv(); err != io.EOF {
		t.Fatalf("after last frame: err = %v, want io.EOF", err)
	}
}

// RecvView's stream text is the frame as read, large frames included;
// everything else it returns (a stream's name, other messages' fields)
// is the message's own and survives later reads.
func TestRecvView(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", (recvKeep+100)/16) // past the reused buffer
	roundTrip(t, []*Msg{
		{Type: Stream, ID: 3, Stream: &StreamChunk{Name: "stdout", Text: strings.Repeat("x", 70<<10)}},
		{Type: Stream, ID: 3, Stream: &StreamChunk{Name: "stderr", Text: big}},
		{Type: Stream, ID: 3, Stream: &StreamChunk{Name: "stdout", Text: "é"}},
	}, true)

	var buf bytes.Buffer
	c := NewConn(&buf, &buf, nil)
	c.Send(&Msg{Type: Stream, ID: 1, Stream: &StreamChunk{Name: "stdout", Text: "first"}})
	c.Send(&Msg{Type: Call, ID: 1, Call: &CallRequest{Method: "m", Args: json.RawMessage(`{"a":1}`)}})
	s, _ := c.RecvView()
	call, _ := c.RecvView()
	for i := range 3 {
		c.Send(&Msg{Type: Stream, ID: 2, Stream: &StreamChunk{Name: "stderr", Text: strings.Repeat("z", 10+i)}})
		c.Send(&Msg{Type: Call, ID: 2, Call: &CallRequest{Method: "zzzzzzzz", Args: json.RawMessage(`{"zzzzzzzzzz":2}`)}})
		c.RecvView()
		c.RecvView()
	}
	if s == nil || s.Stream.Name != "stdout" || call == nil || call.Call.Method != "m" || string(call.Call.Args) != `{"a":1}` {
		t.Fatalf("earlier messages changed: %+v %+v", s, call)
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

// SendStream writes the same frame as Send of the equivalent Msg, for text
// sent in one write and text written from where it lies.
func TestSendStreamSameFrame(t *testing.T) {
	for _, text := range []string{"", "héllo\n", strings.Repeat("x\xff\"\n", smallStream/4+1)} {
		var viaMsg, viaBytes bytes.Buffer
		if err := NewConn(nil, &viaMsg, nil).Send(&Msg{Type: Stream, ID: 9, Stream: &StreamChunk{Name: "stderr", Text: text}}); err != nil {
			t.Fatal(err)
		}
		if err := NewConn(nil, &viaBytes, nil).SendStream(9, "stderr", []byte(text)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(viaMsg.Bytes(), viaBytes.Bytes()) {
			t.Fatalf("%d-byte text: SendStream wrote a different frame than Send", len(text))
		}
		got, err := NewConn(&viaBytes, nil, nil).Recv()
		if err != nil || got.Type != Stream || got.ID != 9 || got.Stream.Name != "stderr" || got.Stream.Text != text {
			t.Fatalf("%d-byte text: read back %+v, %v", len(text), got, err)
		}
	}
	if err := NewConn(nil, io.Discard, nil).SendStream(1, strings.Repeat("n", 256), nil); err == nil {
		t.Fatal("a 256-byte stream name was sent")
	}
}

// A message Recv returned stays intact when later frames are read (Recv
// reuses its frame buffer).
func TestRecvKeepsEarlierMessages(t *testing.T) {
	var buf bytes.Buffer
	c := NewConn(&buf, &buf, nil)
	first := []*Msg{
		{Type: Display, ID: 1, Display: &DisplayData{Data: json.RawMessage(`{"text/plain":"first"}`), DisplayID: "a"}},
		{Type: Stream, ID: 1, Stream: &StreamChunk{Name: "stdout", Text: "first text"}},
		{Type: Call, ID: 1, Call: &CallRequest{Method: "m", Args: json.RawMessage(`{"a":1}`)}},
	}
	for _, m := range first {
		if err := c.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	var got []*Msg
	for range first {
		m, err := c.Recv()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	for i := range 3 {
		c.Send(&Msg{Type: Display, ID: 2, Display: &DisplayData{Data: json.RawMessage(`{"text/plain":"zzzzzzzzzzzzzzzzzzzzzz"}`), DisplayID: "zzzzzz"}})
		c.Send(&Msg{Type: Stream, ID: 2, Stream: &StreamChunk{Name: "stderr", Text: strings.Repeat("z", 10+i)}})
		c.Recv()
		c.Recv()
	}
	if string(got[0].Display.Data) != `{"text/plain":"first"}` || got[0].Display.DisplayID != "a" ||
		got[1].Stream.Text != "first text" || string(got[2].Call.Args) != `{"a":1}` {
		t.Fatalf("earlier messages changed: %+v %+v %+v", got[0].Display, got[1].Stream, got[2].Call)
	}
}
