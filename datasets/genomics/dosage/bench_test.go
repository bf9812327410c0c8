package dosage

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkChunkDot times one chunk (four columns) of the dosage kernel
// over 10,000 samples.
func BenchmarkChunkDot(b *testing.B) {
	const n = 10000
	r := rand.New(rand.NewPCG(1, 2))
	c := NewChunked(4, n)
	for i := 0; i < n; i++ {
		for t := 0; t < 4; t++ {
			c.Set(i, t, r.NormFloat64())
		}
	}
	row := make([]byte, n/4)
	for i := range row {
		row[i] = byte(r.IntN(256))
	}
	acc := make([]float64, 4)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Dot(row, Dosage, acc)
	}
}
