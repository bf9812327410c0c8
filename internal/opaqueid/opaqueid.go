// Package opaqueid makes identifiers that say nothing of how many were
// made before them. The kernel names handles, result references and
// display ids for a session; a worker holding rows can make any number of
// them without showing anything, and sequential names would carry that
// number past a crash that ends the worker's taint (review 40 read a BMI
// of 30.5 from a handle id that went from h3 to h308).
package opaqueid

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns prefix followed by 12 random hex digits (48 bits).
func New(prefix string) string {
	var b [6]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return prefix + hex.EncodeToString(b[:])
}

// Unused returns New(prefix) not yet taken, by taken's answer.
func Unused(prefix string, taken func(string) bool) string {
	for {
		if id := New(prefix); !taken(id) {
			return id
		}
	}
}
