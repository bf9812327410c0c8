// Package synth generates a synthetic, linked cohort for enclave: OMOP CDM
// v5.3 clinical tables, All of Us-style survey answers, Fitbit tables and,
// optionally, genotypes, written as an OMOP folder (one <table>.csv or
// <table>.parquet per table, plus the vocabulary rows for every concept it
// uses) that `enclave workspace import` reads.
//
// The cohort is plausible rather than real: demographics over-represent
// groups underrepresented in research as All of Us does, chronic conditions
// follow age, sex, ancestry, BMI and comorbidity, drugs follow conditions,
// measurements follow conditions and treatment, and the planted causal
// variants of package gensim shift LDL values and type 2 diabetes risk with
// the same dosages the genotype writer emits. Every person is generated from
// its own random stream seeded by (seed, person_id), so the output is
// byte-identical for a seed and a cohort size whatever the thread count.
//
// Trust level: trusted kernel side (a steward's tool); it reads no protected
// data and its output is synthetic.
package synth
