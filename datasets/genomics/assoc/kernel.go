package assoc

// Dense kernels over packed .bed rows. A model keeps per-sample vectors in
// "chunk-major" layout: columns are grouped four at a time, and chunk c holds
// for every fileset sample i (excluded samples and row padding as zeros) the
// four values at [c][i][0..3]. Summing d_i·u_i over a row then streams each
// chunk once with eight register accumulators and no per-sample branches.

// Genotype value tables by byte: the four samples' ALT dosage (0 when
// missing) and its square, and whether the byte holds a missing call.
var (
	dosTable    [256][4]float64
	dos2Table   [256][4]float64
	weightTable [256][4]float64 // 1 for a call, 0 for missing
	hasMiss     [256]bool
)

func init() {
	for b := 0; b < 256; b++ {
		for j := 0; j < 4; j++ {
			weightTable[b][j] = 1
			switch (b >> (2 * j)) & 3 {
			case 0:
				dosTable[b][j], dos2Table[b][j] = 2, 4
			case 1:
				hasMiss[b] = true
				weightTable[b][j] = 0
			case 2:
				dosTable[b][j], dos2Table[b][j] = 1, 1
			}
		}
	}
}

// dotChunkSIMD, when set (GOEXPERIMENT=simd builds on AVX2+FMA CPUs),
// returns Σ_b Σ_j table[row[b]][j]·u[16b+4j : 16b+4j+4] for one chunk.
var dotChunkSIMD func(row []byte, u []float64, table *[256][4]float64) [4]float64

// chunked stores w per-sample columns in chunk-major layout.
type chunked struct {
	w, chunks, rows int // columns, chunks of four, padded sample rows
	data            []float64
}

func newChunked(w, nAll int) *chunked {
	rows := (nAll + 3) &^ 3
	ch := (w + 3) / 4
	return &chunked{w: w, chunks: ch, rows: rows, data: make([]float64, ch*rows*4)}
}

// set stores value v for sample i (fileset order), column t.
func (c *chunked) set(i, t int, v float64) {
	c.data[(t/4)*c.rows*4+i*4+t%4] = v
}

// dot adds Σ_i table(d_i)·u_i[t] over the samples of a packed row to acc
// (length ≥ w), for table = dosTable (Σ g u) or dos2Table (Σ g² u).
func (c *chunked) dot(row []byte, table *[256][4]float64, acc []float64) {
	nb := c.rows / 4
	if len(row) < nb {
		nb = len(row)
	}
	row = row[:nb]
	for ch := 0; ch < c.chunks; ch++ {
		u := c.data[ch*c.rows*4 : ch*c.rows*4+nb*16]
		if dotChunkSIMD != nil {
			s := dotChunkSIMD(row, u, table)
			for k := 0; k < 4 && 4*ch+k < c.w; k++ {
				acc[4*ch+k] += s[k]
			}
			continue
		}
		var a0, a1, a2, a3, b0, b1, b2, b3 float64
		for b, x := range row {
			t := &table[x]
			uu := (*[16]float64)(u[16*b : 16*b+16])
			d0, d1, d2, d3 := t[0], t[1], t[2], t[3]
			a0 += d0 * uu[0]
			a1 += d0 * uu[1]
			a2 += d0 * uu[2]
			a3 += d0 * uu[3]
			b0 += d1 * uu[4]
			b1 += d1 * uu[5]
			b2 += d1 * uu[6]
			b3 += d1 * uu[7]
			a0 += d2 * uu[8]
			a1 += d2 * uu[9]
			a2 += d2 * uu[10]
			a3 += d2 * uu[11]
			b0 += d3 * uu[12]
			b1 += d3 * uu[13]
			b2 += d3 * uu[14]
			b3 += d3 * uu[15]
		}
		s := [4]float64{a0 + b0, a1 + b1, a2 + b2, a3 + b3}
		for k := 0; k < 4 && 4*ch+k < c.w; k++ {
			acc[4*ch+k] += s[k]
		}
	}
}

// missing appends to dst the fileset indices of the samples with a missing
// call among the first n of a packed row.
func missing(row []byte, n int, dst []int32) []int32 {
	dst = dst[:0]
	for b, x := range row {
		if !hasMiss[x] {
			continue
		}
		for j := 0; j < 4; j++ {
			if (x>>(2*j))&3 == 1 && 4*b+j < n {
				dst = append(dst, int32(4*b+j))
			}
		}
	}
	return dst
}

// Kernel exposes the dense dosage kernel to the other genomics packages
// (pca applies the GRM with it): rows×w values, and for a packed .bed-coded
// row of those rows, acc[t] += Σ_i g_i·u_i[t] with g the A1 (ALT) dosage and
// 0 for missing calls.
type Kernel struct{ c *chunked }

// NewKernel returns a zeroed kernel for rows vectors of w values.
func NewKernel(w, rows int) *Kernel { return &Kernel{c: newChunked(w, rows)} }

// Set stores value v of vector i, column t.
func (k *Kernel) Set(i, t int, v float64) { k.c.set(i, t, v) }

// Clear zeroes every value.
func (k *Kernel) Clear() { clear(k.c.data) }

// DosageDot adds Σ_i g_i·u_i to acc (length ≥ w) for a packed row.
func (k *Kernel) DosageDot(row []byte, acc []float64) { k.c.dot(row, &dosTable, acc) }
