// Package fitbit gives handles over the workspace's Fitbit tables, with the
// All of Us columns; use them like any enclave/omop events handle.
//
//	steps := fitbit.ActivitySummary().Of(cohort)
//	stats.Describe(steps, "steps", "gender")
//
// Trust level: untrusted worker side.
package fitbit
