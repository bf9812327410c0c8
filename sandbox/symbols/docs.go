package symbols

import (
	_ "embed"
	"strings"
	"sync"
)

// docs holds the declaration and documentation of every allowlisted symbol
// (written by go generate; see gen/docs.go for the format).
//
//go:embed zdocs.txt
var docs string

var (
	docOnce  sync.Once
	docIndex map[string][2]string
)

// Doc returns the declaration and documentation of a symbol named
// "path.Name" ("strings.ToUpper") or "path.Type.Method".
func Doc(key string) (decl, text string, ok bool) {
	docOnce.Do(func() {
		docIndex = map[string][2]string{}
		for _, rec := range strings.Split(docs, "\x1e") {
			f := strings.Split(rec, "\x1f")
			if len(f) == 3 {
				docIndex[f[0]] = [2]string{f[1], f[2]}
			}
		}
	})
	d, ok := docIndex[key]
	return d[0], d[1], ok
}
