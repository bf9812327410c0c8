package plink

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Magic is the first three bytes of a SNP-major PLINK 1 .bed file.
var Magic = [3]byte{0x6c, 0x1b, 0x01}

// ErrBadBed is wrapped by every error about a malformed .bed file.
var ErrBadBed = errors.New("malformed .bed")

// Fileset is an open PLINK 1.9 binary fileset. Its methods are safe for
// concurrent use; Close must not race with them.
type Fileset struct {
	Prefix   string
	Variants []Variant
	Samples  []Sample
	// PhenoBinary is true when the .fam phenotype is case/control.
	PhenoBinary bool

	bedPath  string
	data     []byte // whole mapped .bed, magic included
	mapped   bool   // data is an mmap to release on Close
	file     *os.File
	rowBytes int
	dosage   [][]uint16 // per variant, nil without dosages (see Dosage)
}

// NewInMemory returns a Fileset over packed rows held in memory, e.g.
// genotypes read from a VCF: rows holds len(variants) rows of
// ceil(len(samples)/4) bytes each, in the .bed encoding.
func NewInMemory(variants []Variant, samples []Sample, rows []byte) (*Fileset, error) {
	rb := (len(samples) + 3) / 4
	if len(rows) != len(variants)*rb {
		return nil, fmt.Errorf("plink: %d bytes of rows for %d variants × %d bytes", len(rows), len(variants), rb)
	}
	data := make([]byte, 3, 3+len(rows))
	copy(data, Magic[:])
	return &Fileset{Variants: variants, Samples: samples, bedPath: "(memory)", data: append(data, rows...), rowBytes: rb, PhenoBinary: true}, nil
}

// Open reads PREFIX.bim and PREFIX.fam and maps PREFIX.bed.
func Open(prefix string) (*Fileset, error) {
	return OpenFiles(prefix+".bed", prefix+".bim", prefix+".fam")
}

// OpenFiles is Open with the three paths given separately.
func OpenFiles(bed, bim, fam string) (*Fileset, error) {
	vs, err := ReadBim(bim)
	if err != nil {
		return nil, err
	}
	fm, err := ReadFam(fam)
	if err != nil {
		return nil, err
	}
	fs := &Fileset{
		Prefix:      trimExt(bed),
		Variants:    vs,
		Samples:     fm.Samples,
		PhenoBinary: fm.Binary,
		bedPath:     bed,
		rowBytes:    (len(fm.Samples) + 3) / 4,
	}
	if err := fs.mapBed(bim, fam); err != nil {
		return nil, err
	}
	return fs, nil
}

func trimExt(p string) string {
	if len(p) > 4 && p[len(p)-4:] == ".bed" {
		return p[:len(p)-4]
	}
	return p
}

func (fs *Fileset) mapBed(bim, fam string) error {
	f, err := os.Open(fs.bedPath)
	if err != nil {
		return err
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	var head [3]byte
	if n, _ := f.ReadAt(head[:], 0); n < 3 {
		return fmt.Errorf("%s: %w: %d bytes, too short for the 3-byte header", fs.bedPath, ErrBadBed, size)
	}
	if head != Magic {
		if head[0] == Magic[0] && head[1] == Magic[1] && head[2] == 0 {
			return fmt.Errorf("%s: %w: sample-major (individual-major) .bed, only SNP-major is supported; rewrite it with plink1.9 --make-bed", fs.bedPath, ErrBadBed)
		}
		return fmt.Errorf("%s: %w: magic bytes % x, want 6c 1b 01 (not a PLINK 1 .bed file)", fs.bedPath, ErrBadBed, head[:])
	}
	m, n := int64(len(fs.Variants)), int64(len(fs.Samples))
	want := 3 + m*int64(fs.rowBytes)
	if size != want {
		what := "truncated"
		if size > want {
			what = "too long"
		}
		msg := fmt.Sprintf("%s: %d bytes, want 3 + %d variants (%s) × %d bytes per variant for %d samples (%s) = %d",
			what, size, m, bim, fs.rowBytes, n, fam, want)
		if fs.rowBytes > 0 && (size-3)%int64(fs.rowBytes) == 0 {
			msg += fmt.Sprintf("; the size fits %d variants: .bim and .bed disagree", (size-3)/int64(fs.rowBytes))
		} else if m > 0 && (size-3)%m == 0 {
			msg += fmt.Sprintf("; the size fits %d bytes per variant (%d–%d samples): .fam and .bed disagree",
				(size-3)/m, 4*((size-3)/m)-3, 4*((size-3)/m))
		}
		return fmt.Errorf("%s: %w: %s", fs.bedPath, ErrBadBed, msg)
	}
	if size == 3 || fs.rowBytes == 0 {
		fs.data = head[:]
		return nil
	}
	// The mapping serves Row; nothing is read until a row is touched, so a
	// pass that streams with ReadRows keeps the resident set small.
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("%s: mmap: %w", fs.bedPath, err)
	}
	fs.data, fs.mapped = data, true
	fs.file, keep = f, true
	return nil
}

// Close unmaps the .bed. Rows obtained earlier become invalid.
func (fs *Fileset) Close() error {
	if fs.file != nil {
		fs.file.Close()
		fs.file = nil
	}
	if !fs.mapped {
		fs.data = nil
		return nil
	}
	fs.mapped = false
	err := unix.Munmap(fs.data)
	fs.data = nil
	return err
}

// NumVariants is the number of variants (rows of the .bed).
func (fs *Fileset) NumVariants() int { return len(fs.Variants) }

// NumSamples is the number of samples (genotypes per row).
func (fs *Fileset) NumSamples() int { return len(fs.Samples) }

// RowBytes is ceil(NumSamples/4), the length of every row.
func (fs *Fileset) RowBytes() int { return fs.rowBytes }

// BedPath is the path of the mapped .bed file.
func (fs *Fileset) BedPath() string { return fs.bedPath }

// Row returns the packed genotypes of variant v (ceil(N/4) bytes, see the
// package comment for the encoding). The slice aliases the read-only
// mapping: never write to it, and do not use it after Close.
func (fs *Fileset) Row(v int) []byte {
	off := 3 + v*fs.rowBytes
	return fs.data[off : off+fs.rowBytes : off+fs.rowBytes]
}

// Rows returns the packed rows of variants lo..hi-1 as one contiguous slice.
func (fs *Fileset) Rows(lo, hi int) []byte {
	return fs.data[3+lo*fs.rowBytes : 3+hi*fs.rowBytes : 3+hi*fs.rowBytes]
}

// ReadRows copies the packed rows of variants lo..hi-1 into buf (grown if
// needed) with one positioned read and returns them, RowBytes() bytes per
// variant. Sequential passes over a large fileset use it instead of Row so
// that memory stays at one buffer per thread rather than the whole file
// mapped into the resident set.
func (fs *Fileset) ReadRows(lo, hi int, buf []byte) ([]byte, error) {
	n := (hi - lo) * fs.rowBytes
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if fs.file == nil {
		copy(buf, fs.Rows(lo, hi))
		return buf, nil
	}
	if _, err := fs.file.ReadAt(buf, 3+int64(lo)*int64(fs.rowBytes)); err != nil {
		return nil, fmt.Errorf("%s: reading variants %d-%d: %w", fs.bedPath, lo+1, hi, err)
	}
	return buf, nil
}

// Counts returns the genotype counts of variant v over all samples.
func (fs *Fileset) Counts(v int) Counts { return CountRow(fs.Row(v), len(fs.Samples)) }

// Release tells the kernel that the mapped rows of variants lo..hi-1 are
// no longer needed by this process (madvise MADV_DONTNEED on the whole
// pages inside them). The file stays in the page cache; Row still works
// and simply faults the pages in again. A sequential pass that releases
// each block after use keeps its resident set to the blocks in flight
// while reading through the mapping without copies.
func (fs *Fileset) Release(lo, hi int) {
	if !fs.mapped || hi <= lo {
		return
	}
	const page = 4096
	start := 3 + lo*fs.rowBytes
	end := 3 + hi*fs.rowBytes
	start = (start + page - 1) &^ (page - 1)
	end &^= page - 1
	if end > start {
		_ = unix.Madvise(fs.data[start:end], unix.MADV_DONTNEED)
	}
}
