// Package pca computes principal components of PLINK 1.9 genotypes with
// plink2 --pca semantics: genotypes standardised by allele frequency,
// (g - 2p)/sqrt(2p(1-p)) with missing calls at 0, the genomic relationship
// matrix X X'/M over the M non-monomorphic variants, and its top
// eigenvalues and unit-norm eigenvectors (sample scores), written as
// plink2's .eigenval and .eigenvec.
//
// Up to ExactMaxSamples samples the GRM is formed (block rank-k updates,
// two goroutines) and diagonalised exactly; beyond, a randomised block
// subspace iteration applies the GRM as X (X' Y) straight from the packed
// .bed rows, so memory stays O(N·k + M·k).
//
// Trusted kernel side only: it reads the genotypes of a controlled-tier
// workspace and never runs in the worker.
package pca
