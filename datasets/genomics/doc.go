// Package genomics is the trusted-side genomics engine of enclave: readers
// for PLINK 1.9 binary filesets (subpackage plink) and bgzipped, tabix-indexed
// VCF (subpackage vcf), per-variant quality-control statistics in plink2's
// output formats (subpackage qc: allele frequencies, missingness,
// Hardy–Weinberg exact tests), the link from genotype sample ids to OMOP
// person_id (subpackage linkage) and the synthetic genotype writer (subpackage
// gensim). Association (assoc) and PCA (pca) build on the plink reader.
//
// Trust level: trusted kernel side only. Genotypes never enter the untrusted
// worker; the kernel's release layer decides what leaves.
package genomics
