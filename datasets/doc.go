// Package datasets is the trusted kernel side's view of a workspace's data:
// the Catalog interface the analysis API calls (tables and columns of the
// tier's views, concept search, aggregate queries returning per-cell
// distinct-person counts and, on demand, per-cell person sets), the Tier
// names, and the two-text Error used for every engine failure.
//
// Trust level: trusted kernel side only. The untrusted worker (packages
// sandbox and api) must never import this package or its sub-packages;
// it sees only checked aggregates the kernel hands it.
//
// Implementations live in sub-packages: datasets/omop (OMOP CDM v5.3 +
// Fitbit on embedded DuckDB, tiers materialised at import) with the default
// vocabulary in datasets/vocab.
package datasets
