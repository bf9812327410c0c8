package plink

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

// countWordsGo is the portable counting loop behind countWords.
func countWordsGo(row []byte, m []uint64, n int) (lo, hi, both int) {
	for k := 0; k < n; k++ {
		w := binary.LittleEndian.Uint64(row[8*k:])
		mk := uint64(lowBits)
		if m != nil {
			mk = m[k]
		}
		l, h := w&mk, (w>>1)&mk
		lo += bits.OnesCount64(l)
		hi += bits.OnesCount64(h)
		both += bits.OnesCount64(l & h)
	}
	return lo, hi, both
}
