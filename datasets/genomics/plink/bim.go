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

// ReadBim parses a .bim file.
func ReadBim(path string) ([]Variant, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseBim(f, path)
}

func parseBim(r io.Reader, path string) ([]Variant, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	var vs []Variant
	var fields [7][]byte
	intern := map[string]string{}
	line := 0
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
		code, ok := ParseChrom(string(fields[0]))
		if !ok {
			return nil, fmt.Errorf("%s line %d: unknown chromosome name %q (want 1-22, X, Y, XY, MT, 23-26 or 0)", path, line, fields[0])
		}
		cm, err := strconv.ParseFloat(string(fields[2]), 64)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: centimorgan position %q is not a number", path, line, fields[2])
		}
		pos, err := strconv.ParseInt(string(fields[3]), 10, 64)
		if err != nil {
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
