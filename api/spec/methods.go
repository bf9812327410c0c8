package spec

// Method names of the analysis API and their arguments. Every method answers
// with a JSON value of the type named in its comment, or an error whose text
// is safe to show (no data values).
const (
	MPersons     = "omop.persons"         // PersonsArgs → Handle: every person of the tier
	MEvents      = "omop.events"          // EventsArgs → Handle: rows of one table
	MDerive      = "handle.derive"        // DeriveArgs → Handle: a filtered or combined handle
	MDescendants = "concepts.descendants" // ConceptArgs → []int64
	MMapStandard = "concepts.standard"    // ConceptArgs → []int64: standard concepts the ids map to
	MSearch      = "concepts.search"      // SearchArgs → []Concept
	MLookup      = "concepts.lookup"      // ConceptArgs → []Concept
	MCount       = "stats.count"          // CountArgs → Table
	MTable1      = "stats.table1"         // Table1Args → Table
	MDescribe    = "stats.describe"       // DescribeArgs → Table
	MIncidence   = "stats.incidence"      // IncidenceArgs → Table
	MSurvival    = "stats.survival"       // SurvivalArgs → Table (Kaplan–Meier)
	MRegress     = "stats.regress"        // RegressArgs → Table
	MHistogram   = "plot.histogram"       // HistogramArgs → Plot
	MBar         = "plot.bar"             // CountArgs → Plot
	MCollect     = "rows.collect"         // CollectArgs → Rows (taints the worker)
	MExport      = "export.file"          // ExportArgs → ExportReceipt
)

// PersonsArgs has no fields yet; it exists so the method has a shape.
type PersonsArgs struct{}

// EventsArgs names a table and, optionally, the concepts its rows must have
// (in the table's main concept column, e.g. condition_concept_id).
type EventsArgs struct {
	Table    string  `json:"table"`
	Concepts []int64 `json:"concepts,omitempty"`
}

// Step is one derivation of a handle. Exactly one field is set.
type Step struct {
	// Cohort steps.
	With    *Has     `json:"with,omitempty"`    // persons with at least one matching row
	Without *Has     `json:"without,omitempty"` // persons without any
	Age     *AgeStep `json:"age,omitempty"`     // age in [Min, Max] at At
	Sex     string   `json:"sex,omitempty"`     // "female" or "male" (gender_concept_id)
	And     string   `json:"and,omitempty"`     // intersection with another cohort handle
	Or      string   `json:"or,omitempty"`      // union with another cohort handle
	Minus   string   `json:"minus,omitempty"`   // difference with another cohort handle
	// Events steps.
	Of     string  `json:"of,omitempty"`     // only rows of persons in this cohort handle
	Where  *Filter `json:"where,omitempty"`  // a condition on a column
	Within *Dates  `json:"within,omitempty"` // the table's date in [From, To]
	// Persons turns an events handle into the cohort of its persons.
	Persons bool `json:"persons,omitempty"`
}

// Has says which rows of which table a person must (or must not) have.
type Has struct {
	Table    string  `json:"table"`              // condition_occurrence, measurement, … or an events handle id
	Concepts []int64 `json:"concepts,omitempty"` // in the table's main concept column
	Handle   string  `json:"handle,omitempty"`   // an events handle instead of Table+Concepts
}

// AgeStep keeps persons whose age in whole years at At (YYYY-MM-DD) is in
// [Min, Max].
type AgeStep struct {
	Min int    `json:"min"`
	Max int    `json:"max"`
	At  string `json:"at"`
}

// Filter is a condition on a column: Op is =, !=, <, <=, >, >=, between,
// in, not in, is null, is not null.
type Filter struct {
	Column string `json:"column"`
	Op     string `json:"op"`
	Values []any  `json:"values,omitempty"`
}

// Dates bounds a date column, inclusive, as YYYY-MM-DD ("" = open).
type Dates struct {
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// DeriveArgs applies one step to a handle.
type DeriveArgs struct {
	Base string `json:"base"`
	Step Step   `json:"step"`
}

// ConceptArgs lists concept ids.
type ConceptArgs struct {
	IDs []int64 `json:"ids"`
}

// SearchArgs searches the vocabulary.
type SearchArgs struct {
	Text       string `json:"text"`
	Domain     string `json:"domain,omitempty"`
	Vocabulary string `json:"vocabulary,omitempty"`
	Standard   bool   `json:"standard,omitempty"`
	Limit      int    `json:"limit,omitempty"`
}

// CountArgs counts a handle's persons (and rows for events), optionally
// grouped by variables: demographic variables of the person (gender, race,
// ethnicity, age_decade, age_group, birth_decade) or columns of an events
// handle's table. At is the date ages are taken at ("" = the data cut).
type CountArgs struct {
	Handle string   `json:"handle"`
	By     []string `json:"by,omitempty"`
	At     string   `json:"at,omitempty"`
	Title  string   `json:"title,omitempty"`
}

// Table1Args makes a descriptive "Table 1" of a cohort, optionally split
// into columns by the cohorts in Groups (labelled by GroupNames).
type Table1Args struct {
	Cohort     string   `json:"cohort"`
	Vars       []string `json:"vars"`
	Groups     []string `json:"groups,omitempty"`
	GroupNames []string `json:"group_names,omitempty"`
	At         string   `json:"at,omitempty"`
}

// DescribeArgs summarises a numeric column of an events handle per group:
// persons, rows, mean, sd, quartiles.
type DescribeArgs struct {
	Handle string   `json:"handle"`
	Column string   `json:"column"`
	By     []string `json:"by,omitempty"`
	At     string   `json:"at,omitempty"`
}

// IncidenceArgs: among the persons of Cohort, the share who have Outcome
// (a cohort handle), per group of By.
type IncidenceArgs struct {
	Cohort  string   `json:"cohort"`
	Outcome string   `json:"outcome"`
	By      []string `json:"by,omitempty"`
	At      string   `json:"at,omitempty"`
}

// SurvivalArgs: Kaplan–Meier estimate of time from each person's first row
// of Start (an events handle) to their first row of Event (an events
// handle), censored at the end of observation, reported at the times in
// Days.
type SurvivalArgs struct {
	Start string `json:"start"`
	Event string `json:"event"`
	Days  []int  `json:"days"`
}

// RegressArgs fits a model over the persons of Cohort. Formula is
// "outcome ~ term + term …" where each side names a variable: age, sex,
// gender, race, ethnicity, has(HANDLE) (1 when the person is in a cohort
// handle or has a row of an events handle), or mean(HANDLE) (the person's
// mean value_as_number of an events handle). Kind is "linear" or
// "logistic".
type RegressArgs struct {
	Kind    string `json:"kind"`
	Cohort  string `json:"cohort"`
	Formula string `json:"formula"`
	// Bind maps the names used in has(NAME) and mean(NAME) to handle ids.
	Bind map[string]string `json:"bind,omitempty"`
	At   string            `json:"at,omitempty"`
}

// HistogramArgs draws the distribution of a numeric column of an events
// handle (or of a person variable such as age for a cohort) in Bins bins.
type HistogramArgs struct {
	Handle string  `json:"handle"`
	Column string  `json:"column"`
	Bins   int     `json:"bins"`
	Min    float64 `json:"min,omitempty"` // range; both zero = from the data's released quantiles
	Max    float64 `json:"max,omitempty"`
	At     string  `json:"at,omitempty"`
}

// CollectArgs asks for rows of a handle.
type CollectArgs struct {
	Handle  string   `json:"handle"`
	Columns []string `json:"columns,omitempty"`
	Limit   int      `json:"limit,omitempty"`
}

// ExportArgs asks to export a released table (by its Ref) as a file; the
// request goes to the airlock for review.
type ExportArgs struct {
	Name string `json:"name"`
	Ref  string `json:"ref"`
}

// ExportReceipt says where an export request went.
type ExportReceipt struct {
	Review string `json:"review"` // the airlock item id, e.g. "r-0007"
	Status string `json:"status"` // "pending"
}

// Genomics methods (controlled tier workspaces granted the genomics
// dataset). Genotypes, dosages, PC scores and residuals never cross the
// pipe: only handles, released tables and plots do.
const (
	MGenoVariants = "genomics.variants" // GenoVariantsArgs → Handle (KindVariants)
	MGenoSummary  = "genomics.summary"  // GenoSummaryArgs → Table (frequencies, Hardy–Weinberg, missingness)
	MGenoPCA      = "genomics.pca"      // GenoPCAArgs → GenoPCs
	MGenoGLM      = "genomics.glm"      // GenoGLMArgs → GenoScan
	MGenoRows     = "genomics.rows"     // GenoRowsArgs → Table: released rows of a scan
	MManhattan    = "plot.manhattan"    // GenoPlotArgs → Plot
	MQQ           = "plot.qq"           // GenoPlotArgs → Plot
)

// Handle kinds of genomics handles.
const (
	KindVariants = "variants" // a selection of variants of one genotype dataset
	KindPCs      = "pcs"      // principal components, held by the kernel
)

// GenoVariantsArgs selects variants of a genotype dataset ("" = the
// workspace's default one). Each entry of Select is a region
// ("chr19:44905000-44910000", "19:44905000-44910000"), a chromosome
// ("chr19", "X") or a variant id ("rs429358"); none selects every variant.
type GenoVariantsArgs struct {
	Dataset string   `json:"dataset,omitempty"`
	Select  []string `json:"select,omitempty"`
}

// GenoSummaryArgs asks for per-variant genotype summaries of Variants over
// the genotyped persons of Cohort, optionally per group (each group is
// intersected with Cohort). Kind is "freq", "hardy" or "missing".
type GenoSummaryArgs struct {
	Kind       string   `json:"kind"`
	Variants   string   `json:"variants"`
	Cohort     string   `json:"cohort"`
	Groups     []string `json:"groups,omitempty"`
	GroupNames []string `json:"group_names,omitempty"`
}

// GenoPCAArgs computes PCs principal components of the genotypes of the
// persons of Cohort, over Variants ("" = every autosomal variant).
type GenoPCAArgs struct {
	PCs      int    `json:"pcs"`
	Cohort   string `json:"cohort"`
	Variants string `json:"variants,omitempty"`
}

// GenoPCs is a PCs handle and its released table (each component's share
// of the variance).
type GenoPCs struct {
	Handle Handle `json:"handle"`
	Table  Table  `json:"table"`
}

// GenoPhenotype is the outcome of a scan. Kind "binary": 1 for the persons
// of the cohort Cases, 0 for those of Controls ("" = everyone else tested).
// Kind "quantitative": each person's mean of Column (default
// value_as_number) over the rows of the events handle Handle.
type GenoPhenotype struct {
	Kind     string `json:"kind"`
	Cases    string `json:"cases,omitempty"`
	Controls string `json:"controls,omitempty"`
	Handle   string `json:"handle,omitempty"`
	Column   string `json:"column,omitempty"`
}

// GenoCovariate is one covariate: Name "age" or "sex", or a Handle: a PCs
// handle (its components), a cohort (1 for its persons) or an events handle
// (the person's mean of value_as_number).
type GenoCovariate struct {
	Name   string `json:"name,omitempty"`
	Handle string `json:"handle,omitempty"`
}

// GenoGLMArgs runs an association scan of Pheno on every variant of
// Variants, adjusted for Covariates, over the genotyped persons of Cohort
// ("" = every genotyped person). At is the date ages are taken at ("" =
// the data cut). Top is the number of rows of the summary table (default 20).
type GenoGLMArgs struct {
	Variants   string          `json:"variants"`
	Pheno      GenoPhenotype   `json:"pheno"`
	Covariates []GenoCovariate `json:"covariates,omitempty"`
	Cohort     string          `json:"cohort,omitempty"`
	At         string          `json:"at,omitempty"`
	Top        int             `json:"top,omitempty"`
}

// GenoScan is a released association scan: the summary table (the top
// rows by p, the persons tested, λ_GC and why rows were dropped) whose Ref
// also stands for the full released table (export.File, plots).
type GenoScan struct {
	Table    Table `json:"table"`
	Lambda   Cell  `json:"lambda"`
	Variants int   `json:"variants"` // variants tested
	Released int   `json:"released"` // rows released
	Dropped  int   `json:"dropped"`  // rows dropped by the genomics rules
}

// GenoRowsArgs reads released rows of the scan whose table is Ref: the Top
// rows by p, or the rows of the variants IDs.
type GenoRowsArgs struct {
	Ref string   `json:"ref"`
	Top int      `json:"top,omitempty"`
	IDs []string `json:"ids,omitempty"`
}

// GenoPlotArgs draws the scan whose table is Ref.
type GenoPlotArgs struct {
	Ref string `json:"ref"`
}
