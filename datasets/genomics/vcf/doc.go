// Package vcf reads bgzipped, tabix-indexed VCF genotypes into PLINK-style
// packed rows and writes BGZF files with tabix indexes. Trusted kernel side
// only.
//
// Reading (Open, Reader.Scan/Query/QueryID, Convert): GT is decoded to
// 2-bit codes with ALT as the counted allele (plink2's convention, so a
// converted fileset has A1 = ALT, A2 = REF, byte-identical to plink2 --vcf
// --make-bed); haploid calls become homozygotes; half-calls become missing
// (counted). With Options.Dosage, FORMAT/DS is read as plink2 --vcf FILE
// dosage=DS reads it: a sample's DS is its ALT dosage (a haploid GT's DS,
// 0..1, doubled), kept at plink2's 1/16384 precision in a dosage row
// (ScanDosage, QueryDosage), and its hard call is the dosage's when within
// 0.1 of 0, 1 or 2 (else missing), GT then giving only the ploidy; a DS
// outside [0, 2] ([0, 1] haploid) or not a decimal number is an error
// naming the file, line (or record), variant and sample, and DS without GT
// on chrX, chrY or MT is refused as plink2 refuses it. Multi-allelic records
// are skipped and counted, or split into biallelic rows with Options.Split
// (as bcftools norm -m-). Region queries go through the tabix index
// (github.com/biogo/hts bgzf and tabix): chr:start-end (1-based,
// inclusive, records overlapping it) with or without "chr"; QueryID scans
// for a variant id. Whole-file scans inflate BGZF blocks on two goroutines
// and check CRCs and the end-of-file block. A VCF without .tbi is refused
// unless Options.NoIndex.
//
// Writing: AppendGT formats a packed .bed row as VCF GT fields; package
// bgzfw compresses and indexes what is written.
package vcf
