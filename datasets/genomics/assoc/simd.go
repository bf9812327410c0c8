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
}

// simdPasses[q] is the vectorised pass for q covariate columns, filled at
// init when the binary is built with GOEXPERIMENT=simd and the CPU has
// AVX2 and FMA (logpass_simd_gen.go); otherwise empty.
var simdPasses []func(*simdArgs)

// simdLanes is the vector width of simdPasses (arrays are padded to 8).
var simdLanes int
