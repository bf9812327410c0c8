package sandbox

import (
	"fmt"
	"go/scanner"
	"go/token"
	"maps"
	"path"
	"reflect"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"enclave/rpc"
	"enclave/sandbox/symbols"
	"enclave/sandbox/symbols/allowlist"
)

var keywords = []string{
	"break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough", "for",
	"func", "go", "goto", "if", "import", "interface", "map", "package", "range", "return", "select",
	"struct", "switch", "type", "var",
	// predeclared
	"any", "append", "bool", "byte", "cap", "clear", "close", "comparable", "complex", "complex128",
	"complex64", "copy", "delete", "error", "false", "float32", "float64", "imag", "int", "int16",
	"int32", "int64", "int8", "iota", "len", "make", "max", "min", "new", "nil", "panic", "print",
	"println", "real", "recover", "rune", "string", "true", "uint", "uint16", "uint32", "uint64",
	"uint8", "uintptr",
}

// cursor turns a code-point offset into a byte offset.
func cursor(code string, pos int) int {
	if pos < 0 {
		return len(code)
	}
	i := 0
	for n := 0; n < pos && i < len(code); n++ {
		_, size := utf8.DecodeRuneInString(code[i:])
		i += size
	}
	return i
}

// word finds the identifier ending at byte offset at, and the package
// qualifier before it if any ("strings.To" → "strings", "To").
func word(code string, at int) (qual, ident string, start int) {
	start = at
	for start > 0 {
		r, size := utf8.DecodeLastRuneInString(code[:start])
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') {
			break
		}
		start -= size
	}
	ident = code[start:at]
	if start > 0 && code[start-1] == '.' {
		q := start - 1
		for q > 0 {
			r, size := utf8.DecodeLastRuneInString(code[:q])
			if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') {
				break
			}
			q -= size
		}
		qual = code[q : start-1]
	}
	return qual, ident, start
}

// methodOwner is "path.Type" when qual, the qualifier of a name starting at
// start in code, is a type of an allowlisted package named before it
// ("omop.Events" of "omop.Events.Where"), else "".
func methodOwner(code, qual string, start int) string {
	if qual == "" || start < 2 || packageFor(code, qual) != "" {
		return ""
	}
	pkg, typ, _ := word(code, start-1)
	if pkg == "" || typ != qual {
		return ""
	}
	if p := packageFor(code, pkg); p != "" {
		return p + "." + typ
	}
	return ""
}

// packageFor maps a name used in code to an allowlisted package path: an
// import of this cell (with its local name) or any allowlisted package
// whose last element is name.
func packageFor(code, name string) string {
	var s scanner.Scanner
	fset := token.NewFileSet()
	f := fset.AddFile("", fset.Base(), len(code))
	s.Init(f, []byte(code), nil, 0)
	var prev, prevLit string
	for {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok == token.STRING && (prev == "import" || prev == "(" || prev == ";" || prev == "IDENT") {
			p := strings.Trim(lit, "\"`")
			if (prev == "IDENT" && prevLit == name) || (prev != "IDENT" && path.Base(p) == name) {
				if _, ok := allowlist.Lookup(p); ok {
					return p
				}
			}
		}
		prev, prevLit = tok.String(), lit
		if tok == token.IDENT {
			prev = "IDENT"
		}
	}
	for _, p := range allowlist.Packages() {
		base := path.Base(p.Path)
		if p.Path == "math/rand/v2" {
			base = "rand"
		}
		if base == name {
			return p.Path
		}
	}
	return ""
}

func pkgSymbols(p string) map[string]reflect.Value {
	name := path.Base(p)
	if p == "math/rand/v2" {
		name = "rand"
	}
	return symbols.Symbols[p+"/"+name]
}

// extraSymbols are the symbols the worker supplies itself, by package.
var extraSymbols = func() map[string][]string {
	m := map[string][]string{}
	for _, p := range allowlist.Packages() {
		if len(p.Supplied) > 0 {
			m[p.Path] = p.Supplied
		}
	}
	return m
}()

// global returns a notebook variable's value, if no cell is running (the
// interpreter's memory is not read while a cell changes it).
func (w *Worker) global(name string) (reflect.Value, bool) {
	if w.ip == nil || !w.busy.TryLock() {
		return reflect.Value{}, false
	}
	defer w.busy.Unlock()
	v, ok := w.ip.Globals()[name]
	if !ok || !v.IsValid() {
		return reflect.Value{}, false
	}
	if inner, ok := unwrapInterp(v); ok {
		v = inner
	}
	return v, true
}

// members lists the fields and compiled methods of a value's type: of a
// compiled package's type, only its exported fields (omop.Events offered
// its handle field h, review 60).
func members(v reflect.Value) []string {
	var out []string
	t := v.Type()
	for _, m := range methods(t) {
		out = append(out, m.Name)
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct {
		for i := 0; i < t.NumField(); i++ {
			if f := t.Field(i); f.IsExported() || t.PkgPath() == "" {
				out = append(out, f.Name)
			}
		}
	}
	return out
}

// methods lists the exported methods of a type and of its pointer.
func methods(tp reflect.Type) []reflect.Method {
	var out []reflect.Method
	for i := 0; i < tp.NumMethod(); i++ {
		if m := tp.Method(i); m.IsExported() {
			out = append(out, m)
		}
	}
	if tp.Kind() != reflect.Pointer && tp.Kind() != reflect.Interface {
		pt := reflect.PointerTo(tp)
		for i := 0; i < pt.NumMethod(); i++ {
			if m := pt.Method(i); m.IsExported() {
				out = append(out, m)
			}
		}
	}
	return out
}

func (w *Worker) complete(q *rpc.CodeQuery) *rpc.Completion {
	if q == nil {
		return &rpc.Completion{Matches: []string{}}
	}
	at := cursor(q.Code, q.CursorPos)
	qual, ident, start := word(q.Code, at)
	var matches []string
	if qual != "" {
		if v, ok := w.notebookValue(qual); ok {
			for _, name := range members(v) {
				if strings.HasPrefix(name, ident) {
					matches = append(matches, name)
				}
			}
		} else if p := packageFor(q.Code, qual); p != "" {
			for name := range pkgSymbols(p) {
				if !strings.HasPrefix(name, "_") && strings.HasPrefix(name, ident) {
					matches = append(matches, name)
				}
			}
			for _, name := range extraSymbols[p] {
				if strings.HasPrefix(name, ident) {
					matches = append(matches, name)
				}
			}
		}
	} else {
		matches = append(matches, w.names.withPrefix(ident)...)
		for _, k := range keywords {
			if strings.HasPrefix(k, ident) {
				matches = append(matches, k)
			}
		}
		for _, p := range allowlist.Packages() {
			if b := path.Base(p.Path); strings.HasPrefix(b, ident) && ident != "" {
				matches = append(matches, b)
			}
		}
	}
	sort.Strings(matches)
	matches = dedup(matches)
	if matches == nil {
		matches = []string{}
	}
	return &rpc.Completion{Matches: matches, CursorStart: utf8.RuneCountInString(q.Code[:start]), CursorEnd: utf8.RuneCountInString(q.Code[:at])}
}

func dedup(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// inspect describes the identifier at the cursor: a package symbol's type,
// or what kind of name a cell declared.
func (w *Worker) inspect(q *rpc.CodeQuery) *rpc.Inspection {
	if q == nil {
		return &rpc.Inspection{}
	}
	at := cursor(q.Code, q.CursorPos)
	// Extend to the end of the identifier under the cursor, and over a
	// selector after it (the cursor on "strings" in strings.ToUpper).
	extend := func() {
		for at < len(q.Code) {
			r, size := utf8.DecodeRuneInString(q.Code[at:])
			if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') {
				break
			}
			at += size
		}
	}
	extend()
	if at+1 < len(q.Code) && q.Code[at] == '.' {
		if q0, _, _ := word(q.Code, at); q0 == "" {
			at++
			extend()
		}
	}
	qual, ident, start := word(q.Code, at)
	if ident == "" {
		return &rpc.Inspection{}
	}
	var text string
	if v, ok := w.notebookValue(qual); ok && qual != "" {
		// A method of a compiled type held in a notebook variable.
		t := v.Type()
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if key := docPath(t.PkgPath()) + "." + t.Name() + "." + ident; t.Name() != "" {
			if decl, doc, ok := symbols.Doc(key); ok {
				text = strings.TrimSpace(decl + "\n\n" + doc)
			}
		}
	} else if typ := methodOwner(q.Code, qual, start); typ != "" {
		// A method by its type's name: "omop.Events.Where?" (review 60).
		if decl, doc, ok := symbols.Doc(typ + "." + ident); ok {
			text = strings.TrimSpace(decl + "\n\n" + doc)
		}
	} else if qual != "" {
		p := packageFor(q.Code, qual)
		if p == "" {
			return &rpc.Inspection{}
		}
		_, inTable := pkgSymbols(p)[ident]
		supplied := slices.Contains(extraSymbols[p], ident)
		if decl, doc, ok := symbols.Doc(p + "." + ident); ok && (inTable || supplied) {
			text = decl
			if supplied {
				text += "\n(supplied by the enclave worker: output goes to the cell, input asks the notebook, an interrupt ends a sleep)"
			}
			if doc != "" {
				text += "\n\n" + doc
			}
		} else if v, ok := pkgSymbols(p)[ident]; ok {
			text = describe(p, ident, v)
		}
	} else if k, ok := w.names.kind(ident); ok {
		text = k + " " + ident + " (declared in this notebook)"
		if v, ok := w.notebookValue(ident); ok && k != "func" && k != "type" {
			text = fmt.Sprintf("%s %s %s (declared in this notebook)\n= %s", k, ident, v.Type(), clip(valuePreview(v), 2000))
		}
	} else if p := packageFor(q.Code, ident); p != "" {
		text = packagePage(p)
	}
	if text == "" {
		return &rpc.Inspection{}
	}
	return &rpc.Inspection{Data: map[string]any{"text/plain": text}}
}

// packagePage is what "stats?" shows: the package and its exported
// symbols, each with its declaration (it showed the name alone, review 62).
func packagePage(p string) string {
	var b strings.Builder
	b.WriteString("package " + p + "\n")
	names := slices.Sorted(maps.Keys(pkgSymbols(p)))
	names = append(names, extraSymbols[p]...)
	slices.Sort(names)
	names = slices.Compact(names)
	const most = 80
	for i, n := range names {
		if i == most {
			fmt.Fprintf(&b, "… and %d more (complete %s. to see them)\n", len(names)-most, path.Base(p))
			break
		}
		if !token.IsExported(n) {
			continue
		}
		decl, _, _ := symbols.Doc(p + "." + n)
		if first, _, _ := strings.Cut(decl, "\n"); first != "" {
			b.WriteString("\n" + first)
		} else {
			b.WriteString("\n" + n)
		}
	}
	return b.String()
}

// docPath is the import path cells use for a compiled package path
// (enclave/api/display is enclave/display to them).
func docPath(pkgPath string) string {
	for _, p := range allowlist.Packages() {
		if p.Source == pkgPath {
			return p.Path
		}
	}
	return pkgPath
}

// notebookValue is the value of a variable a cell declared, when it can be
// read (no cell running).
func (w *Worker) notebookValue(name string) (reflect.Value, bool) {
	if k, ok := w.names.kind(name); !ok || k == "func" || k == "type" {
		return reflect.Value{}, false
	}
	return w.global(name)
}

func valuePreview(v reflect.Value) (s string) {
	defer func() {
		if recover() != nil {
			s = "?"
		}
	}()
	var b strings.Builder
	plain(&b, v, 0)
	return b.String()
}

func describe(pkg, name string, v reflect.Value) string {
	full := pkg + "." + name
	t := v.Type()
	switch {
	case t.Kind() == reflect.Func:
		return "func " + full + strings.TrimPrefix(t.String(), "func")
	case t.Kind() == reflect.Pointer && v.IsNil():
		et := t.Elem()
		s := "type " + full + " " + et.Kind().String()
		if et.Kind() == reflect.Interface || et.Kind() == reflect.Struct {
			var ms []string
			for i := 0; i < reflect.PointerTo(et).NumMethod(); i++ {
				m := reflect.PointerTo(et).Method(i)
				ms = append(ms, m.Name)
			}
			if et.Kind() == reflect.Interface {
				ms = ms[:0]
				for i := 0; i < et.NumMethod(); i++ {
					ms = append(ms, et.Method(i).Name)
				}
			}
			if len(ms) > 0 {
				s += "\nmethods: " + strings.Join(ms, ", ")
			}
		}
		return s
	default:
		return full + " " + t.String() + " = " + Plain(v.Interface())
	}
}
