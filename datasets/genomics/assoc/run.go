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
}

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
	if len(pheno.Values) != nAll {
		return nil, fmt.Errorf("phenotype %s has %d values for %d samples", pheno.Name, len(pheno.Values), nAll)
	}
	for _, c := range covars {
		if len(c.Values) != nAll {
			return nil, fmt.Errorf("covariate %s has %d values for %d samples", c.Name, len(c.Values), nAll)
		}
	}
	m, err := newModel(pheno, covars, nAll, opt.MaxCorr, opt.VIF)
	if err != nil {
		return nil, err
	}
	if m.binary {
		if err := m.fitNull(pheno.Name); err != nil {
			return nil, err
		}
	}
	tests := []string{"ADD"}
	if !opt.HideCovar {
		tests = append(tests, m.covars...)
	}
	nv := g.NumVariants()
	nt := len(tests)
	res := &Result{
		Pheno: pheno.Name, Logistic: m.binary, Tests: tests, Samples: m.n, Cases: m.cases,
		Obs: make([]int32, nv), Err: make([]ErrCode, nv), Firth: make([]bool, nv), Unfinished: make([]bool, nv), A1IsRef: make([]bool, nv),
		Beta: make([]float64, nv*nt), SE: make([]float64, nv*nt), Stat: make([]float64, nv*nt), P: make([]float64, nv*nt),
	}
	founders := opt.Founders
	if founders == nil {
		founders = plink.FullMask(nAll)
	}
	err = plink.Parallel(nv, opt.Threads, func(lo, hi int) error {
		var lw *linWork
		var gw *logWork
		if m.binary {
			gw = m.newLogWork()
		} else {
			lw = m.newLinWork()
		}
		for v := lo; v < hi; v++ {
			o := variantOut{
				beta: res.Beta[v*nt : (v+1)*nt], se: res.SE[v*nt : (v+1)*nt],
				stat: res.Stat[v*nt : (v+1)*nt], p: res.P[v*nt : (v+1)*nt],
			}
			row := g.Row(v)
			fc := plink.CountRowMasked(row, founders)
			o.a1IsRef = a1IsRef(fc)
			res.A1IsRef[v] = o.a1IsRef
			if m.binary {
				m.logistic(row, gw, &o)
			} else {
				m.linear(row, lw, &o)
			}
			res.Obs[v] = int32(o.obs)
			res.Err[v] = o.err
			res.Firth[v] = o.firth
			res.Unfinished[v] = o.unfinished
			if o.err != errNone {
				for t := range o.beta {
					o.beta[t], o.se[t], o.stat[t], o.p[t] = math.NaN(), math.NaN(), math.NaN(), math.NaN()
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
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
