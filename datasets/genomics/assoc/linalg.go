package assoc

import "math"

// ErrCode is plink2's per-variant ERRCODE.
type ErrCode uint8

// plink2 --glm error codes, in plink2's order.
const (
	errNone ErrCode = iota
	ErrSampleCt
	ErrConstOmittedAllele
	ErrConstAllele
	ErrCorrTooHigh
	ErrVIFInfinite
	ErrVIFTooHigh
	ErrSeparation
	ErrRankDeficient
	ErrLogisticConvergeFail
	ErrFirthConvergeFail
	ErrInvalidResult
)

var errNames = [...]string{".", "SAMPLE_CT<=PREDICTOR_CT", "CONST_OMITTED_ALLELE", "CONST_ALLELE", "CORR_TOO_HIGH",
	"VIF_INFINITE", "VIF_TOO_HIGH", "SEPARATION", "RANK_DEFICIENT", "LOGISTIC_CONVERGE_FAIL", "FIRTH_CONVERGE_FAIL", "INVALID_RESULT"}

// String is the ERRCODE column text ("." for none).
func (e ErrCode) String() string { return errNames[e] }

// corrVIF applies plink2's predictor checks to k predictors (intercept
// excluded) given their sums and dot products (lower triangle of the
// row-major k×k dot): any |correlation| > maxCorr is CORR_TOO_HIGH, a
// singular correlation matrix VIF_INFINITE, a VIF (diagonal of its inverse)
// above vifMax VIF_TOO_HIGH.
func corrVIF(dot, sums []float64, k int, n, maxCorr, vifMax float64) ErrCode {
	if k == 0 {
		return errNone
	}
	var buf [16 * 16]float64
	var c []float64
	if k*k <= len(buf) {
		c = buf[:k*k]
	} else {
		c = make([]float64, k*k)
	}
	var sdBuf [16]float64
	var isd []float64
	if k <= len(sdBuf) {
		isd = sdBuf[:k]
	} else {
		isd = make([]float64, k)
	}
	for a := 0; a < k; a++ {
		v := (dot[a*k+a] - sums[a]*sums[a]/n) / (n - 1)
		if !(v > 0) {
			return ErrVIFInfinite
		}
		isd[a] = 1 / math.Sqrt(v)
	}
	for a := 0; a < k; a++ {
		c[a*k+a] = 1
		for b := 0; b < a; b++ {
			r := (dot[a*k+b] - sums[a]*sums[b]/n) / (n - 1) * isd[a] * isd[b]
			if math.Abs(r) > maxCorr {
				return ErrCorrTooHigh
			}
			c[a*k+b] = r
			c[b*k+a] = r
		}
	}
	if !cholInverse(c, k) {
		return ErrVIFInfinite
	}
	for a := 0; a < k; a++ {
		if c[a*k+a] > vifMax {
			return ErrVIFTooHigh
		}
	}
	return errNone
}

// cholInverse replaces the symmetric positive definite p×p matrix a (full,
// row-major) by its inverse. It reports false when a is not numerically
// positive definite.
func cholInverse(a []float64, p int) bool {
	_, ok := cholInverseLogDet(a, p)
	return ok
}

// cholInverseLogDet is cholInverse that also returns log det a.
func cholInverseLogDet(a []float64, p int) (float64, bool) {
	logdet := 0.0
	// Cholesky a = L L' (L in the lower triangle).
	for j := 0; j < p; j++ {
		d := a[j*p+j]
		for k := 0; k < j; k++ {
			d -= a[j*p+k] * a[j*p+k]
		}
		if !(d > 1e-300) {
			return 0, false
		}
		d = math.Sqrt(d)
		logdet += 2 * math.Log(d)
		a[j*p+j] = d
		for i := j + 1; i < p; i++ {
			s := a[i*p+j]
			for k := 0; k < j; k++ {
				s -= a[i*p+k] * a[j*p+k]
			}
			a[i*p+j] = s / d
		}
	}
	// Invert L in place (lower triangle).
	for j := 0; j < p; j++ {
		a[j*p+j] = 1 / a[j*p+j]
		for i := j + 1; i < p; i++ {
			s := 0.0
			for k := j; k < i; k++ {
				s -= a[i*p+k] * a[k*p+j]
			}
			a[i*p+j] = s / a[i*p+i]
		}
	}
	// a⁻¹ = L⁻ᵀ L⁻¹; compute lower triangle then mirror.
	for i := 0; i < p; i++ {
		for j := 0; j <= i; j++ {
			s := 0.0
			for k := i; k < p; k++ {
				s += a[k*p+i] * a[k*p+j]
			}
			a[i*p+j] = s
		}
	}
	for i := 0; i < p; i++ {
		for j := i + 1; j < p; j++ {
			a[i*p+j] = a[j*p+i]
		}
	}
	return logdet, true
}

// symMulVec computes y = A x for a full p×p matrix.
func symMulVec(a, x, y []float64, p int) {
	for i := 0; i < p; i++ {
		s := 0.0
		for k := 0; k < p; k++ {
			s += a[i*p+k] * x[k]
		}
		y[i] = s
	}
}

// normP returns the two-sided normal p-value of z.
func normP(z float64) float64 { return math.Erfc(math.Abs(z) / math.Sqrt2) }
