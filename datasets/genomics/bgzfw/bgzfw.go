// Package bgzfw writes BGZF files and their tabix (.tbi) index: a
// BlockCompressor makes BGZF blocks (deflate level 1, one per goroutine) and
// an IndexBuilder the .tbi of a VCF written in order, so the synthetic
// cohort writer (gensim) can stream a 100k × 20k VCF in seconds. The
// reading side is biogo/hts's bgzf, in package vcf.
package bgzfw

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"sort"

	"github.com/klauspost/compress/flate"
)

// MaxBlockData is the most uncompressed bytes we put in one BGZF block,
// as bgzip does (0xff00), so that even incompressible data fits the 64 KiB
// block limit.
const MaxBlockData = 0xff00

// eofBlock is the empty BGZF block that ends every BGZF file.
var eofBlock = []byte{0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 0x06, 0, 'B', 'C', 0x02, 0, 0x1b, 0, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0}

// BlockCompressor turns uncompressed chunks of at most MaxBlockData bytes
// into complete BGZF blocks. One per goroutine; blocks compressed by
// different goroutines can be concatenated in any planned order, which is
// how the writers here use both cores.
type BlockCompressor struct {
	fw  *flate.Writer
	buf sliceWriter
}

type sliceWriter struct{ b []byte }

func (s *sliceWriter) Write(p []byte) (int, error) { s.b = append(s.b, p...); return len(p), nil }

// NewBlockCompressor returns a compressor at deflate level 1 (fast; VCF
// genotype text still shrinks about 14-fold).
func NewBlockCompressor() *BlockCompressor {
	c := &BlockCompressor{}
	c.fw, _ = flate.NewWriter(&c.buf, flate.BestSpeed)
	return c
}

// AppendBlock appends the BGZF block holding data to dst.
func (c *BlockCompressor) AppendBlock(dst, data []byte) []byte {
	if len(data) > MaxBlockData {
		panic(fmt.Sprintf("bgzf: %d bytes in one block", len(data)))
	}
	c.buf.b = c.buf.b[:0]
	c.fw.Reset(&c.buf)
	c.fw.Write(data)
	c.fw.Close()
	body := c.buf.b
	if len(body)+26 > 1<<16 {
		// Incompressible: store it.
		c.buf.b = c.buf.b[:0]
		sw, _ := flate.NewWriter(&c.buf, flate.NoCompression)
		sw.Write(data)
		sw.Close()
		body = c.buf.b
	}
	start := len(dst)
	dst = append(dst, 0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 0x06, 0, 'B', 'C', 0x02, 0, 0, 0)
	dst = append(dst, body...)
	dst = binary.LittleEndian.AppendUint32(dst, crc32.ChecksumIEEE(data))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(data)))
	binary.LittleEndian.PutUint16(dst[start+16:], uint16(len(dst)-start-1))
	return dst
}

// Compress splits data into blocks and returns them concatenated.
func (c *BlockCompressor) Compress(data []byte) []byte {
	var out []byte
	for len(data) > 0 {
		n := min(len(data), MaxBlockData)
		out = c.AppendBlock(out, data[:n])
		data = data[n:]
	}
	return out
}

// VOffset is a BGZF virtual offset: compressed block start << 16 | offset
// inside the uncompressed block.
type VOffset uint64

// MakeVOffset builds a virtual offset.
func MakeVOffset(block int64, within int) VOffset { return VOffset(uint64(block)<<16 | uint64(within)) }

// IndexBuilder builds a tabix (.tbi) index for a coordinate-sorted VCF
// written in order: call Add for each record with its 0-based half-open
// interval and virtual offsets, then Write.
type IndexBuilder struct {
	names []string
	refs  []*refIndex
	cur   *refIndex
	lastB int
}

type refIndex struct {
	bins      map[uint32][]chunk
	linear    []VOffset
	first     VOffset
	last      VOffset
	nRecords  uint64
	haveFirst bool
}

type chunk struct{ beg, end VOffset }

// Add records a VCF line on chrom covering [beg, end) (0-based) stored
// between virtual offsets start and end.
func (b *IndexBuilder) Add(chrom string, beg, end int, start, stop VOffset) error {
	if b.cur == nil || b.names[len(b.names)-1] != chrom {
		for _, n := range b.names {
			if n == chrom {
				return fmt.Errorf("tabix: chromosome %s is not contiguous", chrom)
			}
		}
		b.names = append(b.names, chrom)
		b.cur = &refIndex{bins: map[uint32][]chunk{}}
		b.refs = append(b.refs, b.cur)
		b.lastB = -1
	}
	if beg < b.lastB {
		return fmt.Errorf("tabix: %s:%d out of order after %d", chrom, beg+1, b.lastB+1)
	}
	b.lastB = beg
	r := b.cur
	if end <= beg {
		end = beg + 1
	}
	bin := reg2bin(beg, end)
	cs := r.bins[bin]
	if n := len(cs); n > 0 && cs[n-1].end == start {
		cs[n-1].end = stop
	} else {
		cs = append(cs, chunk{start, stop})
	}
	r.bins[bin] = cs
	for w := beg >> 14; w <= (end-1)>>14; w++ {
		for len(r.linear) <= w {
			r.linear = append(r.linear, 0)
		}
		if r.linear[w] == 0 {
			r.linear[w] = start
		}
	}
	if !r.haveFirst {
		r.first, r.haveFirst = start, true
	}
	r.last = stop
	r.nRecords++
	return nil
}

// reg2bin is the UCSC/SAM binning scheme (min shift 14, depth 5).
func reg2bin(beg, end int) uint32 {
	end--
	switch {
	case beg>>14 == end>>14:
		return uint32(((1<<15)-1)/7 + (beg >> 14))
	case beg>>17 == end>>17:
		return uint32(((1<<12)-1)/7 + (beg >> 17))
	case beg>>20 == end>>20:
		return uint32(((1<<9)-1)/7 + (beg >> 20))
	case beg>>23 == end>>23:
		return uint32(((1<<6)-1)/7 + (beg >> 23))
	case beg>>26 == end>>26:
		return uint32(((1<<3)-1)/7 + (beg >> 26))
	}
	return 0
}

// Bytes returns the uncompressed .tbi content for a VCF (tabix preset
// vcf: sequence column 1, begin column 2, meta '#').
func (b *IndexBuilder) Bytes() []byte {
	le := binary.LittleEndian
	var o []byte
	o = append(o, 'T', 'B', 'I', 1)
	o = le.AppendUint32(o, uint32(len(b.names)))
	o = le.AppendUint32(o, 2) // format: VCF
	o = le.AppendUint32(o, 1) // col_seq
	o = le.AppendUint32(o, 2) // col_beg
	o = le.AppendUint32(o, 0) // col_end
	o = le.AppendUint32(o, '#')
	o = le.AppendUint32(o, 0) // skip
	nl := 0
	for _, n := range b.names {
		nl += len(n) + 1
	}
	o = le.AppendUint32(o, uint32(nl))
	for _, n := range b.names {
		o = append(o, n...)
		o = append(o, 0)
	}
	for _, r := range b.refs {
		keys := make([]uint32, 0, len(r.bins))
		for k := range r.bins {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		o = le.AppendUint32(o, uint32(len(keys)+1))
		for _, k := range keys {
			cs := r.bins[k]
			o = le.AppendUint32(o, k)
			o = le.AppendUint32(o, uint32(len(cs)))
			for _, c := range cs {
				o = le.AppendUint64(o, uint64(c.beg))
				o = le.AppendUint64(o, uint64(c.end))
			}
		}
		// htslib's pseudo-bin with the reference's offsets and counts.
		o = le.AppendUint32(o, 37450)
		o = le.AppendUint32(o, 2)
		o = le.AppendUint64(o, uint64(r.first))
		o = le.AppendUint64(o, uint64(r.last))
		o = le.AppendUint64(o, r.nRecords)
		o = le.AppendUint64(o, 0)
		// Fill empty linear-index windows with the next offset, as htslib does.
		for i := len(r.linear) - 2; i >= 0; i-- {
			if r.linear[i] == 0 {
				r.linear[i] = r.linear[i+1]
			}
		}
		o = le.AppendUint32(o, uint32(len(r.linear)))
		for _, v := range r.linear {
			o = le.AppendUint64(o, uint64(v))
		}
	}
	return o
}

// WriteFile writes the BGZF-compressed index to path.
func (b *IndexBuilder) WriteFile(path string) error {
	data := NewBlockCompressor().Compress(b.Bytes())
	data = append(data, eofBlock...)
	return os.WriteFile(path, data, 0o644)
}

// EOFBlock returns the 28-byte empty block that must end a BGZF file.
func EOFBlock() []byte { return append([]byte(nil), eofBlock...) }
