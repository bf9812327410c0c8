package sandbox

import (
	"encoding"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"sync"
	"testing/fstest"
	"time"

	"github.com/traefik/yaegi/interp"
	gen "github.com/traefik/yaegi/stdlib/generic"

	"enclave/sandbox/symbols"
)

// resultVar holds the value of a cell's last expression, so that the
// worker can ask the interpreter for its rich forms (x.HTML(), …) with the
// methods the cell's own types declare.
const resultVar = "__enclave_result" // + a number

// newInterpreter builds the one interpreter of this worker: only the
// allowlisted symbols, no source from disk, no environment, and the
// worker's own stdout, stderr, stdin and Sleep.
func (w *Worker) newInterpreter() (*interp.Interpreter, error) {
	stdout := streamWriter{w.out, "stdout"}
	stderr := streamWriter{w.out, "stderr"}
	ip := interp.New(interp.Options{
		GoPath:               "",
		SourcecodeFilesystem: fstest.MapFS{},
		Stdin:                w.in,
		// yaegi's builtin print and println write to Stdout; in Go they
		// write to stderr. fmt.Print* are replaced below.
		Stdout: stderr,
		// yaegi writes to Stderr the positions a panic unwinds through.
		Stderr: w.trace,
		Args:   []string{},
		Env:    []string{},
	})

	exports := interp.Exports{}
	for k, v := range symbols.Symbols {
		m := make(map[string]reflect.Value, len(v)+8)
		for name, val := range v {
			m[name] = val
		}
		exports[k] = m
	}
	fm := exports["fmt/fmt"]
	fm["Print"] = reflect.ValueOf(func(a ...any) (int, error) { return fmt.Fprint(stdout, a...) })
	fm["Printf"] = reflect.ValueOf(func(f string, a ...any) (int, error) { return fmt.Fprintf(stdout, f, a...) })
	fm["Println"] = reflect.ValueOf(func(a ...any) (int, error) { return fmt.Fprintln(stdout, a...) })
	fm["Scan"] = reflect.ValueOf(func(a ...any) (int, error) { return fmt.Fscan(w.in, a...) })
	fm["Scanf"] = reflect.ValueOf(func(f string, a ...any) (int, error) { return fmt.Fscanf(w.in, f, a...) })
	fm["Scanln"] = reflect.ValueOf(func(a ...any) (int, error) { return fmt.Fscanln(w.in, a...) })
	exports["time/time"]["Sleep"] = reflect.ValueOf(w.sleep)
	exports[rtPath+"/rt"] = map[string]reflect.Value{"GoPanic": reflect.ValueOf(w.goPanic)}
	exports["."] = map[string]reflect.Value{"MapTypes": reflect.ValueOf(mapTypes(exports))}
	// Given "fmt/fmt", Use would point fmt.Print* at the interpreter's
	// Stdout (our stderr, for builtin println) and compile yaegi's generic
	// sources at once (4 ms; genericSources does it when a cell first
	// imports cmp, maps or slices). "fmt//fmt" names the same package
	// (yaegi splits the key with path.Dir and path.Base) without that.
	exports["fmt//fmt"] = fm
	delete(exports, "fmt/fmt")
	if err := ip.Use(exports); err != nil {
		return nil, err
	}
	if _, err := ip.Eval(fmt.Sprintf("import %s %q", rtName, rtPath)); err != nil {
		return nil, fmt.Errorf("worker hooks: %w", err)
	}
	return ip, nil
}

var (
	formatTypes = []reflect.Type{
		reflect.TypeOf((*fmt.Formatter)(nil)).Elem(),
		reflect.TypeOf((*fmt.Stringer)(nil)).Elem(),
	}
	scannerTypes = []reflect.Type{reflect.TypeOf((*fmt.Scanner)(nil)).Elem()}
)

// mapTypes tells yaegi which interfaces to look for when a cell passes its
// own types to these functions as interface{} (so that fmt calls String
// and encoding/json calls MarshalJSON on interpreted types).
func mapTypes(ex interp.Exports) map[reflect.Value][]reflect.Type {
	mt := map[reflect.Value][]reflect.Type{}
	for _, name := range []string{"Errorf", "Fprint", "Fprintf", "Fprintln", "Sprint", "Sprintf", "Sprintln", "Append", "Appendf", "Appendln", "Print", "Printf", "Println"} {
		if v, ok := ex["fmt/fmt"][name]; ok {
			mt[v] = formatTypes
		}
	}
	for _, name := range []string{"Fscan", "Fscanf", "Fscanln", "Sscan", "Sscanf", "Sscanln", "Scan", "Scanf", "Scanln"} {
		if v, ok := ex["fmt/fmt"][name]; ok {
			mt[v] = scannerTypes
		}
	}
	marshal := []reflect.Type{
		reflect.TypeOf((*json.Marshaler)(nil)).Elem(),
		reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem(),
	}
	unmarshal := []reflect.Type{
		reflect.TypeOf((*json.Unmarshaler)(nil)).Elem(),
		reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem(),
	}
	for _, name := range []string{"Marshal", "MarshalIndent"} {
		if v, ok := ex["encoding/json/json"][name]; ok {
			mt[v] = marshal
		}
	}
	if v, ok := ex["encoding/json/json"]["Unmarshal"]; ok {
		mt[v] = unmarshal
	}
	return mt
}

// genericSources compiles yaegi's source of the generic packages (cmp,
// maps, slices), once, before a cell first imports one of them.
func (w *Worker) genericSources() error {
	if w.genericsDone {
		return nil
	}
	w.sourceResults = map[string]int{}
	for _, src := range append(gen.Sources[:], slicesExtra) {
		if _, err := w.compile(src); err != nil {
			return fmt.Errorf("generic packages: %w", err)
		}
		// Remember how many results each function has, for resultMode.
		if f, err := parser.ParseFile(token.NewFileSet(), "", src, parser.SkipObjectResolution); err == nil {
			for _, d := range f.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
					w.sourceResults[f.Name.Name+"."+fd.Name.Name] = fieldCount(fd.Type.Results)
				}
			}
		}
	}
	w.genericsDone = true
	return nil
}

// sleep is time.Sleep for cells: an interrupt ends it.
func (w *Worker) sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-w.cellContext().Done():
	}
}

// traceBuffer collects yaegi's panic position lines.
type traceBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *traceBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	if len(t.buf) < 64<<10 {
		t.buf = append(t.buf, p...)
	}
	t.mu.Unlock()
	return len(p), nil
}

func (t *traceBuffer) take() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := string(t.buf)
	t.buf = t.buf[:0]
	return s
}
