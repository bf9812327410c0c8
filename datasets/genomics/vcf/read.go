package vcf

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/biogo/hts/bgzf"
	"github.com/biogo/hts/tabix"

	"enclave/datasets/genomics/plink"
)

// Options control how records become biallelic packed rows.
type Options struct {
	// Split turns a record with k ALT alleles into k biallelic rows (ALT j
	// against everything else, as bcftools norm -m- does); without it such
	// records are skipped and counted in Stats.Multiallelic.
	Split bool
	// Dosage reads FORMAT/DS (ALT dosage) as plink2 --vcf FILE dosage=DS
	// does: where a sample has a DS value it is the sample's dosage (on
	// the 0..1 scale when GT is haploid, stored doubled) and its hard call
	// is the dosage's (within 0.1 of 0, 1 or 2, else missing; GT then only
	// gives the ploidy); elsewhere GT gives both. The dosages reach the
	// DosageFunc of ScanDosage, QueryDosage and QueryIDDosage. A record
	// with DS but no GT on chrX, chrY or MT is refused (the ploidy of each
	// DS is unknown), as plink2 refuses it.
	Dosage bool
	// NoIndex allows reading a VCF without a .tbi (whole-file scans only).
	NoIndex bool
	// Region restricts Convert to "chr:start-end" (through the index) and
	// ID to the variants with that id.
	Region, ID string
}

// Stats count what a scan met.
type Stats struct {
	Records      int // data lines read
	Variants     int // rows produced
	Multiallelic int // records with more than one ALT (skipped unless Split)
	HalfCalls    int // genotypes with one allele missing, set to missing
	DosageCalls  int // genotypes taken from DS
}

// ErrNoIndex is returned by Open for a VCF without a tabix index.
var ErrNoIndex = errors.New("no tabix index")

// Reader reads one bgzipped VCF.
type Reader struct {
	Path    string
	Samples []plink.Sample
	opts    Options
	stats   Stats
	index   *tabix.Index
	header  int // header lines
}

// Open checks that path is a bgzipped VCF with a tabix index (path.tbi)
// and reads its header.
func Open(path string, opts Options) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var magic [18]byte
	n, _ := io.ReadFull(f, magic[:])
	if n < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		return nil, fmt.Errorf("%s: not gzip-compressed; compress it with bgzip and index it with tabix -p vcf", path)
	}
	if n < 18 || magic[3]&4 == 0 || magic[12] != 'B' || magic[13] != 'C' {
		return nil, fmt.Errorf("%s: gzip but not BGZF (plain gzip cannot be indexed); recompress with bgzip", path)
	}
	if ok, err := bgzf.HasEOF(f); err == nil && !ok {
		return nil, fmt.Errorf("%s: truncated: no BGZF end-of-file block (incomplete copy or download?)", path)
	}
	r := &Reader{Path: path, opts: opts}
	if idx, err := readIndex(path + ".tbi"); err == nil {
		r.index = idx
	} else if !opts.NoIndex {
		return nil, fmt.Errorf("%s: %w (%v); create it with tabix -p vcf %s", path, ErrNoIndex, err, path)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	bg, err := bgzf.NewReader(f, 1)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer bg.Close()
	lr := newLineReader(bg)
	for {
		line, err := lr.next()
		if err != nil {
			if err == io.EOF {
				return nil, fmt.Errorf("%s: no #CHROM header line", path)
			}
			return nil, fmt.Errorf("%s line %d: %w", path, lr.line, err)
		}
		if bytes.HasPrefix(line, []byte("##")) {
			continue
		}
		if !bytes.HasPrefix(line, []byte("#CHROM")) {
			return nil, fmt.Errorf("%s line %d: expected the #CHROM header line before data", path, lr.line)
		}
		cols := strings.Split(strings.TrimRight(string(line), "\r"), "\t")
		if len(cols) < 8 {
			return nil, fmt.Errorf("%s line %d: #CHROM header has %d columns, want at least 8", path, lr.line, len(cols))
		}
		if len(cols) > 9 {
			for _, id := range cols[9:] {
				r.Samples = append(r.Samples, plink.Sample{FID: "0", IID: id, Father: "0", Mother: "0", Pheno: "-9", PhenoMissing: true})
			}
		}
		r.header = lr.line
		return r, nil
	}
}

func readIndex(path string) (*tabix.Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	idx, err := tabix.ReadFrom(gz)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return idx, nil
}

// Stats returns the counts of the scans so far.
func (r *Reader) Stats() Stats { return r.stats }

// RowFunc receives one biallelic variant (A1 = ALT, A2 = REF) and its
// packed row; the row is reused after the call returns.
type RowFunc func(v *plink.Variant, row []byte) error

// DosageFunc receives one biallelic variant, its packed hard calls and,
// when the record has DS values (Options.Dosage), its dosage row (see
// plink.DosageUnit; nil for a record with hard calls only). Both are
// reused after the call returns.
type DosageFunc func(v *plink.Variant, row []byte, dose []uint16) error

func (fn RowFunc) dosage() DosageFunc {
	return func(v *plink.Variant, row []byte, _ []uint16) error { return fn(v, row) }
}

// Scan reads every record in file order.
func (r *Reader) Scan(fn RowFunc) error { return r.ScanDosage(fn.dosage()) }

// ScanDosage is Scan with dosages.
func (r *Reader) ScanDosage(fn DosageFunc) error {
	return r.scan(bgzf.Offset{}, func(*plink.Variant) (bool, bool) { return true, false }, fn)
}

// QueryID calls fn for the variants whose ID is id (a whole-file scan
// that skips genotype parsing of other records).
func (r *Reader) QueryID(id string, fn RowFunc) error { return r.QueryIDDosage(id, fn.dosage()) }

// QueryIDDosage is QueryID with dosages.
func (r *Reader) QueryIDDosage(id string, fn DosageFunc) error {
	return r.scan(bgzf.Offset{}, func(v *plink.Variant) (bool, bool) { return v.ID == id, false }, fn)
}

// Query calls fn for the variants overlapping region, "chr:start-end"
// (1-based, inclusive; commas allowed), "chr:pos" or "chr", using the
// tabix index. The chromosome may be given with or without "chr".
func (r *Reader) Query(region string, fn RowFunc) error { return r.QueryDosage(region, fn.dosage()) }

// QueryDosage is Query with dosages.
func (r *Reader) QueryDosage(region string, fn DosageFunc) error {
	if r.index == nil {
		return fmt.Errorf("%s: region query needs the tabix index", r.Path)
	}
	chrom, start, end, err := ParseRegion(region)
	if err != nil {
		return err
	}
	code, _ := plink.ParseChrom(chrom)
	name := ""
	for _, n := range r.index.Names() {
		if c, ok := plink.ParseChrom(n); n == chrom || (ok && c == code) {
			name = n
			break
		}
	}
	if name == "" {
		return nil // chromosome not in the file: no records
	}
	chunks, err := r.index.Chunks(name, start-1, end)
	if err != nil || len(chunks) == 0 {
		return nil
	}
	first := chunks[0].Begin
	for _, c := range chunks[1:] {
		if c.Begin.File < first.File || (c.Begin.File == first.File && c.Begin.Block < first.Block) {
			first = c.Begin
		}
	}
	return r.scan(first, func(v *plink.Variant) (bool, bool) {
		if v.Chrom != plink.ChromName(code) {
			return false, true
		}
		if v.Pos > int64(end) {
			return false, true
		}
		last := v.Pos + int64(max(len(v.A2), 1)) - 1
		return last >= int64(start), false
	}, fn)
}

// ParseRegion parses "chr1:1,000-2,000", "1:1500" or "X".
func ParseRegion(s string) (chrom string, start, end int, err error) {
	chrom, rest, has := strings.Cut(s, ":")
	if _, ok := plink.ParseChrom(chrom); !ok {
		return "", 0, 0, fmt.Errorf("region %q: unknown chromosome name %q", s, chrom)
	}
	if !has {
		return chrom, 1, math.MaxInt32, nil
	}
	rest = strings.ReplaceAll(rest, ",", "")
	a, b, isRange := strings.Cut(rest, "-")
	start, err1 := strconv.Atoi(a)
	end = start
	var err2 error
	if isRange {
		end, err2 = strconv.Atoi(b)
	}
	if err1 != nil || err2 != nil || start < 1 || end < start {
		return "", 0, 0, fmt.Errorf("region %q: want chrom:start-end with 1 <= start <= end", s)
	}
	return chrom, start, end, nil
}

// scan reads records from virtual offset from (zero: start of data). keep
// decides per variant (before genotypes are parsed) whether to emit it and
// whether to stop.
func (r *Reader) scan(from bgzf.Offset, keep func(*plink.Variant) (emit, stop bool), fn DosageFunc) error {
	f, err := os.Open(r.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	var src io.Reader
	where := func() string { return r.Path }
	if from == (bgzf.Offset{}) {
		// Whole-file scan: inflate blocks on two goroutines.
		pb := newParallelBGZF(f, r.Path, 2)
		defer pb.Close()
		src = pb
	} else {
		bg, err := bgzf.NewReader(f, 1)
		if err != nil {
			return fmt.Errorf("%s: %w", r.Path, err)
		}
		defer bg.Close()
		if err := bg.Seek(from); err != nil {
			return fmt.Errorf("%s: seek: %w", r.Path, err)
		}
		src = bg
	}
	lr := newLineReader(src)
	if from == (bgzf.Offset{}) {
		where = func() string { return fmt.Sprintf("%s line %d", r.Path, lr.line) }
	}
	n := len(r.Samples)
	p := &recordParser{n: n, opts: r.opts, rows: make([][]byte, 1)}
	for {
		line, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", where(), err)
		}
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if from != (bgzf.Offset{}) {
			// After a seek line numbers are unknown; name the record.
			where = func() string { return fmt.Sprintf("%s record %.40s", r.Path, line) }
		}
		if err := p.head(line); err != nil {
			return fmt.Errorf("%s: %w", where(), err)
		}
		emit, stop := keep(&p.variant)
		if stop {
			return nil
		}
		r.stats.Records++
		if !emit {
			continue
		}
		if len(p.alts) > 1 {
			r.stats.Multiallelic++
			if !r.opts.Split {
				continue
			}
		}
		if err := p.genotypes(&r.stats); err != nil {
			line := 0
			if from == (bgzf.Offset{}) {
				line = lr.line
			}
			return &RecordError{Where: where(), Line: line, Variant: fmt.Sprintf("%s at %s:%d", p.variant.ID, p.variant.Chrom, p.variant.Pos), Err: err}
		}
		for j, alt := range p.alts {
			v := p.variant
			v.A1 = alt
			r.stats.Variants++
			var dose []uint16
			if j < len(p.hasDose) && p.hasDose[j] {
				dose = p.dose[j]
			}
			if err := fn(&v, p.rows[j], dose); err != nil {
				return err
			}
		}
	}
}

// RecordError is a record whose genotype fields cannot be read (a bad GT
// or DS, a wrong number of sample columns). Variant and Line name the
// record without any sample's value, for messages that may be shown
// where genotypes may not; Err holds the details.
type RecordError struct {
	Where   string // file and line, or file and the record's start
	Line    int    // 1-based line number, 0 when unknown (after an index seek)
	Variant string // "ID at CHROM:POS"
	Err     error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("%s: variant %s: %v", e.Where, e.Variant, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// lineReader returns lines of any length without the newline.
type lineReader struct {
	r    io.Reader
	buf  []byte
	s, e int // unread data buf[s:e]
	line int
	err  error
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: r, buf: make([]byte, 1<<20)}
}

func (l *lineReader) next() ([]byte, error) {
	for {
		if i := bytes.IndexByte(l.buf[l.s:l.e], '\n'); i >= 0 {
			line := l.buf[l.s : l.s+i]
			l.s += i + 1
			l.line++
			return line, nil
		}
		if l.err != nil {
			if l.s < l.e {
				line := l.buf[l.s:l.e]
				l.s = l.e
				l.line++
				return line, nil
			}
			return nil, l.err
		}
		if l.s > 0 {
			copy(l.buf, l.buf[l.s:l.e])
			l.e -= l.s
			l.s = 0
		}
		if l.e == len(l.buf) {
			l.buf = append(l.buf, make([]byte, len(l.buf))...)
		}
		n, err := l.r.Read(l.buf[l.e:])
		l.e += n
		if err != nil {
			l.err = err
		}
	}
}
