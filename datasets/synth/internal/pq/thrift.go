package pq

import "encoding/binary"

// Thrift compact protocol, just enough to write Parquet page headers and the
// file footer.
const (
	ctTrue   = 1
	ctFalse  = 2
	ctI32    = 5
	ctI64    = 6
	ctBinary = 8
	ctList   = 9
	ctStruct = 12
)

type tw struct {
	b    []byte
	last []int16 // last field id per open struct
}

func (w *tw) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *tw) zigzag(v int64)   { w.uvarint(uint64((v << 1) ^ (v >> 63))) }

func (w *tw) field(id int16, typ byte) {
	last := &w.last[len(w.last)-1]
	if d := id - *last; d > 0 && d <= 15 {
		w.b = append(w.b, byte(d)<<4|typ)
	} else {
		w.b = append(w.b, typ)
		w.zigzag(int64(id))
	}
	*last = id
}

func (w *tw) begin()                { w.last = append(w.last, 0) }
func (w *tw) end()                  { w.b = append(w.b, 0); w.last = w.last[:len(w.last)-1] }
func (w *tw) i32(id int16, v int32) { w.field(id, ctI32); w.zigzag(int64(v)) }
func (w *tw) i64(id int16, v int64) { w.field(id, ctI64); w.zigzag(v) }
func (w *tw) str(id int16, s string) {
	w.field(id, ctBinary)
	w.uvarint(uint64(len(s)))
	w.b = append(w.b, s...)
}
func (w *tw) boolean(id int16, v bool) {
	if v {
		w.field(id, ctTrue)
	} else {
		w.field(id, ctFalse)
	}
}

// structField opens a nested struct field; close it with end.
func (w *tw) structField(id int16) { w.field(id, ctStruct); w.begin() }

// list writes a list header of n elements of type typ.
func (w *tw) list(id int16, typ byte, n int) {
	w.field(id, ctList)
	if n < 15 {
		w.b = append(w.b, byte(n)<<4|typ)
	} else {
		w.b = append(w.b, 0xf0|typ)
		w.uvarint(uint64(n))
	}
}

// elemStruct opens a struct that is a list element.
func (w *tw) elemStruct() { w.begin() }
