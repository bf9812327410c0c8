package kernel

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"enclave/kernel/wire"
)

func TestServedMagicsRunAndComplete(t *testing.T) {
	var got []MagicCall
	names := []string{"measurement", "measurement_date", "person"}
	tk := newTestKernel(t, func(c *Config) {
		c.Magics = map[string]Magic{"sql": {
			Run: func(ctx context.Context, m MagicCall) *CellError {
				got = append(got, m)
				m.Out.Stream("stdout", "ran "+m.Args+"|"+m.Body)
				return nil
			},
			Complete: func(word string) []string {
				var out []string
				for _, n := range names {
					if strings.HasPrefix(n, word) {
						out = append(out, n)
					}
				}
				return out
			},
		}}
	})
	c, _ := tk.run("%sql SELECT 1\nout after")
	if c["status"] != "ok" || len(got) != 1 || got[0].Args != "SELECT 1" || got[0].Body != "" {
		t.Fatalf("line magic: %v %+v", c, got)
	}
	if cells := tk.exec.cells; len(cells) != 1 || cells[0] != "out after" {
		t.Errorf("Go after a line magic: %q", cells)
	}
	c, _ = tk.run("%%sql\nSELECT 2\nFROM person")
	if c["status"] != "ok" || len(got) != 2 || got[1].Body != "SELECT 2\nFROM person" {
		t.Fatalf("cell magic: %v %+v", c, got)
	}
	if len(tk.exec.cells) != 1 {
		t.Errorf("a cell magic's body ran as Go: %q", tk.exec.cells)
	}
	c, _ = tk.run("%%workspace\n")
	if c["ename"] != "UnknownMagic" || !strings.Contains(c["evalue"].(string), "%sql") {
		t.Errorf("built-in line magics are not cell magics: %v", c)
	}
	for _, tc := range []struct {
		code       string
		want       []string
		start, end int
	}{
		{"%sql SELECT * FROM meas", []string{"measurement", "measurement_date"}, 19, 23},
		{"%sql SELECT m.measurement_d FROM measurement m", []string{"measurement_date"}, 14, 27},
		{"%%sql\nSELECT * FROM pers", []string{"person"}, 20, 24},
	} {
		c, _ := tk.call(wire.Shell, "complete_request", map[string]any{"code": tc.code, "cursor_pos": tc.end})
		var m []string
		for _, x := range c["matches"].([]any) {
			m = append(m, x.(string))
		}
		if !reflect.DeepEqual(m, tc.want) || int(c["cursor_start"].(float64)) != tc.start {
			t.Errorf("%q: %v from %v, want %v from %d", tc.code, m, c["cursor_start"], tc.want, tc.start)
		}
	}
}
