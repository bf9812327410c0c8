package sandbox

import (
	"go/ast"
	"go/parser"
	"go/token"
	"sort"

	"enclave/sandbox/cells"
)

// goGuard is put at the start of every function literal a cell starts as a
// goroutine (go func() {…}()). yaegi runs goroutines without a recover, so
// a panic in one would end the worker and lose the notebook's variables;
// with the guard it is reported (goPanic) instead. It is inserted on the
// line of the literal's "{", so only columns after it on that line move.
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

// guardGoroutines returns the run with goGuard in each go func literal.
// Goroutines of named functions (go work(x)) are left as they are: their
// arguments must be evaluated when the go statement runs.
func guardGoroutines(r cells.Run) cells.Run {
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
	var at []int // offsets in r.Text just after a "{"
	ast.Inspect(f, func(n ast.Node) bool {
		if g, ok := n.(*ast.GoStmt); ok {
			if lit, ok := g.Call.Fun.(*ast.FuncLit); ok {
				at = append(at, fset.Position(lit.Body.Lbrace).Offset-len(prefix)+1)
			}
		}
		return true
	})
	if len(at) == 0 {
		return r
	}
	sort.Sort(sort.Reverse(sort.IntSlice(at)))
	text := r.Text
	for _, off := range at {
		if off > 0 && off <= len(text) {
			text = text[:off] + goGuard + text[off:]
		}
	}
	r.Text = text
	return r
}
