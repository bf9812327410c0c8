// Package bigquery is the datasets.Catalog of one tier held in a Google
// BigQuery dataset: the OMOP CDM v5.3 tables of one tier, as All of Us
// publishes one dataset per tier and release, plus the enclave_tier table
// naming the tier.
//
// It answers the same questions as the DuckDB catalog (datasets/omop) with
// the same results: tables and columns (INFORMATION_SCHEMA), concept search,
// descendant expansion, mapping to standard concepts, structured aggregates
// compiled to GoogleSQL with per-cell distinct-person counts and values bound
// as query parameters, and the person set of one cell streamed into a
// roaring bitmap. The conformance suite in datasets/catalogtest holds both
// backends to identical answers.
//
// BigQuery bills the bytes a query scans, so every query is first dry-run
// (free): the estimate is checked against the session's byte budget and the
// query is refused, with a message saying how much it would scan, when it
// does not fit; the real query also carries the remaining budget as its
// maximum bytes billed, so BigQuery itself refuses it if the estimate was
// low. Each query's estimate, bytes processed and bytes billed go to the
// QueryLog (the kernel writes them to the audit log).
//
// Credentials are the data service's own Application Default Credentials;
// nothing in a workspace or a researcher's environment supplies them. An
// endpoint override (for the emulator in tests) must be a loopback address
// and is used without credentials.
//
// Load copies a tier database built by the DuckDB import (datasets/omop)
// into a BigQuery dataset with load jobs, so tiers are curated once, by the
// same code, whichever backend serves them.
//
// Trust level: trusted kernel side.
package bigquery
