package plink

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// BlockVariants is the number of variants Parallel hands to a worker at a
// time: small enough to balance two threads, large enough that the
// scheduling cost vanishes.
const BlockVariants = 1024

// Parallel calls fn on consecutive blocks [lo, hi) covering 0..n-1 from
// threads goroutines (threads <= 0 means GOMAXPROCS). Blocks are handed out
// in increasing order, so per-variant results written to a slice by index
// need no locking. The first error stops further blocks and is returned.
func Parallel(n, threads int, fn func(lo, hi int) error) error {
	return ParallelRange(0, n, threads, fn)
}

// ParallelRange is Parallel over variants start..end-1.
func ParallelRange(start, end, threads int, fn func(lo, hi int) error) error {
	return ParallelWorkers(start, end, threads, func(_, lo, hi int) error { return fn(lo, hi) })
}

// Workers is the number of goroutines ParallelWorkers starts for n
// variants: threads (GOMAXPROCS if <= 0), at most one per block, at least 1.
func Workers(n, threads int) int {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	if blocks := (n + BlockVariants - 1) / BlockVariants; threads > blocks {
		threads = blocks
	}
	return max(threads, 1)
}

// ParallelWorkers is ParallelRange that also tells fn which worker
// (0..Workers(end-start, threads)-1) runs the block, for per-worker
// accumulators such as per-sample counts.
func ParallelWorkers(start, end, threads int, fn func(worker, lo, hi int) error) error {
	if end <= start {
		return nil
	}
	threads = Workers(end-start, threads)
	if threads == 1 {
		for lo := start; lo < end; lo += BlockVariants {
			if err := fn(0, lo, min(lo+BlockVariants, end)); err != nil {
				return err
			}
		}
		return nil
	}
	var next atomic.Int64
	next.Store(int64(start))
	var stop atomic.Bool
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for t := 0; t < threads; t++ {
		wg.Add(1)
		go func(worker int) {
			defer wg.Done()
			for !stop.Load() {
				lo := int(next.Add(BlockVariants)) - BlockVariants
				if lo >= end {
					return
				}
				if err := fn(worker, lo, min(lo+BlockVariants, end)); err != nil {
					once.Do(func() { first = err })
					stop.Store(true)
					return
				}
			}
		}(t)
	}
	wg.Wait()
	return first
}
