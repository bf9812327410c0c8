package sandbox

import (
	"slices"
	"strings"
	"testing"

	"enclave/rpc"
)

func TestCompleteAndInspect(t *testing.T) {
	k := startWorker(t, Options{})
	for _, code := range []string{"import \"strings\"\ncohortSize := 12", "func summarize(n int) string { return \"\" }",
		"type Row struct{ Name string; Count int }\nvar best = Row{\"ldl\", 3}\nvar sb strings.Builder"} {
		if o := k.exec(code, rpc.ExecRequest{}); o.Err != nil {
			t.Fatalf("%s: %+v", code, o.Err)
		}
	}
	ask := func(typ rpc.Type, code string, cursor int) *rpc.Msg {
		t.Helper()
		k.nextID++
		if err := k.conn.Send(&rpc.Msg{Type: typ, ID: k.nextID, Query: &rpc.CodeQuery{Code: code, CursorPos: cursor}}); err != nil {
			t.Fatal(err)
		}
		for m := range k.events {
			if m.ID == k.nextID {
				return m
			}
		}
		t.Fatal("worker gone")
		return nil
	}
	completions := []struct {
		code       string
		cursor     int // -1: end
		want       []string
		notWant    []string
		start, end int
	}{
		{"strings.ToUp", -1, []string{"ToUpper", "ToUpperSpecial"}, nil, 8, 12},
		{"x := strings.Has", -1, []string{"HasPrefix", "HasSuffix"}, nil, 13, 16},
		{"coh", -1, []string{"cohortSize"}, nil, 0, 3},
		{"summ", -1, []string{"summarize"}, nil, 0, 4},
		{"fmt.Pri", -1, []string{"Print", "Printf", "Println"}, nil, 4, 7},
		{"time.Sl", -1, []string{"Sleep"}, nil, 5, 7},
		{"display.", -1, []string{"HTML", "Markdown", "New", "Clear"}, []string{"SetSink", "Sink", "_HTMLer"}, 8, 8},
		{"os.Ge", -1, nil, []string{"Getenv"}, 3, 5},
		{"fo", -1, []string{"for"}, nil, 0, 2},
		{"__enc", -1, nil, []string{"__enclave_result0"}, 0, 5},
		{"é := 1\nstrings.Fi", -1, []string{"Fields", "FieldsFunc"}, nil, 15, 17},
		{"strings.Fi + 1", 10, []string{"Fields"}, nil, 8, 10},
		{"best.Na", -1, []string{"Name"}, []string{"Count"}, 5, 7},
		{"sb.Wr", -1, []string{"WriteString", "WriteByte"}, nil, 3, 5},
		// A compiled type's unexported fields are not offered.
		{"sb.", -1, []string{"WriteString"}, []string{"buf", "addr"}, 3, 3},
	}
	for _, tc := range completions {
		cursor := tc.cursor
		if cursor < 0 {
			cursor = len([]rune(tc.code))
		}
		m := ask(rpc.Complete, tc.code, cursor)
		if m.Type != rpc.CompleteReply || m.Matches == nil {
			t.Fatalf("%q: reply %+v", tc.code, m)
		}
		for _, w := range tc.want {
			if !slices.Contains(m.Matches.Matches, w) {
				t.Errorf("complete %q: %q missing from %q", tc.code, w, m.Matches.Matches)
			}
		}
		for _, w := range tc.notWant {
			if slices.Contains(m.Matches.Matches, w) {
				t.Errorf("complete %q: %q offered", tc.code, w)
			}
		}
		if m.Matches.CursorStart != tc.start || m.Matches.CursorEnd != tc.end {
			t.Errorf("complete %q: cursor %d-%d, want %d-%d", tc.code, m.Matches.CursorStart, m.Matches.CursorEnd, tc.start, tc.end)
		}
	}
	inspections := []struct {
		code, want string
	}{
		{"strings.ToUpper", "func ToUpper(s string) string\n\nToUpper returns s with all Unicode letters mapped to their upper case."},
		{"cohortSize", "var cohortSize int (declared in this notebook)\n= 12"},
		{"best", "= {Name:\"ldl\" Count:3}"},
		{"summarize", "func summarize (declared in this notebook)"},
		{"fmt.Println", "supplied by the enclave worker"},
		{"strings.Builder", "type Builder struct"},
		{"math.Pi", "Pi"},
		{"display.New", "func New(b Bundle) *Handle"},
		{"sb.WriteString", "func (b *Builder) WriteString(s string) (int, error)"},
		{"time.AfterFunc", ""},
		{"strings", "func ToUpper(s string) string"},
		{"nothingHere", ""},
	}
	// A method by its type's name, as "omop.Events.Where?" asks (the
	// cursor at the end).
	for _, tc := range []struct{ code, want string }{
		{"strings.Builder.WriteString", "func (b *Builder) WriteString(s string) (int, error)"},
		{"display.Handle.Update", "func (h *Handle) Update("},
	} {
		m, got := ask(rpc.Inspect, tc.code, len(tc.code)), ""
		if m.Found != nil {
			got, _ = m.Found.Data["text/plain"].(string)
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("inspect %q = %q, want %q", tc.code, got, tc.want)
		}
	}
	for _, tc := range inspections {
		m := ask(rpc.Inspect, tc.code, 3)
		if m.Type != rpc.InspectReply || m.Found == nil {
			t.Fatalf("%q: reply %+v", tc.code, m)
		}
		got, _ := m.Found.Data["text/plain"].(string)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("inspect %q = %q, want %q", tc.code, got, tc.want)
		}
	}
}
