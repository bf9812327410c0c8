package stats

import (
	"sync"

	"enclave/api/internal/call"
	"enclave/api/internal/tables"
	"enclave/api/omop"
	"enclave/api/spec"
)

// Table is a released table.
type Table struct{ spec.Table }

// MIMEBundle shows the table as the kernel rendered it.
func (t Table) MIMEBundle() map[string]any {
	return map[string]any{spec.MIMERef: spec.Ref{Ref: t.Ref}}
}

// ResultRef is the kernel's reference of the table (for export.File).
func (t Table) ResultRef() string { return t.Ref }

// NumRows is the number of rows.
func (t Table) NumRows() int { return len(t.Rows) }

// Text is the cell's text as shown ("1,234", "≤20").
func (t Table) Text(row, col int) string { return tables.Text(&t.Table, row, col) }

// Value is the released number of a cell; ok is false when the cell is
// suppressed, not a number, or out of range.
func (t Table) Value(row, col int) (v float64, ok bool) { return tables.Value(&t.Table, row, col) }

// Lookup finds the row whose first cell reads label (ignoring spaces
// around it) and returns its value in the column named col.
func (t Table) Lookup(label, col string) (float64, bool) { return tables.Lookup(&t.Table, label, col) }

// String renders the table as aligned text.
func (t Table) String() string { return tables.String(&t.Table) }

var (
	atMu sync.Mutex
	at   string
)

// AgesOn sets the date ("YYYY-MM-DD") at which ages are computed by the
// calls that follow ("" = the last day of observation in the data).
func AgesOn(date string) {
	atMu.Lock()
	at = date
	atMu.Unlock()
}

func ageDate() string {
	atMu.Lock()
	defer atMu.Unlock()
	return at
}

func table(op, method string, args any) Table {
	var t Table
	call.Must(op, method, args, &t.Table)
	return t
}

func id(op string, h omop.Handle) string {
	if h == nil || h.Ref().ID == "" {
		panic(&call.Error{Op: op, Msg: "needs a cohort or events handle from enclave/omop"})
	}
	return h.Ref().ID
}

// Count counts the persons (and rows, for events) of a handle, optionally
// by one or two variables: gender, race, ethnicity, age_decade, age_group,
// birth_decade, or a column of an events handle's table (year(...) for dates).
func Count(h omop.Handle, by ...string) Table {
	return table("stats.Count", spec.MCount, spec.CountArgs{Handle: id("stats.Count", h), By: by, At: ageDate()})
}

// Table1 describes a cohort: its size and, for each variable (default
// gender, age_group, race, ethnicity), the persons and percentage per level.
func Table1(c omop.Cohort, vars ...string) Table {
	return table("stats.Table1", spec.MTable1, spec.Table1Args{Cohort: id("stats.Table1", c), Vars: vars, At: ageDate()})
}

// Group is a named subgroup of a cohort, for Compare.
type Group struct {
	Name   string
	Cohort omop.Cohort
}

// Compare is a Table 1 with one pair of columns per group (each group is
// intersected with c), e.g. cases and controls.
func Compare(c omop.Cohort, groups []Group, vars ...string) Table {
	a := spec.Table1Args{Cohort: id("stats.Compare", c), Vars: vars, At: ageDate()}
	for _, g := range groups {
		a.Groups = append(a.Groups, id("stats.Compare", g.Cohort))
		a.GroupNames = append(a.GroupNames, g.Name)
	}
	return table("stats.Compare", spec.MTable1, a)
}

// Describe summarises a numeric column of an events handle ("age" for any
// handle): persons, rows, mean, sd and quartiles, optionally by groups.
func Describe(h omop.Handle, column string, by ...string) Table {
	return table("stats.Describe", spec.MDescribe, spec.DescribeArgs{Handle: id("stats.Describe", h), Column: column, By: by, At: ageDate()})
}

// Incidence is the proportion of the cohort's persons who are in outcome,
// with Wilson 95% intervals, optionally by one variable.
func Incidence(c, outcome omop.Cohort, by ...string) Table {
	return table("stats.Incidence", spec.MIncidence, spec.IncidenceArgs{Cohort: id("stats.Incidence", c),
		Outcome: id("stats.Incidence", outcome), By: by, At: ageDate()})
}

// Vars binds the names used in a formula's has(NAME) and mean(NAME) to handles.
type Vars map[string]omop.Handle

func regress(op, kind string, c omop.Cohort, formula string, vars Vars) Table {
	bind := map[string]string{}
	for n, h := range vars {
		bind[n] = id(op, h)
	}
	return table(op, spec.MRegress, spec.RegressArgs{Kind: kind, Cohort: id(op, c), Formula: formula, Bind: bind, At: ageDate()})
}

// Linear fits a linear regression over the persons of c. The formula reads
// "outcome ~ term + term"; terms are age, gender, race, ethnicity,
// has(NAME) (1 if the person is in a cohort or has a row of events NAME)
// and mean(NAME) or mean(NAME, column) (the person's mean value).
func Linear(c omop.Cohort, formula string, vars Vars) Table {
	return regress("stats.Linear", "linear", c, formula, vars)
}

// Logistic fits a logistic regression of a binary outcome has(NAME) over
// the persons of c, with odds ratios and 95% intervals.
func Logistic(c omop.Cohort, formula string, vars Vars) Table {
	return regress("stats.Logistic", "logistic", c, formula, vars)
}

// Survival is a Kaplan–Meier table of the time from each person's first
// row of start (e.g. a diagnosis) to their first row of event on or after
// it, censored at the end of observation, at the given days (default 1,
// 2, 3 and 5 years). Days with few persons at risk or few events since
// the previous day are hidden.
func Survival(start, event omop.Events, days ...int) Table {
	return table("stats.Survival", spec.MSurvival, spec.SurvivalArgs{Start: id("stats.Survival", start), Event: id("stats.Survival", event), Days: days})
}
