package dosage

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDotAgainstNaive compares Dot, DotRange and Missing with sums over
// decoded calls, for sample counts that are not a multiple of four and
// column counts that are not a multiple of the chunk width.
func TestDotAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 7, 64, 130} {
		for _, w := range []int{1, 3, 5, 9} {
			c := NewChunked(w, n)
			u := make([][]float64, n)
			for i := range u {
				u[i] = make([]float64, w)
				for k := range u[i] {
					u[i][k] = r.NormFloat64()
					c.Set(i, k, u[i][k])
				}
			}
			row := make([]byte, (n+3)/4)
			for b := range row {
				row[b] = byte(r.IntN(256))
			}
			want := [2][]float64{make([]float64, w), make([]float64, w)}
			var miss []int32
			for i := 0; i < n; i++ {
				code := row[i/4] >> (2 * (i % 4)) & 3
				g := map[byte]float64{0: 2, 1: 0, 2: 1, 3: 0}[code]
				if code == 1 {
					miss = append(miss, int32(i))
				}
				if Of(row[i/4] >> (2 * (i % 4)))[0] != g {
					t.Fatalf("Of: sample %d code %d: %v, want %v", i, code, Of(row[i/4] >> (2 * (i % 4)))[0], g)
				}
				if got := Called(row[i/4] >> (2 * (i % 4)))[0]; got != map[bool]float64{true: 0, false: 1}[code == 1] {
					t.Fatalf("Called: sample %d code %d: %v", i, code, got)
				}
				for k := 0; k < w; k++ {
					want[0][k] += g * u[i][k]
					want[1][k] += g * g * u[i][k]
				}
			}
			for v, vals := range []Values{Dosage, Squared} {
				got := make([]float64, w)
				c.Dot(row, vals, got)
				half := make([]float64, w)
				split := len(row) / 2
				c.DotRange(row[:split], 0, vals, half)
				c.DotRange(row[split:], split, vals, half)
				for k := range got {
					if math.Abs(got[k]-want[v][k]) > 1e-9 || math.Abs(half[k]-want[v][k]) > 1e-9 {
						t.Fatalf("n=%d w=%d values %d col %d: Dot %v, DotRange %v, want %v", n, w, v, k, got[k], half[k], want[v][k])
					}
				}
			}
			if got := Missing(row, n, nil); !slices.Equal(got, miss) {
				t.Fatalf("n=%d: Missing %v, want %v", n, got, miss)
			}
			c.Clear()
			got := make([]float64, w)
			c.Dot(row, Dosage, got)
			for k := range got {
				if got[k] != 0 {
					t.Fatalf("after Clear: %v", got)
				}
			}
		}
	}
}
