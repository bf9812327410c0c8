package sandbox

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/traefik/yaegi/interp"

	"enclave/rpc"
	"enclave/sandbox/cells"
	"enclave/sandbox/symbols/allowlist"
)

// Error names a cell can fail with (rpc.ErrorInfo.Name).
const (
	ErrSyntax    = "SyntaxError"
	ErrImport    = "ImportError"
	ErrCompile   = "CompileError"
	ErrPanic     = "panic"
	ErrInterrupt = "Interrupted"
)

// All cells are given to yaegi under its default source name, because
// yaegi scopes imports by file name: a package imported in one cell must
// be visible in the next. To tell cells apart in positions, each cell's
// lines are numbered from its own base (line directives), at least
// spanStride apart; posRE finds such positions in yaegi's messages.
const (
	srcName    = interp.DefaultSourceName
	firstBase  = 1_000_000
	spanStride = 1000
	maxSpans   = 2000
)

var posRE = regexp.MustCompile(`(?:_\.go:)?(\d{7,}):(\d+)`)

// span is the lines one executed cell occupies.
type span struct {
	base int // cell line l is reported as base+l
	file string
	code string
}

// execute runs one cell and always ends it with Done.
func (w *Worker) execute(m *rpc.Msg) {
	req := m.Exec
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &cellRun{id: m.ID, ctx: ctx, cancel: cancel, allowStdin: req.AllowStdin}
	max := req.MaxOutput
	if max <= 0 {
		max = w.opts.MaxOutput
	}
	w.out.start(m.ID, max)
	w.in.reset()
	w.mu.Lock()
	w.cell = c
	late := w.latePanic
	w.latePanic = ""
	w.mu.Unlock()
	if late != "" {
		w.out.notice("a goroutine of an earlier cell panicked: " + late)
	}

	w.busy.Lock()
	ok := w.supervise(c, req)
	w.busy.Unlock()

	w.mu.Lock()
	w.cell = nil
	goPanic := c.goPanic
	w.mu.Unlock()
	if ok && goPanic != "" {
		w.fail(c, ErrPanic, "in a goroutine: "+goPanic, 0, 0)
		ok = false
	}
	status := "ok"
	if !ok {
		status = "error"
	}
	cancel(nil)
	w.out.flush()
	w.conn.Send(&rpc.Msg{Type: rpc.Done, ID: m.ID, Done: &rpc.DoneInfo{Status: status}})
}

// supervise runs the cell and returns what run returned, once it has: a
// cell is reported interrupted only when its code has stopped, never while
// a call it made still computes. If an interrupted cell does not return
// within the grace, the cell's stderr and Options.Stuck are told (from a
// timer's goroutine); the worker then stays busy with it (its main exits
// in Stuck).
//
// The cell runs on the caller's goroutine, Serve's cell loop, which runs
// the cells one after another: its stack keeps the size compiling and
// running a cell needed, where a goroutine per cell grew a fresh one
// through yaegi's recursion, copying it at each doubling, every cell. No
// goroutine is woken to start the cell or to learn that it returned.
func (w *Worker) supervise(c *cellRun, req *rpc.ExecRequest) bool {
	end := w.stop.cell(c.ctx)
	defer end()
	var (
		mu       sync.Mutex
		returned bool
		grace    *time.Timer
	)
	stuck := func() {
		mu.Lock()
		late := !returned
		mu.Unlock()
		if !late {
			return
		}
		msg := fmt.Sprintf("%s did not stop within %v of the interrupt: it is inside a call to compiled library code (a long computation, or a wait such as sync.Mutex.Lock), which an interrupt cannot reach; the worker is being stopped and the notebook's variables are lost",
			cellFile(req.CellNumber), w.opts.StopGrace)
		w.out.notice(msg)
		w.out.flush()
		if w.opts.Stuck != nil {
			w.opts.Stuck(msg)
		}
	}
	unwatch := context.AfterFunc(c.ctx, func() {
		mu.Lock()
		if !returned {
			grace = time.AfterFunc(w.opts.StopGrace, stuck)
		}
		mu.Unlock()
	})
	ok := w.run(c, req)
	unwatch()
	mu.Lock()
	returned = true
	if grace != nil {
		grace.Stop()
	}
	mu.Unlock()
	return ok
}

// cellFile is the name positions of a cell carry.
func cellFile(n int) string { return "cell[" + strconv.Itoa(n) + "]" }

// addSpan reserves the line numbers of a cell.
func (w *Worker) addSpan(file, code string) int {
	base := w.nextBase
	lines := strings.Count(code, "\n") + 2
	w.nextBase += (lines/spanStride + 1) * spanStride
	w.spans = append(w.spans, span{base: base, file: file, code: code})
	if len(w.spans) > maxSpans {
		w.spans = append(w.spans[:0], w.spans[len(w.spans)-maxSpans/2:]...)
	}
	return base
}

// where maps a reported line to a cell and its line.
func (w *Worker) where(line int) (sp *span, l int) {
	i := sort.Search(len(w.spans), func(i int) bool { return w.spans[i].base > line }) - 1
	if i < 0 {
		return nil, line
	}
	return &w.spans[i], line - w.spans[i].base
}

// cellPositions rewrites the positions in a message of yaegi to
// cell[N]:line:col.
func (w *Worker) cellPositions(msg string) string {
	return posRE.ReplaceAllStringFunc(msg, func(m string) string {
		sub := posRE.FindStringSubmatch(m)
		n, _ := strconv.Atoi(sub[1])
		sp, l := w.where(n)
		if sp == nil {
			return m
		}
		return sp.file + ":" + strconv.Itoa(l) + ":" + sub[2]
	})
}

// run evaluates the cell's runs in order; it reports false after sending
// the error that stopped it.
func (w *Worker) run(c *cellRun, req *rpc.ExecRequest) bool {
	file := cellFile(req.CellNumber)
	base := w.addSpan(file, req.Code)
	cell, err := cells.Split(req.Code)
	if err != nil {
		var ce *cells.Error
		if errors.As(err, &ce) {
			w.fail(c, ErrSyntax, fmt.Sprintf("%s:%d:%d: %s", file, ce.Line, ce.Col, ce.Msg), base+ce.Line, ce.Col)
		} else {
			w.fail(c, ErrSyntax, file+": "+err.Error(), 0, 0)
		}
		return false
	}
	for _, imp := range cell.Imports {
		if _, ok := allowlist.Lookup(imp.Path); !ok {
			w.fail(c, ErrImport, fmt.Sprintf("%s:%d:%d: package %q is not available in this workspace (enclave allows: %s)",
				file, imp.Line, imp.Col, imp.Path, strings.Join(allowlist.Paths(), ", ")), base+imp.Line, imp.Col)
			return false
		}
	}
	for _, r := range cell.Runs {
		if r.Kind == cells.Decl {
			if name, line, col, ok := declaresMain(r); ok {
				w.fail(c, ErrCompile, fmt.Sprintf("%s:%d:%d: a notebook needs no func %s: cells run top to bottom; give it another name and call it", file, line, col, name), base+line, col)
				return false
			}
			if name, line, col, ok := w.names.redefinedType(r); ok {
				what := "type"
				if strings.Contains(name, ".") {
					what = "method"
				}
				w.fail(c, ErrCompile, fmt.Sprintf("%s:%d:%d: %s %s was declared differently in an earlier cell, and the Go interpreter keeps the first declaration of a %s: give this one a new name, or restart the kernel to start over", file, line, col, what, name, what), base+line, col)
				return false
			}
		}
		if r.Kind == cells.Import {
			if !w.importRun(c, r, file, base) {
				return false
			}
			continue
		}
		r := guardGoroutines(r, base)
		prog, mode, err := w.compileRun(r, base, req.Silent)
		if err != nil {
			w.failCompile(c, err)
			return false
		}
		w.trace.take()
		v, err := w.stop.run(c.ctx, prog)
		if err != nil {
			if c.ctx.Err() != nil {
				w.fail(c, ErrInterrupt, "the cell was interrupted", 0, 0)
				return false
			}
			var p interp.Panic
			if errors.As(err, &p) {
				w.failPanic(c, p, w.trace.take())
				return false
			}
			w.failCompile(c, err)
			return false
		}
		w.names.learn(r)
		if mode != showNone {
			shown := w.show(c, v, mode == showVar)
			if c.ctx.Err() != nil {
				w.fail(c, ErrInterrupt, "the cell was interrupted while its result was being rendered", 0, 0)
				return false
			}
			if !shown {
				return false
			}
		}
	}
	return true
}

// compileRun compiles one run of a cell and says how to show its value.
// A final expression with one value is compiled as a declaration of
// resultVar, so that its rich forms can be asked for afterwards.
func (w *Worker) compileRun(r cells.Run, base int, silent bool) (*interp.Program, int, error) {
	src := r.Source(srcName, base)
	decl := w.resultVar() + " := " + src
	if r.Kind != cells.Decl {
		// yaegi parses a source that starts with "func" as a file and,
		// failing that, as the body of a func main that it then runs
		// again before every later cell. Start statements with ";".
		src = ";" + src
	}
	mode := showNone
	if r.Kind == cells.Expr && !silent {
		mode = w.resultMode(r.Text)
	}
	if mode == showVar && !w.richMethodDeclared() {
		// The variable serves only to call methods the cells declared
		// (show); with none declared, the value yaegi returns shows the
		// same, and no global is added to the interpreter's frame, which
		// yaegi copies whole each time it grows.
		mode = showValue
	}
	if mode == showVar && w.allKnown(r.Text) {
		// Every name in it is known, so the declaration compiles.
		if prog, err := w.compile(decl); err == nil {
			return prog, mode, nil
		}
		w.resultN++ // never reuse a name yaegi may have half-defined
		decl = w.resultVar() + " := " + r.Source(srcName, base)
	}
	prog, err := w.compile(src)
	if err != nil || mode != showVar {
		return prog, mode, err
	}
	// Declare only a valid expression: a failed declaration leaves its
	// names half-defined in yaegi.
	if p, err := w.compile(decl); err == nil {
		return p, showVar, nil
	}
	w.resultN++
	return prog, showValue, nil
}

// declaresMain finds a func main or init in a run of declarations: yaegi
// would run main again before every later cell.
func declaresMain(r cells.Run) (name string, line, col int, ok bool) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", "package p;"+r.Source("cell", 0), parser.SkipObjectResolution)
	if err != nil {
		return "", 0, 0, false
	}
	for _, d := range f.Decls {
		if fd, isFunc := d.(*ast.FuncDecl); isFunc && fd.Recv == nil && (fd.Name.Name == "main" || fd.Name.Name == "init") {
			p := fset.Position(fd.Name.Pos())
			return fd.Name.Name, p.Line, p.Column, true
		}
	}
	return "", 0, 0, false
}

// importRun imports the packages of one import declaration that the
// notebook has not imported yet; yaegi refuses to import a name twice.
func (w *Worker) importRun(c *cellRun, r cells.Run, file string, base int) bool {
	specs, err := cells.Split(r.Text)
	if err != nil {
		return true // Split of the whole cell already parsed it
	}
	for _, s := range specs.Imports {
		line, col := r.Line+s.Line-1, s.Col
		if s.Line == 1 {
			col += r.Col - 1
		}
		name := s.Name
		if name == "" {
			name = packageName(s.Path)
		}
		if name == "_" {
			continue
		}
		if prev, ok := w.imported[name]; ok {
			if prev == s.Path {
				continue
			}
			w.fail(c, ErrImport, fmt.Sprintf("%s:%d:%d: %s is already imported as %q in this notebook; import %q under another name (import %s2 %q)",
				file, line, col, name, prev, s.Path, name, s.Path), base+line, col)
			return false
		}
		switch s.Path {
		case "cmp", "maps", "slices":
			if err := w.genericSources(); err != nil {
				w.failCompile(c, err)
				return false
			}
		}
		src := fmt.Sprintf("/*line %s:%d:%d*/import %s %q", srcName, base+line, col, name, s.Path)
		if s.Name == "" {
			src = fmt.Sprintf("/*line %s:%d:%d*/import %q", srcName, base+line, col, s.Path)
		}
		prog, err := w.compile(src)
		if err == nil {
			_, err = w.stop.run(c.ctx, prog)
		}
		if err != nil && c.ctx.Err() != nil {
			w.fail(c, ErrInterrupt, "the cell was interrupted", 0, 0)
			return false
		}
		if err != nil {
			w.failCompile(c, err)
			return false
		}
		if name != "." {
			w.imported[name] = s.Path
		}
	}
	return true
}

// packageName is the name a package declares: its last path element, but
// for a major-version suffix (math/rand/v2 → rand).
func packageName(p string) string {
	b := path.Base(p)
	if len(b) > 1 && b[0] == 'v' && strings.Trim(b[1:], "0123456789") == "" {
		return path.Base(path.Dir(p))
	}
	return b
}

// How the value of a final expression is shown.
const (
	showNone  = iota // no single value: run as a statement
	showVar          // keep it in resultVar: rich forms from the cell's own methods
	showValue        // show the value yaegi returns (compiled methods only)
)

func (w *Worker) resultVar() string { return resultVar + strconv.Itoa(w.resultN) }

// resultMode decides from the syntax whether an expression has exactly
// one value. yaegi would bind the first of several results, or fail at run
// time on a call with none, so only expressions known to have one value
// are bound to a variable.
func (w *Worker) resultMode(text string) int {
	e, err := parser.ParseExpr(text)
	if err != nil {
		return showValue
	}
	for {
		p, ok := e.(*ast.ParenExpr)
		if !ok {
			break
		}
		e = p.X
	}
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return showVar
	}
	results := -1
	switch f := call.Fun.(type) {
	case *ast.FuncLit:
		results = fieldCount(f.Type.Results)
	case *ast.Ident:
		if n, ok := builtinResults[f.Name]; ok {
			results = n
		} else if k, ok := w.names.kind(f.Name); ok && k == "type" {
			results = 1
		} else if n, ok := w.names.results(f.Name); ok {
			results = n
		}
	case *ast.IndexExpr: // explicit instantiation: slices.Max[[]int]
		if sel, ok := f.X.(*ast.SelectorExpr); ok {
			if x, ok := sel.X.(*ast.Ident); ok {
				if p, ok := w.imported[x.Name]; ok {
					if n, ok := w.sourceResults[p+"."+sel.Sel.Name]; ok {
						results = n
					}
				}
			}
		}
	case *ast.SelectorExpr:
		if x, ok := f.X.(*ast.Ident); ok {
			if p, ok := w.imported[x.Name]; ok {
				results = symbolResults(p, f.Sel.Name)
				if n, ok := w.sourceResults[p+"."+f.Sel.Name]; ok {
					results = n
				}
			}
		}
	case *ast.ArrayType, *ast.MapType, *ast.ChanType, *ast.FuncType, *ast.InterfaceType, *ast.StructType, *ast.StarExpr:
		results = 1 // conversion
	}
	switch results {
	case 1:
		return showVar
	case -1:
		return showValue
	}
	return showNone
}

// allKnown reports whether every identifier an expression uses is a name
// the notebook declared, an imported package or a predeclared name; such an
// expression is declared without a trial compile. Function literals and
// keyed composite literals take the slower, always safe path.
func (w *Worker) allKnown(text string) bool {
	e, err := parser.ParseExpr(text)
	if err != nil {
		return false
	}
	ok := true
	ast.Inspect(e, func(n ast.Node) bool {
		if !ok {
			return false
		}
		switch n := n.(type) {
		case *ast.FuncLit, *ast.KeyValueExpr:
			ok = false
		case *ast.SelectorExpr:
			ast.Inspect(n.X, func(m ast.Node) bool {
				if id, isID := m.(*ast.Ident); isID && !w.known(id.Name) {
					ok = false
				}
				return ok
			})
			return false
		case *ast.Ident:
			if !w.known(n.Name) {
				ok = false
			}
		}
		return ok
	})
	return ok
}

func (w *Worker) known(name string) bool {
	if _, ok := w.names.kind(name); ok {
		return true
	}
	if _, ok := w.imported[name]; ok {
		return true
	}
	return predeclared[name]
}

var predeclared = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range keywords {
		m[k] = true
	}
	return m
}()

var builtinResults = map[string]int{
	"append": 1, "cap": 1, "complex": 1, "copy": 1, "imag": 1, "len": 1, "make": 1, "max": 1,
	"min": 1, "new": 1, "real": 1, "recover": 1,
	"clear": 0, "close": 0, "delete": 0, "panic": 0, "print": 0, "println": 0,
	"bool": 1, "byte": 1, "complex128": 1, "complex64": 1, "error": 1, "float32": 1, "float64": 1,
	"int": 1, "int16": 1, "int32": 1, "int64": 1, "int8": 1, "rune": 1, "string": 1, "uint": 1,
	"uint16": 1, "uint32": 1, "uint64": 1, "uint8": 1, "uintptr": 1, "any": 1,
}

func fieldCount(fl *ast.FieldList) int {
	if fl == nil {
		return 0
	}
	return fl.NumFields()
}

// symbolResults is the number of results of a package function, 1 for a
// type (a conversion), -1 if unknown.
func symbolResults(pkg, name string) int {
	if pkg == "fmt" {
		for _, n := range extraSymbols["fmt"] {
			if n == name {
				return 2
			}
		}
	}
	if pkg == "time" && name == "Sleep" {
		return 0
	}
	v, ok := pkgSymbols(pkg)[name]
	if !ok {
		return -1
	}
	t := v.Type()
	switch {
	case t.Kind() == reflect.Func:
		return t.NumOut()
	case t.Kind() == reflect.Pointer && v.IsNil():
		return 1 // a type: conversion
	}
	return -1
}

// compile parses and compiles src, turning an interpreter crash into an error.
func (w *Worker) compile(src string) (prog *interp.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			prog, err = nil, fmt.Errorf("the interpreter failed on this code: %v", r)
		}
	}()
	return w.ip.Compile(src)
}

// failCompile reports an error of yaegi at the cell position it names.
func (w *Worker) failCompile(c *cellRun, err error) {
	msg := err.Error()
	line, col := 0, 0
	if m := posRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		col, _ = strconv.Atoi(m[2])
		// Past the last line is the closing brace yaegi wraps statements
		// in: the cell ended too early.
		if sp, l := w.where(line); sp != nil {
			lines := strings.Split(sp.code, "\n")
			if l > len(lines) {
				last := strings.TrimRight(lines[len(lines)-1], " \t\r")
				for len(lines) > 1 && last == "" {
					lines = lines[:len(lines)-1]
					last = strings.TrimRight(lines[len(lines)-1], " \t\r")
				}
				newPos := fmt.Sprintf("%d:%d", sp.base+len(lines), len(last)+1)
				msg = strings.Replace(msg, m[0], newPos, 1)
				msg = strings.Replace(msg, "found '}'", "found end of cell", 1)
				line, col = sp.base+len(lines), len(last)+1
			}
		}
	}
	if strings.Contains(msg, "constant definition loop") || strings.Contains(msg, "incomplete type") {
		// yaegi's words for a name it cannot resolve in a declaration.
		if l, c, name, ok := w.undefined(); ok {
			msg = fmt.Sprintf("%d:%d: undefined: %s", l, c, name)
			line, col = l, c
		}
	}
	msg = w.cellPositions(msg)
	if line == 0 {
		if c := w.currentSpan(); c != nil {
			msg = c.file + ": " + msg
		}
	}
	w.fail(c, ErrCompile, msg, line, col)
}

// undefined finds the first name the current cell uses that neither the
// cell nor the notebook declares, at its reported position.
func (w *Worker) undefined() (line, col int, name string, ok bool) {
	sp := w.currentSpan()
	if sp == nil {
		return 0, 0, "", false
	}
	cell, err := cells.Split(sp.code)
	if err != nil {
		return 0, 0, "", false
	}
	for _, r := range cell.Runs {
		var src string
		switch r.Kind {
		case cells.Decl:
			src = "package p;" + r.Source(srcName, sp.base)
		case cells.Stmt, cells.Expr:
			src = "package p;func _(){" + r.Source(srcName, sp.base) + "\n}"
		default:
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "", src, 0)
		if err != nil {
			continue
		}
		declared := map[string]bool{}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				declared[d.Name.Name] = true
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						declared[s.Name.Name] = true
					case *ast.ValueSpec:
						for _, n := range s.Names {
							declared[n.Name] = true
						}
					}
				}
			}
		}
		for _, id := range f.Unresolved {
			if declared[id.Name] || w.known(id.Name) {
				continue
			}
			p := fset.Position(id.Pos())
			return p.Line, p.Column, id.Name, true
		}
	}
	return 0, 0, "", false
}

func (w *Worker) currentSpan() *span {
	if len(w.spans) == 0 {
		return nil
	}
	return &w.spans[len(w.spans)-1]
}

// fail sends an error with, in its traceback, the source line of the
// reported position (line as yaegi numbers it) and a caret under col.
func (w *Worker) fail(c *cellRun, name, value string, line, col int) {
	value = clip(value, maxErrorText)
	tb := []string{name + ": " + value}
	if line > 0 {
		tb = append(tb, w.snippet(line, col)...)
	}
	w.sendError(c.id, name, value, tb)
}

// snippet is the source line at a reported line with a caret under col.
func (w *Worker) snippet(line, col int) []string {
	sp, l := w.where(line)
	if sp == nil {
		return nil
	}
	lines := strings.Split(sp.code, "\n")
	if l < 1 || l > len(lines) {
		return nil
	}
	text := strings.TrimRight(lines[l-1], "\r")
	var caret strings.Builder
	for i := 0; i < col-1 && i < len(text); i++ {
		if text[i] == '\t' {
			caret.WriteByte('\t')
		} else if text[i]&0xC0 != 0x80 {
			caret.WriteByte(' ')
		}
	}
	caret.WriteByte('^')
	return []string{"    " + text, "    " + caret.String()}
}

var frameRE = regexp.MustCompile(`^(\d{7,}):(\d+): panic: (.*)\(\.\.\.\)$`)

// failPanic reports an uncaught panic with the cell frames it unwound.
func (w *Worker) failPanic(c *cellRun, p interp.Panic, trace string) {
	value := fmt.Sprint(p.Value)
	if e, ok := p.Value.(error); ok {
		value = e.Error()
	}
	value = w.cellPositions(clip(value, maxErrorText))
	tb := []string{"panic: " + value, ""}
	frames := 0
	for _, line := range strings.Split(trace, "\n") {
		m := frameRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		sp, l := w.where(n)
		if sp == nil {
			continue
		}
		fn := strings.TrimPrefix(m[3], "main.")
		where := "in " + fn + "()"
		if fn == "main" {
			where = "at top level"
		}
		tb = append(tb, fmt.Sprintf("%s:%d:%d %s", sp.file, l, col, where))
		tb = append(tb, w.snippet(n, col)...)
		frames++
	}
	if frames > 0 {
		// yaegi v0.16 reports, per frame, the first statement of the block
		// it was running (runCfg's recover sees the block's entry node, not
		// the statement that panicked); say so rather than point a caret
		// at a line that did not fail.
		tb = append(tb, "", "(each frame names the first line of the block it was running; the interpreter does not report the statement that panicked)")
	}
	w.sendError(c.id, ErrPanic, value, tb)
}
