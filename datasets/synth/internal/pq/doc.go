// Package pq writes flat Parquet files with only optional columns of a few
// types, fast enough to stream a million-person synthetic cohort: row
// groups are encoded independently (so callers may encode them in
// parallel) and appended in order by a Writer. Values are dictionary
// encoded when that pays, otherwise PLAIN; pages are uncompressed.
//
// It exists because the generator's tables are too large to round-trip
// through CSV and DuckDB within the time budget, and the module's Parquet
// libraries would add dependencies. Readers used to check it: DuckDB.
//
// Trust level: trusted kernel side (used by the synthetic data generator).
package pq
