package assoc

// Dense kernels over packed .bed rows. A model keeps per-sample vectors in
// "chunk-major" layout: columns are grouped four (eight with AVX-512) at a
// time, and chunk c holds for every fileset sample i (excluded samples and
// row padding as zeros) the values at [c][i][0..cw-1]. Summing d_i·u_i over
// a row then streams each chunk once with register accumulators (vector
// FMAs in GOEXPERIMENT=simd builds) and no per-sample branches.

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

// chunkWidth is the number of columns per chunk: 4, or 8 when an AVX-512
// kernel is available (dotChunk8).
var chunkWidth = 4

// dotChunk8 is the 8-column chunk kernel (GOEXPERIMENT=simd, AVX-512).
var dotChunk8 func(row []byte, u []float64, table *[256][4]float64) [8]float64

// chunked stores w per-sample columns in chunk-major layout.
type chunked struct {
	w, chunks, rows int // columns, chunks, padded sample rows
	cw              int // columns per chunk (chunkWidth at creation)
	data            []float64
}

func newChunked(w, nAll int) *chunked {
	cw := chunkWidth
	rows := (nAll + 3) &^ 3
	ch := (w + cw - 1) / cw
	return &chunked{w: w, chunks: ch, rows: rows, cw: cw, data: make([]float64, ch*rows*cw)}
}

// set stores value v for sample i (fileset order), column t.
func (c *chunked) set(i, t int, v float64) {
	c.data[(t/c.cw)*c.rows*c.cw+i*c.cw+t%c.cw] = v
}

// dot adds Σ_i table(d_i)·u_i[t] over the samples of a packed row to acc
// (length ≥ w), for table = dosTable (Σ g u) or dos2Table (Σ g² u).
func (c *chunked) dot(row []byte, table *[256][4]float64, acc []float64) {
	c.dotRange(row, 0, table, acc)
}

// dotRange is dot over bytes off.. of a packed row (row holds just those
// bytes, samples 4·off ...), for cache blocking.
func (c *chunked) dotRange(row []byte, off int, table *[256][4]float64, acc []float64) {
	nb := c.rows/4 - off
	if len(row) < nb {
		nb = len(row)
	}
	row = row[:nb]
	cw := c.cw
	if cw == 8 {
		for ch := 0; ch < c.chunks; ch++ {
			base := ch*c.rows*8 + off*32
			s := dotChunk8(row, c.data[base:base+nb*32], table)
			for k := 0; k < 8 && 8*ch+k < c.w; k++ {
				acc[8*ch+k] += s[k]
			}
		}
		return
	}
	for ch := 0; ch < c.chunks; ch++ {
		base := ch*c.rows*4 + off*16
		u := c.data[base : base+nb*16]
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

// DosageDotRange is DosageDot over the bytes off.. of a packed row, given
// as row (vectors 4·off onwards), for cache-blocked loops.
func (k *Kernel) DosageDotRange(row []byte, off int, acc []float64) {
	k.c.dotRange(row, off, &dosTable, acc)
}

// KernelWidth is the column granularity of a Kernel: vectors are padded to
// a multiple of it, so callers may use that many columns for free.
func KernelWidth() int { return chunkWidth }
