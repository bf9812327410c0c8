// Package release decides what may leave the enclave.
//
// Every output of a cell passes one Gate (the kernel's egress seam): kernel-
// built results are substituted for the references the worker shows, free-
// form output is counted against per-cell and per-session budgets, and once
// row-level data has entered the worker (taint) free-form output is withheld
// for review in the airlock. Every aggregate the analysis API computes is
// judged here cell by cell, on its distinct-person count and, where needed,
// its person set: small cells, secondary suppression of margins, derived
// values over few persons, dominance of sums, extremes, model degrees of
// freedom, and differencing (of person sets, and of the row sets of
// row-level statistics) against the workspace's history of releases,
// which all kernels of a workspace share under a file lock. Each decision is
// written to the workspace's hash-chained audit log.
//
// The rules and their All of Us defaults are in Policy; a workspace may only
// make them stricter (DESIGN.md §3).
//
// Trust level: trusted kernel side.
package release
