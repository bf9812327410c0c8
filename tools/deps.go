//go:build tools

// Package tools pins the modules the project builds on, so that `go mod tidy`
// keeps them in go.mod even while no package imports one yet. It is never
// compiled into a binary.
package tools

import (
	_ "github.com/RoaringBitmap/roaring/v2"
	_ "github.com/biogo/hts/bgzf"
	_ "github.com/duckdb/duckdb-go/v2"
	_ "github.com/elastic/go-seccomp-bpf"
	_ "github.com/go-zeromq/zmq4"
	_ "github.com/google/uuid"
	_ "github.com/landlock-lsm/go-landlock/landlock"
	_ "github.com/traefik/yaegi/interp"
	_ "golang.org/x/sys/unix"
	_ "gonum.org/v1/gonum/mat"
	_ "gopkg.in/yaml.v3"
)
