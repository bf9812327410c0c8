package rpc

import (
	"bytes"
	"io"
	"testing"
)

// FuzzRecv reads arbitrary bytes as a stream of frames: Recv must return
// messages or errors, never panic, and anything it decodes must survive a
// Send/Recv round trip unchanged in type and id.
func FuzzRecv(f *testing.F) {
	var seed bytes.Buffer
	c := NewConn(nil, &seed, nil)
	for _, m := range []*Msg{
		{Type: Execute, ID: 1, Exec: &ExecRequest{Code: "x := 1"}},
		{Type: Stream, ID: 2, Stream: &StreamChunk{Name: "stdout", Text: "hello\n"}},
		{Type: Interrupt, ID: 1},
	} {
		if err := c.Send(m); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(seed.Bytes())
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 5, 0, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := NewConn(bytes.NewReader(b), io.Discard, nil)
		for range 64 {
			m, err := c.Recv()
			if err != nil {
				if m != nil {
					t.Fatal("message and error both returned")
				}
				return // io.EOF or a clear error; the kernel drops the worker
			}
			var buf bytes.Buffer
			if err := NewConn(nil, &buf, nil).Send(m); err != nil {
				return // e.g. a stream chunk name too long to re-send
			}
			back, err := NewConn(&buf, nil, nil).Recv()
			if err != nil {
				t.Fatalf("re-decoding %+v: %v", m, err)
			}
			if back.Type != m.Type || back.ID != m.ID {
				t.Fatalf("round trip changed %s/%d into %s/%d", m.Type, m.ID, back.Type, back.ID)
			}
		}
	})
}
