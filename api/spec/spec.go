package spec

// MIMERef is the MIME type of a reference to a result the kernel rendered
// itself. When a cell shows a released Table or Plot, the worker sends only
// {MIMERef: {"ref": id}}; the kernel replaces it with its own rendering
// (HTML, plain text, data resource, PNG, SVG). So what reaches the frontend
// for a kernel-built result is what the kernel built, even when the worker
// has seen row-level data.
const MIMERef = "application/vnd.enclave.ref+json"

// Ref is the content of a MIMERef bundle entry.
type Ref struct {
	Ref string `json:"ref"`
}

// Handle is a reference to a kernel-side lazy frame: a cohort of persons or
// a set of event rows (measurements, conditions, Fitbit days…). The rows
// never cross the pipe; only the id and a description do.
type Handle struct {
	ID   string `json:"id"`
	Kind string `json:"kind"` // KindCohort or KindEvents
	// Table is the OMOP or Fitbit table of an events handle ("" for cohorts).
	Table string `json:"table,omitempty"`
	// Desc says in words what the handle holds, built by the kernel from
	// names the researcher gave (concept ids, columns), never from data.
	Desc string `json:"desc"`
}

// Handle kinds.
const (
	KindCohort = "cohort"
	KindEvents = "events"
)

// Cell statuses. A released cell has status Released; every other status
// means Value is absent and Text shows the policy's marker.
const (
	Released   = ""
	Small      = "small"      // fewer persons than the policy's minimum (shown as ≤20)
	Secondary  = "secondary"  // suppressed so that a small cell cannot be recomputed from margins
	Derived    = "derived"    // a mean, rate or percentage over too few persons
	Dominance  = "dominance"  // a sum dominated by one or two persons
	Extreme    = "extreme"    // a minimum, maximum or single-person value: never released
	Difference = "difference" // nested with an earlier release and differs from it by too few persons
	Model      = "model"      // model output refused (residual dof, sparse categorical level)
	Overlap    = "overlap"    // a smoothed quantile whose window overlaps another's of the same group
	Ties       = "ties"       // a smoothed quantile whose window of few tied values tells how many rows hold each
	NoData     = "nodata"     // no value: no rows, or a statistic that is undefined here
)

// Cell is one released cell of a table.
type Cell struct {
	Text   string   `json:"text"`             // as shown ("1,234", "≤20", "45.2%")
	Value  *float64 `json:"value,omitempty"`  // the released number; nil when suppressed or not numeric
	Status string   `json:"status,omitempty"` // Released ("") or why it is suppressed
}

// Table is a released table: what a cell gets back from an aggregate,
// summary or model call. Every number in it has passed the release rules.
type Table struct {
	Ref     string   `json:"ref"` // the kernel's rendering of this table
	Title   string   `json:"title"`
	Columns []string `json:"columns"`
	Rows    [][]Cell `json:"rows"`
	// Notes is the legend: what each suppression marker in the table means,
	// and any rows the call left out and why.
	Notes []string `json:"notes,omitempty"`
}

// Plot is a released plot drawn by the kernel from released values only.
type Plot struct {
	Ref   string `json:"ref"`
	Title string `json:"title"`
	// Table holds the released numbers the plot was drawn from.
	Table *Table `json:"table,omitempty"`
}

// Concept is one vocabulary concept (the vocabulary is public reference
// data, not participant data).
type Concept struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Domain     string `json:"domain"`
	Vocabulary string `json:"vocabulary"`
	Code       string `json:"code"`
	Standard   bool   `json:"standard"`
}

// Rows is row-level data returned by Collect where the tier and policy
// allow it. Receiving it taints the worker: from then on its free-form
// output is held for review.
type Rows struct {
	Columns []string `json:"columns"`
	Data    [][]any  `json:"data"`
}
