// Package stats computes released statistics over enclave/omop handles:
// counts and crosstabs, a Table 1, summaries of measurements, proportions,
// and linear and logistic regression. Every number is computed and judged
// by the kernel (small cells shown as ≤20, secondary suppression, derived
// values over few persons, differencing against earlier releases); a cell
// gets back only released values.
//
// Cells import it as "enclave/stats":
//
//	stats.Table1(cohort, "gender", "age_group", "race")
//	stats.Describe(a1c, "value_as_number", "gender")
//	stats.Logistic(adults, "has(t2d) ~ age + gender + mean(bmi)", stats.Vars{"t2d": t2d, "bmi": bmi})
//
// A Table shows as the kernel's rendering (HTML, text, data resource);
// Value and Text read its released cells.
//
// Trust level: untrusted worker side.
package stats
