package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"enclave/rpc"
)

// TestCells runs the notebooks in testdata/cells/*.cell, each in a fresh
// worker, cell after cell, checking what each cell produced. A file is a
// sequence of cells separated by "// ====" lines; a cell is its code
// followed by expectation sections, each a comment line naming it and the
// comment lines after it:
//
//	// Output:     the exact stdout, less a final newline (Stdout: too)
//	// Stderr:     the exact stderr, less a final newline
//	// Result: X   the result's text/plain is X ("none": no result)
//	// Error: X    the cell fails and "ename: evalue" contains X
//	// Traceback:  each following line appears in the traceback
//	// Display: M X  some display_data has MIME type M with content X
//	// Update: M X   some update_display_data has M = X
//	// Input: X    the frontend answers input requests with X (one per line)
//	// Options: maxoutput=N nostdin interrupt=DURATION wait=DURATION
//
// A cell without Error must succeed.
func TestCells(t *testing.T) {
	files, err := filepath.Glob("testdata/cells/*.cell")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata cells: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".cell"), func(t *testing.T) {
			// Not parallel: enclave/display has one sink per process.
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			k := startWorker(t, Options{})
			for i, c := range parseCells(t, string(data)) {
				c.check(t, f, i+1, k)
			}
		})
	}
}

type section struct {
	name, arg string
	lines     []string
}

type testCell struct {
	code     string
	line     int // first line in the file
	sections []section
}

var sectionRE = regexp.MustCompile(`^// (Output|Stdout|Stderr|Result|Error|Traceback|Display|Update|Input|Options):\s?(.*)$`)

func parseCells(t *testing.T, text string) []testCell {
	var out []testCell
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	cur := testCell{line: 1}
	inSections := false
	var code []string
	end := func(next int) {
		cur.code = strings.Join(code, "\n")
		if strings.TrimSpace(cur.code) != "" || len(cur.sections) > 0 {
			out = append(out, cur)
		}
		cur, code, inSections = testCell{line: next}, nil, false
	}
	for i, l := range lines {
		if l == "// ====" {
			end(i + 2)
			continue
		}
		if m := sectionRE.FindStringSubmatch(l); m != nil {
			// Options and Input may come before the code.
			inSections = inSections || (m[1] != "Options" && m[1] != "Input")
			cur.sections = append(cur.sections, section{name: m[1], arg: m[2]})
			continue
		}
		if inSections {
			if !strings.HasPrefix(l, "//") {
				t.Fatalf("line %d: code after expectations; separate cells with // ====", i+1)
			}
			s := &cur.sections[len(cur.sections)-1]
			s.lines = append(s.lines, strings.TrimPrefix(strings.TrimPrefix(l, "//"), " "))
			continue
		}
		code = append(code, l)
	}
	end(len(lines) + 1)
	return out
}

func (s section) text() string {
	if s.arg != "" && len(s.lines) == 0 {
		return s.arg
	}
	t := strings.Join(s.lines, "\n")
	if s.arg != "" {
		t = s.arg + "\n" + t
	}
	return t
}

func (c testCell) check(t *testing.T, file string, n int, k *kernelSide) {
	t.Helper()
	where := fmt.Sprintf("%s:%d (cell %d)", file, c.line, n)
	req := rpc.ExecRequest{AllowStdin: true, CellNumber: n}
	var inputs []string
	var interrupt time.Duration
	for _, s := range c.sections {
		switch s.name {
		case "Input":
			inputs = append(inputs, strings.Split(s.text(), "\n")...)
		case "Options":
			for _, o := range strings.Fields(s.arg) {
				key, val, _ := strings.Cut(o, "=")
				switch key {
				case "maxoutput":
					req.MaxOutput, _ = strconv.ParseInt(val, 10, 64)
				case "nostdin":
					req.AllowStdin = false
				case "interrupt":
					interrupt, _ = time.ParseDuration(val)
				case "wait": // before sending the cell, with no cell running
					d, _ := time.ParseDuration(val)
					time.Sleep(d)
				default:
					t.Fatalf("%s: unknown option %q", where, o)
				}
			}
		}
	}
	k.input = func(string) string {
		if len(inputs) == 0 {
			return ""
		}
		l := inputs[0]
		inputs = inputs[1:]
		return l
	}
	k.nextID++
	id := k.nextID
	req.Code = c.code
	if err := k.conn.Send(&rpc.Msg{Type: rpc.Execute, ID: id, Exec: &req}); err != nil {
		t.Fatal(err)
	}
	if interrupt > 0 {
		time.AfterFunc(interrupt, func() { k.conn.Send(&rpc.Msg{Type: rpc.Interrupt, ID: id}) })
	}
	o := k.collect(id, 30*time.Second)
	errText := ""
	if o.Err != nil {
		errText = o.Err.Name + ": " + o.Err.Value
	}
	wantErr := false
	for _, s := range c.sections {
		switch s.name {
		case "Output", "Stdout":
			if strings.TrimSuffix(o.Stdout, "\n") != s.text() {
				t.Errorf("%s: stdout\n got %q\nwant %q", where, o.Stdout, s.text())
			}
		case "Stderr":
			if strings.TrimSuffix(o.Stderr, "\n") != s.text() {
				t.Errorf("%s: stderr\n got %q\nwant %q", where, o.Stderr, s.text())
			}
		case "Result":
			want := s.text()
			if want == "none" {
				if len(o.Results) != 0 {
					t.Errorf("%s: result %v, want none", where, o.Results)
				}
				continue
			}
			if len(o.Results) != 1 {
				t.Errorf("%s: %d results, want 1 (%q); error %s", where, len(o.Results), want, errText)
				continue
			}
			if got, _ := o.Results[0]["text/plain"].(string); got != want {
				t.Errorf("%s: result\n got %q\nwant %q", where, got, want)
			}
		case "Error":
			wantErr = true
			if o.Err == nil || !strings.Contains(errText, s.text()) {
				t.Errorf("%s: error %q, want it to contain %q", where, errText, s.text())
			}
			if o.Status != "error" {
				t.Errorf("%s: status %q, want error", where, o.Status)
			}
		case "Traceback":
			tb := ""
			if o.Err != nil {
				tb = strings.Join(o.Err.Traceback, "\n")
			}
			for _, l := range s.lines {
				if !strings.Contains(tb, l) {
					t.Errorf("%s: traceback lacks %q:\n%s", where, l, tb)
				}
			}
		case "Display", "Update":
			mime, want, _ := strings.Cut(s.text(), " ")
			found := false
			for _, d := range o.Displays {
				if d.Update == (s.name == "Update") && fmt.Sprint(d.Bundle[mime]) == want {
					found = true
				}
			}
			if !found {
				var got []string
				for _, d := range o.Displays {
					got = append(got, fmt.Sprintf("update=%v id=%q %v", d.Update, d.DisplayID, d.Bundle))
				}
				t.Errorf("%s: no %s with %s = %q among %q", where, strings.ToLower(s.name), mime, want, got)
			}
		}
	}
	if !wantErr && o.Err != nil {
		t.Errorf("%s: unexpected error %s\n%s", where, errText, strings.Join(o.Err.Traceback, "\n"))
	}
}
