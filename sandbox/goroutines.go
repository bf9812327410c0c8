package sandbox

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"strings"

	"enclave/sandbox/cells"
)

// goGuard is put at the start of every function literal a cell starts as a
// goroutine (go func() {…}()). yaegi runs goroutines without a recover, so
// a panic in one would end the worker and lose the notebook's variables;
// with the guard it is reported (goPanic) instead. It is inserted after the
// literal's "{", followed by a line directive that gives the rest of the
// line its own positions back.
const goGuard = `defer func() { if r := recover(); r != nil { ` + rtName + `.GoPanic(r) } }(); `

// rtPath is the worker's own package of hooks for code it adds to cells;
// the worker imports it once under rtName. It is not in the allowlist: a
// cell cannot import it, though it can see the name.
const (
	rtPath = "enclave/internal/rt"
	rtName = "__enclave"
)

// goPanic reports a panic recovered by goGuard: on stderr at once, and as
// the cell's error when it ends (or, if no cell runs, at the start of the
// next one).
func (w *Worker) goPanic(r any) {
	msg := Plain(r)
	if s, ok := r.(string); ok {
		msg = s
	} else if e, ok := r.(error); ok {
		msg = e.Error()
	}
	w.mu.Lock()
	c := w.cell
	if c != nil {
		if c.goPanic == "" {
			c.goPanic = msg
		}
	} else if w.latePanic == "" {
		w.latePanic = msg
	}
	w.mu.Unlock()
	if c != nil {
		w.out.write("stderr", []byte("panic in a goroutine: "+msg+"\n"))
	}
}

// guardGoroutines returns the run with goGuard in each go func literal;
// base is the run's line numbering (see Worker.addSpan). Goroutines of
// named functions (go work(x)) are left as they are: their arguments must
// be evaluated when the go statement runs.
func guardGoroutines(r cells.Run, base int) cells.Run {
	if !strings.Contains(r.Text, "go") {
		return r // no go statement: spare the parse (most cells)
	}
	var prefix string
	switch r.Kind {
	case cells.Decl:
		prefix = "package p;"
	case cells.Stmt, cells.Expr:
		prefix = "package p;func _(){"
	default:
		return r
	}
	src := prefix + r.Text + "\n}"
	if r.Kind == cells.Decl {
		src = prefix + r.Text
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", src, parser.SkipObjectResolution)
	if err != nil {
		return r
	}
	type site struct{ off, line, col int } // in r.Text; cell line and column after "{"
	var at []site
	ast.Inspect(f, func(n ast.Node) bool {
		if g, ok := n.(*ast.GoStmt); ok {
			if lit, ok := g.Call.Fun.(*ast.FuncLit); ok {
				p := fset.Position(lit.Body.Lbrace)
				line, col := r.Line+p.Line-1, p.Column+1
				if p.Line == 1 {
					col = r.Col + p.Column - len(prefix)
				}
				at = append(at, site{p.Offset - len(prefix) + 1, line, col})
			}
		}
		return true
	})
	if len(at) == 0 {
		return r
	}
	sort.Slice(at, func(i, j int) bool { return at[i].off > at[j].off })
	text := r.Text
	for _, s := range at {
		if s.off > 0 && s.off <= len(text) {
			text = text[:s.off] + goGuard + fmt.Sprintf("/*line %s:%d:%d*/", srcName, base+s.line, s.col) + text[s.off:]
		}
	}
	r.Text = text
	return r
}
