package assoc

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"

	"enclave/datasets/genomics/dosage"
	"enclave/datasets/genomics/plink"
)

// ErrModel marks a phenotype that cannot be analysed with the given
// covariates (too few samples, collinear or badly scaled covariates).
var ErrModel = errors.New("unusable regression model")

// Genotypes is the packed genotype source; *plink.Fileset implements it.
// Row must be safe for concurrent use and return a row in the .bed encoding
// (see package plink).
type Genotypes interface {
	NumSamples() int
	NumVariants() int
	Row(v int) []byte
}

// model is the per-phenotype fixed part of every per-variant regression:
// the analysed samples and the covariates orthonormalised once.
type model struct {
	nAll            int             // samples in the fileset
	n               int             // analysed samples (phenotype and covariates present)
	idx             []int32         // fileset sample → analysed index, -1 when excluded
	mask            *plink.Mask     // analysed samples
	caseMask        *plink.Mask     // analysed cases (case/control)
	q               int             // columns of Z = [1, covariates]
	covars          []string        // covariate names (Z columns 1..q-1)
	w               int             // row width of u: q + 1
	u               []float64       // n × w rows [Q_i, y_i]; Q orthonormal basis of Z, y centred (linear)
	uc              *dosage.Chunked // the same rows in fileset order, chunk-major, for the dense kernel
	r               []float64       // q × q upper-triangular R with Z = Q R
	rinv            []float64       // R⁻¹
	qsum            []float64       // Σ_i Q_i (= first column of R up to sign conventions)
	qty             []float64       // Q'y
	yty             float64         // y'y (centred)
	y               []float64       // phenotype of analysed samples (0/1 for case/control)
	z               []float64       // n × q rows of Z (raw covariates, with intercept)
	binary          bool            // case/control phenotype
	cases           int             // number of cases (case/control)
	null            []float64       // null-model logistic coefficients in Z basis
	eta0            []float64       // null linear predictor per sample
	cells           *cellDesign     // collapsed covariate patterns, nil when too many
	dense           *denseNull      // null-model state of the dense logistic path (cells == nil)
	maxCorr, vifMax float64
	noCells, noSIMD bool // Options.noCells, Options.noSIMD
}

// newModel selects the samples with the phenotype and all covariates
// present, builds Z = [1, C], checks the covariates as plink2 does and
// orthonormalises them.
func newModel(pheno Column, covars []Column, nAll int, maxCorr, vifMax float64) (*model, error) {
	m := &model{nAll: nAll, idx: make([]int32, nAll), binary: pheno.Binary, maxCorr: maxCorr, vifMax: vifMax}
	m.q = len(covars) + 1
	m.w = m.q + 1
	for _, c := range covars {
		m.covars = append(m.covars, c.Name)
	}
	for i := 0; i < nAll; i++ {
		ok := !math.IsNaN(pheno.Values[i])
		for _, c := range covars {
			if math.IsNaN(c.Values[i]) {
				ok = false
			}
		}
		if ok {
			m.idx[i] = int32(m.n)
			m.n++
			m.y = append(m.y, pheno.Values[i])
			m.z = append(m.z, 1)
			for _, c := range covars {
				m.z = append(m.z, c.Values[i])
			}
		} else {
			m.idx[i] = -1
		}
	}
	m.mask = plink.NewMask(nAll, func(i int) bool { return m.idx[i] >= 0 })
	if m.binary {
		m.caseMask = plink.NewMask(nAll, func(i int) bool { return m.idx[i] >= 0 && m.y[m.idx[i]] == 1 })
	}
	if m.n <= m.q+1 {
		return nil, fmt.Errorf("phenotype %s: %d samples with phenotype and covariates, need more than %d: %w", pheno.Name, m.n, m.q+1, ErrModel)
	}
	if m.binary {
		for _, v := range m.y {
			if v == 1 {
				m.cases++
			}
		}
		if m.cases == 0 || m.cases == m.n {
			return nil, fmt.Errorf("phenotype %s: all %d samples are %s: %w", pheno.Name, m.n, map[bool]string{true: "cases", false: "controls"}[m.cases == m.n], ErrModel)
		}
	}
	if err := m.checkCovariates(pheno.Name); err != nil {
		return nil, err
	}
	if err := m.orthonormalise(pheno.Name); err != nil {
		return nil, err
	}
	return m, nil
}

// checkCovariates applies plink2's fixed-covariate checks: every covariate
// must vary, sum-of-squares scales must lie within 2^20 of each other
// (UNSTABLE_SCALE), no pair may correlate above maxCorr and no VIF may exceed
// vifMax.
func (m *model) checkCovariates(name string) error {
	k := m.q - 1
	if k == 0 {
		return nil
	}
	n := float64(m.n)
	sums := make([]float64, k)
	dot := make([]float64, k*k)
	for i := 0; i < m.n; i++ {
		row := m.z[i*m.q+1 : (i+1)*m.q]
		for a := 0; a < k; a++ {
			sums[a] += row[a]
			for b := 0; b <= a; b++ {
				dot[a*k+b] += row[a] * row[b]
			}
		}
	}
	maxSSQ := 1.5 * n
	minCentred := 0.0198 * (n - 1)
	for a := 0; a < k; a++ {
		ssq := dot[a*k+a]
		maxSSQ = math.Max(maxSSQ, ssq)
		minCentred = math.Min(minCentred, ssq-sums[a]*sums[a]/n)
	}
	if minCentred*1048576 < maxSSQ {
		return fmt.Errorf("phenotype %s: covariate scales differ too much or a covariate is constant (plink2 UNSTABLE_SCALE); standardise the covariates: %w", name, ErrModel)
	}
	if e := corrVIF(dot, sums, k, n, m.maxCorr, m.vifMax); e != errNone {
		return fmt.Errorf("phenotype %s: covariates fail the %s check: %w", name, e, ErrModel)
	}
	return nil
}

// orthonormalise computes Z = Q R by classical Gram–Schmidt with
// re-orthogonalisation and fills u = [Q, y].
func (m *model) orthonormalise(name string) error {
	n, q := m.n, m.q
	qcols := make([][]float64, q)
	m.r = make([]float64, q*q)
	for j := 0; j < q; j++ {
		v := make([]float64, n)
		for i := 0; i < n; i++ {
			v[i] = m.z[i*q+j]
		}
		norm0 := math.Sqrt(floats.Dot(v, v))
		for pass := 0; pass < 2; pass++ {
			for l := 0; l < j; l++ {
				c := floats.Dot(qcols[l], v)
				m.r[l*q+j] += c
				floats.AddScaled(v, -c, qcols[l])
			}
		}
		nv := math.Sqrt(floats.Dot(v, v))
		if nv <= 1e-10*norm0 || nv == 0 {
			return fmt.Errorf("phenotype %s: covariate %d is a linear combination of the others: %w", name, j, ErrModel)
		}
		m.r[j*q+j] = nv
		for i := range v {
			v[i] /= nv
		}
		qcols[j] = v
	}
	m.rinv = invUpper(m.r, q)
	yc := append([]float64(nil), m.y...)
	if !m.binary {
		mean := 0.0
		for _, v := range yc {
			mean += v
		}
		mean /= float64(n)
		for i := range yc {
			yc[i] -= mean
		}
	}
	m.u = make([]float64, n*m.w)
	m.qsum = make([]float64, q)
	m.qty = make([]float64, q)
	for i := 0; i < n; i++ {
		row := m.u[i*m.w : (i+1)*m.w]
		for j := 0; j < q; j++ {
			row[j] = qcols[j][i]
			m.qsum[j] += qcols[j][i]
			m.qty[j] += qcols[j][i] * yc[i]
		}
		row[q] = yc[i]
		m.yty += yc[i] * yc[i]
	}
	m.uc = dosage.NewChunked(m.w, m.nAll)
	for i, k := range m.idx {
		if k >= 0 {
			for t, v := range m.u[int(k)*m.w : int(k+1)*m.w] {
				m.uc.Set(i, t, v)
			}
		}
	}
	return nil
}

// invUpper inverts an upper-triangular q×q matrix.
func invUpper(r []float64, q int) []float64 {
	inv := make([]float64, q*q)
	for j := q - 1; j >= 0; j-- {
		inv[j*q+j] = 1 / r[j*q+j]
		for i := j - 1; i >= 0; i-- {
			s := 0.0
			for l := i + 1; l <= j; l++ {
				s += r[i*q+l] * inv[l*q+j]
			}
			inv[i*q+j] = -s / r[i*q+i]
		}
	}
	return inv
}
