package synth

import (
	"math"
	"math/rand/v2"

	"enclave/internal/splitmix"
)

// rng is the per-person random stream: a PCG seeded from (seed, person_id)
// and a stream label, so every person's data depends only on the seed and
// its id, never on which goroutine or chunk produced it.
type rng struct {
	pcg rand.PCG
	r   *rand.Rand
}

func newRNG() *rng {
	g := &rng{}
	g.r = rand.New(&g.pcg)
	return g
}

// splitmix64 is a bijective mixer used to derive seeds.
func splitmix64(x uint64) uint64 { return splitmix.Hash(x) }

// reset positions the stream at (seed, person, label).
func (g *rng) reset(seed, person int64, label uint64) {
	a := splitmix64(uint64(seed) ^ splitmix64(label))
	b := splitmix64(uint64(person) ^ a)
	g.pcg.Seed(a, b)
}

func (g *rng) float() float64               { return g.r.Float64() }
func (g *rng) intn(n int) int               { return g.r.IntN(n) }
func (g *rng) exp() float64                 { return g.r.ExpFloat64() }
func (g *rng) bern(p float64) bool          { return g.r.Float64() < p }
func (g *rng) normal(m, sd float64) float64 { return m + sd*g.r.NormFloat64() }

// pick returns an index drawn with the given weights (need not sum to 1).
func (g *rng) pick(w []float64) int {
	var s float64
	for _, x := range w {
		s += x
	}
	u := g.r.Float64() * s
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

func logistic(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }
