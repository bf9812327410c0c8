// Package sqlagg checks and rewrites a researcher's %sql aggregate query so
// that every output cell carries the number of distinct persons behind it.
//
// The query is parsed by DuckDB itself (json_serialize_sql), the abstract
// syntax tree is walked in Go, and the accepted tree is extended with one
// column, __enclave_persons = count(DISTINCT <person table>.person_id) over
// the rows where the arguments of each aggregate are non-NULL (the least over
// the aggregates, as aggregates skip NULLs), then turned back into SQL with
// json_deserialize_sql. A second variant, SetsSQL,
// lists the person ids of every cell instead of counting them; the release
// layer runs it only when a cell's set is needed (differencing checks).
//
// Accepted is one SELECT whose every output item is a GROUP BY expression or
// an aggregate (count, sum, avg/mean, stddev*, var*, median, quantile*, min,
// max, arg_min/arg_max, first/last, any_value, mode), possibly inside
// arithmetic, CAST or round, over base tables of the tier's schema joined on
// person_id. Row-level output, identifier columns (person_id and other *_id
// columns except *_concept_id) used as values, filters or group keys, table
// functions, catalog views, window functions and aggregates that return
// individual values are refused with an error that names the rule and never
// echoes literal values from the query.
//
// Trust level: trusted kernel side.
package sqlagg
