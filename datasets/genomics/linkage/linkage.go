package linkage

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	mbits "math/bits"
	"os"
	"strconv"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"

	"enclave/datasets/genomics/plink"
)

// Table is a parsed linkage table.
type Table struct {
	Path   string
	person map[string]int64
}

// Read parses a linkage table.
func Read(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	t := &Table{Path: path, person: map[string]int64{}}
	line := 0
	sep := ","
	si, pi := -1, -1
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		if si < 0 {
			if !strings.Contains(text, ",") && strings.Contains(text, "\t") {
				sep = "\t"
			}
			for i, h := range strings.Split(text, sep) {
				switch strings.ToLower(strings.TrimSpace(h)) {
				case "sample_id":
					si = i
				case "person_id":
					pi = i
				}
			}
			if si < 0 || pi < 0 {
				return nil, fmt.Errorf("%s line %d: header %q must name sample_id and person_id", path, line, text)
			}
			continue
		}
		cols := strings.Split(text, sep)
		if len(cols) <= max(si, pi) {
			return nil, fmt.Errorf("%s line %d: %d columns, header has more", path, line, len(cols))
		}
		id := strings.TrimSpace(cols[si])
		pid, err := strconv.ParseInt(strings.TrimSpace(cols[pi]), 10, 64)
		if err != nil || pid < 0 || pid > math.MaxUint32 {
			return nil, fmt.Errorf("%s line %d: person_id %q is not an integer in [0, 2^32)", path, line, cols[pi])
		}
		if id == "" {
			return nil, fmt.Errorf("%s line %d: empty sample_id", path, line)
		}
		if _, dup := t.person[id]; dup {
			return nil, fmt.Errorf("%s line %d: sample_id %q listed twice", path, line, id)
		}
		t.person[id] = pid
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s line %d: %w", path, line+1, err)
	}
	if si < 0 {
		return nil, fmt.Errorf("%s: empty linkage table", path)
	}
	return t, nil
}

// Len is the number of linked samples.
func (t *Table) Len() int { return len(t.person) }

// Person returns the person_id of a sample id.
func (t *Table) Person(sampleID string) (int64, bool) {
	p, ok := t.person[sampleID]
	return p, ok
}

// Linked is a fileset's samples resolved to persons.
type Linked struct {
	// Person holds each sample's person_id, or -1 when it is not linked.
	Person []int64
	// Unlinked lists the sample ids (IID) without a person.
	Unlinked []string
}

// Link resolves samples by IID. With strict, any unlinked sample is an
// error naming it; otherwise unlinked samples are left out of every person
// set and listed in Unlinked.
func (t *Table) Link(samples []plink.Sample, strict bool) (*Linked, error) {
	l := &Linked{Person: make([]int64, len(samples))}
	for i, s := range samples {
		p, ok := t.person[s.IID]
		if !ok {
			if strict {
				return nil, fmt.Errorf("%s: sample %q (genotype sample %d) has no person_id", t.Path, s.IID, i+1)
			}
			p = -1
			l.Unlinked = append(l.Unlinked, s.IID)
		}
		l.Person[i] = p
	}
	return l, nil
}

// personSet collects the persons of the samples whose bit 2(i%32) is set
// in sel(word) over the row's 64-bit words.
func (l *Linked) personSet(row []byte, sel func(w uint64) uint64) *roaring.Bitmap {
	n := len(l.Person)
	ids := make([]uint32, 0, 64)
	bm := roaring.New()
	for k := 0; 32*k < n; k++ {
		var w uint64
		if 8*k+8 <= len(row) {
			w = binary.LittleEndian.Uint64(row[8*k:])
		} else {
			var buf [8]byte
			copy(buf[:], row[8*k:])
			w = binary.LittleEndian.Uint64(buf[:])
		}
		bits := sel(w) & 0x5555555555555555
		for bits != 0 {
			i := 32*k + mbits.TrailingZeros64(bits)/2
			bits &= bits - 1
			if i >= n || l.Person[i] < 0 {
				continue
			}
			ids = append(ids, uint32(l.Person[i]))
			if len(ids) == cap(ids) {
				bm.AddMany(ids)
				ids = ids[:0]
			}
		}
	}
	bm.AddMany(ids)
	return bm
}

// Carriers returns the persons carrying at least one ALT (A1) allele in a
// packed row: genotype codes 00 and 10, whose low bit is clear.
func (l *Linked) Carriers(row []byte) *roaring.Bitmap {
	return l.personSet(row, func(w uint64) uint64 { return ^w })
}

// NonMissing returns the persons with a called genotype (code ≠ 01).
func (l *Linked) NonMissing(row []byte) *roaring.Bitmap {
	return l.personSet(row, func(w uint64) uint64 { return ^(w &^ (w >> 1)) })
}

// HomAlt returns the persons homozygous for ALT (code 00).
func (l *Linked) HomAlt(row []byte) *roaring.Bitmap {
	return l.personSet(row, func(w uint64) uint64 { return ^w &^ (w >> 1) })
}

// PersonSets returns, for variant v of fs, the persons carrying an ALT
// allele and the persons with a called genotype: the numerator and
// denominator populations of its allele-frequency cell.
func (l *Linked) PersonSets(fs *plink.Fileset, v int) (carriers, nonMissing *roaring.Bitmap) {
	row := fs.Row(v)
	return l.Carriers(row), l.NonMissing(row)
}
