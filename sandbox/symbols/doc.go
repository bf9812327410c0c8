// Package symbols holds the only Go symbols the enclave worker's
// interpreter can import: the tables of the packages listed in
// enclave/sandbox/symbols/allowlist, generated from yaegi's extractor
// into z_*.go files (DO NOT EDIT them; change the allowlist and run
// `go generate ./sandbox/symbols`).
//
// Trust level: untrusted worker side. Every symbol here is reachable from
// researchers' code; nothing here may reach files, the network, the
// environment, other processes or memory layout.
package symbols

import "reflect"

//go:generate go run ./gen

// Symbols maps "path/name" (yaegi's key form, e.g. "fmt/fmt") to the
// package's exported symbols.
var Symbols = map[string]map[string]reflect.Value{}
