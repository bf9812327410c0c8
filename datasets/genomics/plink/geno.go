package plink

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// 2-bit genotype codes of a .bed row.
const (
	CodeHomA1   = 0 // 00: two copies of A1 (ALT)
	CodeMissing = 1 // 01
	CodeHet     = 2 // 10
	CodeHomA2   = 3 // 11: two copies of A2 (REF)
)

// Counts are the genotype counts of one variant over a set of samples.
type Counts struct {
	HomA1, Het, HomA2, Missing int
}

// NonMissing is the number of called genotypes.
func (c Counts) NonMissing() int { return c.HomA1 + c.Het + c.HomA2 }

// A1Count is the number of A1 (ALT) alleles among diploid calls.
func (c Counts) A1Count() int { return 2*c.HomA1 + c.Het }

// Code returns the 2-bit code of sample i in a packed row.
func Code(row []byte, i int) int { return int(row[i>>2]>>(2*(i&3))) & 3 }

const lowBits = 0x5555555555555555

// Mask is a subset of the samples of a fileset in the .bed's 2-bit layout,
// for counting over founders, one sex, cases, ... without unpacking.
type Mask struct {
	words []uint64 // bit 2(i%32) of word i/32 set when sample i is included
	n     int
	count int
}

// NewMask returns the mask of the samples i < n for which include(i) is true.
func NewMask(n int, include func(i int) bool) *Mask {
	m := &Mask{words: make([]uint64, (n+31)/32), n: n}
	for i := 0; i < n; i++ {
		if include(i) {
			m.words[i>>5] |= 1 << (2 * (i & 31))
			m.count++
		}
	}
	return m
}

// FullMask includes all n samples.
func FullMask(n int) *Mask { return NewMask(n, func(int) bool { return true }) }

// Count is the number of samples in the mask.
func (m *Mask) Count() int { return m.count }

// Has reports whether sample i is in the mask.
func (m *Mask) Has(i int) bool { return m.words[i>>5]>>(2*(i&31))&1 != 0 }

// And returns the samples in both masks.
func (m *Mask) And(o *Mask) *Mask {
	r := &Mask{words: make([]uint64, len(m.words)), n: m.n}
	for k := range r.words {
		r.words[k] = m.words[k] & o.words[k]
		r.count += bits.OnesCount64(r.words[k])
	}
	return r
}

// tailWord loads the last len(b) < 8 bytes of a row as a word.
func tailWord(b []byte) uint64 {
	var buf [8]byte
	copy(buf[:], b)
	return binary.LittleEndian.Uint64(buf[:])
}

// CountRow counts the genotypes of the first n samples of a packed row
// with popcounts over 64-bit words (32 genotypes at a time; the POPCNT
// instruction in assembly on amd64).
func CountRow(row []byte, n int) Counts {
	full := n / 32
	lo, hi, both := countWords(row, nil, full)
	if rem := n - 32*full; rem > 0 {
		w := tailWord(row[8*full : (n+3)/4])
		mk := uint64(lowBits) >> (64 - 2*rem)
		l, h := w&mk, (w>>1)&mk
		lo += bits.OnesCount64(l)
		hi += bits.OnesCount64(h)
		both += bits.OnesCount64(l & h)
	}
	// lo & hi = 11 (hom A2); lo only = 01 (missing); hi only = 10 (het).
	miss, het := lo-both, hi-both
	return Counts{HomA1: n - miss - het - both, Het: het, HomA2: both, Missing: miss}
}

// CountRowMasked counts the genotypes of the samples in m.
func CountRowMasked(row []byte, m *Mask) Counts {
	full := len(row) / 8
	lo, hi, both := countWords(row, m.words, full)
	if len(row) > 8*full {
		w := tailWord(row[8*full:])
		mk := m.words[full]
		l, h := w&mk, (w>>1)&mk
		lo += bits.OnesCount64(l)
		hi += bits.OnesCount64(h)
		both += bits.OnesCount64(l & h)
	}
	miss, het := lo-both, hi-both
	return Counts{HomA1: m.count - miss - het - both, Het: het, HomA2: both, Missing: miss}
}

var (
	int8Table    [256][4]int8
	float64Table [256][4]float64
)

func init() {
	i8 := [4]int8{2, -1, 1, 0}
	f := [4]float64{2, math.NaN(), 1, 0}
	for b := 0; b < 256; b++ {
		for j := 0; j < 4; j++ {
			c := (b >> (2 * j)) & 3
			int8Table[b][j] = i8[c]
			float64Table[b][j] = f[c]
		}
	}
}

// UnpackInt8 writes the A1 (ALT) dosage 0, 1 or 2 of the first n samples of
// a packed row to dst[:n], -1 where missing.
func UnpackInt8(row []byte, n int, dst []int8) {
	dst = dst[:n]
	full := n / 4
	for k := 0; k < full; k++ {
		t := &int8Table[row[k]]
		d := dst[4*k : 4*k+4 : 4*k+4]
		d[0], d[1], d[2], d[3] = t[0], t[1], t[2], t[3]
	}
	for i := 4 * full; i < n; i++ {
		dst[i] = int8Table[row[full]][i-4*full]
	}
}

// UnpackFloat64 writes the A1 (ALT) dosage of the first n samples of a
// packed row to dst[:n], NaN where missing.
func UnpackFloat64(row []byte, n int, dst []float64) {
	dst = dst[:n]
	full := n / 4
	for k := 0; k < full; k++ {
		t := &float64Table[row[k]]
		d := dst[4*k : 4*k+4 : 4*k+4]
		d[0], d[1], d[2], d[3] = t[0], t[1], t[2], t[3]
	}
	for i := 4 * full; i < n; i++ {
		dst[i] = float64Table[row[full]][i-4*full]
	}
}

// UnpackMap writes vals[code] for each of the first n samples of a packed
// row to dst[:n], with vals indexed by CodeHomA1, CodeMissing, CodeHet,
// CodeHomA2. It serves standardised or mean-imputed genotypes in one pass,
// e.g. vals = {(2-μ)/σ, 0, (1-μ)/σ, (0-μ)/σ}.
func UnpackMap(row []byte, n int, vals [4]float64, dst []float64) {
	dst = dst[:n]
	full := n / 4
	for k := 0; k < full; k++ {
		b := row[k]
		d := dst[4*k : 4*k+4 : 4*k+4]
		d[0], d[1], d[2], d[3] = vals[b&3], vals[b>>2&3], vals[b>>4&3], vals[b>>6]
	}
	for i := 4 * full; i < n; i++ {
		dst[i] = vals[Code(row, i)]
	}
}

// AddMissing adds 1 to perSample[i] for every sample i of m (all samples
// when m is nil) whose genotype in row is missing. It walks the set bits of
// the missing-call words only, so it costs little on well-genotyped rows.
func AddMissing(row []byte, m *Mask, perSample []int32) {
	full := len(row) / 8
	n := len(perSample)
	for k := 0; k <= full; k++ {
		var w uint64
		if k < full {
			w = binary.LittleEndian.Uint64(row[8*k:])
		} else if len(row) > 8*full {
			w = tailWord(row[8*full:])
		} else {
			break
		}
		miss := w &^ (w >> 1) & lowBits
		if m != nil {
			miss &= m.words[k]
		}
		for miss != 0 {
			i := 32*k + bits.TrailingZeros64(miss)/2
			if i < n {
				perSample[i]++
			}
			miss &= miss - 1
		}
	}
}
