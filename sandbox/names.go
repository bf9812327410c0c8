package sandbox

import (
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"strings"
	"sync"

	"enclave/sandbox/cells"
)

// names remembers the top-level names cells declared, for completion.
type names struct {
	mu      sync.Mutex
	set     map[string]string // name → kind ("var", "func", "type", "const")
	methods map[string]bool   // method names declared on cells' types
	funcs   map[string]int    // number of results of the cells' functions
	types   map[string]string // type name → its definition, spaces folded
}

// redefinedType finds a type or method the run declares that an earlier
// cell declared differently: yaegi keeps the first definition of a type or
// method and would silently ignore the new one. (Functions and variables
// can be redefined.)
func (n *names) redefinedType(r cells.Run) (name string, line, col int, ok bool) {
	for _, t := range typeSpecs(r) {
		n.mu.Lock()
		prev, seen := n.types[t.name]
		n.mu.Unlock()
		if seen && prev != t.def {
			return t.name, t.line, t.col, true
		}
	}
	return "", 0, 0, false
}

type typeSpec struct {
	name, def string
	line, col int
}

// typeSpecs lists the type declarations of a run of declarations.
func typeSpecs(r cells.Run) []typeSpec {
	if r.Kind != cells.Decl {
		return nil
	}
	const prefix = "package p;"
	src := prefix + r.Source("cell", 0)
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", src, parser.SkipObjectResolution)
	if err != nil {
		return nil
	}
	var out []typeSpec
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv != nil && len(fd.Recv.List) == 1 {
			// A method: named Type.Method, defined by its whole text.
			recv := fd.Recv.List[0].Type
			for {
				switch x := recv.(type) {
				case *ast.StarExpr:
					recv = x.X
					continue
				case *ast.IndexExpr:
					recv = x.X
					continue
				case *ast.IndexListExpr:
					recv = x.X
					continue
				}
				break
			}
			id, ok := recv.(*ast.Ident)
			from, to := fset.Position(fd.Pos()).Offset, fset.Position(fd.End()).Offset
			if !ok || from < 0 || to > len(src) || from > to {
				continue
			}
			p := fset.Position(fd.Name.Pos())
			out = append(out, typeSpec{name: id.Name + "." + fd.Name.Name, def: strings.Join(strings.Fields(src[from:to]), " "), line: p.Line, col: p.Column})
			continue
		}
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.TYPE {
			continue
		}
		for _, s := range g.Specs {
			ts := s.(*ast.TypeSpec)
			from, to := fset.Position(ts.Pos()).Offset, fset.Position(ts.End()).Offset
			if from < 0 || to > len(src) || from > to {
				continue
			}
			p := fset.Position(ts.Name.Pos())
			out = append(out, typeSpec{name: ts.Name.Name, def: strings.Join(strings.Fields(src[from:to]), " "), line: p.Line, col: p.Column})
		}
	}
	return out
}

// results is the number of results of a function a cell declared.
func (n *names) results(name string) (int, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r, ok := n.funcs[name]
	return r, ok
}

func newNames() *names {
	return &names{set: map[string]string{}, methods: map[string]bool{}, funcs: map[string]int{}, types: map[string]string{}}
}

// hasMethod reports whether a cell declared a method of that name.
func (n *names) hasMethod(name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.methods[name]
}

// learn records the names a successfully run piece of a cell declared.
func (n *names) learn(r cells.Run) {
	for _, t := range typeSpecs(r) {
		n.mu.Lock()
		if _, seen := n.types[t.name]; !seen {
			n.types[t.name] = t.def
		}
		n.mu.Unlock()
	}
	var src string
	switch r.Kind {
	case cells.Decl:
		src = "package p;" + r.Text
	case cells.Stmt:
		src = "package p;func _(){" + r.Text + "\n}"
	default:
		return
	}
	f, err := parser.ParseFile(token.NewFileSet(), "", src, parser.SkipObjectResolution)
	if err != nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	addGen := func(d *ast.GenDecl) {
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.ValueSpec:
				for _, id := range s.Names {
					n.add(id.Name, strings.ToLower(d.Tok.String()))
				}
			case *ast.TypeSpec:
				n.add(s.Name.Name, "type")
			}
		}
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.GenDecl:
			addGen(d)
		case *ast.FuncDecl:
			if d.Recv != nil {
				n.methods[d.Name.Name] = true
			} else if r.Kind == cells.Decl && d.Name.Name != "_" {
				n.add(d.Name.Name, "func")
				n.funcs[d.Name.Name] = fieldCount(d.Type.Results)
			} else if r.Kind == cells.Stmt {
				for _, st := range d.Body.List {
					switch st := st.(type) {
					case *ast.AssignStmt:
						if st.Tok == token.DEFINE {
							for _, e := range st.Lhs {
								if id, ok := e.(*ast.Ident); ok {
									n.add(id.Name, "var")
								}
							}
						}
					case *ast.DeclStmt:
						if g, ok := st.Decl.(*ast.GenDecl); ok {
							addGen(g)
						}
					}
				}
			}
		}
	}
}

func (n *names) add(name, kind string) {
	if name != "_" && !strings.HasPrefix(name, "__enclave") {
		n.set[name] = kind
		if kind != "func" {
			delete(n.funcs, name)
		}
	}
}

// withPrefix lists the names starting with prefix, sorted.
func (n *names) withPrefix(prefix string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for k := range n.set {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func (n *names) kind(name string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	k, ok := n.set[name]
	return k, ok
}
