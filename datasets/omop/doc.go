// Package omop is the trusted side's OMOP CDM v5.3 + Fitbit data layer on
// embedded DuckDB: the schema (generated from the official OHDSI field-level
// specification), the validating atomic import of OMOP CSV/Parquet folders,
// the per-tier databases, and the read-only Catalog the kernel queries.
//
// Trust level: trusted kernel side. Only the kernel and the steward's CLI
// open these files; the untrusted worker never sees a path or a row.
//
// # Files of a workspace
//
// Import(ctx, dbPath, folder, opts) builds the base database dbPath (every
// CDM, Fitbit and vocabulary table, plus the workspace's secret date-shift
// key in enclave_meta) and, next to it, one database per tier:
//
//	TierPath(dbPath, datasets.Registered)  // <dir>/tier_registered.duckdb
//	TierPath(dbPath, datasets.Controlled)  // <dir>/tier_controlled.duckdb
//
// A tier database holds only that tier's tables (already date-shifted,
// filtered and generalised for registered), never the base tables or the
// secret, so a kernel that opens only its tier's file cannot name them.
// Import is atomic: everything is built into temporary files beside dbPath
// and renamed into place only when every file validated; a failed import
// leaves the previous files exactly as they were.
//
// # Opening a tier
//
// OpenCatalog(TierPath(dbPath, tier)) opens a tier database read-only with
// DuckDB's external access disabled and its configuration locked
// (read_csv, ATTACH, COPY, INSTALL and SET fail), so several kernels of one
// workspace can share it. It returns a datasets.Catalog.
//
// # Import input
//
// A folder of <table>.csv, .tsv, .txt, .csv.gz or .parquet files, names
// case-insensitive (OHDSI/Eunomia PERSON.csv works), comma or tab
// separated, header row with case-insensitive column names. CDM v5.4
// folders load by column name: renamed columns are mapped back, extra
// columns are ignored (warning), missing optional columns are NULL.
// Vocabulary tables in the folder are merged into the embedded default
// vocabulary (package vocab), the folder's rows winning on key.
package omop
