// Package plink reads PLINK 1.9 binary filesets (.bed/.bim/.fam) with the
// genotypes kept bit-packed, as plink stores them. Trusted kernel side only.
//
// # Opening
//
//	fs, err := plink.Open("data/cohort") // reads cohort.bim, cohort.fam, maps cohort.bed
//	defer fs.Close()
//
// Open parses the .bim (Variants) and .fam (Samples) completely and
// memory-maps the .bed read-only; nothing is decoded up front. The .bed must
// be SNP-major (magic 0x6c 0x1b 0x01) and exactly 3 + M·ceil(N/4) bytes long
// for the M variants of the .bim and N samples of the .fam; anything else is
// an error naming the file.
//
// # Genotype encoding and allele convention
//
// Each variant is one row of ceil(N/4) bytes; sample i sits in bits
// 2(i%4)..2(i%4)+1 of byte i/4 (low bits first). The 2-bit codes are
//
//	00  homozygous A1        (A1 = .bim column 5)
//	01  missing
//	10  heterozygous
//	11  homozygous A2        (A2 = .bim column 6)
//
// Padding bits after the last sample of a row are ignored. plink2 reads a
// PLINK 1 fileset with A1 as ALT and A2 as REF, so every count and dosage in
// this package is the number of A1 (= ALT, the plink2 "counted" allele)
// copies: 00→2, 10→1, 11→0, 01→missing. Variant.Alt/Ref name them that way.
//
// # Reading rows
//
//	row := fs.Row(v)                       // raw packed bytes, read-only, no copy
//	c := plink.CountRow(row, fs.NumSamples())   // HomA1/Het/HomA2/Missing (popcount, no unpacking)
//	c = plink.CountRowMasked(row, mask)    // the same over a sample subset (NewMask)
//	plink.UnpackFloat64(row, n, dst)       // A1 dosage 0/1/2, NaN when missing
//	plink.UnpackInt8(row, n, dst)          // A1 dosage 0/1/2, -1 when missing
//
// Rows alias the mapping: do not write to them and do not keep them after
// Close. For parallel work, Parallel splits a variant range into blocks and
// hands them to worker goroutines:
//
//	err := plink.Parallel(fs.NumVariants(), threads, func(lo, hi int) error {
//		for v := lo; v < hi; v++ { ... fs.Row(v) ... }
//		return nil
//	})
//
// # .bim and .fam conventions
//
// Chromosome names 1–22, X, Y, XY, MT (also 23, 24, 25, 26, M, and any of
// these with a "chr" prefix) are normalised to plink2's output names "1".."22",
// "X", "Y", "XY", "MT"; 0 means unknown. Any other name is an error naming the
// .bim line. Allele code "0" (or ".") means missing allele. In the .fam,
// parents "0" mean unknown (a sample with both parents 0 is a founder), sex
// 1 = male, 2 = female, 0 (or anything else plink accepts as unknown) =
// unknown. The phenotype column is case/control (1 = control, 2 = case,
// 0/-9/NA missing) when it holds nothing else, and quantitative otherwise
// (-9 and NA missing, 0 a value), as in plink.
package plink
