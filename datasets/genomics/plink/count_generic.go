//go:build !amd64

package plink

func countWords(row []byte, m []uint64, n int) (lo, hi, both int) {
	return countWordsGo(row, m, n)
}
