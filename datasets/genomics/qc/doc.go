// Package qc computes per-variant and per-sample quality-control statistics
// of a PLINK 1.9 fileset and writes them as plink2 tables, byte for byte:
// allele frequencies (.afreq, plink2 --freq), Hardy–Weinberg exact tests
// (.hardy and .hardy.x, plink2 --hardy [midp]) and missingness (.vmiss and
// .smiss, plink2 --missing). Trusted kernel side only.
//
// Counting follows plink2 for a PLINK 1 fileset: ALT is the .bim A1
// allele, REF the A2 allele; frequencies and HWE use founders only (both
// parents "0") unless Options.Nonfounders; chrX is diploid in females and
// haploid in males, chrY haploid in males only, MT haploid in everyone, and
// a heterozygous call in a haploid sample counts as missing. chrX HWE uses
// the Graffelman–Weir joint test over known-sex founders; chrY and MT
// variants are skipped by --hardy as in plink2.
//
// Everything works on the packed genotypes (popcounts over sample masks);
// Compute spreads variants over Options.Threads goroutines.
package qc
