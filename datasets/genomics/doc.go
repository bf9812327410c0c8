// Package genomics is the trusted-side genomics engine of enclave: readers
// for PLINK 1.9 binary filesets (subpackage plink) and bgzipped, tabix-indexed
// VCF (subpackage vcf), per-variant quality-control statistics in plink2's
// output formats (subpackage qc: allele frequencies, missingness,
// Hardy–Weinberg exact tests), the link from genotype sample ids to OMOP
// person_id (subpackage linkage) and the synthetic genotype writer (subpackage
// gensim). Association (assoc) and PCA (pca) build on the plink reader.
//
// Dosages: vcf reads FORMAT/DS as plink2 --vcf FILE dosage=DS does into
// dosage rows (plink.DosageUnit units, 1/16384, on the 0..2 scale; a
// haploid DS doubled), which an in-memory plink.Fileset carries beside its
// hard calls (Fileset.Dosage); assoc tests a variant with a dosage row on
// its dosage, as plink2 --glm does, and every other variant on the packed
// hard calls as before. qc and pca use hard calls.
//
// Trust level: trusted kernel side only. Genotypes never enter the untrusted
// worker; the kernel's release layer decides what leaves.
package genomics
