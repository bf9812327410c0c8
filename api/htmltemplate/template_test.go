package template

import (
	"strings"
	"testing"
)

func TestTemplate(t *testing.T) {
	tm := Must(New("t").Funcs(FuncMap{"up": strings.ToUpper}).Parse(`{{define "x"}}[{{.}}]{{end}}{{up .}}{{template "x" .}}`))
	var b strings.Builder
	if err := tm.Execute(&b, "a<b"); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "A&lt;B[a&lt;b]" {
		t.Errorf("Execute = %q, want %q", got, "A&lt;B[a&lt;b]")
	}
	if tm.Lookup("x") == nil || tm.Lookup("nope") != nil {
		t.Error("Lookup")
	}
	if _, err := New("bad").Parse("{{"); err == nil {
		t.Error("Parse accepted a broken template")
	}
	// html/template refuses to clone a template that has run.
	if _, err := tm.Clone(); err == nil {
		t.Error("Clone after Execute succeeded")
	}
}
