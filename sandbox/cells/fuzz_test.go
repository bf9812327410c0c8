package cells

import "testing"

// FuzzCell checks that no input makes Split or IsComplete panic: the kernel
// calls IsComplete on whatever a console sends.
func FuzzCell(f *testing.F) {
	for _, s := range []string{"x := 1", "func f() {", "import (\n\"fmt\"", "`raw", "/* c", "package main",
		"func (s T) M() {}", "go func() {}()", "a, b := 1, 2; a + b", "}{", "\"\\", "x := 1 +", "é := '\\xff'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		if c, err := Split(code); err == nil {
			for _, r := range c.Runs {
				if r.Line < 1 || r.Col < 1 {
					t.Errorf("run at %d:%d", r.Line, r.Col)
				}
			}
		}
		status, _ := IsComplete(code)
		if status != "complete" && status != "incomplete" && status != "invalid" {
			t.Errorf("status %q", status)
		}
	})
}
