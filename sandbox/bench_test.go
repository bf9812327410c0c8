package sandbox

import (
	"io"
	"testing"

	"enclave/rpc"
)

// BenchmarkTrivialCell is the round trip of a cell that computes 1+1,
// through Serve and the rpc framing (no process boundary).
func BenchmarkTrivialCell(b *testing.B) {
	k := startWorker(b, Options{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if o := k.exec("1 + 1", rpc.ExecRequest{}); len(o.Results) != 1 {
			b.Fatalf("no result: %+v", o)
		}
	}
}

// BenchmarkPrint8MB prints 8 MB in 100-byte lines and reports MB/s
// through Serve: the interpreter's loop and fmt calls dominate.
func BenchmarkPrint8MB(b *testing.B) {
	benchPrint(b, "import \"strings\"\nimport \"fmt\"\nline := strings.Repeat(\"x\", 99)\nfor i := 0; i < 80000; i++ {\n\tfmt.Println(line)\n}")
}

// BenchmarkPrint8MBChunks prints 8 MB in 8000-byte chunks: the cost of the
// stream path itself (buffering, framing, JSON).
func BenchmarkPrint8MBChunks(b *testing.B) {
	benchPrint(b, "import \"strings\"\nimport \"fmt\"\nchunk := strings.Repeat(\"x\", 7999)\nfor i := 0; i < 1000; i++ {\n\tfmt.Println(chunk)\n}")
}

func benchPrint(b *testing.B, code string) {
	k := startWorker(b, Options{})
	b.SetBytes(8_000_000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o := k.exec(code, rpc.ExecRequest{MaxOutput: 64 << 20})
		if len(o.Stdout) != 8_000_000 {
			b.Fatalf("got %d bytes, %v", len(o.Stdout), o.Err)
		}
	}
}

// BenchmarkStartup is the cost of a worker's interpreter, from nothing to
// Ready.
func BenchmarkStartup(b *testing.B) {
	for i := 0; i < b.N; i++ {
		r, w := io.Pipe()
		go io.Copy(io.Discard, r)
		if _, err := New(rpc.NewConn(nil, w, nil), Options{}); err != nil {
			b.Fatal(err)
		}
		w.Close()
	}
}
