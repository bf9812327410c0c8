// Package analysis serves the enclave API that cells call (enclave/omop,
// enclave/stats, enclave/plot, enclave/fitbit, enclave/export) on the
// trusted side, and the data magics (%sql, %tables, %describe, %concepts,
// %policy, %releases, %audit).
//
// Handles are plans held here, never rows: a cohort is a predicate over the
// person table, an events handle is a table, its concepts and filters and
// the cohort it is restricted to. Every aggregate is computed in DuckDB
// together with each cell's distinct-person count; each cell carries a plan
// that rebuilds its person set, self-contained (it names no handle), so the
// workspace's release history can rebuild the sets of releases made by
// other kernels too. The release package judges every cell before anything
// is returned; what the worker gets back is a spec.Table or spec.Plot of
// released values whose rendering the kernel keeps and substitutes when
// the worker shows it.
//
// Trust level: trusted kernel side.
package analysis
