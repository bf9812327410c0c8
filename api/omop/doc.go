// Package omop builds cohorts and event sets over the workspace's OMOP CDM
// v5.3 data as handles: the data stays in the kernel, and only checked
// aggregates (through enclave/stats and enclave/plot) come back.
//
// Cells import it as "enclave/omop":
//
//	t2d := omop.Concepts(201826).Descendants()           // type 2 diabetes and its descendants
//	c := omop.Persons().WithCondition(t2d...).AgeBetween(40, 80, "2020-01-01")
//	a1c := omop.Measurements(3004410).Of(c)             // HbA1c rows of the cohort's persons
//	stats.Describe(a1c, "value_as_number", "gender")
//
// A step the kernel refuses (an unknown concept, a column that is not
// there, a table outside the workspace's tier) stops the cell with the
// kernel's reason. Collect returns rows only where the workspace allows
// it, and from then on the worker's free-form output is held for review.
//
// Trust level: untrusted worker side.
package omop
