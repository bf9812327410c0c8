package vcf

import (
	"bytes"
	"fmt"
	"math"
	"strconv"

	"enclave/datasets/genomics/plink"
)

// recordParser decodes one VCF data line.
type recordParser struct {
	n       int
	opts    Options
	variant plink.Variant
	alts    []string
	rest    []byte // FORMAT and sample columns
	rows    [][]byte
	dose    [][]uint16 // dosage rows (Options.Dosage and FORMAT/DS)
	hasDose []bool     // per ALT: some sample had a DS value
	chromC  map[string]string
}

var errColumns = fmt.Errorf("fewer than 8 tab-separated columns")

// head parses the fixed columns.
func (p *recordParser) head(line []byte) error {
	line = bytes.TrimRight(line, "\r")
	var f [8][]byte
	rest := line
	for i := 0; i < 8; i++ {
		j := bytes.IndexByte(rest, '\t')
		if j < 0 {
			if i < 7 {
				return errColumns
			}
			f[i], rest = rest, nil
			break
		}
		f[i], rest = rest[:j], rest[j+1:]
	}
	code, ok := plink.ParseChrom(string(f[0]))
	if !ok {
		return fmt.Errorf("unknown chromosome name %q (want 1-22, X, Y, XY, MT, optionally with chr)", f[0])
	}
	pos, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil || pos < 0 {
		return fmt.Errorf("POS %q is not a position", f[1])
	}
	if len(f[3]) == 0 {
		return fmt.Errorf("empty REF")
	}
	p.variant = plink.Variant{Chrom: plink.ChromName(code), ChromCode: code, ID: string(f[2]), Pos: pos, A2: string(f[3])}
	p.alts = p.alts[:0]
	if string(f[4]) == "." {
		p.alts = append(p.alts, ".") // no ALT: monomorphic; plink2 writes "." in the .bim
	} else {
		for _, a := range bytes.Split(f[4], []byte(",")) {
			p.alts = append(p.alts, string(a))
		}
	}
	p.rest = rest
	return nil
}

// genotypes fills one packed row per ALT from the FORMAT/sample columns,
// and with Options.Dosage, when FORMAT has DS, one dosage row per ALT
// (p.dose[j]; p.hasDose[j] reports whether any sample had a DS value).
func (p *recordParser) genotypes(st *Stats) error {
	rb := (p.n + 3) / 4
	for len(p.rows) < len(p.alts) {
		p.rows = append(p.rows, nil)
	}
	for j := range p.alts {
		if cap(p.rows[j]) < rb {
			p.rows[j] = make([]byte, rb)
		}
		p.rows[j] = p.rows[j][:rb]
		clear(p.rows[j])
	}
	p.hasDose = p.hasDose[:0]
	if p.n == 0 {
		return nil
	}
	rest := p.rest
	k := bytes.IndexByte(rest, '\t')
	if k < 0 {
		return fmt.Errorf("no sample columns (expected %d)", p.n)
	}
	format := rest[:k]
	rest = rest[k+1:]
	gtIdx, dsIdx := -1, -1
	for i, key := range bytes.Split(format, []byte(":")) {
		switch string(key) {
		case "GT":
			gtIdx = i
		case "DS":
			dsIdx = i
		}
	}
	if !p.opts.Dosage {
		dsIdx = -1
	}
	if gtIdx < 0 && dsIdx < 0 {
		return fmt.Errorf("FORMAT %q has no GT%s", format, map[bool]string{true: " or DS", false: ""}[p.opts.Dosage])
	}
	if dsIdx >= 0 {
		if gtIdx < 0 {
			switch p.variant.ChromCode {
			case plink.ChromX, plink.ChromY, plink.ChromMT:
				// As plink2: without GT the ploidy, and so the scale of
				// DS (0..1 or 0..2), is unknown.
				return fmt.Errorf("DS without GT on chromosome %s: the ploidy of each DS (0..1 or 0..2) is unknown; write GT as well", p.variant.Chrom)
			}
		}
		for len(p.dose) < len(p.alts) {
			p.dose = append(p.dose, nil)
		}
		for j := range p.alts {
			if cap(p.dose[j]) < p.n {
				p.dose[j] = make([]uint16, p.n)
			}
			p.dose[j] = p.dose[j][:p.n]
			p.hasDose = append(p.hasDose, false)
		}
	}
	i := 0
	if gtIdx == 0 && len(format) == 2 && len(p.alts) == 1 {
		// Fast path for FORMAT "GT" on a biallelic record: fields of
		// exactly "a/b" or "a|b" decoded by table, four samples per byte.
		row := p.rows[0]
		for i < p.n && len(rest) >= 4 && rest[3] == '\t' && (rest[1] == '/' || rest[1] == '|') {
			c := gtTable[rest[0]][rest[2]]
			if c == 0xff {
				break
			}
			row[i>>2] |= c << uint(2*(i&3))
			rest = rest[4:]
			i++
		}
	}
	for ; i < p.n; i++ {
		var field []byte
		k := bytes.IndexByte(rest, '\t')
		if k < 0 {
			if i != p.n-1 {
				return fmt.Errorf("%d sample columns, header has %d", i+1, p.n)
			}
			field, rest = rest, nil
		} else {
			field, rest = rest[:k], rest[k+1:]
		}
		sh := uint(2 * (i & 3))
		gt, ds := subfield(field, gtIdx), subfield(field, dsIdx)
		if gtIdx >= 0 && gt == nil && dsIdx >= 0 {
			gt = []byte{} // GT dropped from the field: no call, ploidy unknown
		}
		for j := range p.alts {
			if dsIdx < 0 {
				c, _, err := p.code(gt, j+1, st)
				if err != nil {
					return fmt.Errorf("sample %d (column %d): %w", i+1, i+10, err)
				}
				p.rows[j][i>>2] |= c << sh
				continue
			}
			c, u, fromDS, err := p.call(gt, ds, j, st)
			if err != nil {
				return fmt.Errorf("sample %d (column %d): %w", i+1, i+10, err)
			}
			p.rows[j][i>>2] |= c << sh
			p.dose[j][i] = u
			p.hasDose[j] = p.hasDose[j] || fromDS
		}
	}
	if rest != nil && len(bytes.TrimRight(rest, "\r")) > 0 {
		return fmt.Errorf("more sample columns than the %d in the header", p.n)
	}
	return nil
}

// gtTable[a][b] is the code of the diploid biallelic call "a/b" (or
// "a|b"), 0xff for anything the general parser must look at.
var gtTable = func() (t [256][256]byte) {
	for a := range t {
		for b := range t[a] {
			t[a][b] = 0xff
		}
	}
	t['0']['0'] = plink.CodeHomA2
	t['0']['1'], t['1']['0'] = plink.CodeHet, plink.CodeHet
	t['1']['1'] = plink.CodeHomA1
	t['.']['.'] = plink.CodeMissing
	return t
}()

func subfield(field []byte, idx int) []byte {
	if idx < 0 {
		return nil
	}
	for i := 0; i < idx; i++ {
		k := bytes.IndexByte(field, ':')
		if k < 0 {
			return nil // trailing fields dropped: missing
		}
		field = field[k+1:]
	}
	if k := bytes.IndexByte(field, ':'); k >= 0 {
		field = field[:k]
	}
	return field
}

// code returns the 2-bit code of one GT for ALT allele number alt, and
// its ploidy (0 when GT is empty).
func (p *recordParser) code(gt []byte, alt int, st *Stats) (byte, int, error) {
	if len(gt) == 0 {
		return plink.CodeMissing, 0, nil
	}
	copies, called, total := 0, 0, 0
	for len(gt) > 0 {
		k := bytes.IndexAny(gt, "/|")
		a := gt
		if k >= 0 {
			a, gt = gt[:k], gt[k+1:]
		} else {
			gt = nil
		}
		total++
		if string(a) == "." {
			continue
		}
		x, err := strconv.Atoi(string(a))
		if err != nil || x < 0 || x > len(p.alts) {
			return 0, 0, fmt.Errorf("GT allele %q is not 0..%d or .", a, len(p.alts))
		}
		called++
		if x == alt {
			copies++
		}
	}
	switch {
	case total > 2:
		return 0, 0, fmt.Errorf("ploidy %d GT; only haploid and diploid calls are supported", total)
	case called == total && total == 2:
		return [3]byte{plink.CodeHomA2, plink.CodeHet, plink.CodeHomA1}[copies], 2, nil
	case called == total && total == 1:
		// haploid call, stored as a homozygote as plink does
		return [2]byte{plink.CodeHomA2, plink.CodeHomA1}[copies], 1, nil
	case called > 0:
		st.HalfCalls++
	}
	return plink.CodeMissing, total, nil
}

// call decodes one sample as plink2 --vcf dosage=DS does, for ALT number
// j (0-based): where the sample has a DS value (the j-th of a
// comma-separated list), the dosage is DS (doubled when GT is haploid, so
// that it is on the 0..2 scale of a homozygote) and the hard call is the
// dosage's (plink.HardCall: within 0.1 of 0, 1 or 2, else missing), GT
// only giving the ploidy; elsewhere GT gives both. Returns the code, the
// dosage and whether DS gave it.
func (p *recordParser) call(gt, ds []byte, j int, st *Stats) (byte, uint16, bool, error) {
	c, ploidy, err := p.code(gt, j+1, st)
	if err != nil {
		return 0, 0, false, err
	}
	if len(p.alts) > 1 {
		for k := 0; k < j && ds != nil; k++ {
			if i := bytes.IndexByte(ds, ','); i >= 0 {
				ds = ds[i+1:]
			} else {
				ds = nil
			}
		}
		if i := bytes.IndexByte(ds, ','); i >= 0 {
			ds = ds[:i]
		}
	}
	if len(ds) == 0 || (len(ds) == 1 && ds[0] == '.') {
		return c, plink.CodeDosage(c), false, nil
	}
	if gt != nil && len(gt) == 0 {
		switch p.variant.ChromCode {
		case plink.ChromX, plink.ChromY, plink.ChromMT:
			return 0, 0, false, fmt.Errorf("DS %q without GT on chromosome %s: its ploidy (0..1 or 0..2) is unknown", ds, p.variant.Chrom)
		}
	}
	top := 2.0
	if ploidy == 1 {
		top = 1
	}
	d, err := strconv.ParseFloat(string(ds), 64)
	if err != nil || d < 0 || d > top || !decimal(ds) {
		what := "a diploid"
		if ploidy == 1 {
			what = "a haploid (GT " + string(gt) + ")"
		}
		return 0, 0, false, fmt.Errorf("DS %q is not %s dosage in [0, %g]", ds, what, top)
	}
	u := uint16(math.Round(d * (2 / top) * plink.DosageUnit))
	st.DosageCalls++
	return plink.HardCall(u), u, true, nil
}

// decimal reports whether b is written as a decimal number (digits, a
// point, an exponent): no sign, NaN, Inf or hexadecimal float.
func decimal(b []byte) bool {
	if len(b) == 0 || (b[0] != '.' && (b[0] < '0' || b[0] > '9')) {
		return false
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+') {
			return false
		}
	}
	return true
}
