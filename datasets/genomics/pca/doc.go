// Package pca computes principal components of PLINK 1.9 genotypes with
// plink2 --pca semantics: genotypes standardised by allele frequency,
// (g - 2p)/sqrt(2p(1-p)) with missing calls at 0, the genomic relationship
// matrix X X'/M over the M non-monomorphic variants, and its top
// eigenvalues and unit-norm eigenvectors (sample scores), written as
// plink2's .eigenval and .eigenvec.
//
// For small problems (ExactMaxSamples, ExactMaxWork) the GRM is formed
// (block rank-k updates, two goroutines) and diagonalised exactly, dividing
// each entry by the variants called in both samples as plink2 does; beyond,
// a randomised block Krylov method applies the mean-imputed GRM as X (X' Y)
// with the dense dosage kernel over the packed .bed rows and a sample-major
// transposed copy (memory: the mapping, one transposed copy, O(N·k·iter)).
// Both agree with plink2 --pca (--pca meanimpute for the randomised path) to
// its printed digits on structured cohorts; on structureless data (plink
// --dummy 10000 100000) the randomised eigenvalues come within 0.5% of the
// exact ones (plink2 --pca approx: 0.8%).
//
// Trusted kernel side only: it reads the genotypes of a controlled-tier
// workspace and never runs in the worker.
package pca
