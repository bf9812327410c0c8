// Package genomics runs genetic analyses over the workspace's genotypes
// from Go cells: allele frequencies, Hardy–Weinberg tests and missingness
// per variant, principal components, and association scans (linear and
// logistic regression with Firth fallback, as plink2 --glm). It exists
// only in controlled tier workspaces granted the genomics dataset; in any
// other workspace the first call stops the cell with a message naming the
// tier.
//
// Cells import it as "enclave/genomics":
//
//	g := genomics.Variants("chr19:44905000-44910000")   // or Variants() for all, or ids "rs429358"
//	f := genomics.Freq(g).Of(cohort)                     // released table
//	pcs := genomics.PCA(10).Of(cohort)                   // handle: the PCs stay in the kernel
//	r := genomics.GLM(genomics.Variants(), genomics.Binary(t2d)).Covariates("age", "sex", pcs)
//	r                                                    // the top rows, λ_GC, what was dropped
//	plot.Manhattan(r); plot.QQ(r)
//
// Genotypes are linked to persons by the workspace's linkage table;
// persons outside the workspace's tier are invisible. A phenotype is a
// cohort (Binary: its persons are cases, everyone else tested controls, or
// the persons of Versus) or an events handle (Quantitative: each person's
// mean value). Covariates are "age", "sex", PCs from PCA, cohorts (0/1)
// and events handles (mean value). A scan runs over the genotyped persons
// with the phenotype and every covariate (restricted by Of).
//
// What comes back is judged by the kernel's release rules: allele and
// carrier counts of 1–20 persons are hidden (≤20), with whatever would let
// them be recomputed; an association row is dropped when, among the
// persons tested, the minor allele count is below 21 or a genotype class
// (or, for a binary phenotype, the minor-allele carriers among cases or
// among controls) holds 1–20 persons, and the table says how many rows
// were dropped and why; the persons tested, the cases and the controls are
// differenced against the workspace's earlier releases, so a cohort and the
// same cohort less a person cannot both release variant counts or
// estimates; and per variant, a genotype class (carriers, each genotype,
// the persons with a call) that differs by 1–20 persons from the same
// class of a population released before hides that variant's counts (a
// scan drops the row). Scans model chrX, chrY and MT as plink2 --glm
// does: sex as a covariate on chrX, males only on chrY, haploid dosage on
// chrY and MT. Freq, Hardy and Missing count them as plink2 --freq and
// --hardy do, by OMOP sex: males haploid on chrX (a heterozygous haploid
// call counts as missing), males only on chrY, everyone haploid on MT;
// on chrX Hardy shows the female genotype classes and the male allele
// counts, with plink2's chrX exact test.
//
// A VCF with FORMAT/DS is read as plink2 --vcf FILE dosage=DS reads it:
// scans regress on the ALT dosage (a male's haploid chrX DS counting
// double, as his hard call does) and Freq's A1 frequency is counted from
// the dosages as plink2 --freq counts it; counts, genotype classes,
// Hardy, Missing and PCA use the hard calls (DS within 0.1 of a genotype,
// else missing). For such a variant the minor allele count of the row
// rules is the dosage sum of the minor allele over the persons tested,
// and the genotype-class and carrier rules hold both on the hard calls and
// on the dosages rounded to the nearest genotype; a dosage frequency is
// hidden when the minor allele dosage sum is 1–20 or 1–20 persons carry
// any minor allele dosage.
//
// No genotype, dosage, PC score or residual ever leaves the kernel. Plots
// are drawn from released rows only.
//
// Trust level: untrusted worker side.
package genomics
