package qc

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"

	"enclave/datasets/genomics/plink"
)

// tableWriter appends rows to a buffer and flushes it in large writes.
type tableWriter struct {
	w   *bufio.Writer
	buf []byte
	err error
}

func newTableWriter(w io.Writer) *tableWriter {
	return &tableWriter{w: bufio.NewWriterSize(w, 1<<20), buf: make([]byte, 0, 1<<10)}
}

func (t *tableWriter) endRow() {
	t.buf = append(t.buf, '\n')
	if len(t.buf) > 64<<10 {
		t.flushBuf()
	}
}

func (t *tableWriter) flushBuf() {
	if t.err == nil {
		_, t.err = t.w.Write(t.buf)
	}
	t.buf = t.buf[:0]
}

func (t *tableWriter) close() error {
	t.flushBuf()
	if t.err == nil {
		t.err = t.w.Flush()
	}
	return t.err
}

func (t *tableWriter) str(s string) *tableWriter {
	t.buf = append(t.buf, s...)
	return t
}

func (t *tableWriter) tab() *tableWriter {
	t.buf = append(t.buf, '\t')
	return t
}

// allele writes an allele code the way plink2 prints it: "." for a missing
// allele (PLINK 1 writes "0").
func (t *tableWriter) allele(a string) *tableWriter {
	if a == "0" {
		a = "."
	}
	t.buf = append(t.buf, a...)
	return t
}

func (t *tableWriter) int(v int) *tableWriter {
	t.buf = strconv.AppendInt(t.buf, int64(v), 10)
	return t
}

func (t *tableWriter) g(v float64) *tableWriter {
	t.buf = plink.AppendG(t.buf, v)
	return t
}

// WriteAfreq writes plink2's .afreq table (#CHROM ID REF ALT ALT_FREQS
// OBS_CT) for the variants of fs and their Stats.
func WriteAfreq(w io.Writer, fs *plink.Fileset, st []Stats) error {
	t := newTableWriter(w)
	t.str("#CHROM\tID\tREF\tALT\tALT_FREQS\tOBS_CT\n")
	for v := range fs.Variants {
		vr := &fs.Variants[v]
		s := &st[v]
		t.str(vr.Chrom).tab().str(vr.ID).tab().allele(vr.A2).tab().allele(vr.A1).tab().g(s.AltFreq()).tab().int(s.ObsCount())
		t.endRow()
	}
	return t.close()
}

// HardyCounts returns the genotype counts and p-value plink2's .hardy
// reports for an autosomal (or XY, or chromosome 0) variant: A1 there is
// REF (the .bim A2 allele). The p-value is Stats.HweP when Compute made
// it (Options.Hardy), else computed here.
func HardyCounts(s *Stats, midp bool) (homA1, hetA1, twoAX int, p float64) {
	homA1, hetA1, twoAX = s.Dip.HomA2, s.Dip.Het, s.Dip.HomA1
	if s.hwe == hweFor(midp) {
		return homA1, hetA1, twoAX, s.HweP
	}
	return homA1, hetA1, twoAX, HweP(hetA1, homA1, twoAX, midp)
}

// HardyXCounts returns what plink2's .hardy.x reports for a chrX variant:
// female genotype counts and male allele counts with A1 = REF, and the
// Graffelman–Weir p-value. Heterozygous male calls are ignored.
func HardyXCounts(s *Stats, midp bool) (fHomA1, fHetA1, fTwoAX, mA1, mAX int, p float64) {
	fHomA1, fHetA1, fTwoAX = s.Dip.HomA2, s.Dip.Het, s.Dip.HomA1
	mA1, mAX = s.Hap.HomA2, s.Hap.HomA1
	if s.hwe == hweFor(midp) {
		return fHomA1, fHetA1, fTwoAX, mA1, mAX, s.HweP
	}
	return fHomA1, fHetA1, fTwoAX, mA1, mAX, HweXchrP(fHetA1, fHomA1, fTwoAX, mA1, mAX, midp)
}

// WriteHardy writes plink2's .hardy table (autosomes, XY and chromosome 0).
func WriteHardy(w io.Writer, fs *plink.Fileset, st []Stats, midp bool) error {
	t := newTableWriter(w)
	t.str("#CHROM\tID\tA1\tAX\tHOM_A1_CT\tHET_A1_CT\tTWO_AX_CT\tO(HET_A1)\tE(HET_A1)\t")
	if midp {
		t.str("MIDP\n")
	} else {
		t.str("P\n")
	}
	for v := range fs.Variants {
		vr := &fs.Variants[v]
		if st[v].table != hardyAutosomal {
			continue
		}
		homA1, het, twoAX, p := HardyCounts(&st[v], midp)
		nonmissing := homA1 + het + twoAX
		recip := 1.0 / float64(nonmissing)
		t.str(vr.Chrom).tab().str(vr.ID).tab().allele(vr.A2).tab().allele(vr.A1).tab()
		t.int(homA1).tab().int(het).tab().int(twoAX).tab()
		t.g(float64(het) * recip).tab()
		if homA1 == nonmissing {
			t.str("0")
		} else {
			d := float64(homA1*2+het) * recip
			t.g(d * (1.0 - d*0.5))
		}
		t.tab().g(p)
		t.endRow()
	}
	return t.close()
}

// WriteHardyX writes plink2's .hardy.x table for the chrX variants.
func WriteHardyX(w io.Writer, fs *plink.Fileset, st []Stats, midp bool) error {
	t := newTableWriter(w)
	t.str("#CHROM\tID\tA1\tAX\tFEMALE_HOM_A1_CT\tFEMALE_HET_A1_CT\tFEMALE_TWO_AX_CT\tMALE_A1_CT\tMALE_AX_CT\tO(FEMALE_HET_A1)\tE(FEMALE_HET_A1)\tFEMALE_A1_FREQ\tMALE_A1_FREQ\t")
	if midp {
		t.str("MIDP\n")
	} else {
		t.str("P\n")
	}
	for v := range fs.Variants {
		vr := &fs.Variants[v]
		if st[v].table != hardyX {
			continue
		}
		fHom, fHet, fTwo, mA1, mAX, p := HardyXCounts(&st[v], midp)
		fObs := fHom + fHet + fTwo
		recip := 1.0 / float64(fObs)
		d := float64(fHom*2+fHet) * recip
		t.str(vr.Chrom).tab().str(vr.ID).tab().allele(vr.A2).tab().allele(vr.A1).tab()
		t.int(fHom).tab().int(fHet).tab().int(fTwo).tab().int(mA1).tab().int(mAX).tab()
		t.g(float64(fHet) * recip).tab()
		if fHom == fObs {
			t.str("0")
		} else {
			t.g(d * (1.0 - 0.5*d))
		}
		t.tab().g(d * 0.5).tab().g(float64(mA1) / float64(mA1+mAX)).tab().g(p)
		t.endRow()
	}
	return t.close()
}

// WriteFile creates path and calls write on it.
func WriteFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
