package assoc

// simdArgs are the inputs and outputs of a vectorised IRLS pass: the same
// computation as passArgs, on column-major, zero-padded arrays (length a
// multiple of eight) with a 0/1 weight m that drops missing calls and padding.
type simdArgs struct {
	z     [][]float64 // q covariate columns
	y, e0 []float64
	g, m  []float64 // per variant: ALT dosage (0 when missing), weight
	shift []float64
	tg    [4]float64
	grad  []float64
	hess  []float64
	wide  *wideScratch // simdPassWide's working memory
	// gradOnly: simdPassWide computes the score only (hess is left as it
	// is), for the fixed-information steps of denseFit.
	gradOnly bool
}

// simdPasses[q] is the vectorised pass for q covariate columns, filled at
// init when the binary is built with GOEXPERIMENT=simd and the CPU has
// AVX2 and FMA (logpass_simd_gen.go); otherwise empty.
var simdPasses []func(*simdArgs)

// simdPassWide is the vectorised pass for any number of covariate columns,
// used where simdPasses has no entry (set at init like simdPasses; nil
// otherwise).
var simdPassWide func(*simdArgs)

// simdPassWideAll are the widths of simdPassWide this CPU runs, narrowest
// first (for tests).
var simdPassWideAll []func(*simdArgs)

// simdPassFor is the vectorised pass for q covariate columns, or nil.
func simdPassFor(q int) func(*simdArgs) {
	if q < len(simdPasses) && simdPasses[q] != nil {
		return simdPasses[q]
	}
	return simdPassWide
}

// simdLanes is the vector width of simdPasses (arrays are padded to 8).
var simdLanes int

// wideScratch is the working memory of simdPassBlocked, kept per worker.
type wideScratch struct {
	w, r, wx []float64   // per sample of a block
	acc      []float64   // 4-lane accumulators: p for the score, p(p+1)/2 for the information
	cols     [][]float64 // the p columns of a block: covariates, then the dosage
}
