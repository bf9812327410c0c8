package launch

import (
	"strings"
	"testing"
)

// TestOutputKeepsHeadAndTail: a crash report whose first line names the
// crash and whose goroutine dump runs on for megabytes keeps both ends.
func TestOutputKeepsHeadAndTail(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   []string // substrings, in order
		not    []string
	}{
		{"short", []string{"panic: boom\n", "goroutine 1 [running]:\n"},
			[]string{"panic: boom\ngoroutine 1 [running]:\n"}, []string{"…"}},
		{"stack overflow with a long dump",
			[]string{"runtime: goroutine stack exceeds 268435456-byte limit\n", "fatal error: stack overflow\n\n",
				strings.Repeat("interp.runCfg(...)\n", 100000), "exit trail\n"},
			[]string{"fatal error: stack overflow", "\n…\n", "exit trail\n"}, nil},
		{"one huge write", []string{"fatal error: x\n" + strings.Repeat("y", 1<<20) + "END"},
			[]string{"fatal error: x", "\n…\n", "yyyEND"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOutputBuffer(4<<10, 12<<10)
			for _, w := range tt.writes {
				if n, err := o.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			got := o.String()
			if len(got) > 16<<10+8 {
				t.Errorf("kept %d bytes, want at most 16 KiB", len(got))
			}
			at := 0
			for _, w := range tt.want {
				i := strings.Index(got[at:], w)
				if i < 0 {
					t.Fatalf("output lacks %q after byte %d:\n%.300s…", w, at, got[at:])
				}
				at += i + len(w)
			}
			for _, w := range tt.not {
				if strings.Contains(got, w) {
					t.Errorf("output has %q", w)
				}
			}
		})
	}
}
