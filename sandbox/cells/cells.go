package cells

import (
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"strconv"
	"strings"
)

// Kind says how a run is evaluated.
type Kind int

const (
	// Import is one import declaration (single or grouped).
	Import Kind = iota
	// Decl is a run of func, type, const and var declarations, evaluated
	// as a file.
	Decl
	// Stmt is a run of statements, evaluated as a function body whose
	// variables become globals.
	Stmt
	// Expr is a final expression statement: its value is the cell's result.
	Expr
)

func (k Kind) String() string {
	switch k {
	case Import:
		return "import"
	case Decl:
		return "decl"
	case Stmt:
		return "stmt"
	case Expr:
		return "expr"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Run is a contiguous piece of the cell evaluated in one go.
type Run struct {
	Kind Kind
	// Text is the run's source, exactly as in the cell.
	Text string
	// Line and Col (1-based) are where Text starts in the cell.
	Line, Col int
}

// Source is Text prefixed with a line directive, so that the positions
// the parser or interpreter reports are file:(lineOffset+line):column for
// the cell's own line and column.
func (r Run) Source(file string, lineOffset int) string {
	return "/*line " + file + ":" + strconv.Itoa(lineOffset+r.Line) + ":" + strconv.Itoa(r.Col) + "*/" + r.Text
}

// ImportSpec is one imported package.
type ImportSpec struct {
	Path string
	Name string // local name if given ("." and "_" included), else ""
	Line int
	Col  int
}

// Cell is a split cell.
type Cell struct {
	// Runs in evaluation order: imports first, then the rest in cell order.
	Runs []Run
	// Imports lists every imported package, for the allowlist check.
	Imports []ImportSpec
}

// Error is a syntax error at a position of the cell.
type Error struct {
	Line, Col int
	Msg       string
}

func (e *Error) Error() string {
	return strconv.Itoa(e.Line) + ":" + strconv.Itoa(e.Col) + ": " + e.Msg
}

// unit is one top-level statement or declaration.
type unit struct {
	kind       Kind
	start, end int // byte offsets in the cell
	line, col  int
}

// Split cuts code into runs. It reports lexical errors, a package clause and
// malformed imports; other syntax errors are left to the interpreter, which
// reports them with the cell's positions through Run.Source.
func Split(code string) (*Cell, error) {
	units, err := scanUnits(code)
	if err != nil {
		return nil, err
	}
	c := &Cell{}
	var rest []unit
	for _, u := range units {
		if u.kind == Import {
			r := Run{Kind: Import, Text: code[u.start:u.end], Line: u.line, Col: u.col}
			specs, err := importSpecs(r)
			if err != nil {
				return nil, err
			}
			c.Runs = append(c.Runs, r)
			c.Imports = append(c.Imports, specs...)
			continue
		}
		rest = append(rest, u)
	}
	// The last unit, if an expression, is its own run: its value is the result.
	var last *unit
	if n := len(rest); n > 0 && rest[n-1].kind == Expr {
		last = &rest[n-1]
		rest = rest[:n-1]
	}
	for i := 0; i < len(rest); {
		k := rest[i].kind
		if k == Expr {
			k = Stmt
		}
		j := i + 1
		for j < len(rest) && (rest[j].kind == k || (k == Stmt && rest[j].kind == Expr)) {
			j++
		}
		c.Runs = append(c.Runs, Run{Kind: k, Text: code[rest[i].start:rest[j-1].end], Line: rest[i].line, Col: rest[i].col})
		i = j
	}
	if last != nil {
		c.Runs = append(c.Runs, Run{Kind: Expr, Text: code[last.start:last.end], Line: last.line, Col: last.col})
	}
	return c, nil
}

type tok struct {
	pos token.Pos
	tok token.Token
	lit string
}

// scanUnits tokenizes code and cuts it at top-level semicolons (explicit or
// inserted at line ends).
func scanUnits(code string) ([]unit, error) {
	fset := token.NewFileSet()
	file := fset.AddFile("", fset.Base(), len(code))
	var firstErr *Error
	var s scanner.Scanner
	s.Init(file, []byte(code), func(pos token.Position, msg string) {
		if firstErr == nil {
			firstErr = &Error{Line: pos.Line, Col: pos.Column, Msg: msg}
		}
	}, 0)
	var units []unit
	var cur []tok
	depth := 0
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		first, lastT := cur[0], cur[len(cur)-1]
		p := fset.Position(first.pos)
		u := unit{start: file.Offset(first.pos), line: p.Line, col: p.Column}
		u.end = min(file.Offset(lastT.pos)+tokLen(lastT), len(code))
		switch first.tok {
		case token.PACKAGE:
			return &Error{Line: p.Line, Col: p.Column, Msg: "a cell holds top-level code without a package clause; remove \"package " + litAfter(cur) + "\""}
		case token.IMPORT:
			u.kind = Import
		case token.TYPE, token.CONST, token.VAR:
			u.kind = Decl
		case token.FUNC:
			if isFuncDecl(cur) {
				u.kind = Decl
			} else {
				u.kind = stmtKind(code[u.start:u.end])
			}
		default:
			u.kind = stmtKind(code[u.start:u.end])
		}
		units = append(units, u)
		cur = cur[:0]
		return nil
	}
	for {
		pos, t, lit := s.Scan()
		if t == token.EOF {
			break
		}
		switch t {
		case token.LPAREN, token.LBRACK, token.LBRACE:
			depth++
		case token.RPAREN, token.RBRACK, token.RBRACE:
			if depth > 0 {
				depth--
			}
		case token.SEMICOLON:
			if depth == 0 {
				if err := flush(); err != nil {
					return nil, err
				}
				continue
			}
		}
		cur = append(cur, tok{pos, t, lit})
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return units, nil
}

func litAfter(ts []tok) string {
	if len(ts) > 1 {
		return ts[1].lit
	}
	return ""
}

// tokLen is the length in bytes of a token's text.
func tokLen(t tok) int {
	if t.tok == token.SEMICOLON && t.lit == "\n" {
		return 0 // inserted at a newline or the end: no text
	}
	if t.lit != "" {
		return len(t.lit)
	}
	return len(t.tok.String())
}

// isFuncDecl tells a function or method declaration from a function
// literal statement (func() {…}()).
func isFuncDecl(ts []tok) bool {
	if len(ts) < 2 {
		return false
	}
	switch ts[1].tok {
	case token.IDENT:
		return true
	case token.LPAREN:
		// Receiver list, then a name and a parameter or type-parameter list.
		depth := 0
		for i := 1; i < len(ts); i++ {
			switch ts[i].tok {
			case token.LPAREN, token.LBRACK, token.LBRACE:
				depth++
			case token.RPAREN, token.RBRACK, token.RBRACE:
				depth--
			}
			if depth == 0 {
				return i+2 < len(ts) && ts[i+1].tok == token.IDENT &&
					(ts[i+2].tok == token.LPAREN || ts[i+2].tok == token.LBRACK)
			}
		}
	}
	return false
}

// stmtKind says whether a statement is an expression statement.
func stmtKind(text string) Kind {
	f, err := parser.ParseFile(token.NewFileSet(), "", "package p;func _(){"+text+"\n}", parser.SkipObjectResolution)
	if err != nil || len(f.Decls) != 1 {
		return Stmt
	}
	body := f.Decls[0].(*ast.FuncDecl).Body
	if len(body.List) != 1 {
		return Stmt
	}
	if _, ok := body.List[0].(*ast.ExprStmt); ok {
		return Expr
	}
	return Stmt
}

// importSpecs parses an import declaration.
func importSpecs(r Run) ([]ImportSpec, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", "package p;"+r.Source("cell", 0), parser.ImportsOnly)
	if err != nil {
		if el, ok := err.(scanner.ErrorList); ok && len(el) > 0 {
			return nil, &Error{Line: el[0].Pos.Line, Col: el[0].Pos.Column, Msg: el[0].Msg}
		}
		return nil, &Error{Line: r.Line, Col: r.Col, Msg: err.Error()}
	}
	var out []ImportSpec
	for _, is := range f.Imports {
		p, err := strconv.Unquote(is.Path.Value)
		pos := fset.Position(is.Path.Pos())
		if err != nil {
			return nil, &Error{Line: pos.Line, Col: pos.Column, Msg: "malformed import path " + is.Path.Value}
		}
		spec := ImportSpec{Path: p, Line: pos.Line, Col: pos.Column}
		if is.Name != nil {
			spec.Name = is.Name.Name
		}
		out = append(out, spec)
	}
	return out, nil
}

// IsComplete answers Jupyter's is_complete_request: "complete" when the
// cell can run, "incomplete" (with the indent for the next line) when more
// lines would finish it (open brackets, a raw string or comment left open,
// a trailing operator), "invalid" when no continuation can make it valid.
func IsComplete(code string) (status, indent string) {
	if strings.TrimSpace(code) == "" {
		return "complete", ""
	}
	fset := token.NewFileSet()
	file := fset.AddFile("", fset.Base(), len(code))
	var s scanner.Scanner
	var lexErr string
	s.Init(file, []byte(code), func(_ token.Position, msg string) {
		if lexErr == "" {
			lexErr = msg
		}
	}, 0)
	var stack []token.Token
	for {
		_, t, _ := s.Scan()
		if t == token.EOF {
			break
		}
		switch t {
		case token.LPAREN, token.LBRACK, token.LBRACE:
			stack = append(stack, t)
		case token.RPAREN, token.RBRACK, token.RBRACE:
			if len(stack) == 0 || !matches(stack[len(stack)-1], t) {
				return "invalid", ""
			}
			stack = stack[:len(stack)-1]
		}
	}
	if lexErr != "" {
		if strings.Contains(lexErr, "raw string literal not terminated") || strings.Contains(lexErr, "comment not terminated") {
			return "incomplete", ""
		}
		return "invalid", ""
	}
	if len(stack) > 0 {
		return "incomplete", strings.Repeat("\t", len(stack))
	}
	c, err := Split(code)
	if err != nil {
		return "invalid", ""
	}
	for i, r := range c.Runs {
		if msg, atEnd := syntaxError(r); msg != "" {
			if atEnd && i == len(c.Runs)-1 {
				return "incomplete", ""
			}
			return "invalid", ""
		}
	}
	return "complete", ""
}

func matches(open, close token.Token) bool {
	return open == token.LPAREN && close == token.RPAREN ||
		open == token.LBRACK && close == token.RBRACK ||
		open == token.LBRACE && close == token.RBRACE
}

// syntaxError parses a run as the interpreter would and reports its first
// syntax error, and whether it lies at the end of the cell (so that more
// input could fix it).
func syntaxError(r Run) (msg string, atEnd bool) {
	var src string
	var skip int
	if r.Kind == Import || r.Kind == Decl {
		src = "package p;"
	} else {
		src = "package p;func _(){"
	}
	skip = len(src)
	src += r.Text + "\n"
	if r.Kind == Stmt || r.Kind == Expr {
		src += "}"
	}
	fset := token.NewFileSet()
	_, err := parser.ParseFile(fset, "", src, parser.SkipObjectResolution)
	if err == nil {
		return "", false
	}
	el, ok := err.(scanner.ErrorList)
	if !ok || len(el) == 0 {
		return err.Error(), false
	}
	off := el[0].Pos.Offset - skip // offset within r.Text
	// The error is at the end if nothing but blanks follows it in the run.
	atEnd = off >= len(strings.TrimRight(r.Text, " \t\r\n"))
	return el[0].Msg, atEnd
}
