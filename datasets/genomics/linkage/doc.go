// Package linkage maps genotype sample ids to OMOP person_ids and turns a
// variant's packed genotypes into the sets of persons behind its counts
// (roaring bitmaps of carriers and of non-missing persons), which the
// release layer needs for differencing and small-cell checks. Trusted
// kernel side only.
//
// The table is linkage.csv with a header naming sample_id and person_id
// (any column order, comma or tab separated); ids must be unique and
// person_ids non-negative integers below 2^32, the range of the person
// sets used elsewhere (datasets.Catalog.PersonSet).
package linkage
