package assoc

import (
	"math"

	"enclave/datasets/genomics/plink"
)

// DosageGenotypes is a genotype source with dosage rows for some variants
// (*plink.Fileset is one, with dosages read from a VCF's DS). Dosage(v)
// is nil for a variant with hard calls only; otherwise one value per
// sample in plink.DosageUnit units (ALT dosage, 0..2; a haploid dosage
// doubled) or plink.DosageMissing. Like Row, it must be safe for
// concurrent use.
type DosageGenotypes interface {
	Genotypes
	Dosage(v int) []uint16
}

// Dosage variants are tested as plink2 --glm tests a variant with
// dosages (plink2 --vcf FILE dosage=DS): the regressor is the ALT dosage
// (the same 0..2 scale as the hard calls, so on chrX a male's haploid
// dosage counts double, as his hard call does), samples without a dosage
// are left out, A1 is the minor allele by founder dosages (haploid
// dosages counting one allele, as plink2's allele frequencies do), and
// the logistic fit falls back to Firth when the cases or the controls
// carry no A1 dosage or the plain fit fails. These are generic per-sample
// fits (O(N·k²) per iteration); the hard-call path of a variant without
// dosages is untouched.

// doseWork is per-goroutine scratch for dosage variants.
type doseWork struct {
	g []float64 // dosage per analysed sample, NaN missing
}

func (m *model) newDoseWork() *doseWork { return &doseWork{g: make([]float64, m.n)} }

// gatherDose fills wk.cs from a dosage row as gather does from a packed
// row, and the dense dosages of the analysed samples into dw.g; it
// returns the samples with a dosage, Σg, Σg² and whether g varies.
func (m *model) gatherDose(dose []uint16, wk *linWork, dw *doseWork) (nT int, gSum, gg float64, varies bool) {
	w := m.w
	cs := wk.cs
	clear(cs.gu)
	clear(cs.missOuter)
	cs.nMiss = 0
	first := -1
	for i, k := range m.idx {
		if k < 0 {
			continue
		}
		ui := m.u[int(k)*w : int(k)*w+w]
		u := dose[i]
		if u == plink.DosageMissing {
			dw.g[k] = math.NaN()
			cs.nMiss++
			for a, va := range ui {
				r := cs.missOuter[a*w : a*w+a+1]
				for b := range r {
					r[b] += va * ui[b]
				}
			}
			continue
		}
		if first < 0 {
			first = int(u)
		} else if int(u) != first {
			varies = true
		}
		g := float64(u) * (1.0 / plink.DosageUnit)
		dw.g[k] = g
		nT++
		gSum += g
		gg += g * g
		for t, v := range ui {
			cs.gu[t] += g * v
		}
	}
	return nT, gSum, gg, varies
}

// screenDose is screen for a dosage variant.
func (m *model) screenDose(nT int, varies bool, out *variantOut) bool {
	out.obs = nT
	if nT <= m.q+1 {
		out.err = ErrSampleCt
		return false
	}
	if !varies {
		out.err = ErrConstOmittedAllele
		return false
	}
	return true
}

// linearDose is linear for a variant with dosages.
func (m *model) linearDose(dose []uint16, wk *linWork, dw *doseWork, out *variantOut) {
	nT, gSum, gg, varies := m.gatherDose(dose, wk, dw)
	if !m.screenDose(nT, varies, out) {
		return
	}
	m.linearSolve(m.normalFrom(gg, wk), gSum, nT, wk, out)
}

// logisticDose is logistic for a variant with dosages.
func (m *model) logisticDose(dose []uint16, wk *logWork, dw *doseWork, out *variantOut) {
	lw := wk.lin
	nT, gSum, gg, varies := m.gatherDose(dose, lw, dw)
	if !m.screenDose(nT, varies, out) {
		return
	}
	if e := m.checkPredictors(m.normalFrom(gg, lw), gSum, lw.cs, nT, lw); e != errNone {
		out.err = e
		return
	}
	q := m.q
	p := q + 1
	// A1 dosage among the cases and among the controls, in exact units.
	var caseAlt, ctrlAlt, caseObs, ctrlObs int64
	for i, k := range m.idx {
		if k < 0 || dose[i] == plink.DosageMissing {
			continue
		}
		if m.y[k] == 1 {
			caseAlt += int64(dose[i])
			caseObs++
		} else {
			ctrlAlt += int64(dose[i])
			ctrlObs++
		}
	}
	caseA1, ctrlA1 := caseAlt, ctrlAlt
	if out.a1IsRef {
		caseA1 = 2*plink.DosageUnit*caseObs - caseAlt
		ctrlA1 = 2*plink.DosageUnit*ctrlObs - ctrlAlt
	}
	d := &rows{z: m.z, g: dw.g, s: m.y, nrow: m.n}
	beta := wk.beta
	copy(beta, m.null)
	beta[q] = 0
	useFirth := caseA1 == 0 || ctrlA1 == 0
	var st fitStatus
	if !useFirth {
		st = irls(d, p, wk)
		if st.fail {
			useFirth = true
			copy(beta, m.null)
			beta[q] = 0
		}
	}
	if useFirth {
		out.firth = true
		st = firth(d, p, wk)
		if st.fail {
			out.err = ErrFirthConvergeFail
			return
		}
	}
	m.logisticReport(st, wk, out)
}

// a1Dose chooses A1 from founder dosages as a1Haploid does from hard
// calls: on chrX a male's dosage is one allele (half his 0..2 dosage),
// on chrY males only and haploid, on MT everyone haploid; unknown sex is
// diploid on chrX and left out on chrY. A heterozygous haploid dosage
// counts half an allele each way, as plink2 counts it.
func a1Dose(dose []uint16, chrom int, founders *plink.Mask, sex []int) bool {
	var alt, tot float64 // in dosage units
	for i, u := range dose {
		if u == plink.DosageMissing || !founders.Has(i) {
			continue
		}
		haploid := false
		switch chrom {
		case plink.ChromX:
			haploid = sex != nil && sex[i] == 1
		case plink.ChromY:
			if sex == nil || sex[i] != 1 {
				continue
			}
			haploid = true
		case plink.ChromMT:
			haploid = true
		}
		if haploid {
			alt += float64(u) / 2
			tot += plink.DosageUnit
		} else {
			alt += float64(u)
			tot += 2 * plink.DosageUnit
		}
	}
	if tot == 0 {
		return false
	}
	refFreq := (tot - alt) * (1 / tot)
	return !(refFreq >= 0.5)
}
