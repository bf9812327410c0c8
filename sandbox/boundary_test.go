package sandbox

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"enclave/sandbox/symbols"
	"enclave/sandbox/symbols/allowlist"
)

// forbidden are packages cells must never import. Each is also tried from
// a cell in testdata/cells/imports.cell.
var forbidden = []string{
	"os", "os/exec", "os/signal", "os/user", "net", "net/http", "net/rpc", "net/netip", "syscall",
	"golang.org/x/sys/unix", "unsafe", "reflect", "plugin", "runtime/debug", "runtime/pprof",
	"io/ioutil", "io/fs", "embed", "path/filepath", "log", "log/slog", "debug/elf", "testing",
	"github.com/traefik/yaegi/interp", "github.com/traefik/yaegi/stdlib", "github.com/traefik/yaegi",
	"enclave/sandbox", "enclave/rpc", "enclave/datasets/omop", "enclave/api/remote", "enclave/internal/rt",
	"C", "crypto/tls", "database/sql", "go/build", "expvar", "flag",
}

func TestAllowlistSorted(t *testing.T) {
	paths := allowlist.Paths()
	if !sort.StringsAreSorted(paths) {
		t.Errorf("allowlist.Packages() is not sorted by Path: %q", paths)
	}
	for _, p := range paths {
		if _, ok := allowlist.Lookup(p); !ok {
			t.Errorf("Lookup(%q) fails", p)
		}
	}
}

// TestSymbolTables checks the generated tables against the allowlist: a
// table per listed package and no other (but the interface wrappers of
// enclave/display under its source path), and the listed exclusions gone.
func TestSymbolTables(t *testing.T) {
	want := map[string]bool{}
	for _, p := range allowlist.Packages() {
		want[p.Path+"/"+packageName(p.Path)] = true
		if p.Source != "" {
			want[p.Source+"/"+packageName(p.Source)] = true
		}
	}
	for key, syms := range symbols.Symbols {
		if !want[key] {
			t.Errorf("symbol table %q is not in the allowlist", key)
		}
		if strings.HasPrefix(key, "enclave/api/") {
			for name := range syms {
				if !strings.HasPrefix(name, "_") {
					t.Errorf("%s exports %s; only interface wrappers belong under the source path", key, name)
				}
			}
		}
	}
	for key := range want {
		if _, ok := symbols.Symbols[key]; !ok {
			t.Errorf("allowlisted %q has no generated table; run go generate ./sandbox/symbols", key)
		}
	}
	for _, p := range forbidden {
		if _, ok := symbols.Symbols[p+"/"+packageName(p)]; ok {
			t.Errorf("forbidden package %s has a symbol table", p)
		}
	}
	gone := map[string][]string{
		"fmt/fmt":                 {"Print", "Printf", "Println", "Scan", "Scanf", "Scanln"},
		"time/time":               {"Sleep", "AfterFunc"},
		"enclave/display/display": {"SetSink", "Sink"},
		"runtime/runtime":         {"GC", "Goexit", "GOMAXPROCS", "KeepAlive", "SetFinalizer", "Stack", "Caller", "LockOSThread", "ReadMemStats", "Breakpoint"},
	}
	for key, names := range gone {
		for _, n := range names {
			if _, ok := symbols.Symbols[key][n]; ok {
				t.Errorf("%s.%s is exported to cells", key, n)
			}
		}
	}
}

// badPackages are packages whose types must not be reachable from any
// exported symbol: they reach files, processes, memory or the interpreter.
// A trailing slash marks a whole tree.
var badPackages = []string{
	"os", "os/exec", "syscall", "reflect", "unsafe", "net", "net/http", "runtime", "runtime/debug",
	"plugin", "io/fs", "log", "github.com/traefik/yaegi/", "enclave/sandbox/", "internal/", "golang.org/x/sys/",
}

func isBad(pkg string) bool {
	for _, bad := range badPackages {
		if pkg == bad || strings.HasSuffix(bad, "/") && (strings.HasPrefix(pkg, bad) || strings.Contains(pkg, "/"+bad)) {
			return true
		}
	}
	return false
}

// TestNoWayOut walks every type reachable from the exported symbols (results,
// fields, methods, element types) and fails on any from badPackages: a cell
// could otherwise get, say, a reflect.Type out of an error value and call
// its way around the allowlist.
func TestNoWayOut(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(tp reflect.Type, via string)
	walk = func(tp reflect.Type, via string) {
		if tp == nil {
			return
		}
		if tp.Kind() == reflect.UnsafePointer {
			t.Errorf("%s reaches unsafe.Pointer", via)
			return
		}
		if pp := tp.PkgPath(); pp != "" && isBad(pp) {
			t.Errorf("%s reaches %s (%s)", via, tp, pp)
			return
		}
		if seen[tp] {
			return
		}
		seen[tp] = true
		for _, m := range methods(tp) {
			walk(m.Type, via+" → "+tp.String()+"."+m.Name)
		}
		switch tp.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Chan:
			walk(tp.Elem(), via)
		case reflect.Map:
			walk(tp.Key(), via)
			walk(tp.Elem(), via)
		case reflect.Func:
			for i := 0; i < tp.NumOut(); i++ {
				walk(tp.Out(i), via)
			}
			// A function a cell passes in can be called back with these.
			for i := 0; i < tp.NumIn(); i++ {
				if in := tp.In(i); in.Kind() == reflect.Func {
					for j := 0; j < in.NumIn(); j++ {
						walk(in.In(j), via)
					}
				}
			}
		case reflect.Struct:
			for i := 0; i < tp.NumField(); i++ {
				if f := tp.Field(i); f.IsExported() {
					walk(f.Type, via+" → ."+f.Name)
				}
			}
		}
	}
	for key, syms := range symbols.Symbols {
		for name, v := range syms {
			tp := v.Type()
			if strings.HasPrefix(name, "_") { // interface wrapper: internal to yaegi
				continue
			}
			if tp.Kind() == reflect.Pointer && v.IsNil() { // a type
				tp = tp.Elem()
			}
			walk(tp, key+"."+name)
		}
	}
}
