package omop

import (
	"fmt"
	"strings"

	"enclave/api/internal/call"
	"enclave/api/spec"
)

// Handle is anything that refers to kernel-side data: a Cohort or Events.
type Handle interface {
	Ref() spec.Handle
}

// Cohort is a set of persons, held by the kernel.
type Cohort struct{ h spec.Handle }

// Events is a set of rows of one table (conditions, measurements, Fitbit
// days…), held by the kernel.
type Events struct{ h spec.Handle }

// Ref implements Handle.
func (c Cohort) Ref() spec.Handle { return c.h }

// Ref implements Handle.
func (e Events) Ref() spec.Handle { return e.h }

// String describes the cohort (never its data).
func (c Cohort) String() string { return "cohort " + c.h.ID + ": " + c.h.Desc }

// String describes the events (never their data).
func (e Events) String() string { return "events " + e.h.ID + ": " + e.h.Desc }

func newHandle(op, method string, args any) spec.Handle {
	var h spec.Handle
	call.Must(op, method, args, &h)
	return h
}

// emptyArg is the message for a step given a Cohort that was never made
// (the variable of a cell that failed or has not run).
const emptyArg = "the Cohort given is empty (was the cell that made it run without an error?): start from omop.Persons()"

func (c Cohort) derive(op string, st spec.Step) Cohort {
	if c.h.ID == "" {
		panic(&call.Error{Op: op, Msg: "an empty Cohort: start from omop.Persons()"})
	}
	if st.And == "" && st.Or == "" && st.Minus == "" && (op == "Cohort.And" || op == "Cohort.Or" || op == "Cohort.Minus") {
		panic(&call.Error{Op: op, Msg: emptyArg})
	}
	return Cohort{newHandle(op, spec.MDerive, spec.DeriveArgs{Base: c.h.ID, Step: st})}
}

func (e Events) derive(op string, st spec.Step) Events {
	if e.h.ID == "" {
		panic(&call.Error{Op: op, Msg: "empty Events: start from omop.Conditions, omop.Measurements, …"})
	}
	if op == "Events.Of" && st.Of == "" {
		panic(&call.Error{Op: op, Msg: emptyArg})
	}
	return Events{newHandle(op, spec.MDerive, spec.DeriveArgs{Base: e.h.ID, Step: st})}
}

// Persons is every person of the workspace's tier.
func Persons() Cohort { return Cohort{newHandle("omop.Persons", spec.MPersons, spec.PersonsArgs{})} }

// Table is the rows of a person table of the tier, optionally only those
// whose main concept (e.g. condition_concept_id) is one of ids.
func Table(name string, ids ...int64) Events {
	return Events{newHandle("omop.Table", spec.MEvents, spec.EventsArgs{Table: name, Concepts: ids})}
}

// Conditions are condition_occurrence rows with the given concepts (all rows without).
func Conditions(ids ...int64) Events { return Table("condition_occurrence", ids...) }

// Measurements are measurement rows (labs, vitals) with the given concepts.
func Measurements(ids ...int64) Events { return Table("measurement", ids...) }

// Observations are observation rows (including survey answers) with the given concepts.
func Observations(ids ...int64) Events { return Table("observation", ids...) }

// Drugs are drug_exposure rows with the given concepts.
func Drugs(ids ...int64) Events { return Table("drug_exposure", ids...) }

// Procedures are procedure_occurrence rows with the given concepts.
func Procedures(ids ...int64) Events { return Table("procedure_occurrence", ids...) }

// Visits are visit_occurrence rows with the given concepts (9201 inpatient, 9202 outpatient, 9203 emergency).
func Visits(ids ...int64) Events { return Table("visit_occurrence", ids...) }

// With keeps the persons who have at least one of the rows of e.
func (c Cohort) With(e Events) Cohort {
	return c.derive("Cohort.With", spec.Step{With: &spec.Has{Handle: e.h.ID}})
}

// Without keeps the persons who have none of the rows of e.
func (c Cohort) Without(e Events) Cohort {
	return c.derive("Cohort.Without", spec.Step{Without: &spec.Has{Handle: e.h.ID}})
}

// WithCondition keeps the persons with a condition among ids.
func (c Cohort) WithCondition(ids ...int64) Cohort {
	return c.derive("Cohort.WithCondition", spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: ids}})
}

// WithoutCondition keeps the persons with no condition among ids.
func (c Cohort) WithoutCondition(ids ...int64) Cohort {
	return c.derive("Cohort.WithoutCondition", spec.Step{Without: &spec.Has{Table: "condition_occurrence", Concepts: ids}})
}

// WithDrug keeps the persons with a drug exposure among ids.
func (c Cohort) WithDrug(ids ...int64) Cohort {
	return c.derive("Cohort.WithDrug", spec.Step{With: &spec.Has{Table: "drug_exposure", Concepts: ids}})
}

// WithMeasurement keeps the persons with a measurement among ids.
func (c Cohort) WithMeasurement(ids ...int64) Cohort {
	return c.derive("Cohort.WithMeasurement", spec.Step{With: &spec.Has{Table: "measurement", Concepts: ids}})
}

// AgeBetween keeps the persons aged min to max (whole years, inclusive) on
// the date at ("YYYY-MM-DD"; "" = the last day of observation in the data).
func (c Cohort) AgeBetween(min, max int, at string) Cohort {
	return c.derive("Cohort.AgeBetween", spec.Step{Age: &spec.AgeStep{Min: min, Max: max, At: at}})
}

// Female keeps the persons whose gender is female (concept 8532).
func (c Cohort) Female() Cohort { return c.derive("Cohort.Female", spec.Step{Sex: "female"}) }

// Male keeps the persons whose gender is male (concept 8507).
func (c Cohort) Male() Cohort { return c.derive("Cohort.Male", spec.Step{Sex: "male"}) }

// And is the persons in both cohorts.
func (c Cohort) And(o Cohort) Cohort { return c.derive("Cohort.And", spec.Step{And: o.h.ID}) }

// Or is the persons in either cohort.
func (c Cohort) Or(o Cohort) Cohort { return c.derive("Cohort.Or", spec.Step{Or: o.h.ID}) }

// Minus is the persons of c who are not in o.
func (c Cohort) Minus(o Cohort) Cohort { return c.derive("Cohort.Minus", spec.Step{Minus: o.h.ID}) }

// Of keeps the rows of persons in cohort c.
func (e Events) Of(c Cohort) Events { return e.derive("Events.Of", spec.Step{Of: c.h.ID}) }

// Where keeps the rows whose column satisfies op (=, !=, <, <=, >, >=,
// between, in, not in, is null, is not null) with the values.
func (e Events) Where(column, op string, values ...any) Events {
	return e.derive("Events.Where", spec.Step{Where: &spec.Filter{Column: column, Op: op, Values: values}})
}

// Between keeps the rows dated from (inclusive) to to (inclusive),
// "YYYY-MM-DD"; "" leaves that side open.
func (e Events) Between(from, to string) Events {
	return e.derive("Events.Between", spec.Step{Within: &spec.Dates{From: from, To: to}})
}

// Persons is the cohort of the persons who have these rows.
func (e Events) Persons() Cohort {
	if e.h.ID == "" {
		panic(&call.Error{Op: "Events.Persons", Msg: "empty Events"})
	}
	return Cohort{newHandle("Events.Persons", spec.MDerive, spec.DeriveArgs{Base: e.h.ID, Step: spec.Step{Persons: true}})}
}

// Rows is row-level data from Collect.
type Rows struct{ spec.Rows }

// Len is the number of rows.
func (r Rows) Len() int { return len(r.Data) }

// String renders the rows as a text table (its output is held for review:
// the worker is tainted once it has rows).
func (r Rows) String() string {
	var b strings.Builder
	b.WriteString(strings.Join(r.Columns, "\t"))
	b.WriteString("\n")
	for _, row := range r.Data {
		for i, v := range row {
			if i > 0 {
				b.WriteString("\t")
			}
			fmt.Fprint(&b, v)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Collect returns up to limit rows (0 = the workspace's limit) of the
// handle's table, with the given columns (none = all), where the
// workspace allows row-level access. The worker is then tainted: its
// free-form output is held for review until the kernel restarts.
func Collect(h Handle, limit int, columns ...string) Rows {
	var r Rows
	call.Must("omop.Collect", spec.MCollect, spec.CollectArgs{Handle: h.Ref().ID, Columns: columns, Limit: limit}, &r.Rows)
	return r
}
