// Package synth generates a synthetic, linked cohort for enclave: OMOP CDM
// v5.3 clinical tables, All of Us-style survey answers, Fitbit tables and,
// optionally, genotypes, written as an OMOP folder that
// `enclave workspace import` reads (`enclave synth` is the command).
//
// # Output
//
// One <table>.parquet (default) or <table>.csv per table:
//
//   - person, observation_period, visit_occurrence, condition_occurrence,
//     drug_exposure, measurement, observation, death, condition_era,
//     drug_era, location (states), care_site, provider, cdm_source: CDM
//     v5.3 columns in specification order. observation also carries
//     value_source_concept_id and value_source_value, as the All of Us CDR
//     does, for survey answers.
//   - activity_summary, heart_rate_summary, heart_rate_minute_level,
//     steps_intraday, sleep_daily_summary, sleep_level, device: the All of
//     Us Fitbit columns, for the ~22% of persons with a device.
//   - concept, concept_ancestor, concept_relationship, vocabulary: a row for
//     every concept written (identical to the default vocabulary's rows
//     where it has them), ancestor edges for the hierarchies used
//     (diabetes, hypertension, depression, obesity, CKD stages, RxNorm
//     ingredient ⊃ clinical drug) and the PPI / AoU_General vocabularies.
//   - genomics/ (with Options.Variants and Options.Genotyped): the files of
//     gensim.Write for persons 1..Genotyped, with linkage.csv.
//
// Row ids are person_id*1000 + n, so they do not depend on how the work was
// split. The data cut is 2024-07-01; enrolment runs from 2018-05-06 to the
// end of 2023; EHR history reaches up to 9 years before enrolment.
//
// # Model
//
// The cohort is plausible rather than real: demographics over-represent
// groups underrepresented in research as All of Us does (~45% not
// non-Hispanic white, ~60% female, ~3% aged 89+), with small survey
// categories for the registered tier to generalise. Chronic conditions
// follow age, sex, ancestry, BMI, smoking and earlier conditions; drugs
// follow conditions; measurements follow conditions and treatment; steps
// and sleep follow age and conditions. The planted causal variants of
// package gensim shift LDL values and type 2 diabetes risk with the same
// dosages the genotype writer emits (ancestry from race and ethnicity).
//
// Every person is drawn from random streams seeded by (seed, person_id), and
// chunks of persons are written in order, so the output is byte-identical
// for a seed and cohort size whatever the thread count. Memory is bounded by
// the chunks in flight (about 300 MB at 1M persons). Parquet is written by
// the small streaming writer in internal/pq.
//
// Trust level: trusted kernel side (a steward's tool); it reads no protected
// data and its output is synthetic.
package synth
