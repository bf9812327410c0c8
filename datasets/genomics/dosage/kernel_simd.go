//go:build goexperiment.simd && amd64

package dosage

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX2() && archsimd.X86.FMA() {
		dotChunkSIMD = dotChunkAVX2
	}
	if archsimd.X86.AVX512() {
		dotChunk8, chunkWidth = dotChunkAVX512, 8
	}
}

// dotChunkAVX512 is the 8-column chunk kernel: per packed byte, four
// broadcast dosages times four 8-column rows.
func dotChunkAVX512(row []byte, u []float64, table *[256][4]float64) [8]float64 {
	var a0, a1, a2, a3 archsimd.Float64x8
	u = u[:32*len(row)]
	for b, x := range row {
		t := &table[x]
		uu := u[32*b : 32*b+32 : 32*b+32]
		a0 = archsimd.BroadcastFloat64x8(t[0]).MulAdd(archsimd.LoadFloat64x8Slice(uu[0:8]), a0)
		a1 = archsimd.BroadcastFloat64x8(t[1]).MulAdd(archsimd.LoadFloat64x8Slice(uu[8:16]), a1)
		a2 = archsimd.BroadcastFloat64x8(t[2]).MulAdd(archsimd.LoadFloat64x8Slice(uu[16:24]), a2)
		a3 = archsimd.BroadcastFloat64x8(t[3]).MulAdd(archsimd.LoadFloat64x8Slice(uu[24:32]), a3)
	}
	var out [8]float64
	a0.Add(a1).Add(a2.Add(a3)).Store(&out)
	return out
}

// dotChunkAVX2 is the chunk kernel of chunked.dot with four-lane FMAs: per
// packed byte, four broadcast dosages times four 4-column rows.
func dotChunkAVX2(row []byte, u []float64, table *[256][4]float64) [4]float64 {
	var a0, a1, a2, a3 archsimd.Float64x4
	u = u[:16*len(row)]
	for b, x := range row {
		t := &table[x]
		uu := u[16*b : 16*b+16 : 16*b+16]
		a0 = archsimd.BroadcastFloat64x4(t[0]).MulAdd(archsimd.LoadFloat64x4Slice(uu[0:4]), a0)
		a1 = archsimd.BroadcastFloat64x4(t[1]).MulAdd(archsimd.LoadFloat64x4Slice(uu[4:8]), a1)
		a2 = archsimd.BroadcastFloat64x4(t[2]).MulAdd(archsimd.LoadFloat64x4Slice(uu[8:12]), a2)
		a3 = archsimd.BroadcastFloat64x4(t[3]).MulAdd(archsimd.LoadFloat64x4Slice(uu[12:16]), a3)
	}
	var out [4]float64
	a0.Add(a1).Add(a2.Add(a3)).Store(&out)
	return out
}
