// Package boundary holds no code: its test checks the dependency rules
// that make the trust boundary of DESIGN.md §1 hold, over every package of
// the module. Trust level: none (test only).
package boundary
