package plink

import "golang.org/x/sys/cpu"

// countWordsPOPCNT is count_amd64.s: the counting loop with the POPCNT
// instruction, free of Go's per-call CPU-feature checks and spills.
//
//go:noescape
func countWordsPOPCNT(p *uint64, m *uint64, n int) (lo, hi, both int)

var havePOPCNT = cpu.X86.HasPOPCNT

// countWords sums popcounts over the first n 8-byte words of row (which
// must hold at least 8n bytes): lo = set low bits, hi = set high bits,
// both = slots with both set, each under the mask words m (nil: all).
func countWords(row []byte, m []uint64, n int) (lo, hi, both int) {
	if n == 0 {
		return 0, 0, 0
	}
	if !havePOPCNT {
		return countWordsGo(row, m, n)
	}
	_ = row[8*n-1]
	p := (*uint64)(unsafePointer(row))
	var mp *uint64
	if m != nil {
		_ = m[n-1]
		mp = &m[0]
	}
	return countWordsPOPCNT(p, mp, n)
}
