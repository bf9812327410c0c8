package sandbox

import (
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"testing"

	"enclave/rpc"
	"enclave/sandbox/cells"
)

// TestNoPanicOnOddInput feeds the splitter, is_complete, completion and
// inspection with fragments of Go and noise at every cursor position:
// none may panic (a panic there would end the worker, or the kernel).
func TestNoPanicOnOddInput(t *testing.T) {
	pieces := []string{"func", "(", ")", "{", "}", "[", "]", "\"", "`", "'", "/*", "*/", "//", "\n", " ", ".",
		"strings", "fmt.", "import", "\"os\"", "x", ":=", "é", "\x00", "\xff", "package", "go", "type", ";", "main", "0x", "1e"}
	r := rand.New(rand.NewPCG(1, 2))
	w := &Worker{names: newNames(), imported: map[string]string{"strings": "strings"}}
	for i := 0; i < 3000; i++ {
		var b strings.Builder
		for n := r.IntN(12); n >= 0; n-- {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		code := b.String()
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("panic on %q: %v\n%s", code, p, debug.Stack())
				}
			}()
			cells.Split(code)
			cells.IsComplete(code)
			for c := -1; c <= len([]rune(code))+1; c++ {
				w.complete(&rpc.CodeQuery{Code: code, CursorPos: c})
				w.inspect(&rpc.CodeQuery{Code: code, CursorPos: c})
			}
			w.resultMode(code)
			w.allKnown(code)
			guardGoroutines(cells.Run{Kind: cells.Stmt, Text: code, Line: 1, Col: 1}, firstBase)
		}()
	}
}
