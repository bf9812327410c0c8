package datasets

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
)

// Tier is a workspace's data access tier (DESIGN.md §5).
type Tier string

const (
	// Registered: dates shifted per person, 89+ excluded, no identifiers
	// below state level, no free text or source values, generalised survey
	// demographics, no genomics.
	Registered Tier = "registered"
	// Controlled: unshifted dates and full fields (genomics when granted).
	Controlled Tier = "controlled"
)

// ParseTier parses "registered" or "controlled", in any case and with
// surrounding space (as typed on a command line or in a config file).
func ParseTier(s string) (Tier, error) {
	switch t := Tier(strings.ToLower(strings.TrimSpace(s))); t {
	case Registered, Controlled:
		return t, nil
	}
	return "", fmt.Errorf("datasets: unknown tier %q (want registered or controlled)", s)
}

// Column is one column of a tier table.
type Column struct {
	Name    string // lower-case column name
	Type    string // DuckDB type: INTEGER, BIGINT, DOUBLE, DATE, TIMESTAMP, VARCHAR
	Concept bool   // the column holds concept ids (foreign key to concept)
}

// TableInfo describes one table of the tier.
type TableInfo struct {
	Name      string
	Columns   []Column
	HasPerson bool // rows belong to a person (person_id), so Aggregate can count persons
}

// Concept is one row of the vocabulary's concept table.
type Concept struct {
	ID            int64
	Name          string
	Domain        string
	Vocabulary    string
	Class         string
	Standard      string // "S" standard, "C" classification, "" non-standard
	Code          string
	InvalidReason string
}

// ConceptQuery searches the vocabulary. Empty fields do not filter.
type ConceptQuery struct {
	Text         string // case-insensitive substring of the concept name or a synonym
	Code         string // exact concept_code
	Vocabulary   string // vocabulary_id, e.g. "SNOMED", "RxNorm", "LOINC", "PPI"
	Domain       string // domain_id, e.g. "Condition"
	StandardOnly bool
	Limit        int // at most this many results (default 50, at most 1000)
}

// AggFunc is what an aggregate query computes per cell.
type AggFunc string

const (
	CountPersons AggFunc = "count_persons" // distinct persons (the default)
	CountRows    AggFunc = "count"         // rows
	Sum          AggFunc = "sum"
	Mean         AggFunc = "mean"
	Min          AggFunc = "min"
	Max          AggFunc = "max"
	StdDev       AggFunc = "stddev"
	Median       AggFunc = "median"
)

// Filter restricts the rows an aggregate query sees.
//
// Op is one of =, !=, <, <=, >, >=, in, not in, between (two values),
// is null, is not null, and "descendant of" (Values are concept ids; the
// column must be a concept column; matches the concepts and all their
// descendants via concept_ancestor).
type Filter struct {
	Column string
	Op     string
	Values []any
}

// Query is a structured aggregate query over one tier table.
//
// Columns are named as "column" (of Table) or "person.column" (joined on
// person_id, e.g. "person.gender_concept_id"); a column may be wrapped in
// year(...) or month(...) when it is a date. Values are bound as query
// parameters, never spliced into SQL.
type Query struct {
	Table   string   // a tier table with person_id, e.g. "condition_occurrence"
	GroupBy []string // up to 4 group-by columns; none = one cell for the whole table
	Where   []Filter
	Agg     AggFunc // default CountPersons
	Of      string  // column aggregated by Sum/Mean/Min/Max/StdDev/Median
}

// Cell is one group of an aggregate result.
type Cell struct {
	Key     []any   // group-by values in Query.GroupBy order (int64, float64, string, time.Time or nil)
	Value   float64 // the aggregate (equals Persons for CountPersons)
	Rows    int64   // contributing rows
	Persons int64   // distinct contributing persons: what disclosure rules check
}

// Result is an aggregate query's answer. Cells are sorted by Key.
type Result struct {
	Query Query
	Cells []Cell
}

// Catalog is the data of one workspace tier, as the kernel's analysis API
// sees it. Implementations are safe for concurrent use.
//
// Every error a Catalog returns for a query is an *Error (or wraps one):
// show err.Error() to the researcher; write AuditText(err) to the audit log.
type Catalog interface {
	// Tier is the tier this catalog exposes.
	Tier() Tier
	// Tables lists the tier's tables and their columns.
	Tables(ctx context.Context) ([]TableInfo, error)
	// SearchConcepts finds concepts by name, code, vocabulary or domain.
	SearchConcepts(ctx context.Context, q ConceptQuery) ([]Concept, error)
	// Descendants returns the given concepts and all their descendants
	// (concept_ancestor), sorted, without duplicates.
	Descendants(ctx context.Context, ids ...int64) ([]int64, error)
	// MapToStandard maps source concepts to standard concepts through
	// concept_relationship "Maps to"; ids without a mapping are absent.
	MapToStandard(ctx context.Context, ids ...int64) (map[int64][]int64, error)
	// Aggregate runs q and returns per-cell values and distinct-person counts.
	Aggregate(ctx context.Context, q Query) (*Result, error)
	// PersonSet materialises the person_ids of one cell of q (the cell whose
	// Key is key) as a roaring bitmap, for differencing checks.
	PersonSet(ctx context.Context, q Query, key []any) (*roaring.Bitmap, error)
	// Close releases the database.
	Close() error
}

// Error is an error with two texts: Safe, which the researcher may see (no
// data values, no literals, no paths), and Err, the full chain for the audit
// log (engine messages can echo data values).
type Error struct {
	Safe string
	Err  error
}

// Error returns only the safe text, so printing the error never leaks.
func (e *Error) Error() string { return e.Safe }

// Unwrap returns the full internal error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error whose safe and audit texts are the same (use only
// for messages built from trusted strings: table and column names of the
// catalog, never data values).
func Errorf(format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Safe: err.Error(), Err: err}
}

// SafeText is the text a researcher may see for err: the Safe text of the
// first *Error in its chain, or a generic message.
func SafeText(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Safe
	}
	return "internal error (details in the audit log)"
}

// AuditText is the full text of err for the audit log.
func AuditText(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Err != nil {
		if full := e.Err.Error(); full != e.Safe {
			return e.Safe + ": " + full
		}
		return e.Safe
	}
	return err.Error()
}
