package cells

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	type run struct {
		kind      Kind
		text      string
		line, col int
	}
	cases := []struct {
		name    string
		code    string
		runs    []run
		imports []string
	}{
		{"expression", "1 + 2", []run{{Expr, "1 + 2", 1, 1}}, nil},
		{"statements then result", "z := 6\nz * 7", []run{{Stmt, "z := 6", 1, 1}, {Expr, "z * 7", 2, 1}}, nil},
		{"import hoisted, decl, stmt, expr",
			"x := 1\nimport \"fmt\"\nfunc f() int { return x }\nfmt.Println(f())\nf()",
			[]run{{Import, `import "fmt"`, 2, 1}, {Stmt, "x := 1", 1, 1}, {Decl, "func f() int { return x }", 3, 1},
				{Stmt, "fmt.Println(f())", 4, 1}, {Expr, "f()", 5, 1}},
			[]string{"fmt"}},
		{"grouped import with names",
			"import (\n\tstr \"strings\"\n\t_ \"math\"\n)\nstr.ToUpper(\"a\")",
			[]run{{Import, "import (\n\tstr \"strings\"\n\t_ \"math\"\n)", 1, 1}, {Expr, "str.ToUpper(\"a\")", 5, 1}},
			[]string{"str=strings", "_=math"}},
		{"consecutive decls are one run",
			"type T struct{ A int }\n\nfunc (t T) Double() int { return 2 * t.A }\nconst k = 3",
			[]run{{Decl, "type T struct{ A int }\n\nfunc (t T) Double() int { return 2 * t.A }\nconst k = 3", 1, 1}}, nil},
		{"func literal call is a statement", "func() { x = 2 }()", []run{{Expr, "func() { x = 2 }()", 1, 1}}, nil},
		{"func literal with result type", "f := func(a int) int { return a }\nf(2)",
			[]run{{Stmt, "f := func(a int) int { return a }", 1, 1}, {Expr, "f(2)", 2, 1}}, nil},
		{"generic method decl", "func (s Set[K]) Has(k K) bool { return s[k] }",
			[]run{{Decl, "func (s Set[K]) Has(k K) bool { return s[k] }", 1, 1}}, nil},
		{"multi-line statement keeps position", "\n\n  for i := 0; i < 3; i++ {\n\t\tx += i\n\t}",
			[]run{{Stmt, "for i := 0; i < 3; i++ {\n\t\tx += i\n\t}", 3, 3}}, nil},
		{"semicolons on one line", "a := 1; b := 2; a + b",
			[]run{{Stmt, "a := 1; b := 2", 1, 1}, {Expr, "a + b", 1, 17}}, nil},
		{"comments only", "// nothing\n/* here */", nil, nil},
		{"assignment is not a result", "x = 3", []run{{Stmt, "x = 3", 1, 1}}, nil},
		{"var is a declaration", "var v = 3", []run{{Decl, "var v = 3", 1, 1}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Split(tc.code)
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			var got []run
			for _, r := range c.Runs {
				got = append(got, run{r.Kind, r.Text, r.Line, r.Col})
			}
			if !reflect.DeepEqual(got, tc.runs) {
				t.Errorf("runs\n got %+v\nwant %+v", got, tc.runs)
			}
			var imps []string
			for _, s := range c.Imports {
				if s.Name != "" {
					imps = append(imps, s.Name+"="+s.Path)
				} else {
					imps = append(imps, s.Path)
				}
			}
			if !reflect.DeepEqual(imps, tc.imports) {
				t.Errorf("imports %q, want %q", imps, tc.imports)
			}
		})
	}
}

func TestSplitErrors(t *testing.T) {
	cases := []struct{ code, want string }{
		{"package main\nfunc main() {}", "1:1: a cell holds top-level code without a package clause"},
		{"x := 1\ns := \"abc\nx", "2:6: string literal not terminated"},
		{"import \"os\" \"net\"", "1:13: "},
		{"x := 1 # 2", "1:8: illegal character"},
	}
	for _, tc := range cases {
		_, err := Split(tc.code)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Split(%q) error = %v, want prefix %q", tc.code, err, tc.want)
		}
	}
}

func TestRunSourcePositions(t *testing.T) {
	c, err := Split("x := 1\n\n   y := x +")
	if err != nil {
		t.Fatal(err)
	}
	r := c.Runs[len(c.Runs)-1]
	if got, want := r.Source("_.go", 1000), "/*line _.go:1001:1*/x := 1\n\n   y := x +"; got != want {
		t.Errorf("Source = %q, want %q", got, want)
	}
}

func TestImportSpecPositions(t *testing.T) {
	c, err := Split("x := 1\nimport (\n\t\"fmt\"\n\tm \"math\"\n)")
	if err != nil {
		t.Fatal(err)
	}
	want := []ImportSpec{{Path: "fmt", Line: 3, Col: 2}, {Path: "math", Name: "m", Line: 4, Col: 4}}
	if !reflect.DeepEqual(c.Imports, want) {
		t.Errorf("imports %+v, want %+v", c.Imports, want)
	}
}

func TestIsComplete(t *testing.T) {
	cases := []struct {
		code, status, indent string
	}{
		{"", "complete", ""},
		{"x := 1", "complete", ""},
		{"fmt.Println(\"hi\")", "complete", ""},
		{"func f() {", "incomplete", "\t"},
		{"for i := 0; i < 3; i++ {\n\tif i > 1 {", "incomplete", "\t\t"},
		{"fmt.Println(1,", "incomplete", "\t"},
		{"s := `raw\nstill", "incomplete", ""},
		{"/* open comment", "incomplete", ""},
		{"x := 1 +", "incomplete", ""},
		{"x := )", "invalid", ""},
		{"func f() { } }", "invalid", ""},
		{"s := \"abc", "invalid", ""},
		{"x := := 1", "invalid", ""},
		{"import \"fmt\"\nfmt.Println(\"ok\")", "complete", ""},
		{"package main", "invalid", ""},
	}
	for _, tc := range cases {
		status, indent := IsComplete(tc.code)
		if status != tc.status || indent != tc.indent {
			t.Errorf("IsComplete(%q) = %q, %q; want %q, %q", tc.code, status, indent, tc.status, tc.indent)
		}
	}
}
