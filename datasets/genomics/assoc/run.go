package assoc

import (
	"fmt"
	"math"
	"sort"

	"enclave/datasets/genomics/plink"
)

// Options control Run. Zero values mean plink2's defaults.
type Options struct {
	Threads   int     // worker goroutines; <= 0 means GOMAXPROCS
	HideCovar bool    // report only the ADD row (plink2 --glm hide-covar)
	MaxCorr   float64 // --max-corr, default 0.999
	VIF       float64 // --vif, default 50
	// Founders are the samples whose allele counts choose A1, the tested
	// allele: plink2 tests the minor allele, counted over
	// founders (an exact tie follows plink2's rounding). Nil means all
	// samples.
	Founders *plink.Mask
	// Chrom is the chromosome code of each variant (plink.ChromX, …); nil
	// treats every variant as autosomal. With it, chrX and chrY are
	// modelled as plink2 --glm does by default (xchr-model 2): on chrX sex
	// is added as a covariate (male 1, female 2; samples of unknown sex
	// are left out) and genotypes keep their 0..2 coding; on chrY only
	// males are analysed; chrY and MT dosages are haploid (0..1, so the
	// ADD beta and SE are twice those of the hardcall coding). The
	// pseudo-autosomal XY is autosomal. A1 on chrX, chrY and MT is the minor allele counted with
	// haploid calls as one allele, as plink2's allele frequencies are.
	Chrom []int
	// Sex of each sample (1 male, 2 female, 0 unknown), as in the .fam;
	// needed with Chrom.
	Sex []int
	// SexCovariate names the covariate of covars that already is sex: on
	// chrX no second one is added (plink2 --glm 'sex'), on chrY it is left
	// out (it is constant among males).
	SexCovariate string

	// noCells fits every logistic model per sample, never over collapsed
	// covariate cells, and noSIMD never with the vectorised pass (tests
	// compare the paths).
	noCells, noSIMD bool
}

// Result holds the association results of one phenotype over all variants.
type Result struct {
	Pheno    string
	Logistic bool     // case/control phenotype: logistic-Firth hybrid
	Tests    []string // "ADD", then the covariate names unless HideCovar
	Samples  int      // samples with phenotype and covariates
	Cases    int      // cases among them (logistic only)
	// Per variant.
	Obs        []int32   // OBS_CT: samples with a genotype
	Err        []ErrCode // ERRCODE (errNone = ".")
	Firth      []bool    // FIRTH? = Y: Firth fallback used
	Unfinished []bool    // iteration limit hit (ERRCODE UNFINISHED)
	A1IsRef    []bool    // A1 (tested allele) is REF, the minor allele; else ALT
	// Per variant and test, index v*len(Tests)+t. Beta is ln(OR) for
	// logistic; Stat is T_STAT (linear) or Z_STAT (logistic).
	Beta, SE, Stat, P []float64
	// absent[v*len(Tests)+t] is set when test t is not in variant v's
	// model (SEX off chrX, a sex covariate on chrY); Write skips it.
	absent []bool
}

// Has reports whether test t is in variant v's model.
func (r *Result) Has(v, t int) bool { return r.absent == nil || !r.absent[v*len(r.Tests)+t] }

// variantOut is the slice of a Result one variant writes.
type variantOut struct {
	obs               int
	err               ErrCode
	firth, unfinished bool
	a1IsRef           bool // the tested allele is REF: the ADD coefficient changes sign
	beta, se, stat, p []float64
}

// Run tests every variant of g against one phenotype with the given
// covariates (columns aligned to the fileset samples, see ReadTable). A
// case/control phenotype gets logistic regression with Firth fallback, any
// other linear regression.
func Run(g Genotypes, pheno Column, covars []Column, opt Options) (*Result, error) {
	if opt.MaxCorr == 0 {
		opt.MaxCorr = 0.999
	}
	if opt.VIF == 0 {
		opt.VIF = 50
	}
	nAll := g.NumSamples()
	nv := g.NumVariants()
	if len(pheno.Values) != nAll {
		return nil, fmt.Errorf("phenotype %s has %d values for %d samples", pheno.Name, len(pheno.Values), nAll)
	}
	for _, c := range covars {
		if len(c.Values) != nAll {
			return nil, fmt.Errorf("covariate %s has %d values for %d samples", c.Name, len(c.Values), nAll)
		}
	}
	if opt.Chrom != nil && len(opt.Chrom) != nv {
		return nil, fmt.Errorf("%d chromosome codes for %d variants", len(opt.Chrom), nv)
	}
	if opt.Chrom != nil && len(opt.Sex) != nAll {
		return nil, fmt.Errorf("%d sexes for %d samples", len(opt.Sex), nAll)
	}
	sexCov := -1
	for i, c := range covars {
		if opt.SexCovariate != "" && c.Name == opt.SexCovariate {
			sexCov = i
		}
	}
	if opt.SexCovariate != "" && sexCov < 0 {
		return nil, fmt.Errorf("sex covariate %s is not among the covariates", opt.SexCovariate)
	}
	// The variants of each model: autosomal (and MT, XY), chrX, chrY.
	var groups [3][]int
	for v := 0; v < nv; v++ {
		k := 0
		if opt.Chrom != nil {
			switch opt.Chrom[v] {
			case plink.ChromX:
				k = 1
			case plink.ChromY:
				k = 2
			}
		}
		groups[k] = append(groups[k], v)
	}
	tests := []string{"ADD"}
	if !opt.HideCovar {
		for _, c := range covars {
			tests = append(tests, c.Name)
		}
		if len(groups[1]) > 0 && sexCov < 0 {
			tests = append(tests, "SEX")
		}
	}
	nt := len(tests)
	res := &Result{
		Pheno: pheno.Name, Logistic: pheno.Binary, Tests: tests,
		Obs: make([]int32, nv), Err: make([]ErrCode, nv), Firth: make([]bool, nv), Unfinished: make([]bool, nv), A1IsRef: make([]bool, nv),
		Beta: make([]float64, nv*nt), SE: make([]float64, nv*nt), Stat: make([]float64, nv*nt), P: make([]float64, nv*nt),
	}
	if opt.Chrom != nil && !opt.HideCovar {
		res.absent = make([]bool, nv*nt)
	}
	dg, _ := g.(DosageGenotypes)
	founders := opt.Founders
	if founders == nil {
		founders = plink.FullMask(nAll)
	}
	for k, vs := range groups {
		if len(vs) == 0 && !(k == 0 && nv == 0) {
			continue
		}
		ph, cv, cols := pheno, covars, make([]int, 0, nt) // cols: the model's tests as columns of res
		cols = append(cols, 0)
		for i := range covars {
			cols = append(cols, 1+i)
		}
		switch k {
		case 1: // chrX: sex as a covariate, unknown sex left out.
			if sexCov < 0 {
				sex := make([]float64, nAll)
				for i, s := range opt.Sex {
					sex[i] = math.NaN()
					if s == 1 || s == 2 {
						sex[i] = float64(s)
					}
				}
				cv = append(append([]Column(nil), covars...), Column{Name: "SEX", Values: sex})
				cols = append(cols, len(covars)+1)
			}
		case 2: // chrY: males only, without a sex covariate.
			y := make([]float64, nAll)
			for i, s := range opt.Sex {
				y[i] = math.NaN()
				if s == 1 {
					y[i] = pheno.Values[i]
				}
			}
			ph = Column{Name: pheno.Name, Values: y, Binary: pheno.Binary}
			if sexCov >= 0 {
				cv = append(append([]Column(nil), covars[:sexCov]...), covars[sexCov+1:]...)
				cols = append(cols[:1+sexCov], cols[2+sexCov:]...)
			}
		}
		if opt.HideCovar {
			cols = cols[:1]
		}
		m, err := newModel(ph, cv, nAll, opt.MaxCorr, opt.VIF)
		if err == nil && m.binary {
			m.noCells, m.noSIMD = opt.noCells, opt.noSIMD
			err = m.fitNull(ph.Name)
		}
		if err != nil {
			if k == 0 {
				return nil, err
			}
			return nil, fmt.Errorf("%s: %w", [3]string{"", "chrX", "chrY"}[k], err)
		}
		if k == 0 || res.Samples == 0 {
			res.Samples, res.Cases = m.n, m.cases
		}
		a1 := func(row []byte, _ int) bool { return a1IsRef(plink.CountRowMasked(row, founders)) }
		if opt.Chrom != nil {
			a1 = a1Haploid(founders, opt.Sex)
		}
		err = plink.Parallel(len(vs), opt.Threads, func(lo, hi int) error {
			var lw *linWork
			var gw *logWork
			var dw *doseWork
			if m.binary {
				gw = m.newLogWork()
			} else {
				lw = m.newLinWork()
			}
			nm := len(cols)
			o := variantOut{beta: make([]float64, nm), se: make([]float64, nm), stat: make([]float64, nm), p: make([]float64, nm)}
			for _, v := range vs[lo:hi] {
				row := g.Row(v)
				o.obs, o.err, o.firth, o.unfinished = 0, errNone, false, false
				chrom := 0
				if opt.Chrom != nil {
					chrom = opt.Chrom[v]
				}
				var dose []uint16
				if dg != nil {
					dose = dg.Dosage(v)
				}
				switch {
				case dose != nil:
					// A variant with dosages (dose.go).
					if dw == nil {
						dw = m.newDoseWork()
					}
					sex := opt.Sex
					if opt.Chrom == nil {
						sex = nil
					}
					o.a1IsRef = a1Dose(dose, chrom, founders, sex)
					if m.binary {
						m.logisticDose(dose, gw, dw, &o)
					} else {
						m.linearDose(dose, lw, dw, &o)
					}
				case m.binary:
					o.a1IsRef = a1(row, chrom)
					m.logistic(row, gw, &o)
				default:
					o.a1IsRef = a1(row, chrom)
					m.linear(row, lw, &o)
				}
				res.A1IsRef[v] = o.a1IsRef
				res.Obs[v] = int32(o.obs)
				res.Err[v] = o.err
				res.Firth[v] = o.firth
				res.Unfinished[v] = o.unfinished
				for t := 0; t < nt; t++ {
					res.Beta[v*nt+t], res.SE[v*nt+t], res.Stat[v*nt+t], res.P[v*nt+t] = math.NaN(), math.NaN(), math.NaN(), math.NaN()
					if res.absent != nil {
						res.absent[v*nt+t] = true
					}
				}
				for j, t := range cols {
					if res.absent != nil {
						res.absent[v*nt+t] = false
					}
					if o.err == errNone {
						res.Beta[v*nt+t], res.SE[v*nt+t], res.Stat[v*nt+t], res.P[v*nt+t] = o.beta[j], o.se[j], o.stat[j], o.p[j]
					}
				}
				if chrom == plink.ChromY || chrom == plink.ChromMT {
					// Haploid dosage 0..1: the ADD column is half the
					// hardcall, so its coefficient and SE double.
					res.Beta[v*nt] *= 2
					res.SE[v*nt] *= 2
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// a1Haploid chooses A1 as a1IsRef does, from allele counts in which a
// haploid call (a male's on chrX and chrY, everyone's on MT) is one allele
// and a heterozygous haploid call is missing, as plink2 counts alleles;
// samples of unknown sex are diploid on chrX and left out on chrY.
func a1Haploid(founders *plink.Mask, sex []int) func(row []byte, chrom int) bool {
	n := len(sex)
	males := plink.NewMask(n, func(i int) bool { return founders.Has(i) && sex[i] == 1 })
	others := plink.NewMask(n, func(i int) bool { return founders.Has(i) && sex[i] != 1 })
	return func(row []byte, chrom int) bool {
		var alt, tot int // ALT (.bed A1) alleles and all alleles counted
		hap := func(c plink.Counts) { alt += c.HomA1; tot += c.HomA1 + c.HomA2 }
		dip := func(c plink.Counts) { alt += 2*c.HomA1 + c.Het; tot += 2 * c.NonMissing() }
		switch chrom {
		case plink.ChromX:
			hap(plink.CountRowMasked(row, males))
			dip(plink.CountRowMasked(row, others))
		case plink.ChromY:
			hap(plink.CountRowMasked(row, males))
		case plink.ChromMT:
			hap(plink.CountRowMasked(row, founders))
		default:
			return a1IsRef(plink.CountRowMasked(row, founders))
		}
		if tot == 0 {
			return false
		}
		refFreq := float64(tot-alt) * (1 / float64(tot))
		return !(refFreq >= 0.5)
	}
}

// a1IsRef decides plink2's tested allele from founder counts: REF is the
// major allele (and ALT tested) when its frequency, computed as plink2 does
// (count × 1/total, so an exact tie can round either way), is at least 0.5.
func a1IsRef(c plink.Counts) bool {
	tot := 2 * c.NonMissing()
	if tot == 0 {
		return false
	}
	refFreq := float64(2*c.HomA2+c.Het) * (1 / float64(tot))
	return !(refFreq >= 0.5)
}

// Lambda is the genomic inflation factor: the median ADD χ² (Stat²) over
// the variants with a result, divided by the median of χ²(1), 0.4549364.
func (r *Result) Lambda() float64 {
	nt := len(r.Tests)
	var chi []float64
	for v := range r.Err {
		if r.Err[v] != errNone {
			continue
		}
		s := r.Stat[v*nt]
		if !math.IsNaN(s) {
			chi = append(chi, s*s)
		}
	}
	if len(chi) == 0 {
		return math.NaN()
	}
	sort.Float64s(chi)
	med := chi[len(chi)/2]
	if len(chi)%2 == 0 {
		med = (chi[len(chi)/2-1] + chi[len(chi)/2]) / 2
	}
	return med / 0.45493642311957283
}

// WithFileset fills Chrom and Sex from the .bim and .fam of fs, so that
// chrX and chrY are modelled as plink2 does.
func (o Options) WithFileset(fs *plink.Fileset) Options {
	o.Chrom = make([]int, len(fs.Variants))
	for v := range fs.Variants {
		o.Chrom[v] = fs.Variants[v].ChromCode
	}
	o.Sex = make([]int, len(fs.Samples))
	for i := range fs.Samples {
		o.Sex[i] = fs.Samples[i].Sex
	}
	return o
}
