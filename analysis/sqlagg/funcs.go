package sqlagg

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// funcCatalog says, per lower-case function name, which kinds DuckDB knows
// it as (scalar, aggregate, macro, table, pragma, table_macro).
type funcCatalog struct {
	types map[string]map[string]bool
}

var (
	catalogMu    sync.Mutex
	catalogCache *funcCatalog
)

// loadCatalog reads duckdb_functions() once per process; refresh re-reads
// it (used when a query names a function the cached catalog lacks, e.g.
// after an extension was loaded).
func loadCatalog(ctx context.Context, q Querier, refresh bool) (*funcCatalog, error) {
	catalogMu.Lock()
	defer catalogMu.Unlock()
	if catalogCache != nil && !refresh {
		return catalogCache, nil
	}
	rows, err := q.QueryContext(ctx, "SELECT DISTINCT lower(function_name), function_type FROM duckdb_functions()")
	if err != nil {
		return nil, fmt.Errorf("sqlagg: reading the function catalog: %s", SanitizeMessage(err.Error()))
	}
	defer rows.Close()
	c := &funcCatalog{types: map[string]map[string]bool{}}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, fmt.Errorf("sqlagg: reading the function catalog: %w", err)
		}
		if c.types[name] == nil {
			c.types[name] = map[string]bool{}
		}
		c.types[name][typ] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlagg: reading the function catalog: %s", SanitizeMessage(err.Error()))
	}
	if len(c.types) == 0 {
		return nil, fmt.Errorf("sqlagg: the function catalog is empty")
	}
	catalogCache = c
	return c, nil
}

func (c *funcCatalog) known(name string) bool { return c.types[name] != nil }

func (c *funcCatalog) isAggregate(name string) bool { return c.types[name]["aggregate"] }

func (c *funcCatalog) isScalar(name string) bool { return c.types[name]["scalar"] }

func (c *funcCatalog) isMacro(name string) bool { return c.types[name]["macro"] }

// aggKinds are the aggregates accepted in released output, by class.
var aggKinds = map[string]Kind{
	"count": KindCount, "count_star": KindCount,

	"avg": KindDerived, "mean": KindDerived, "favg": KindDerived,
	"stddev": KindDerived, "stddev_samp": KindDerived, "stddev_pop": KindDerived,
	"var_samp": KindDerived, "var_pop": KindDerived, "variance": KindDerived,
	"median": KindDerived, "quantile": KindDerived, "quantile_cont": KindDerived, "quantile_disc": KindDerived,

	"sum": KindSum, "fsum": KindSum, "sumkahan": KindSum, "kahan_sum": KindSum,

	"min": KindExtreme, "max": KindExtreme,
	"arg_min": KindExtreme, "arg_max": KindExtreme, "argmin": KindExtreme, "argmax": KindExtreme,
	"min_by": KindExtreme, "max_by": KindExtreme,
	"arg_min_null": KindExtreme, "arg_max_null": KindExtreme,
	"arg_min_nulls_last": KindExtreme, "arg_max_nulls_last": KindExtreme,
	"first": KindExtreme, "last": KindExtreme, "any_value": KindExtreme, "arbitrary": KindExtreme,
	"mode": KindExtreme,
}

// individualValueAggs return (lists or concatenations of) the rows' own
// values; they are refused in released output whatever the group size.
var individualValueAggs = map[string]bool{
	"list": true, "array_agg": true, "string_agg": true, "group_concat": true, "listagg": true,
	"histogram": true, "histogram_exact": true, "histogram_values": true, "approx_top_k": true,
	"bitstring_agg": true, "json_group_array": true, "json_group_object": true,
	"json_group_structure": true, "map_agg": true, "reservoir_quantile": true,
}

// deniedFuncs read session state, raise data-dependent errors or inject
// randomness; they are refused anywhere in a query.
var deniedFuncs = map[string]bool{
	"error": true, "current_setting": true, "getvariable": true, "getenv": true,
	"random": true, "setseed": true, "current_query": true, "current_query_id": true,
	"current_connection_id": true, "current_transaction_id": true, "txid_current": true,
	"json_serialize_sql": true, "json_deserialize_sql": true, "json_execute_serialized_sql": true,
	"query": true, "query_table": true,
}

// allowedMacros are built-in scalar macros with plain scalar bodies. Other
// macros are refused: their bodies are not checked here and some of them
// aggregate (geomean, json_group_array) or read the catalog (format_type).
var allowedMacros = map[string]bool{
	"nullif": true, "date_add": true, "fdiv": true, "fmod": true, "days_in_month": true,
	"list_append": true, "list_prepend": true, "array_append": true, "array_prepend": true,
	"array_push_back": true, "array_push_front": true, "array_pop_back": true,
	"array_pop_front": true, "array_reverse": true, "list_reverse": true,
}

// wrapperFuncs may wrap aggregates in a released select item.
var wrapperFuncs = map[string]bool{
	"+": true, "-": true, "*": true, "/": true, "//": true, "%": true,
	"round": true, "abs": true, "ceil": true, "ceiling": true, "floor": true,
	"nullif": true, "coalesce": true,
}

func acceptedAggregates() string {
	names := make([]string, 0, len(aggKinds))
	for n := range aggKinds {
		if n != "count_star" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// kindRank orders kinds from least to most restrictive disclosure rules.
func kindRank(k Kind) int {
	switch k {
	case KindCount:
		return 1
	case KindDerived:
		return 2
	case KindSum:
		return 3
	case KindExtreme:
		return 4
	}
	return 0
}
