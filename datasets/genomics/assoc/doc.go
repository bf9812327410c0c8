// Package assoc runs per-variant association tests on PLINK 1.9 genotypes
// with plink2 --glm semantics: linear regression for quantitative traits and
// logistic regression for case/control traits with a Firth-penalised
// fallback (plink2's default "logistic-Firth hybrid"), each adjusted for
// covariates, and writes plink2's .glm.linear / .glm.logistic.hybrid tables
// with the same columns and number formats, plus the genomic inflation λ.
//
// Trusted kernel side only: it reads genotype, phenotype and covariate files
// of a controlled-tier workspace and never runs in the worker.
//
// # Model and conventions
//
// For each phenotype the analysed samples are those with a non-missing
// phenotype and no missing covariate; per variant, samples with a missing
// genotype are dropped (OBS_CT). The tested allele A1 is ALT (.bim column 5),
// coded 0/1/2 copies (ADD). Phenotype and covariate files use plink's layout:
// a header line "FID IID name..." (or "#FID", or "#IID" without a FID
// column), whitespace separated, missing values NA, nan or -9. A phenotype
// whose values are all 1, 2, 0 or missing is case/control (1 control, 2 case,
// 0 missing), as in plink2; anything else is quantitative.
//
// # Speed
//
// The covariates are orthonormalised once (thin QR). A linear test then needs
// only sums of the QR rows and of the phenotype over the carriers of the
// minor allele and over the samples missing the genotype, read straight from
// the packed .bed row, so a variant costs O(carriers·k) plus O(k³). Logistic
// tests start from the covariate-only (null) fit; without covariates, or with
// covariates taking few distinct values, the samples collapse into a handful
// of weighted cells (genotype × case status × covariate pattern) and each
// IRLS iteration is O(cells). Variants are processed in parallel blocks.
package assoc
