package sandbox

// slicesExtra completes yaegi's source of package slices with the sorting
// and min/max functions it leaves out (its inference cannot get E from
// S ~[]E). They take []E: a cell's named slice type needs a conversion.
// The //line name keeps this file's imports apart from the cells' (yaegi
// scopes imports by file name).
const slicesExtra = `//line enclave_slices.go:1
package slices

import "cmp"

func Sort[E cmp.Ordered](x []E) { SortFunc(x, cmp.Compare[E]) }

// SortFunc is a heap sort: in place, O(n log n), not stable.
func SortFunc[E any](x []E, c func(a, b E) int) {
	n := len(x)
	for i := n/2 - 1; i >= 0; i-- {
		siftDown(x, i, n, c)
	}
	for i := n - 1; i > 0; i-- {
		x[0], x[i] = x[i], x[0]
		siftDown(x, 0, i, c)
	}
}

func siftDown[E any](x []E, root, n int, c func(a, b E) int) {
	for {
		child := 2*root + 1
		if child >= n {
			return
		}
		if child+1 < n && c(x[child], x[child+1]) < 0 {
			child++
		}
		if c(x[root], x[child]) >= 0 {
			return
		}
		x[root], x[child] = x[child], x[root]
		root = child
	}
}

// SortStableFunc is a merge sort keeping equal elements in order.
func SortStableFunc[E any](x []E, c func(a, b E) int) {
	if len(x) < 2 {
		return
	}
	buf := make([]E, len(x))
	for width := 1; width < len(x); width *= 2 {
		for lo := 0; lo < len(x); lo += 2 * width {
			mid := lo + width
			if mid > len(x) {
				mid = len(x)
			}
			hi := lo + 2*width
			if hi > len(x) {
				hi = len(x)
			}
			i, j, k := lo, mid, lo
			for i < mid && j < hi {
				if c(x[j], x[i]) < 0 {
					buf[k] = x[j]
					j++
				} else {
					buf[k] = x[i]
					i++
				}
				k++
			}
			for i < mid {
				buf[k] = x[i]
				i++
				k++
			}
			for j < hi {
				buf[k] = x[j]
				j++
				k++
			}
		}
		copy(x, buf)
	}
}

func IsSorted[E cmp.Ordered](x []E) bool { return IsSortedFunc(x, cmp.Compare[E]) }

func IsSortedFunc[E any](x []E, c func(a, b E) int) bool {
	for i := len(x) - 1; i > 0; i-- {
		if c(x[i], x[i-1]) < 0 {
			return false
		}
	}
	return true
}

func Min[E cmp.Ordered](x []E) E { return MinFunc(x, cmp.Compare[E]) }

func MinFunc[E any](x []E, c func(a, b E) int) E {
	if len(x) < 1 {
		panic("slices.Min: empty list")
	}
	m := x[0]
	for i := 1; i < len(x); i++ {
		if c(x[i], m) < 0 {
			m = x[i]
		}
	}
	return m
}

func Max[E cmp.Ordered](x []E) E { return MaxFunc(x, cmp.Compare[E]) }

func MaxFunc[E any](x []E, c func(a, b E) int) E {
	if len(x) < 1 {
		panic("slices.Max: empty list")
	}
	m := x[0]
	for i := 1; i < len(x); i++ {
		if c(x[i], m) > 0 {
			m = x[i]
		}
	}
	return m
}

func BinarySearch[E cmp.Ordered](x []E, target E) (int, bool) {
	return BinarySearchFunc(x, target, cmp.Compare[E])
}

func BinarySearchFunc[E, T any](x []E, target T, c func(E, T) int) (int, bool) {
	lo, hi := 0, len(x)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if c(x[h], target) < 0 {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo, lo < len(x) && c(x[lo], target) == 0
}
`
