package assoc

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"enclave/datasets/genomics/plink"
)

// BenchmarkPass4 times one logistic IRLS pass over 10,000 samples with
// three covariates (the per-variant unit of work of the dense path).
func BenchmarkPass4(b *testing.B) {
	const n, q = 10000, 4
	r := rand.New(rand.NewPCG(1, 1))
	pa := &passArgs{z: make([]float64, n*q), y: make([]float64, n), e0: make([]float64, n),
		g: make([]float64, n), gi: make([]uint8, n), shift: []float64{1e-3, 1e-4, 2e-3, 1e-3},
		tg: [4]float64{1, 0.97, 0.94, 0}, grad: make([]float64, q+1), hess: make([]float64, (q+1)*(q+1))}
	for i := 0; i < n; i++ {
		pa.z[i*q] = 1
		for t := 1; t < q; t++ {
			pa.z[i*q+t] = r.NormFloat64()
		}
		pa.y[i] = float64(r.IntN(2))
		pa.e0[i] = 1
		pa.gi[i] = uint8(r.IntN(3))
		pa.g[i] = float64(pa.gi[i])
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pass4(pa)
	}
}

func TestPass4CPU(t *testing.T) {
	if testing.Short() || !testing.Verbose() {
		t.Skip("timing only")
	}
	res := testing.Benchmark(BenchmarkPass4)
	t.Logf("%v", res)
}

// BenchmarkSimdPass4 is BenchmarkPass4 for the vectorised pass (skipped
// unless built with GOEXPERIMENT=simd on an AVX2 CPU).
func BenchmarkSimdPass4(b *testing.B) {
	const n, q = 10000, 4
	if len(simdPasses) <= q {
		b.Skip("no vectorised pass in this build")
	}
	r := rand.New(rand.NewPCG(1, 1))
	sa := &simdArgs{z: make([][]float64, q), y: make([]float64, n), e0: make([]float64, n), g: make([]float64, n), m: make([]float64, n),
		shift: []float64{1e-3, 1e-4, 2e-3, 1e-3}, tg: [4]float64{1, 0.97, 0.94, 0}, grad: make([]float64, q+1), hess: make([]float64, (q+1)*(q+1))}
	for t := range sa.z {
		sa.z[t] = make([]float64, n)
		for i := range sa.z[t] {
			sa.z[t][i] = r.NormFloat64()
		}
	}
	for i := 0; i < n; i++ {
		sa.y[i], sa.e0[i], sa.g[i], sa.m[i] = float64(r.IntN(2)), 1, float64(r.IntN(3)), 1
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		simdPasses[q](sa) // widest available
	}
}

// benchPass14 times one IRLS pass over 20,000 samples with 14 covariate
// columns (intercept, age, sex, a cohort and 10 PCs: the genomics_cell
// benchmark's model), scalar (vectorised false) or vectorised.
func benchPass14(b *testing.B, vectorised bool) {
	const n, q = 20000, 14
	r := rand.New(rand.NewPCG(1, 1))
	pa := &passArgs{z: make([]float64, n*q), y: make([]float64, n), e0: make([]float64, n),
		g: make([]float64, n), gi: make([]uint8, n), shift: make([]float64, q),
		tg: [4]float64{1, 0.97, 0.94, 0}, grad: make([]float64, q+1), hess: make([]float64, (q+1)*(q+1))}
	sa := &simdArgs{z: make([][]float64, q), y: pa.y, e0: pa.e0, g: pa.g, m: make([]float64, n),
		shift: pa.shift, grad: pa.grad, hess: pa.hess}
	for t := range sa.z {
		sa.z[t] = make([]float64, n)
		pa.shift[t] = 1e-3 * r.NormFloat64()
	}
	for i := 0; i < n; i++ {
		for t := 0; t < q; t++ {
			v := 1.0
			if t > 0 {
				v = r.NormFloat64()
			}
			pa.z[i*q+t], sa.z[t][i] = v, v
		}
		pa.y[i] = float64(r.IntN(2))
		pa.e0[i] = 1
		pa.gi[i] = uint8(r.IntN(3))
		pa.g[i] = float64(pa.gi[i])
		sa.m[i] = 1
	}
	sa.tg = pa.tg
	if vectorised && simdPassFor(q) == nil {
		b.Skip("no vectorised pass in this build")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if vectorised {
			simdPassFor(q)(sa)
		} else {
			passGeneric(pa)
		}
	}
}

func BenchmarkPass14Scalar(b *testing.B)     { benchPass14(b, false) }
func BenchmarkPass14Vectorised(b *testing.B) { benchPass14(b, true) }

// benchRun times Run over a packed hard-call fileset of 20,000 samples and
// 2,000 variants with 13 continuous covariates (age, sex, a cohort and 10
// PCs: the genomics_cell model), logistic or linear. It is the per-variant
// cost of the hard-call path, the one the dosage path must leave alone.
func benchRun(b *testing.B, binary bool) {
	const n, nv, k = 20000, 2000, 13
	r := rand.New(rand.NewPCG(3, 3))
	samples := make([]plink.Sample, n)
	for i := range samples {
		samples[i] = plink.Sample{FID: "0", IID: fmt.Sprint(i), Father: "0", Mother: "0", Sex: 1 + i%2}
	}
	vs := make([]plink.Variant, nv)
	rb := (n + 3) / 4
	rows := make([]byte, nv*rb)
	for v := range vs {
		vs[v] = plink.Variant{Chrom: "1", ChromCode: 1, ID: fmt.Sprint("v", v), Pos: int64(v + 1), A1: "A", A2: "G"}
		f := 0.05 + 0.4*r.Float64()
		for i := 0; i < n; i++ {
			c := byte(plink.CodeHomA2)
			switch x := r.Float64(); {
			case x < 0.005:
				c = plink.CodeMissing
			case x < f*f:
				c = plink.CodeHomA1
			case x < 2*f:
				c = plink.CodeHet
			}
			rows[v*rb+i/4] |= c << uint(2*(i%4))
		}
	}
	fs, err := plink.NewInMemory(vs, samples, rows)
	if err != nil {
		b.Fatal(err)
	}
	y := make([]float64, n)
	for i := range y {
		if binary {
			y[i] = float64(r.IntN(2))
		} else {
			y[i] = r.NormFloat64()
		}
	}
	covars := make([]Column, k)
	for t := range covars {
		covars[t] = Column{Name: fmt.Sprint("C", t), Values: make([]float64, n)}
		for i := range covars[t].Values {
			covars[t].Values[i] = r.NormFloat64()
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Run(fs, Column{Name: "Y", Values: y, Binary: binary}, covars, Options{Threads: 2, HideCovar: true}.WithFileset(fs)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRunLogistic20000(b *testing.B) { benchRun(b, true) }
func BenchmarkRunLinear20000(b *testing.B)   { benchRun(b, false) }
