// Package vcf reads bgzipped, tabix-indexed VCF genotypes into PLINK-style
// packed rows and writes BGZF files with tabix indexes. Trusted kernel side
// only.
//
// Reading (Open, Reader): GT is decoded to 2-bit codes with ALT as the
// counted allele (plink2's convention, so a converted fileset has A1 = ALT,
// A2 = REF); DS is used when GT is absent or missing ("hard-called" like
// plink2: dosage within 0.1 of an integer). Multi-allelic records are
// skipped and counted (or split into biallelic rows with Options.Split).
// Region queries go through the tabix index (github.com/biogo/hts bgzf and
// tabix): chr:start-end (1-based, inclusive) or a variant id.
//
// Writing: BlockCompressor makes BGZF blocks (deflate level 1, one per
// goroutine) and IndexBuilder the .tbi for a VCF written in order, so the
// synthetic cohort writer can stream a 100k × 20k VCF in seconds.
package vcf
