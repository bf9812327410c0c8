package boundary

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// A rule forbids the packages matched by from to depend, directly or not,
// on the packages matched by any of never. A pattern ending in "/..." matches
// the path and everything under it; other patterns match exactly.
type rule struct {
	why    string
	from   string
	never  []string
	except []string // dependencies allowed although never matches them
	noCgo  bool     // list as the package is built: CGO_ENABLED=0
}

var rules = []rule{
	{
		why:  "the worker binary holds no data layer, release machinery, kernel, DuckDB, ZeroMQ, launcher or cgo",
		from: "enclave/cmd/enclave-worker", noCgo: true,
		never: []string{"enclave/datasets/...", "enclave/release/...", "enclave/analysis/...", "enclave/kernel/...",
			"enclave/service/...", "github.com/duckdb/...", "github.com/apache/arrow/...", "github.com/go-zeromq/...",
			"github.com/traefik/yaegi/stdlib/...", "runtime/cgo"},
		except: []string{"github.com/traefik/yaegi/stdlib/generic"},
	},
	{
		why:   "the untrusted worker runtime reaches no trusted package",
		from:  "enclave/sandbox/...",
		never: []string{"enclave/datasets/...", "enclave/release/...", "enclave/analysis/...", "enclave/kernel/...", "enclave/service/...", "github.com/duckdb/..."},
	},
	{
		why:   "what cells import reaches no trusted package and not the worker runtime",
		from:  "enclave/api/...",
		never: []string{"enclave/datasets/...", "enclave/release/...", "enclave/analysis/...", "enclave/kernel/...", "enclave/service/...", "enclave/sandbox/...", "github.com/duckdb/..."},
	},
	{
		why:   "the protocol both sides speak depends on no other enclave package",
		from:  "enclave/rpc/...",
		never: []string{"enclave/..."},
	},
	{
		why:   "the kernel core does not know ZeroMQ, the data layer or the worker runtime",
		from:  "enclave/kernel",
		never: []string{"github.com/go-zeromq/...", "enclave/datasets/...", "enclave/sandbox/...", "enclave/kernel/wire/zmqsock"},
	},
}

func matches(pattern, path string) bool {
	if p, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == p || strings.HasPrefix(path, p+"/")
	}
	return path == pattern
}

type listed struct {
	ImportPath string
	Deps       []string
}

// list runs go list on pattern; a failure fails the test.
func list(t *testing.T, pattern string, noCgo bool) []listed {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Deps", pattern)
	cmd.Env = os.Environ()
	if noCgo {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []listed
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestDependencyRules(t *testing.T) {
	all := list(t, "enclave/...", false)
	if len(all) < 50 {
		t.Fatalf("go list found only %d packages in the module", len(all))
	}
	for _, r := range rules {
		t.Run(r.from, func(t *testing.T) {
			pkgs := all
			if r.noCgo { // the whole module does not build without cgo
				pkgs = list(t, r.from, true)
			}
			covered := 0
			for _, p := range pkgs {
				if !matches(r.from, p.ImportPath) {
					continue
				}
				covered++
				for _, d := range p.Deps {
					if !isForbidden(r, d) {
						continue
					}
					t.Errorf("%s depends on %s: %s", p.ImportPath, d, r.why)
				}
			}
			if covered == 0 {
				t.Errorf("no package matches %s; the rule checks nothing (moved or renamed?)", r.from)
			}
		})
	}
}

func isForbidden(r rule, dep string) bool {
	for _, e := range r.except {
		if matches(e, dep) {
			return false
		}
	}
	for _, n := range r.never {
		if matches(n, dep) {
			return true
		}
	}
	return false
}
