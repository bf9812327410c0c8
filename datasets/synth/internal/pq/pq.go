package pq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
)

// Type is a column's logical type.
type Type int

const (
	Int64     Type = iota // INT64
	Double                // DOUBLE
	String                // BYTE_ARRAY, STRING
	Bool                  // BOOLEAN
	Date                  // INT32, DATE (days since 1970-01-01)
	Timestamp             // INT64, TIMESTAMP(MICROS, not adjusted to UTC)
)

// Column describes one column. Plain disables dictionary encoding (use it
// for unique ids).
type Column struct {
	Name  string
	Type  Type
	Plain bool
}

// Parquet physical types and encodings.
const (
	ptBoolean   = 0
	ptInt32     = 1
	ptInt64     = 2
	ptDouble    = 5
	ptByteArray = 6

	encPlain          = 0
	encPlainDict      = 2
	encRLE            = 3
	pageData          = 0
	pageDict          = 2
	codecUncompressed = 0
)

func physical(t Type) int32 {
	switch t {
	case Double:
		return ptDouble
	case String:
		return ptByteArray
	case Bool:
		return ptBoolean
	case Date:
		return ptInt32
	}
	return ptInt64
}

// ColBuf accumulates one column of a row group.
type ColBuf struct {
	typ  Type
	defs []byte  // 1 = value present, 0 = null
	i64  []int64 // Int64, Bool (0/1), Date, Timestamp; Double as bits
	str  []byte  // String values, concatenated
	off  []int32 // String value ends in str
}

// RowGroup accumulates rows of a table; Reset reuses its memory.
type RowGroup struct {
	cols []Column
	bufs []ColBuf
	rows int
	enc  encoder // scratch reused by Encode
}

// encoder holds the scratch memory of encoding, reused across columns.
type encoder struct {
	levels []byte
	idx    []uint32
	m64    map[int64]uint32
	mstr   map[string]uint32
}

// NewRowGroup returns an empty row group for cols.
func NewRowGroup(cols []Column) *RowGroup {
	g := &RowGroup{cols: cols, bufs: make([]ColBuf, len(cols))}
	for i, c := range cols {
		g.bufs[i].typ = c.Type
	}
	return g
}

// Reset empties g.
func (g *RowGroup) Reset() {
	for i := range g.bufs {
		b := &g.bufs[i]
		b.defs, b.i64, b.str, b.off = b.defs[:0], b.i64[:0], b.str[:0], b.off[:0]
	}
	g.rows = 0
}

// Rows is the number of rows appended (counted by EndRow).
func (g *RowGroup) Rows() int { return g.rows }

// Col returns column i for appending.
func (g *RowGroup) Col(i int) *ColBuf { return &g.bufs[i] }

// EndRow counts a row; every column must have had one value appended.
func (g *RowGroup) EndRow() { g.rows++ }

// Null appends a null.
func (b *ColBuf) Null() { b.defs = append(b.defs, 0) }

// Int appends an integer (Int64, Date as days, Timestamp as microseconds,
// Bool as 0/1).
func (b *ColBuf) Int(v int64) { b.defs = append(b.defs, 1); b.i64 = append(b.i64, v) }

// Float appends a Double.
func (b *ColBuf) Float(v float64) {
	b.defs = append(b.defs, 1)
	b.i64 = append(b.i64, int64(math.Float64bits(v)))
}

// Str appends a String.
func (b *ColBuf) Str(s string) {
	b.defs = append(b.defs, 1)
	b.str = append(b.str, s...)
	b.off = append(b.off, int32(len(b.str)))
}

// Type returns the column type.
func (b *ColBuf) Type() Type { return b.typ }

// Encoded is a row group encoded as column chunks, ready to be appended to
// a file; offsets inside are relative to the start of data.
type Encoded struct {
	data []byte
	rows int64
	cols []chunkMeta
}

type chunkMeta struct {
	dictOff, dataOff int64 // relative; dictOff < 0 when no dictionary
	size             int64
	numValues        int64
	encodings        []int32
}

// Encode encodes g into e (reusing e's memory).
func (g *RowGroup) Encode(e *Encoded) {
	e.data = e.data[:0]
	e.rows = int64(g.rows)
	e.cols = e.cols[:0]
	for i := range g.bufs {
		e.cols = append(e.cols, g.enc.chunk(&e.data, &g.bufs[i], g.cols[i].Plain))
	}
}

// encodeChunk appends the pages of one column chunk to out.
func (en *encoder) chunk(out *[]byte, b *ColBuf, plain bool) chunkMeta {
	start := int64(len(*out))
	m := chunkMeta{dictOff: -1, numValues: int64(len(b.defs))}
	n := len(b.defs)
	nv := len(b.i64)
	if b.typ == String {
		nv = len(b.off)
	}

	// Definition levels: 4-byte length, then one RLE run or bit-packed groups.
	lv := en.levels[:0]
	lv = append(lv, 0, 0, 0, 0)
	switch {
	case nv == n:
		lv = binary.AppendUvarint(lv, uint64(n)<<1)
		lv = append(lv, 1)
	case nv == 0:
		lv = binary.AppendUvarint(lv, uint64(n)<<1)
		lv = append(lv, 0)
	default:
		groups := (n + 7) / 8
		lv = binary.AppendUvarint(lv, uint64(groups)<<1|1)
		for gi := 0; gi < groups; gi++ {
			var by byte
			for k := 0; k < 8 && gi*8+k < n; k++ {
				by |= b.defs[gi*8+k] << k
			}
			lv = append(lv, by)
		}
	}
	binary.LittleEndian.PutUint32(lv, uint32(len(lv)-4))

	// Try a dictionary for low-cardinality columns.
	var dictPage, values []byte
	enc := int32(encPlain)
	if !plain && b.typ != Bool && nv > 0 {
		if d, idx, ok := en.dictionary(b, nv); ok {
			dictPage = d.plain
			width := bits.Len(uint(max(d.n-1, 1)))
			values = append(values, byte(width))
			values = appendBitPacked(values, idx, width)
			enc = encPlainDict
			hdr := pageHeader(pageDict, len(dictPage), d.n, encPlainDict)
			m.dictOff = int64(len(*out)) - start
			*out = append(*out, hdr...)
			*out = append(*out, dictPage...)
		}
	}
	if enc == encPlain {
		values = plainValues(b, nv)
	}
	body := len(lv) + len(values)
	m.dataOff = int64(len(*out)) - start
	*out = append(*out, pageHeader(pageData, body, n, enc)...)
	*out = append(*out, lv...)
	*out = append(*out, values...)
	en.levels = lv
	m.size = int64(len(*out)) - start
	m.encodings = []int32{enc, encRLE}
	// Offsets are relative to the chunk; make them relative to data.
	if m.dictOff >= 0 {
		m.dictOff += start
	}
	m.dataOff += start
	return m
}

type dict struct {
	plain []byte
	n     int
}

// maxDict caps dictionary size; beyond it the column is written PLAIN.
const maxDict = 1 << 15

func (en *encoder) dictionary(b *ColBuf, nv int) (dict, []uint32, bool) {
	if cap(en.idx) < nv {
		en.idx = make([]uint32, nv)
	}
	idx := en.idx[:nv]
	var d dict
	if b.typ == String {
		if en.mstr == nil {
			en.mstr = make(map[string]uint32, 1024)
		}
		m := en.mstr
		clear(m)
		prev := int32(0)
		for i, end := range b.off {
			s := b.str[prev:end]
			prev = end
			k, ok := m[string(s)]
			if !ok {
				if len(m) >= maxDict || (len(m) > 64 && len(m) > nv/2) {
					return dict{}, nil, false
				}
				k = uint32(len(m))
				m[string(s)] = k
				d.plain = binary.LittleEndian.AppendUint32(d.plain, uint32(len(s)))
				d.plain = append(d.plain, s...)
			}
			idx[i] = k
		}
		d.n = len(m)
		return d, idx, true
	}
	if en.m64 == nil {
		en.m64 = make(map[int64]uint32, 1024)
	}
	m := en.m64
	clear(m)
	var last int64
	var lastK uint32
	for i, v := range b.i64 {
		if i > 0 && v == last { // runs are common (person_id, dates)
			idx[i] = lastK
			continue
		}
		k, ok := m[v]
		if !ok {
			if len(m) >= maxDict || (len(m) > 64 && len(m) > nv/2) {
				return dict{}, nil, false
			}
			k = uint32(len(m))
			m[v] = k
			d.plain = appendPlain(d.plain, b.typ, v)
		}
		idx[i] = k
		last, lastK = v, k
	}
	d.n = len(m)
	return d, idx, true
}

func appendPlain(out []byte, t Type, v int64) []byte {
	if t == Date {
		return binary.LittleEndian.AppendUint32(out, uint32(int32(v)))
	}
	return binary.LittleEndian.AppendUint64(out, uint64(v))
}

func plainValues(b *ColBuf, nv int) []byte {
	var out []byte
	switch b.typ {
	case String:
		prev := int32(0)
		for _, end := range b.off {
			out = binary.LittleEndian.AppendUint32(out, uint32(end-prev))
			out = append(out, b.str[prev:end]...)
			prev = end
		}
	case Bool:
		out = make([]byte, (nv+7)/8)
		for i, v := range b.i64 {
			if v != 0 {
				out[i/8] |= 1 << (i % 8)
			}
		}
	case Date:
		out = make([]byte, 0, 4*nv)
		for _, v := range b.i64 {
			out = binary.LittleEndian.AppendUint32(out, uint32(int32(v)))
		}
	default:
		out = make([]byte, 8*nv)
		for i, v := range b.i64 {
			binary.LittleEndian.PutUint64(out[8*i:], uint64(v))
		}
	}
	return out
}

// appendBitPacked writes vals as one bit-packed run of the RLE/bit-packing
// hybrid encoding (padded to a multiple of 8 values).
func appendBitPacked(out []byte, vals []uint32, width int) []byte {
	groups := (len(vals) + 7) / 8
	out = binary.AppendUvarint(out, uint64(groups)<<1|1)
	var acc uint64
	nb := 0
	for i := 0; i < groups*8; i++ {
		var v uint32
		if i < len(vals) {
			v = vals[i]
		}
		acc |= uint64(v) << nb
		nb += width
		for nb >= 8 {
			out = append(out, byte(acc))
			acc >>= 8
			nb -= 8
		}
	}
	if nb > 0 {
		out = append(out, byte(acc))
	}
	return out
}

func pageHeader(typ, size, numValues int, enc int32) []byte {
	w := &tw{}
	w.begin()
	w.i32(1, int32(typ))
	w.i32(2, int32(size))
	w.i32(3, int32(size))
	if typ == pageDict {
		w.structField(7)
		w.i32(1, int32(numValues))
		w.i32(2, enc)
		w.end()
	} else {
		w.structField(5)
		w.i32(1, int32(numValues))
		w.i32(2, enc)
		w.i32(3, encRLE)
		w.i32(4, encRLE)
		w.end()
	}
	w.end()
	return w.b
}

// Writer appends encoded row groups to a Parquet file.
type Writer struct {
	w      io.Writer
	cols   []Column
	off    int64
	groups []rowGroupMeta
	rows   int64
	err    error
}

type rowGroupMeta struct {
	rows  int64
	size  int64
	chunk []chunkMeta // absolute offsets
}

// NewWriter starts a Parquet file on w.
func NewWriter(w io.Writer, cols []Column) *Writer {
	pw := &Writer{w: w, cols: cols}
	pw.write([]byte("PAR1"))
	return pw
}

func (w *Writer) write(b []byte) {
	if w.err != nil {
		return
	}
	n, err := w.w.Write(b)
	w.off += int64(n)
	w.err = err
}

// Append writes an encoded row group (empty ones are skipped).
func (w *Writer) Append(e *Encoded) error {
	if e.rows == 0 {
		return w.err
	}
	if len(e.cols) != len(w.cols) {
		return errors.New("pq: row group has the wrong number of columns")
	}
	base := w.off
	g := rowGroupMeta{rows: e.rows, size: int64(len(e.data))}
	for _, c := range e.cols {
		c.dataOff += base
		if c.dictOff >= 0 {
			c.dictOff += base
		}
		g.chunk = append(g.chunk, c)
	}
	w.write(e.data)
	w.groups = append(w.groups, g)
	w.rows += e.rows
	return w.err
}

// Close writes the footer. It does not close the underlying writer.
func (w *Writer) Close() error {
	t := &tw{}
	t.begin()
	t.i32(1, 1)
	t.list(2, ctStruct, len(w.cols)+1)
	t.elemStruct()
	t.str(4, "schema")
	t.i32(5, int32(len(w.cols)))
	t.end()
	for _, c := range w.cols {
		t.elemStruct()
		t.i32(1, physical(c.Type))
		t.i32(3, 1) // OPTIONAL
		t.str(4, c.Name)
		switch c.Type {
		case String:
			t.i32(6, 0) // UTF8
			t.structField(10)
			t.structField(1) // STRING
			t.end()
			t.end()
		case Date:
			t.i32(6, 6) // DATE
			t.structField(10)
			t.structField(6) // DATE
			t.end()
			t.end()
		case Timestamp:
			t.structField(10)
			t.structField(8) // TIMESTAMP
			t.boolean(1, false)
			t.structField(2)
			t.structField(2) // MICROS
			t.end()
			t.end()
			t.end()
			t.end()
		}
		t.end()
	}
	t.i64(3, w.rows)
	t.list(4, ctStruct, len(w.groups))
	for _, g := range w.groups {
		t.elemStruct()
		t.list(1, ctStruct, len(g.chunk))
		for i, c := range g.chunk {
			t.elemStruct()
			first := c.dataOff
			if c.dictOff >= 0 {
				first = c.dictOff
			}
			t.i64(2, first)
			t.structField(3)
			t.i32(1, physical(w.cols[i].Type))
			t.list(2, ctI32, len(c.encodings))
			for _, e := range c.encodings {
				t.zigzag(int64(e))
			}
			t.list(3, ctBinary, 1)
			t.uvarint(uint64(len(w.cols[i].Name)))
			t.b = append(t.b, w.cols[i].Name...)
			t.i32(4, codecUncompressed)
			t.i64(5, c.numValues)
			t.i64(6, c.size)
			t.i64(7, c.size)
			t.i64(9, c.dataOff)
			if c.dictOff >= 0 {
				t.i64(11, c.dictOff)
			}
			t.end()
			t.end()
		}
		t.i64(2, g.size)
		t.i64(3, g.rows)
		t.end()
	}
	t.str(6, "enclave synth")
	t.end()
	w.write(t.b)
	var tail [8]byte
	binary.LittleEndian.PutUint32(tail[:], uint32(len(t.b)))
	copy(tail[4:], "PAR1")
	w.write(tail[:])
	if w.err != nil {
		return fmt.Errorf("pq: %w", w.err)
	}
	return nil
}
