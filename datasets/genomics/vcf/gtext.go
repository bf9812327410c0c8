package vcf

// gtText[b] is the VCF text of the four genotypes packed in one .bed byte
// ("\t0/0\t0/1..."), with A1 = ALT: 00 → 1/1, 01 → ./., 10 → 0/1, 11 → 0/0.
var gtText = func() (t [256][16]byte) {
	codes := [4]string{"\t1/1", "\t./.", "\t0/1", "\t0/0"}
	for b := 0; b < 256; b++ {
		for j := 0; j < 4; j++ {
			copy(t[b][4*j:], codes[(b>>(2*j))&3])
		}
	}
	return t
}()

// AppendGT appends the tab-separated GT fields of the first n samples of a
// packed .bed row (each preceded by a tab).
func AppendGT(dst, row []byte, n int) []byte {
	full := n / 4
	for k := 0; k < full; k++ {
		dst = append(dst, gtText[row[k]][:]...)
	}
	if rem := n - 4*full; rem > 0 {
		dst = append(dst, gtText[row[full]][:4*rem]...)
	}
	return dst
}
