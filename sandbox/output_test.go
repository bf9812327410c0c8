package sandbox

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"enclave/rpc"
)

// TestStreamChunks writes through streams and checks what the kernel
// would receive: order kept across stdout/stderr, no character split
// between chunks, chunks at most 64 KiB, the cap and its notice.
func TestStreamChunks(t *testing.T) {
	r, w := io.Pipe()
	kernel := rpc.NewConn(r, nil, nil)
	s := newStreams(rpc.NewConn(nil, w, nil), time.Hour)
	s.chunk = 64 << 10
	type chunk struct{ name, text string }
	got := make(chan []chunk)
	go func() {
		var cs []chunk
		for {
			m, err := kernel.Recv()
			if err != nil {
				got <- cs
				return
			}
			cs = append(cs, chunk{m.Stream.Name, m.Stream.Text})
		}
	}()
	s.start(1, 200_002)
	big := strings.Repeat("é", 70_000) // 140 000 bytes: chunk boundaries fall inside characters
	streamWriter{s, "stdout"}.Write([]byte("a"))
	streamWriter{s, "stderr"}.Write([]byte("b"))
	streamWriter{s, "stdout"}.Write([]byte(big))
	streamWriter{s, "stdout"}.Write(bytes.Repeat([]byte("z"), 59_998))
	streamWriter{s, "stdout"}.Write([]byte("éé")) // the cap falls after the first é
	streamWriter{s, "stdout"}.Write([]byte("dropped"))
	s.flush()
	w.Close()
	cs := <-got

	var out, errs strings.Builder
	for i, c := range cs {
		if !utf8.ValidString(c.text) {
			t.Errorf("chunk %d is not valid UTF-8 (a character was split)", i)
		}
		if len(c.text) > s.chunk {
			t.Errorf("chunk %d has %d bytes, more than %d", i, len(c.text), s.chunk)
		}
		if c.name == "stdout" {
			out.WriteString(c.text)
		} else {
			errs.WriteString(c.text)
		}
	}
	if cs[0] != (chunk{"stdout", "a"}) || cs[1] != (chunk{"stderr", "b"}) {
		t.Errorf("first chunks %q, want stdout a then stderr b", cs[:2])
	}
	wantOut := "a" + big + strings.Repeat("z", 59_998) + "é"
	if out.String() != wantOut {
		t.Errorf("stdout has %d bytes, want %d (cap 200000 less a and b)", out.Len(), len(wantOut))
	}
	if !strings.Contains(errs.String(), "output truncated: the cell wrote more than 200002 bytes") {
		t.Errorf("stderr %q lacks the truncation notice", errs.String())
	}
}
