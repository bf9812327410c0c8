//go:build goexperiment.simd && amd64

package assoc

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX2() && archsimd.X86.FMA() {
		simdPassWideAll = append(simdPassWideAll, simdPassBlocked)
	}
	if archsimd.X86.AVX512() {
		simdPassWideAll = append(simdPassWideAll, simdPassBlocked8)
	}
	if len(simdPassWideAll) > 0 {
		simdPassWide = simdPassWideAll[len(simdPassWideAll)-1] // the widest
	}
}

// passBlock is the number of samples simdPassBlocked handles at a time:
// the block's columns, weights and residuals stay in the L1 cache while
// every score and information entry is accumulated over them.
const passBlock = 256

// simdPassBlocked is the vectorised IRLS pass for any number of covariate
// columns (the generated simdPasses stop at 8, where their accumulators
// no longer fit in registers). Per block of samples it computes μ, the
// weights and residuals four samples at a time, then the score and the
// lower triangle of the information as four-lane dot products over the
// block. The same computation as passGeneric, summed in another order.
func simdPassBlocked(sa *simdArgs) {
	q := len(sa.z)
	p := q + 1
	n := len(sa.e0) &^ 3
	ws := sa.wide
	nAcc := 4 * (p + p*(p+1)/2)
	if ws == nil || len(ws.cols) != p || len(ws.acc) != nAcc {
		ws = &wideScratch{w: make([]float64, passBlock), r: make([]float64, passBlock), wx: make([]float64, passBlock),
			acc: make([]float64, nAcc), cols: make([][]float64, p)}
		sa.wide = ws
	}
	clear(ws.acc)
	c := archsimd.BroadcastFloat64x4
	t0, t1, t2 := sa.tg[0], sa.tg[1], sa.tg[2]
	c2 := (t2 - 2*t1 + t0) / 2
	tq2, tq1, tq0 := c(c2), c(t1-t0-c2), c(t0)
	one := c(1)
	k2, k6, k24, k120, k720, k5040, k40320, k8 := c(1.0/2), c(1.0/6), c(1.0/24), c(1.0/120), c(1.0/720), c(1.0/5040), c(1.0/40320), c(0.125)
	var zero archsimd.Float64x4
	for lo := 0; lo < n; lo += passBlock {
		hi := min(lo+passBlock, n)
		bn := hi - lo
		for t := 0; t < q; t++ {
			ws.cols[t] = sa.z[t][lo:hi]
		}
		g := sa.g[lo:hi]
		ws.cols[q] = g
		y, e0, m := sa.y[lo:hi], sa.e0[lo:hi], sa.m[lo:hi]
		wb, rb := ws.w[:bn], ws.r[:bn]
		for i := 0; i < bn; i += 4 {
			s := zero
			for t := 0; t < q; t++ {
				s = archsimd.LoadFloat64x4Slice(ws.cols[t][i:]).MulAdd(c(sa.shift[t]), s)
			}
			xn := zero.Sub(s)
			xn2 := xn.Mul(xn)
			xn4 := xn2.Mul(xn2)
			p03 := xn2.MulAdd(xn.MulAdd(k6, k2), xn.Add(one))
			p47 := xn2.MulAdd(xn.MulAdd(k5040, k720), xn.MulAdd(k120, k24))
			es := xn4.MulAdd(xn4.MulAdd(k40320, p47), p03)
			if xn.Max(s).GreaterEqual(k8).ToBits() != 0 {
				es = expFix4(s, es)
			}
			x := archsimd.LoadFloat64x4Slice(g[i:])
			tg := x.MulAdd(tq2, tq1).MulAdd(x, tq0)
			e := archsimd.LoadFloat64x4Slice(e0[i:]).Mul(es).Mul(tg)
			mu := one.Div(one.Add(e))
			mk := archsimd.LoadFloat64x4Slice(m[i:])
			mk.Mul(mu).Mul(one.Sub(mu)).StoreSlice(wb[i:])
			mk.Mul(archsimd.LoadFloat64x4Slice(y[i:]).Sub(mu)).StoreSlice(rb[i:])
		}
		k := 0
		for a := 0; a < p; a++ {
			xa := ws.cols[a][:bn]
			acc := archsimd.LoadFloat64x4Slice(ws.acc[k:])
			for i := 0; i < bn; i += 4 {
				acc = archsimd.LoadFloat64x4Slice(rb[i:]).MulAdd(archsimd.LoadFloat64x4Slice(xa[i:]), acc)
			}
			acc.StoreSlice(ws.acc[k:])
			k += 4
		}
		if sa.gradOnly {
			continue
		}
		wx := ws.wx[:bn]
		for a := 0; a < p; a++ {
			xa := ws.cols[a][:bn]
			for i := 0; i < bn; i += 4 {
				archsimd.LoadFloat64x4Slice(wb[i:]).Mul(archsimd.LoadFloat64x4Slice(xa[i:])).StoreSlice(wx[i:])
			}
			// Four entries of the row at a time: one load of w·x_a
			// serves four FMAs.
			b := 0
			for ; b+4 <= a+1; b += 4 {
				x0, x1, x2, x3 := ws.cols[b][:bn], ws.cols[b+1][:bn], ws.cols[b+2][:bn], ws.cols[b+3][:bn]
				acc := ws.acc[k : k+16]
				a0, a1 := archsimd.LoadFloat64x4Slice(acc[0:]), archsimd.LoadFloat64x4Slice(acc[4:])
				a2, a3 := archsimd.LoadFloat64x4Slice(acc[8:]), archsimd.LoadFloat64x4Slice(acc[12:])
				for i := 0; i < bn; i += 4 {
					v := archsimd.LoadFloat64x4Slice(wx[i:])
					a0 = v.MulAdd(archsimd.LoadFloat64x4Slice(x0[i:]), a0)
					a1 = v.MulAdd(archsimd.LoadFloat64x4Slice(x1[i:]), a1)
					a2 = v.MulAdd(archsimd.LoadFloat64x4Slice(x2[i:]), a2)
					a3 = v.MulAdd(archsimd.LoadFloat64x4Slice(x3[i:]), a3)
				}
				a0.StoreSlice(acc[0:])
				a1.StoreSlice(acc[4:])
				a2.StoreSlice(acc[8:])
				a3.StoreSlice(acc[12:])
				k += 16
			}
			for ; b <= a; b++ {
				xb := ws.cols[b][:bn]
				acc := archsimd.LoadFloat64x4Slice(ws.acc[k:])
				for i := 0; i < bn; i += 4 {
					acc = archsimd.LoadFloat64x4Slice(wx[i:]).MulAdd(archsimd.LoadFloat64x4Slice(xb[i:]), acc)
				}
				acc.StoreSlice(ws.acc[k:])
				k += 4
			}
		}
	}
	k := 0
	for a := 0; a < p; a++ {
		sa.grad[a] = hsum4(archsimd.LoadFloat64x4Slice(ws.acc[k:]))
		k += 4
	}
	if sa.gradOnly {
		return
	}
	for a := 0; a < p; a++ {
		for b := 0; b <= a; b++ {
			v := hsum4(archsimd.LoadFloat64x4Slice(ws.acc[k:]))
			sa.hess[a*p+b], sa.hess[b*p+a] = v, v
			k += 4
		}
	}
}

// simdPassBlocked8 is simdPassBlocked eight lanes wide (AVX-512).
func simdPassBlocked8(sa *simdArgs) {
	q := len(sa.z)
	p := q + 1
	n := len(sa.e0) &^ 7
	ws := sa.wide
	nAcc := 8 * (p + p*(p+1)/2)
	if ws == nil || len(ws.cols) != p || len(ws.acc) != nAcc {
		ws = &wideScratch{w: make([]float64, passBlock), r: make([]float64, passBlock), wx: make([]float64, passBlock),
			acc: make([]float64, nAcc), cols: make([][]float64, p)}
		sa.wide = ws
	}
	clear(ws.acc)
	c := archsimd.BroadcastFloat64x8
	t0, t1, t2 := sa.tg[0], sa.tg[1], sa.tg[2]
	c2 := (t2 - 2*t1 + t0) / 2
	tq2, tq1, tq0 := c(c2), c(t1-t0-c2), c(t0)
	one := c(1)
	k2, k6, k24, k120, k720, k5040, k40320, k8 := c(1.0/2), c(1.0/6), c(1.0/24), c(1.0/120), c(1.0/720), c(1.0/5040), c(1.0/40320), c(0.125)
	var zero archsimd.Float64x8
	for lo := 0; lo < n; lo += passBlock {
		hi := min(lo+passBlock, n)
		bn := hi - lo
		for t := 0; t < q; t++ {
			ws.cols[t] = sa.z[t][lo:hi]
		}
		g := sa.g[lo:hi]
		ws.cols[q] = g
		y, e0, m := sa.y[lo:hi], sa.e0[lo:hi], sa.m[lo:hi]
		wb, rb := ws.w[:bn], ws.r[:bn]
		for i := 0; i < bn; i += 8 {
			s := zero
			for t := 0; t < q; t++ {
				s = archsimd.LoadFloat64x8Slice(ws.cols[t][i:]).MulAdd(c(sa.shift[t]), s)
			}
			xn := zero.Sub(s)
			xn2 := xn.Mul(xn)
			xn4 := xn2.Mul(xn2)
			p03 := xn2.MulAdd(xn.MulAdd(k6, k2), xn.Add(one))
			p47 := xn2.MulAdd(xn.MulAdd(k5040, k720), xn.MulAdd(k120, k24))
			es := xn4.MulAdd(xn4.MulAdd(k40320, p47), p03)
			if xn.Max(s).GreaterEqual(k8).ToBits() != 0 {
				es = expFix8(s, es)
			}
			x := archsimd.LoadFloat64x8Slice(g[i:])
			tg := x.MulAdd(tq2, tq1).MulAdd(x, tq0)
			e := archsimd.LoadFloat64x8Slice(e0[i:]).Mul(es).Mul(tg)
			mu := one.Div(one.Add(e))
			mk := archsimd.LoadFloat64x8Slice(m[i:])
			mk.Mul(mu).Mul(one.Sub(mu)).StoreSlice(wb[i:])
			mk.Mul(archsimd.LoadFloat64x8Slice(y[i:]).Sub(mu)).StoreSlice(rb[i:])
		}
		k := 0
		for a := 0; a < p; a++ {
			xa := ws.cols[a][:bn]
			acc := archsimd.LoadFloat64x8Slice(ws.acc[k:])
			for i := 0; i < bn; i += 8 {
				acc = archsimd.LoadFloat64x8Slice(rb[i:]).MulAdd(archsimd.LoadFloat64x8Slice(xa[i:]), acc)
			}
			acc.StoreSlice(ws.acc[k:])
			k += 8
		}
		if sa.gradOnly {
			continue
		}
		wx := ws.wx[:bn]
		for a := 0; a < p; a++ {
			xa := ws.cols[a][:bn]
			for i := 0; i < bn; i += 8 {
				archsimd.LoadFloat64x8Slice(wb[i:]).Mul(archsimd.LoadFloat64x8Slice(xa[i:])).StoreSlice(wx[i:])
			}
			// Four entries of the row at a time: one load of w·x_a
			// serves four FMAs.
			b := 0
			for ; b+4 <= a+1; b += 4 {
				x0, x1, x2, x3 := ws.cols[b][:bn], ws.cols[b+1][:bn], ws.cols[b+2][:bn], ws.cols[b+3][:bn]
				acc := ws.acc[k : k+32]
				a0, a1 := archsimd.LoadFloat64x8Slice(acc[0:]), archsimd.LoadFloat64x8Slice(acc[8:])
				a2, a3 := archsimd.LoadFloat64x8Slice(acc[16:]), archsimd.LoadFloat64x8Slice(acc[24:])
				for i := 0; i < bn; i += 8 {
					v := archsimd.LoadFloat64x8Slice(wx[i:])
					a0 = v.MulAdd(archsimd.LoadFloat64x8Slice(x0[i:]), a0)
					a1 = v.MulAdd(archsimd.LoadFloat64x8Slice(x1[i:]), a1)
					a2 = v.MulAdd(archsimd.LoadFloat64x8Slice(x2[i:]), a2)
					a3 = v.MulAdd(archsimd.LoadFloat64x8Slice(x3[i:]), a3)
				}
				a0.StoreSlice(acc[0:])
				a1.StoreSlice(acc[8:])
				a2.StoreSlice(acc[16:])
				a3.StoreSlice(acc[24:])
				k += 32
			}
			for ; b <= a; b++ {
				xb := ws.cols[b][:bn]
				acc := archsimd.LoadFloat64x8Slice(ws.acc[k:])
				for i := 0; i < bn; i += 8 {
					acc = archsimd.LoadFloat64x8Slice(wx[i:]).MulAdd(archsimd.LoadFloat64x8Slice(xb[i:]), acc)
				}
				acc.StoreSlice(ws.acc[k:])
				k += 8
			}
		}
	}
	k := 0
	for a := 0; a < p; a++ {
		sa.grad[a] = hsum8(archsimd.LoadFloat64x8Slice(ws.acc[k:]))
		k += 8
	}
	if sa.gradOnly {
		return
	}
	for a := 0; a < p; a++ {
		for b := 0; b <= a; b++ {
			v := hsum8(archsimd.LoadFloat64x8Slice(ws.acc[k:]))
			sa.hess[a*p+b], sa.hess[b*p+a] = v, v
			k += 8
		}
	}
}
