package plink

import "fmt"

// Dosages. A dosage row holds one uint16 per sample: the ALT (A1) dosage
// on the diploid scale 0..2 in units of 1/DosageUnit (so 0..2·DosageUnit),
// the precision plink2 stores dosages at, or DosageMissing. A haploid
// dosage (0..1 in a VCF) is stored doubled, as a haploid hard call is
// stored as a homozygote.
const (
	DosageUnit    = 16384
	DosageMissing = 0xffff
)

// HardCallMargin is how far (in dosage units) a dosage may lie from 0, 1 or
// 2 and still be hard-called: plink2's default --hard-call-threshold 0.1.
const HardCallMargin = DosageUnit / 10 // 1638, i.e. within 0.09998 of an integer

// HardCall is the 2-bit code of a dosage: the nearest genotype when the
// dosage lies within HardCallMargin of it, else missing.
func HardCall(u uint16) byte {
	if u == DosageMissing {
		return CodeMissing
	}
	k := (int(u) + DosageUnit/2) / DosageUnit // nearest of 0, 1, 2
	d := int(u) - k*DosageUnit
	if d < -HardCallMargin || d > HardCallMargin {
		return CodeMissing
	}
	return [3]byte{CodeHomA2, CodeHet, CodeHomA1}[k]
}

// RoundCall is the 2-bit code of the genotype nearest a dosage (missing
// only when the dosage is): every person with a dosage falls in a class.
// The release rules count genotype classes of dosages this way.
func RoundCall(u uint16) byte {
	if u == DosageMissing {
		return CodeMissing
	}
	return [3]byte{CodeHomA2, CodeHet, CodeHomA1}[(int(u)+DosageUnit/2-1)/DosageUnit]
}

// CodeDosage is the dosage of a hard call.
func CodeDosage(code byte) uint16 {
	return [4]uint16{2 * DosageUnit, DosageMissing, DosageUnit, 0}[code&3]
}

// Dosage returns the dosage row of variant v, or nil when the variant has
// hard calls only (every variant of a .bed; VCF records without DS).
func (fs *Fileset) Dosage(v int) []uint16 {
	if fs.dosage == nil {
		return nil
	}
	return fs.dosage[v]
}

// HasDosages reports whether any variant has a dosage row.
func (fs *Fileset) HasDosages() bool { return fs.dosage != nil }

// SetDosages attaches dosage rows: d[v] is nil or holds one value per
// sample. The hard calls (the packed rows) stay what they are.
func (fs *Fileset) SetDosages(d [][]uint16) error {
	if len(d) != len(fs.Variants) {
		return fmt.Errorf("plink: %d dosage rows for %d variants", len(d), len(fs.Variants))
	}
	any := false
	for v, r := range d {
		if r == nil {
			continue
		}
		if len(r) != len(fs.Samples) {
			return fmt.Errorf("plink: dosage row %d has %d values for %d samples", v, len(r), len(fs.Samples))
		}
		any = true
	}
	fs.dosage = nil
	if any {
		fs.dosage = d
	}
	return nil
}
