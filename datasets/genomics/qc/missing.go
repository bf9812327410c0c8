package qc

import (
	"io"

	"enclave/datasets/genomics/plink"
)

// Missingness holds plink2 --missing's counts: per variant, missing calls
// among the samples expected to have one (males only on chrY); per sample,
// missing calls among the variants it is expected on.
type Missingness struct {
	VariantMissing []int // MISSING_CT per variant
	VariantObs     []int // OBS_CT per variant (samples expected)
	SampleMissing  []int32
	SampleObs      []int // OBS_CT per sample (variants expected)
}

// ComputeMissing counts missing calls over all samples (founders or not),
// as plink2 --missing does.
func ComputeMissing(fs *plink.Fileset, threads int) (*Missingness, error) {
	n, m := fs.NumSamples(), fs.NumVariants()
	males := plink.NewMask(n, func(i int) bool { return fs.Samples[i].Sex == 1 })
	ms := &Missingness{
		VariantMissing: make([]int, m),
		VariantObs:     make([]int, m),
		SampleMissing:  make([]int32, n),
		SampleObs:      make([]int, n),
	}
	workers := plink.Workers(m, threads)
	perWorker := make([][]int32, workers)
	for w := range perWorker {
		perWorker[w] = make([]int32, n)
	}
	bufs := make([][]byte, workers)
	rb := fs.RowBytes()
	err := plink.ParallelWorkers(0, m, threads, func(w, lo, hi int) error {
		acc := perWorker[w]
		rows, err := fs.ReadRows(lo, hi, bufs[w])
		if err != nil {
			return err
		}
		bufs[w] = rows
		for v := lo; v < hi; v++ {
			row := rows[(v-lo)*rb : (v-lo+1)*rb]
			var mask *plink.Mask
			obs := n
			if fs.Variants[v].ChromCode == plink.ChromY {
				mask, obs = males, males.Count()
			}
			var c plink.Counts
			if mask == nil {
				c = plink.CountRow(row, n)
			} else {
				c = plink.CountRowMasked(row, mask)
			}
			ms.VariantMissing[v], ms.VariantObs[v] = c.Missing, obs
			if c.Missing > 0 {
				plink.AddMissing(row, mask, acc)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, acc := range perWorker {
		for i, c := range acc {
			ms.SampleMissing[i] += c
		}
	}
	nY := 0
	for v := range fs.Variants {
		if fs.Variants[v].ChromCode == plink.ChromY {
			nY++
		}
	}
	for i := range fs.Samples {
		ms.SampleObs[i] = m
		if fs.Samples[i].Sex != 1 {
			ms.SampleObs[i] -= nY
		}
	}
	return ms, nil
}

// WriteVmiss writes plink2's .vmiss table.
func WriteVmiss(w io.Writer, fs *plink.Fileset, ms *Missingness) error {
	t := newTableWriter(w)
	t.str("#CHROM\tID\tMISSING_CT\tOBS_CT\tF_MISS\n")
	for v := range fs.Variants {
		vr := &fs.Variants[v]
		recip := 1.0 / float64(ms.VariantObs[v])
		t.str(vr.Chrom).tab().str(vr.ID).tab().int(ms.VariantMissing[v]).tab().int(ms.VariantObs[v]).tab()
		t.g(float64(ms.VariantMissing[v]) * recip)
		t.endRow()
	}
	return t.close()
}

// WriteSmiss writes plink2's .smiss table. The PHENO1 column (Y when the
// sample's phenotype is missing) appears when any sample has a phenotype.
func WriteSmiss(w io.Writer, fs *plink.Fileset, ms *Missingness) error {
	t := newTableWriter(w)
	pheno := false
	for i := range fs.Samples {
		if !fs.Samples[i].PhenoMissing {
			pheno = true
			break
		}
	}
	t.str("#FID\tIID\t")
	if pheno {
		t.str("PHENO1\t")
	}
	t.str("MISSING_CT\tOBS_CT\tF_MISS\n")
	for i := range fs.Samples {
		s := &fs.Samples[i]
		t.str(s.FID).tab().str(s.IID).tab()
		if pheno {
			if s.PhenoMissing {
				t.str("Y\t")
			} else {
				t.str("N\t")
			}
		}
		recip := 1.0 / float64(ms.SampleObs[i])
		t.int(int(ms.SampleMissing[i])).tab().int(ms.SampleObs[i]).tab().g(float64(ms.SampleMissing[i]) * recip)
		t.endRow()
	}
	return t.close()
}
