// Package dosage is the dense kernel over packed .bed rows that the
// association tests (assoc) and the principal components (pca) share.
//
// A Chunked keeps per-sample vectors in "chunk-major" layout: columns are
// grouped four (eight with AVX-512) at a time, and chunk c holds for every
// fileset sample i (excluded samples and row padding as zeros) the values
// at [c][i][0..cw-1]. Summing d_i·u_i over a row then streams each chunk
// once with register accumulators (vector FMAs in GOEXPERIMENT=simd
// builds) and no per-sample branches. Rows are .bed-coded, 2 bits a sample
// (0 hom A1, 1 missing, 2 het, 3 hom A2); the dosage d is of A1 (ALT), 0
// for a missing call.
package dosage

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

// Values says what of each sample's call a Dot sums against the vectors.
type Values uint8

const (
	Dosage  Values = iota // g, the A1 dosage (0 for missing)
	Squared               // g²
)

// tables holds the by-byte table of each Values.
var tables = [...]*[256][4]float64{Dosage: &dosTable, Squared: &dos2Table}

// Of returns the A1 dosages of the four samples of packed byte x (0 for a
// missing call).
func Of(x byte) [4]float64 { return dosTable[x] }

// Called returns, for the four samples of packed byte x, 1 for a call and
// 0 for a missing one.
func Called(x byte) [4]float64 { return weightTable[x] }

// Chunked stores w per-sample columns in chunk-major layout.
type Chunked struct {
	w, chunks, rows int // columns, chunks, padded sample rows
	cw              int // columns per chunk (chunkWidth at creation)
	data            []float64
}

// NewChunked returns zeroed storage for w columns of nAll samples.
func NewChunked(w, nAll int) *Chunked {
	cw := chunkWidth
	rows := (nAll + 3) &^ 3
	ch := (w + cw - 1) / cw
	return &Chunked{w: w, chunks: ch, rows: rows, cw: cw, data: make([]float64, ch*rows*cw)}
}

// Set stores value v for sample i (fileset order), column t.
func (c *Chunked) Set(i, t int, v float64) {
	c.data[(t/c.cw)*c.rows*c.cw+i*c.cw+t%c.cw] = v
}

// Clear zeroes every value.
func (c *Chunked) Clear() { clear(c.data) }

// Dot adds Σ_i v(d_i)·u_i[t] over the samples of a packed row to acc
// (length ≥ w): Σ g u for Dosage, Σ g² u for Squared.
func (c *Chunked) Dot(row []byte, v Values, acc []float64) {
	c.dotRange(row, 0, tables[v], acc)
}

// DotRange is Dot over bytes off.. of a packed row (row holds just those
// bytes, samples 4·off ...), for cache blocking.
func (c *Chunked) DotRange(row []byte, off int, v Values, acc []float64) {
	c.dotRange(row, off, tables[v], acc)
}

func (c *Chunked) dotRange(row []byte, off int, table *[256][4]float64, acc []float64) {
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

// Missing appends to dst[:0] the fileset indices of the samples with a
// missing call among the first n of a packed row.
func Missing(row []byte, n int, dst []int32) []int32 {
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

// Width is the column granularity of a Chunked: columns are padded to a
// multiple of it, so callers may use that many columns for free.
func Width() int { return chunkWidth }
