package qc

import (
	"math"

	"enclave/datasets/genomics/plink"
)

// Options select what is counted.
type Options struct {
	Threads     int  // worker goroutines; <= 0 means GOMAXPROCS
	Nonfounders bool // count non-founders too (plink2 --nonfounders)
	MidP        bool // mid-p Hardy–Weinberg test (plink2 --hardy midp)
	// Hardy computes Stats.HweP in the parallel pass (the exact test costs
	// more than the counting).
	Hardy bool
}

// Stats are one variant's genotype counts over the counted samples, split
// by how plink2 counts them on the variant's chromosome.
type Stats struct {
	// Dip counts diploid calls: every counted sample on autosomes, XY and
	// chromosome 0; females on chrX.
	Dip plink.Counts
	// Hap counts haploid calls: males on chrX and chrY, everyone on MT.
	// Hap.Het are heterozygous haploid calls, which count as missing.
	Hap plink.Counts
	// NoSex counts unknown-sex samples on chrX (diploid); plink2 uses them
	// for allele frequencies but not for the chrX HWE test.
	NoSex plink.Counts
	// HweP is the Hardy–Weinberg p-value (mid-p with Options.MidP) plink2
	// --hardy reports, when Options.Hardy: the autosomal test, or the chrX
	// test over females and males; NaN for chrY and MT.
	HweP  float64
	hwe   uint8 // hweP or hweMidP when HweP is set
	table uint8 // hardyAutosomal, hardyX or 0 (skipped by --hardy)
}

const (
	hardyAutosomal = 1
	hardyX         = 2
)

// HardyTable names the plink2 --hardy table the variant goes to:
// "autosomal" (.hardy: autosomes, XY, chromosome 0), "x" (.hardy.x) or ""
// (skipped: chrY, MT, and chrX when no counted sample has a known sex).
func (s *Stats) HardyTable() string {
	switch s.table {
	case hardyAutosomal:
		return "autosomal"
	case hardyX:
		return "x"
	}
	return ""
}

const (
	hweP    = 1
	hweMidP = 2
)

func hweFor(midp bool) uint8 {
	if midp {
		return hweMidP
	}
	return hweP
}

// AltHalfCount is twice the number of ALT (A1) alleles observed: plink2
// counts a heterozygous haploid call as half an ALT and half a REF allele
// in --freq, so allele counts are kept in halves.
func (s *Stats) AltHalfCount() int {
	return 4*(s.Dip.HomA1+s.NoSex.HomA1) + 2*(s.Dip.Het+s.NoSex.Het) + 2*s.Hap.HomA1 + s.Hap.Het
}

// ObsCount is the number of allele observations (plink2 OBS_CT): two per
// diploid call, one per haploid call (heterozygous haploid calls included).
func (s *Stats) ObsCount() int {
	return 2*(s.Dip.NonMissing()+s.NoSex.NonMissing()) + s.Hap.NonMissing()
}

// AltFreq is the ALT allele frequency computed as plink2 does, to the last
// bit (NaN when nothing was observed).
func (s *Stats) AltFreq() float64 {
	recip := 1.0 / float64(s.ObsCount())
	return float64(s.AltHalfCount()) * recip * 0.5
}

// sampleSets are the masks a fileset's variants are counted over.
type sampleSets struct {
	counted *plink.Mask // founders (or everyone)
	all     bool        // counted includes every sample
	males   *plink.Mask // counted males
	females *plink.Mask // counted females
	nosex   *plink.Mask // counted unknown sex
	// femaleOrNoSex: plink2 counts unknown-sex samples as females in the
	// chrX HWE test when no counted sample is male.
	femaleOrNoSex *plink.Mask
	// hweX: plink2 runs the chrX test only if a counted sample has a
	// known sex.
	hweX bool
}

func newSampleSets(fs *plink.Fileset, opts Options) *sampleSets {
	n := fs.NumSamples()
	s := fs.Samples
	counted := func(i int) bool { return opts.Nonfounders || s[i].Founder() }
	ss := &sampleSets{
		counted: plink.NewMask(n, counted),
		males:   plink.NewMask(n, func(i int) bool { return counted(i) && s[i].Sex == 1 }),
		females: plink.NewMask(n, func(i int) bool { return counted(i) && s[i].Sex == 2 }),
		nosex:   plink.NewMask(n, func(i int) bool { return counted(i) && s[i].Sex == 0 }),
	}
	ss.all = ss.counted.Count() == n
	ss.femaleOrNoSex = plink.NewMask(n, func(i int) bool { return counted(i) && s[i].Sex != 1 })
	ss.hweX = ss.males.Count()+ss.females.Count() > 0
	return ss
}

// Compute counts the genotypes of every variant of fs, streaming the .bed
// in blocks on Options.Threads goroutines.
func Compute(fs *plink.Fileset, opts Options) ([]Stats, error) {
	ss := newSampleSets(fs, opts)
	out := make([]Stats, fs.NumVariants())
	n := fs.NumSamples()
	rb := fs.RowBytes()
	bufs := make([][]byte, plink.Workers(fs.NumVariants(), opts.Threads))
	err := plink.ParallelWorkers(0, fs.NumVariants(), opts.Threads, func(w, lo, hi int) error {
		rows, err := fs.ReadRows(lo, hi, bufs[w])
		if err != nil {
			return err
		}
		bufs[w] = rows
		for v := lo; v < hi; v++ {
			row := rows[(v-lo)*rb : (v-lo+1)*rb]
			st := &out[v]
			switch fs.Variants[v].ChromCode {
			case plink.ChromX:
				if ss.males.Count() == 0 {
					// As plink2: no male counts, no separate unknown-sex counts.
					st.Dip = plink.CountRowMasked(row, ss.femaleOrNoSex)
				} else {
					st.Dip = plink.CountRowMasked(row, ss.females)
					st.Hap = plink.CountRowMasked(row, ss.males)
					if ss.nosex.Count() > 0 {
						st.NoSex = plink.CountRowMasked(row, ss.nosex)
					}
				}
				if !ss.hweX {
					st.HweP = math.NaN()
					continue
				}
				st.table = hardyX
				if opts.Hardy {
					st.HweP = HweXchrP(st.Dip.Het, st.Dip.HomA2, st.Dip.HomA1, st.Hap.HomA2, st.Hap.HomA1, opts.MidP)
					st.hwe = hweFor(opts.MidP)
				}
				continue
			case plink.ChromY:
				st.Hap = plink.CountRowMasked(row, ss.males)
			case plink.ChromMT:
				if ss.all {
					st.Hap = plink.CountRow(row, n)
				} else {
					st.Hap = plink.CountRowMasked(row, ss.counted)
				}
			default:
				if ss.all {
					st.Dip = plink.CountRow(row, n)
				} else {
					st.Dip = plink.CountRowMasked(row, ss.counted)
				}
				st.table = hardyAutosomal
				if opts.Hardy {
					st.HweP = HweP(st.Dip.Het, st.Dip.HomA2, st.Dip.HomA1, opts.MidP)
					st.hwe = hweFor(opts.MidP)
				}
				continue
			}
			st.HweP = math.NaN()
		}
		return nil
	})
	return out, err
}
