// Package gensim simulates genotypes for the synthetic cohort (trusted side).
//
// The planted causal variants are shared with the OMOP generator: it asks
// Dosage for each person's alt-allele count at every planted variant and
// shifts that person's phenotypes (LDL, type 2 diabetes risk) by the
// variant's effect, while the genotype writer emits exactly the same
// dosages. The two stay consistent because Dosage is a pure function of
// (seed, person_id, ancestry, variant).
package gensim

import (
	"encoding/binary"
	"hash/fnv"

	"enclave/internal/splitmix"
)

// Ancestries are the superpopulation labels the generators use, in the
// order of the 1000 Genomes superpopulations.
var Ancestries = []string{"AFR", "AMR", "EAS", "EUR", "SAS"}

// Planted is one causal variant whose effect the OMOP generator applies.
type Planted struct {
	ID       string             // rsid-style identifier written to .bim / VCF
	Chrom    string             // "1".."22"
	Pos      int                // 1-based position
	Ref, Alt string             // alleles; Alt is the effect allele
	AF       map[string]float64 // alt-allele frequency by ancestry
	LDLBeta  float64            // LDL shift, mg/dL per alt allele
	T2DLogOR float64            // type 2 diabetes log odds ratio per alt allele
}

// PlantedVariants are the causal variants of every synthetic cohort. Their
// effects are large enough that a 20k-person association scan finds them.
var PlantedVariants = []Planted{
	{ID: "rs_ldl_1", Chrom: "1", Pos: 55_505_647, Ref: "G", Alt: "T",
		AF:      map[string]float64{"AFR": 0.25, "AMR": 0.18, "EAS": 0.12, "EUR": 0.20, "SAS": 0.15},
		LDLBeta: 12},
	{ID: "rs_ldl_2", Chrom: "19", Pos: 45_411_941, Ref: "T", Alt: "C",
		AF:      map[string]float64{"AFR": 0.10, "AMR": 0.12, "EAS": 0.09, "EUR": 0.15, "SAS": 0.11},
		LDLBeta: 8},
	{ID: "rs_t2d_1", Chrom: "10", Pos: 114_758_349, Ref: "C", Alt: "T",
		AF:       map[string]float64{"AFR": 0.30, "AMR": 0.22, "EAS": 0.05, "EUR": 0.30, "SAS": 0.28},
		T2DLogOR: 0.35},
	{ID: "rs_t2d_2", Chrom: "6", Pos: 20_679_709, Ref: "G", Alt: "A",
		AF:       map[string]float64{"AFR": 0.20, "AMR": 0.30, "EAS": 0.35, "EUR": 0.25, "SAS": 0.30},
		T2DLogOR: 0.25},
}

// Dosage returns the alt-allele count (0, 1 or 2) of PlantedVariants[v] for
// a person, drawn under Hardy–Weinberg from the variant's frequency in the
// person's ancestry. Unknown ancestries use the mean frequency.
func Dosage(seed, personID int64, ancestry string, v int) int {
	p := PlantedVariants[v]
	af, ok := p.AF[ancestry]
	if !ok {
		for _, f := range p.AF {
			af += f
		}
		af /= float64(len(p.AF))
	}
	n := 0
	for hap := 0; hap < 2; hap++ {
		if uniform(seed, personID, v, hap) < af {
			n++
		}
	}
	return n
}

// uniform is a deterministic draw in [0,1) from its arguments.
func uniform(seed, personID int64, v, hap int) float64 {
	h := fnv.New64a()
	var buf [8 * 4]byte
	binary.LittleEndian.PutUint64(buf[0:], uint64(seed))
	binary.LittleEndian.PutUint64(buf[8:], uint64(personID))
	binary.LittleEndian.PutUint64(buf[16:], uint64(v))
	binary.LittleEndian.PutUint64(buf[24:], uint64(hap))
	h.Write(buf[:])
	// FNV-1a of inputs that differ only in their last byte gives nearly
	// equal hashes; the splitmix64 finalizer spreads them, so the two
	// haplotypes are independent draws and dosages follow Hardy–Weinberg.
	z := splitmix.Mix(h.Sum64())
	return float64(z>>11) / (1 << 53)
}
