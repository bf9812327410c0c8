package plink

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
)

// Variant is one .bim line. A1 (column 5) is the allele whose copies the
// .bed counts (00 = two copies); plink2 calls it ALT and A2 (column 6) REF.
type Variant struct {
	Chrom     string  // normalised name: "1".."22", "X", "Y", "XY", "MT", "0"
	ChromCode int     // 0–26, see ParseChrom
	ID        string  // variant identifier (column 2)
	CM        float64 // genetic position in centimorgans (column 3)
	Pos       int64   // base-pair coordinate (column 4)
	A1        string  // column 5: counted allele, plink2 ALT; "0" if missing
	A2        string  // column 6: plink2 REF; "0" if missing
}

// Alt is the allele plink2 reports as ALT for a PLINK 1 fileset (A1).
func (v *Variant) Alt() string { return v.A1 }

// Ref is the allele plink2 reports as REF for a PLINK 1 fileset (A2).
func (v *Variant) Ref() string { return v.A2 }

// ReadBim parses a .bim file; large files are parsed by two goroutines,
// each taking half of the lines.
func ReadBim(path string) ([]Variant, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < 1<<20 {
		return parseBim(bytes.NewReader(data), path, 0)
	}
	mid := len(data) / 2
	for mid < len(data) && data[mid-1] != '\n' {
		mid++
	}
	var second []Variant
	var err2 error
	done := make(chan struct{})
	skipped := bytes.Count(data[:mid], []byte{'\n'})
	go func() {
		second, err2 = parseBim(bytes.NewReader(data[mid:]), path, skipped)
		close(done)
	}()
	first, err1 := parseBim(bytes.NewReader(data[:mid]), path, 0)
	<-done
	if err1 != nil {
		return nil, err1
	}
	if err2 != nil {
		return nil, err2
	}
	return append(first, second...), nil
}

// parseBim parses .bim lines; line numbers in errors start after
// firstLine lines.
func parseBim(r io.Reader, path string, firstLine int) ([]Variant, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	var vs []Variant
	var fields [7][]byte
	intern := map[string]string{}
	var lastChrom []byte
	lastCode := -1
	line := firstLine
	for sc.Scan() {
		line++
		b := sc.Bytes()
		nf := splitFields(b, fields[:])
		if nf == 0 {
			continue // plink skips blank lines
		}
		if nf != 6 {
			return nil, fmt.Errorf("%s line %d: %d columns, want 6 (chrom, id, cM, bp, A1, A2)", path, line, nf)
		}
		code, ok := chromCache(fields[0], &lastChrom, &lastCode)
		if !ok {
			return nil, fmt.Errorf("%s line %d: unknown chromosome name %q (want 1-22, X, Y, XY, MT, 23-26 or 0)", path, line, fields[0])
		}
		var cm float64
		if len(fields[2]) != 1 || fields[2][0] != '0' {
			var err error
			if cm, err = strconv.ParseFloat(string(fields[2]), 64); err != nil {
				return nil, fmt.Errorf("%s line %d: centimorgan position %q is not a number", path, line, fields[2])
			}
		}
		pos, ok := atoi(fields[3])
		if !ok {
			return nil, fmt.Errorf("%s line %d: base-pair position %q is not an integer", path, line, fields[3])
		}
		vs = append(vs, Variant{
			Chrom:     ChromName(code),
			ChromCode: code,
			ID:        string(fields[1]),
			CM:        cm,
			Pos:       pos,
			A1:        internAllele(intern, fields[4]),
			A2:        internAllele(intern, fields[5]),
		})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s line %d: %w", path, line+1, err)
	}
	return vs, nil
}

// internAllele shares the strings of short alleles (A, C, G, T, 0 ...), which
// are nearly all of them, so a million-variant .bim costs two pointers per
// allele rather than two allocations.
func internAllele(m map[string]string, b []byte) string {
	if len(b) == 1 && b[0] == '.' {
		b = []byte{'0'}
	}
	if len(b) > 8 {
		return string(b)
	}
	if s, ok := m[string(b)]; ok {
		return s
	}
	s := string(b)
	m[s] = s
	return s
}

// splitFields splits b on spaces and tabs into at most len(dst) fields and
// returns how many fields b has (which may exceed len(dst)).
func splitFields(b []byte, dst [][]byte) int {
	b = bytes.TrimRight(b, "\r")
	n := 0
	i := 0
	for i < len(b) {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
			i++
		}
		if i == len(b) {
			break
		}
		j := i
		for j < len(b) && b[j] != ' ' && b[j] != '\t' {
			j++
		}
		if n < len(dst) {
			dst[n] = b[i:j]
		}
		n++
		i = j
	}
	return n
}

// chromCache parses a chromosome name, remembering the previous line's
// (a .bim is sorted, so nearly every line repeats it).
func chromCache(b []byte, last *[]byte, lastCode *int) (int, bool) {
	if *lastCode >= 0 && bytes.Equal(b, *last) {
		return *lastCode, true
	}
	code, ok := ParseChrom(string(b))
	if ok {
		*last = append((*last)[:0], b...)
		*lastCode = code
	}
	return code, ok
}

// atoi parses an optionally signed decimal integer.
func atoi(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		v, err := strconv.ParseInt(string(b), 10, 64)
		return v, err == nil
	}
	neg := false
	if b[0] == '-' || b[0] == '+' {
		neg = b[0] == '-'
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}
