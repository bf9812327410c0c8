package tables

import (
	"testing"

	"enclave/api/spec"
)

func TestTable(t *testing.T) {
	v := 1234.0
	tb := &spec.Table{
		Title:   "Counts",
		Columns: []string{"group", "persons"},
		Rows: [][]spec.Cell{
			{{Text: "  women "}, {Text: "1,234", Value: &v}},
			{{Text: "men"}, {Text: "≤20", Status: "suppressed"}},
		},
		Notes: []string{"≤20: fewer than 20 persons"},
	}
	if got := Text(tb, 1, 1); got != "≤20" {
		t.Errorf("Text(1,1) = %q", got)
	}
	for _, rc := range [][2]int{{-1, 0}, {2, 0}, {0, 2}, {0, -1}} {
		if got := Text(tb, rc[0], rc[1]); got != "" {
			t.Errorf("Text%v = %q, want empty", rc, got)
		}
		if _, ok := Value(tb, rc[0], rc[1]); ok {
			t.Errorf("Value%v ok out of range", rc)
		}
	}
	if got, ok := Value(tb, 0, 1); !ok || got != 1234 {
		t.Errorf("Value(0,1) = %v %v", got, ok)
	}
	if _, ok := Value(tb, 1, 1); ok {
		t.Error("a suppressed cell has a value")
	}
	if got, ok := Lookup(tb, "women", "persons"); !ok || got != 1234 {
		t.Errorf("Lookup(women) = %v %v", got, ok)
	}
	if _, ok := Lookup(tb, "women", "no such column"); ok {
		t.Error("Lookup of a missing column succeeded")
	}
	if _, ok := Lookup(tb, "children", "persons"); ok {
		t.Error("Lookup of a missing row succeeded")
	}
	want := "Counts\n" +
		"group     persons\n" +
		"  women   1,234  \n" +
		"men       ≤20    \n" +
		"  ≤20: fewer than 20 persons\n"
	if got := String(tb); got != want {
		t.Errorf("String:\n%s\nwant:\n%s", got, want)
	}
}
