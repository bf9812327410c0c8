package allowlist

import (
	"regexp"
	"slices"
	"sort"
)

// Package is one importable package.
type Package struct {
	// Path is the import path user code writes ("fmt", "enclave/display").
	Path string
	// Source is the Go package the symbols come from, if not Path
	// (enclave/display is implemented by enclave/api/display).
	Source string
	// Include, if set, keeps only the symbols matching one of these regexps.
	Include []string
	// Exclude drops symbols matching one of these regexps.
	Exclude []string
	// Supplied names excluded symbols the worker provides itself, with
	// the same signature (fmt.Println writing to the cell's stdout).
	Supplied []string
	// Why explains the exclusions, for reviewers.
	Why string
}

// packages is the allowlist. Keep it sorted by Path.
var packages = []Package{
	{Path: "bufio"},
	{Path: "bytes"},
	{Path: "cmp"},
	{Path: "container/heap"},
	{Path: "container/list"},
	{Path: "container/ring"},
	{
		Path:    "context",
		Exclude: []string{"^AfterFunc$"},
		Why:     "AfterFunc runs user code on a goroutine the worker cannot guard, after the cell ended",
	},
	{Path: "crypto/md5"},
	{Path: "crypto/sha1"},
	{Path: "crypto/sha256"},
	{Path: "crypto/sha512"},
	{
		Path: "enclave/display", Source: "enclave/api/display",
		Exclude: []string{"^SetSink$", "^Sink$"},
		Why:     "the sink is installed by the worker runtime, never by user code",
	},
	{Path: "enclave/export", Source: "enclave/api/export", Why: "export requests go to the airlock through the kernel"},
	{Path: "enclave/fitbit", Source: "enclave/api/fitbit", Why: "handles over the Fitbit tables; data stays in the kernel"},
	{Path: "enclave/genomics", Source: "enclave/api/genomics", Why: "handles over genotypes (controlled tier); genotypes, dosages and PC scores stay in the kernel"},
	{Path: "enclave/omop", Source: "enclave/api/omop", Why: "handles over the OMOP tables; data stays in the kernel"},
	{Path: "enclave/plot", Source: "enclave/api/plot", Why: "figures drawn by the kernel from released values"},
	{Path: "enclave/stats", Source: "enclave/api/stats", Why: "statistics computed and judged by the kernel"},
	{Path: "encoding/base64"},
	{Path: "encoding/binary"},
	{Path: "encoding/csv"},
	{Path: "encoding/hex"},
	{
		Path: "encoding/json",
		Exclude: []string{"^InvalidUnmarshalError$", "^MarshalerError$", "^UnmarshalFieldError$",
			"^UnmarshalTypeError$", "^UnsupportedTypeError$", "^UnsupportedValueError$"},
		Why: "these error types carry reflect.Type/reflect.Value fields; without the type names a cell " +
			"cannot assert an error to them (their messages still print)",
	},
	{Path: "errors"},
	{
		Path:     "fmt",
		Exclude:  []string{"^Print$", "^Printf$", "^Println$", "^Scan$", "^Scanf$", "^Scanln$"},
		Supplied: []string{"Print", "Printf", "Println", "Scan", "Scanf", "Scanln"},
		Why:      "the worker supplies these per interpreter: output goes to the cell's stdout stream, input asks the frontend",
	},
	{Path: "hash/crc32"},
	{Path: "hash/fnv"},
	{Path: "html"},
	{
		Path: "html/template", Source: "enclave/api/htmltemplate",
		Why: "a wrapper without ParseFiles, ParseGlob and ParseFS: the standard Template's methods read files",
	},
	{Path: "image"},
	{Path: "image/color"},
	{Path: "image/draw"},
	{Path: "image/png"},
	{Path: "io", Why: "interfaces and in-memory helpers only; no file is reachable without os"},
	{Path: "maps"},
	{Path: "math"},
	{Path: "math/big"},
	{Path: "math/bits"},
	{Path: "math/cmplx"},
	{Path: "math/rand"},
	{Path: "math/rand/v2"},
	{Path: "net/url", Why: "parsing and escaping only; it opens no connection"},
	{Path: "path", Why: "slash-separated path strings only; path/filepath stays out"},
	{Path: "regexp"},
	{
		Path:    "runtime",
		Include: []string{"^GOARCH$", "^GOOS$", "^NumCPU$", "^NumGoroutine$", "^Version$"},
		Why:     "read-only facts; nothing that changes the process or reads its memory",
	},
	{Path: "slices"},
	{Path: "sort"},
	{Path: "strconv"},
	{Path: "strings"},
	{Path: "sync"},
	{
		Path:    "sync/atomic",
		Exclude: []string{"Pointer$"},
		Why:     "the *Pointer functions take unsafe.Pointer",
	},
	{Path: "text/tabwriter"},
	{
		Path: "text/template", Source: "enclave/api/texttemplate",
		Why: "a wrapper without ParseFiles, ParseGlob and ParseFS: the standard Template's methods read files",
	},
	{
		Path:     "time",
		Exclude:  []string{"^Sleep$", "^AfterFunc$"},
		Supplied: []string{"Sleep"},
		Why: "Sleep is supplied by the worker so that an interrupt ends it; AfterFunc runs user code on a " +
			"goroutine after the cell ended. LoadLocation refuses paths with .. or a leading /, and the " +
			"worker embeds time/tzdata, so it works when confinement forbids reading zoneinfo",
	},
	{Path: "unicode"},
	{Path: "unicode/utf16"},
	{Path: "unicode/utf8"},
}

// Keeps reports whether the package's table keeps the exported symbol name
// (its Include and Exclude lists) or the worker supplies it.
func (p Package) Keeps(name string) bool {
	for _, s := range p.Supplied {
		if s == name {
			return true
		}
	}
	match := func(list []string) bool {
		for _, re := range list {
			if regexp.MustCompile(re).MatchString(name) {
				return true
			}
		}
		return false
	}
	if len(p.Include) > 0 && !match(p.Include) {
		return false
	}
	return !match(p.Exclude)
}

// Packages returns a copy of the allowlist, sorted by Path; changing it
// changes nothing else.
func Packages() []Package {
	out := make([]Package, len(packages))
	for i, p := range packages {
		out[i] = p.clone()
	}
	return out
}

// clone is p with lists of its own.
func (p Package) clone() Package {
	p.Include = slices.Clone(p.Include)
	p.Exclude = slices.Clone(p.Exclude)
	p.Supplied = slices.Clone(p.Supplied)
	return p
}

// Lookup returns (a copy of) the allowlist entry for an import path.
func Lookup(path string) (Package, bool) {
	i := sort.Search(len(packages), func(i int) bool { return packages[i].Path >= path })
	if i < len(packages) && packages[i].Path == path {
		return packages[i].clone(), true
	}
	return Package{}, false
}

// Paths returns the importable paths, sorted.
func Paths() []string {
	out := make([]string, len(packages))
	for i, p := range packages {
		out[i] = p.Path
	}
	return out
}
