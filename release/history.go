package release

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"enclave/api/spec"
)

// SetSource rebuilds the person set of a cell from its plan. The data of a
// workspace's tier is immutable, so a plan always gives the same set.
type SetSource interface {
	PersonSet(ctx context.Context, plan []byte) (*roaring.Bitmap, error)
}

// Record is one released cell in the workspace's release history: its
// size, what it was and how to rebuild its person set. It holds no data
// value beyond the released size, but for a smoothed quantile's window
// (Window), whose persons and shown value it holds, and the persons of a
// small row-level statistic (Persons; see windows.go).
type Record struct {
	Size    int64           `json:"n"`
	Desc    string          `json:"desc"`
	Plan    json.RawMessage `json:"plan"`
	Session string          `json:"session,omitempty"`
	Time    time.Time       `json:"time"`
	// Parts are the partitions the cell belongs to (count cells only).
	Parts []Partition `json:"parts,omitempty"`
	// Quantity and RowCount are those of a row-level statistic
	// (Cell.Quantity): its persons are Plan's, and it was computed from
	// RowCount rows of Quantity.
	Quantity string `json:"qty,omitempty"`
	RowCount int64  `json:"rows,omitempty"`
	// Source is the row-level statistic's Cell.Source, if any.
	Source json.RawMessage `json:"src,omitempty"`
	// Table is the statistic's Cell.Table, if any.
	Table string `json:"tbl,omitempty"`
	// Concepts are the statistic's Cell.Concepts, if any.
	Concepts []int64 `json:"cc,omitempty"`
	// Small marks a count shown as ≤20: no number was released, but a
	// later count nested with it and 1..MinCount−1 persons away would give
	// it (≤20 women of a race, then 21 with one man added, was 20). Only
	// the nested check reads these records.
	Small bool `json:"small,omitempty"`
	// Window is the persons of a released smoothed quantile's window
	// (Cell.Window), and Value the value it showed. Such a record is
	// read by the window rule alone (judgeWindows).
	Window []uint32 `json:"win,omitempty"`
	Value  *float64 `json:"val,omitempty"`
	// Persons is, for a row-level statistic of at most smallStat
	// persons, who they are: windows are compared with them (see
	// windows.go).
	Persons []uint32 `json:"ids,omitempty"`
}

// key is the record's identity in the history.
func (r *Record) key() string {
	if len(r.Window) > 0 {
		return windowKey(r)
	}
	return keyOf(r).String()
}

// partitionState is what the history knows of one partition group.
type partitionState struct {
	total    int64
	hasTotal bool
	parts    map[string]int64
}

// History is the workspace's history of released cells, shared by every
// kernel of every member of the workspace: an append-only JSON-lines file
// read incrementally and written under an exclusive file lock, so that two
// notebooks cannot each release one half of a differencing pair.
type History struct {
	session string

	mu    sync.Mutex
	files []*historyFile
	recs  []Record // every record read, in file order
	order []int32  // indexes of recs sorted by Size
	seen  map[string]bool
	parts map[string]*partitionState // by Partition.Group
	byQty map[qtySize][]int32        // records of row-level statistics, by Quantity and size
	// rowSizes indexes those with a Source by quantity and size, for
	// rowPairs.
	rowSizes map[string]*rowIndex
	// byLevel is the released counts (isCount) naming each partition
	// level, in the order released, for the count audit (levelPlans).
	byLevel map[string][]int32
	cache   *setCache
	// The atoms of the last combined audit's same-result plans, refined
	// from base sameOf (see combined).
	sameOf    *atoms
	samePlans [][]byte
	sameAtoms atoms
	// base is the atoms of the sets of the audit window of the first
	// baseLen records (see combined).
	base    *atoms
	baseLen int
	// window is the plans of that audit window, for the first windowLen
	// records (see auditWindow).
	window    [][]byte
	windowLen int
	// counts is the indexes of the released counts (not small, not
	// row-level) in size order, as order is of all records: pairs reads it.
	counts []int32
	// windows is the released smoothed quantiles' windows.
	windows windowIndex
}

// historyFile is one file a History reads and appends to.
type historyFile struct {
	path string
	f    *os.File
	off  int64 // bytes of the file already read
}

// OpenHistory opens (creating if needed, mode 0600) the history file at
// path, and the further files of more; session labels the records this
// kernel adds. Every file's records are judged against, as one history,
// and every record is appended to each file. A workspace's kernels share
// its file; a researcher's kernels in all their workspaces over the same
// data share a second one, so that two workspaces cannot each release
// one half of a differencing pair.
func OpenHistory(path, session string, more ...string) (*History, error) {
	h := &History{session: session, seen: map[string]bool{}, parts: map[string]*partitionState{}, byQty: map[qtySize][]int32{},
		rowSizes: map[string]*rowIndex{}, byLevel: map[string][]int32{}, cache: newSetCache(256)}
	for _, p := range append([]string{path}, more...) {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			h.Close()
			return nil, fmt.Errorf("release: history: %w", err)
		}
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			h.Close()
			return nil, fmt.Errorf("release: history: %w", err)
		}
		h.files = append(h.files, &historyFile{path: p, f: f})
	}
	if err := h.lock(syscall.LOCK_SH); err != nil {
		h.Close()
		return nil, err
	}
	err := h.refresh()
	h.unlock()
	if err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// Close closes the history files.
func (h *History) Close() error {
	var first error
	for _, hf := range h.files {
		if err := hf.f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Len is the number of records known.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.recs)
}

// lock takes the files' locks in their order (the workspace's first,
// then the researcher's: no two kernels wait for each other in a cycle).
func (h *History) lock(how int) error {
	for i, hf := range h.files {
		for {
			err := syscall.Flock(int(hf.f.Fd()), how)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				for _, held := range h.files[:i] {
					syscall.Flock(int(held.f.Fd()), syscall.LOCK_UN)
				}
				return fmt.Errorf("release: lock history: %w", err)
			}
			break
		}
	}
	return nil
}

func (h *History) unlock() {
	for _, hf := range h.files {
		syscall.Flock(int(hf.f.Fd()), syscall.LOCK_UN)
	}
}

// refresh reads the records other kernels appended since the last read.
// The caller holds the files' locks. A record already known (the same
// set, written to both files) is read once.
func (h *History) refresh() error {
	defer h.index(len(h.recs))
	for _, hf := range h.files {
		if err := h.refreshFile(hf); err != nil {
			return err
		}
	}
	return nil
}

func (h *History) refreshFile(hf *historyFile) error {
	fi, err := hf.f.Stat()
	if err != nil {
		return fmt.Errorf("release: history: %w", err)
	}
	if fi.Size() <= hf.off {
		return nil
	}
	r := bufio.NewReaderSize(io.NewSectionReader(hf.f, hf.off, fi.Size()-hf.off), 1<<16)
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			return nil // a partial last line is read again next time
		}
		if err != nil {
			return fmt.Errorf("release: history: %w", err)
		}
		hf.off += int64(len(line))
		var rec Record
		if json.Unmarshal(bytes.TrimSpace(line), &rec) != nil {
			return fmt.Errorf("release: history %s is corrupt at byte %d", hf.path, hf.off-int64(len(line)))
		}
		key := rec.key()
		if h.seen[key] {
			continue
		}
		h.seen[key] = true
		if h.windows.add(&rec); len(rec.Window) > 0 {
			continue
		}
		h.notePartitions(rec)
		h.noteQuantity(rec, int32(len(h.recs)))
		h.noteLevels(rec, int32(len(h.recs)))
		h.recs = append(h.recs, rec) // indexed by the deferred h.index
	}
}

// appendAll appends buf (whole records) to every file.
func (h *History) appendAll(buf []byte) error {
	for _, hf := range h.files {
		// Under the exclusive lock nobody is writing: bytes past the
		// last complete line are a record a crashed or failed write left
		// unfinished, never released. Cut them, or the next line would
		// be glued to them.
		if fi, err := hf.f.Stat(); err != nil {
			return fmt.Errorf("release: history: %w", err)
		} else if fi.Size() > hf.off {
			if err := hf.f.Truncate(hf.off); err != nil {
				return fmt.Errorf("release: history: %w", err)
			}
		}
		if _, err := hf.f.Write(buf); err != nil {
			return fmt.Errorf("release: history: %w", err)
		}
		if err := hf.f.Sync(); err != nil {
			return fmt.Errorf("release: history: %w", err)
		}
		hf.off += int64(len(buf))
	}
	return nil
}

// add inserts rec into the in-memory index.
func (h *History) add(rec Record) {
	h.seen[rec.key()] = true
	if h.windows.add(&rec); len(rec.Window) > 0 {
		return
	}
	h.notePartitions(rec)
	h.noteQuantity(rec, int32(len(h.recs)))
	h.noteLevels(rec, int32(len(h.recs)))
	h.recs = append(h.recs, rec)
	h.insert(int32(len(h.recs) - 1))
}

// qtySize keys the row-level statistics of one quantity and person count.
type qtySize struct {
	qty  string
	size int64
}

// noteLevels indexes record i (rec), a released count, by the levels of
// its partitions.
func (h *History) noteLevels(rec Record, i int32) {
	if !rec.isCount() {
		return
	}
	for l := range levelsOf(rec.Parts) {
		h.byLevel[l] = append(h.byLevel[l], i)
	}
}

// noteQuantity indexes record i (rec) by its quantity, if it has one.
func (h *History) noteQuantity(rec Record, i int32) {
	if rec.Quantity != "" {
		key := qtySize{rec.Quantity, rec.Size}
		h.byQty[key] = append(h.byQty[key], i)
		if partitionable(rec.Source) {
			ri := h.rowSizes[rec.Quantity]
			if ri == nil {
				ri = &rowIndex{bySize: map[int64][]int32{}}
				h.rowSizes[rec.Quantity] = ri
			}
			ri.add(rec.Size, i)
		}
	}
}

// notePartitions records a released count in its partition groups.
func (h *History) notePartitions(rec Record) {
	for _, p := range rec.Parts {
		st := h.parts[p.Group]
		if st == nil {
			st = &partitionState{parts: map[string]int64{}}
			h.parts[p.Group] = st
		}
		if p.Level == "" {
			st.total, st.hasTotal = rec.Size, true
		} else {
			st.parts[p.Level] = rec.Size
		}
	}
}

// remainderSmall reports whether releasing c, together with the other
// released cells of d, leaves a partition group with a remainder (its
// total less its released parts) of 1..limit persons.
func (h *History) remainderSmall(c *Cell, d *Decision, limit int64) bool {
	for _, p := range c.Partitions {
		st := h.parts[p.Group]
		total, hasTotal := int64(0), false
		parts := map[string]int64{}
		if st != nil {
			total, hasTotal = st.total, st.hasTotal
			for l, n := range st.parts {
				parts[l] = n
			}
		}
		for _, o := range d.Cells {
			if o.Suppressed() || o.Stat != Count {
				continue
			}
			for _, q := range o.Partitions {
				if q.Group != p.Group {
					continue
				}
				if q.Level == "" {
					total, hasTotal = o.Persons, true
				} else {
					parts[q.Level] = o.Persons
				}
			}
		}
		if !hasTotal || len(parts) == 0 {
			continue
		}
		rest := total
		for _, n := range parts {
			rest -= n
		}
		if rest > 0 && rest <= limit {
			return true
		}
	}
	return false
}

// index adds recs[from:] to order: one at a time when they are few, else
// by sorting once (inserting 100,000 records one at a time is quadratic).
func (h *History) index(from int) {
	if len(h.recs)-from <= 64 {
		for i := from; i < len(h.recs); i++ {
			h.insert(int32(i))
		}
		return
	}
	for i := from; i < len(h.recs); i++ {
		h.order = append(h.order, int32(i))
	}
	// Stable: records of equal size stay in file order, as insert keeps them.
	slices.SortStableFunc(h.order, func(a, b int32) int { return cmp.Compare(h.recs[a].Size, h.recs[b].Size) })
	h.counts = h.counts[:0]
	for _, i := range h.order {
		if h.recs[i].isCount() {
			h.counts = append(h.counts, i)
		}
	}
}

// isCount reports whether r is a released count (not a count shown as
// ≤20, not a row-level statistic).
func (r *Record) isCount() bool { return r.Quantity == "" && !r.Small }

// insert puts recs[i] into order (and counts) after the records of its
// size or smaller.
func (h *History) insert(i int32) {
	rec := &h.recs[i]
	h.order = insertBySize(h.recs, h.order, i, rec.Size)
	if rec.isCount() {
		h.counts = insertBySize(h.recs, h.counts, i, rec.Size)
	}
}

func insertBySize(recs []Record, list []int32, i int32, size int64) []int32 {
	at := sort.Search(len(list), func(j int) bool { return recs[list[j]].Size > size })
	list = append(list, 0)
	copy(list[at+1:], list[at:])
	list[at] = i
	return list
}

// neighbours calls f for every record whose size differs from n by 1..d,
// or by 0..d when equal is set.
func (h *History) neighbours(n, d int64, equal bool, f func(*Record) (stop bool, err error)) error {
	lo := sort.Search(len(h.order), func(j int) bool { return h.recs[h.order[j]].Size >= n-d })
	for j := lo; j < len(h.order); j++ {
		r := &h.recs[h.order[j]]
		if r.Size > n+d {
			break
		}
		if r.Quantity != "" || r.Size == n && !equal {
			continue // row-level statistics: see rowsNear; nested sets of equal size are equal
		}
		if stop, err := f(r); stop || err != nil {
			return err
		}
	}
	return nil
}

// judge suppresses the cells of d that are nested with a released cell
// (in the history, or earlier in d) or a count shown as ≤20 (in the
// history) and differ from it by 1..MinCount-1 persons, calling resuppress
// after each round that suppressed something, and then appends d's
// released cells and its counts shown as ≤20 to the history, all under one
// exclusive lock.
func (h *History) judge(ctx context.Context, p Policy, d *Decision, sets SetSource, resuppress func()) error {
	return h.exclusive(func() error { return h.judgeLocked(ctx, p, d, sets, resuppress) })
}

// exclusive runs fn with the history up to date and no other writer, in
// this process or another.
func (h *History) exclusive(fn func() error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.lock(syscall.LOCK_EX); err != nil {
		return err
	}
	defer h.unlock()
	if err := h.refresh(); err != nil {
		return err
	}
	return fn()
}

func (h *History) judgeLocked(ctx context.Context, p Policy, d *Decision, sets SetSource, resuppress func()) error {
	limit := int64(p.MinCount - 1)
	// againstHistory is set once a cell is hidden for what earlier
	// releases show: then the cells whose persons were released before
	// are hidden too, or which cells stayed as they were and which were
	// hidden would say which of them a person added to (or taken from) a
	// large group falls in (a histogram of BMI with one person added hid
	// exactly the bins of their readings).
	againstHistory := false
	withinResult := false      // a cell was hidden against the result's own
	valued := map[*Cell]bool{} // cells a value other than a count follows
	small, hid, err := h.judgeWindows(ctx, d, limit, sets)
	if err != nil {
		return err
	}
	if hid {
		resuppress()
	}
	for _, c := range d.Cells {
		if c.Of != nil && c.Stat != Count {
			valued[c.Of] = true
		}
	}
	for {
		changed := false
		for i, c := range d.Cells {
			k, ok := setOf(c)
			if !ok || h.released(k) {
				continue
			}
			var bad, via bool
			var err error
			if k.qty != "" {
				if bad, via, err = h.rowsNear(ctx, k, d.Cells[:i], sets); err == nil && !bad {
					if bad, err = h.rowSpan(ctx, k, d.Cells[:i], sets); err == nil && !bad {
						bad, err = h.rowPairs(ctx, k, d.Cells[:i], sets)
					}
					via = bad
				}
			} else if bad, via, err = h.nested(ctx, k, d.Cells[:i], limit, sets, valued[c]); err == nil && !bad {
				// The audit's sets include the history's; beyond its
				// window, pairs of parts are looked for in all of it.
				if bad, err = h.combined(ctx, c, d.Cells[:i], limit, sets); err == nil && !bad {
					bad, err = h.pairs(ctx, k, limit, sets)
				}
				via = bad
			}
			if err != nil {
				return err
			}
			if bad {
				c.Status = spec.Difference
				changed = true
				againstHistory = againstHistory || via
				withinResult = withinResult || !via
			}
		}
		// Hidden against the result's own cells (a Compare group of A and
		// one of A with T added): the result's cells whose persons an
		// earlier cell of it shows are hidden too, or which of the second
		// group's cells stayed as the first's and which were hidden would
		// tell T's race and ethnicity (review 34).
		if withinResult {
			for i, c := range d.Cells {
				if c.Suppressed() {
					continue
				}
				same, err := h.shownBefore(ctx, c, d.Cells[:i], sets)
				if err != nil {
					return err
				}
				if same {
					c.Status = spec.Difference
					changed = true
				}
			}
		}
		// Partitions: a count that, with what is released, leaves a small
		// remainder of a partition is hidden too.
		for _, c := range d.Cells {
			if c.Suppressed() || c.Stat != Count || len(c.Partitions) == 0 {
				continue
			}
			if h.remainderSmall(c, d, limit) {
				c.Status = spec.Difference
				changed = true
				againstHistory = true
			}
		}
		if againstHistory {
			for _, c := range d.Cells {
				k, ok := setOf(c)
				if !ok || k.qty != "" || h.released(k) {
					continue
				}
				same, err := h.unchanged(ctx, k, sets)
				if err != nil {
					return err
				}
				if same {
					c.Status = spec.Difference
					changed = true
				}
			}
		}
		if !changed {
			break
		}
		resuppress()
	}
	if d.Held {
		return nil
	}
	buf, err := h.encode(d.Cells, small)
	if err != nil || len(buf) == 0 {
		return err
	}
	return h.commit(buf)
}

// encode is the history lines of the released cells of a decision that
// the history does not hold yet; persons holds those of its row-level
// statistics of at most smallStat persons (judgeWindows).
func (h *History) encode(cells []*Cell, persons map[*Cell]*roaring.Bitmap) ([]byte, error) {
	var buf bytes.Buffer
	// The plan is stored compact and unescaped, as it is keyed in memory,
	// so that it reads back byte for byte.
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	now := time.Now().UTC()
	keys := map[string]bool{}
	for _, c := range cells {
		k, ok := setOf(c)
		small := !ok && c.Status == spec.Small && c.Stat == Count && c.Persons > 0 && c.Plan != nil
		if small {
			k, ok = setKey{size: c.Persons, plan: c.Plan}, true
		}
		if !ok {
			continue
		}
		var plan bytes.Buffer
		if err := json.Compact(&plan, k.plan); err != nil {
			return nil, fmt.Errorf("release: history: the plan of %q is not JSON: %w", c.Desc, err)
		}
		key := k
		key.plan = plan.Bytes()
		if h.seen[key.String()] || keys[key.String()] {
			continue
		}
		keys[key.String()] = true
		rec := Record{Size: k.size, Desc: c.Desc, Plan: plan.Bytes(), Session: h.session, Time: now, Quantity: k.qty, RowCount: k.rows, Source: k.src, Table: k.table, Concepts: k.concepts, Small: small}
		if c.Stat == Count && !small {
			rec.Parts = c.Partitions
		}
		if bm := persons[c]; bm != nil && !c.Suppressed() {
			rec.Persons = bm.ToArray()
		}
		if err := enc.Encode(rec); err != nil { // one line, with its newline
			return nil, fmt.Errorf("release: history: %w", err)
		}
	}
	for _, rec := range windowRecords(cells) {
		k := rec.key()
		if h.seen[k] || keys[k] {
			continue
		}
		keys[k] = true
		rec.Time, rec.Session = now, h.session
		if err := enc.Encode(rec); err != nil {
			return nil, fmt.Errorf("release: history: %w", err)
		}
	}
	return buf.Bytes(), nil
}

// commit appends history lines (encode's) to the files and the index,
// under the exclusive lock; those the history holds already are skipped.
func (h *History) commit(lines []byte) error {
	var buf bytes.Buffer
	var added []Record
	for line := range bytes.Lines(lines) {
		var r Record
		if err := json.Unmarshal(line, &r); err != nil || r.Size <= 0 || len(r.Plan) == 0 && len(r.Window) == 0 {
			return fmt.Errorf("release: history: a record to add is not one: %.80q", line)
		}
		k := r.key()
		if h.seen[k] {
			continue
		}
		h.seen[k] = true
		buf.Write(bytes.TrimRight(line, "\n"))
		buf.WriteByte('\n')
		added = append(added, r)
	}
	if buf.Len() == 0 {
		return nil
	}
	if err := h.appendAll(buf.Bytes()); err != nil {
		for _, r := range added {
			delete(h.seen, r.key())
		}
		return err
	}
	for _, r := range added {
		delete(h.seen, r.key()) // add sets it again
		h.add(r)
	}
	return nil
}

// setKey is what differencing compares of a cell: the size and plan of
// its person set and, for a row-level statistic, its quantity and rows.
type setKey struct {
	size int64
	plan []byte
	qty  string
	rows int64
	src  []byte // compact JSON, as the history stores it
	// table is the statistic's Cell.Table.
	table string
	// concepts are the statistic's Cell.Concepts (not part of its
	// identity: its Source says which rows).
	concepts []int64
}

// String is the key's identity in the history (records are compared by
// it: the same set released again is recorded once).
func (k setKey) String() string {
	if k.qty == "" {
		return fmt.Sprintf("%d|%s", k.size, k.plan)
	}
	return fmt.Sprintf("%d|%s|%s|%d|%s|%s", k.size, k.plan, k.qty, k.rows, k.src, k.table)
}

// keyOf is the key of a history record.
func keyOf(r *Record) setKey {
	return setKey{r.Size, r.Plan, r.Quantity, r.RowCount, r.Source, r.Table, r.Concepts}
}

// apart reports whether two row-level statistics read rows of different
// tables (both known).
func apart(a, b string) bool { return a != "" && b != "" && a != b }

// disjoint reports whether two row-level statistics' concepts (Cell.
// Concepts) are both known and share none: their rows share none.
func disjoint(a, b []int64) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	for _, x := range a {
		if slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// setOf is c's set for differencing; ok is false when c is not differenced
// (suppressed, no plan, nobody). A row-level statistic's key is checked
// against row-level statistics only (rowsNear): its persons are released,
// and differenced, by the result's persons cell where they are shown at
// all (a histogram's rows in range are not shown).
func setOf(c *Cell) (k setKey, ok bool) {
	if c.Suppressed() || c.Persons == 0 || c.Plan == nil {
		return k, false
	}
	k = setKey{size: c.Persons, plan: c.Plan}
	if c.Quantity != "" && c.RowCount > 0 {
		k.qty, k.rows, k.table, k.concepts = c.Quantity, c.RowCount, c.Table, c.Concepts
		if len(c.Source) > 0 {
			var src bytes.Buffer
			if json.Compact(&src, c.Source) != nil {
				return k, true // not JSON: compared as having no Source
			}
			k.src = src.Bytes()
		}
	}
	return k, true
}

// released reports whether k is in the history already: a result run
// again. What it releases was released before, so the checks are skipped.
func (h *History) released(k setKey) bool {
	var plan bytes.Buffer
	if json.Compact(&plan, k.plan) != nil {
		return false
	}
	k.plan = plan.Bytes()
	return h.seen[k.String()]
}

// sameSet reports whether plans a and b give the same person set.
func (h *History) sameSet(ctx context.Context, sets SetSource, a, b []byte) (bool, error) {
	if string(a) == string(b) {
		return true, nil
	}
	x, err := h.cache.get(ctx, sets, a)
	if err != nil {
		return false, err
	}
	y, err := h.cache.get(ctx, sets, b)
	if err != nil {
		return false, err
	}
	n := x.GetCardinality()
	return n == y.GetCardinality() && x.AndCardinality(y) == n, nil
}

// rowsNear reports whether row-level statistic k has a released twin: the
// same quantity over the same persons (in the history or earlier in the
// decision) by another plan. Other rows of the same persons, however many,
// may all be one person's (a day of minute-level heart rate is 1,400 rows;
// a person picked by a subquery with one diagnosis more): without the rows
// themselves the persons they belong to are unknown. And the decision may
// not depend on whether the rows differ, or hiding would itself say that
// the picked person has the diagnosis: so another plan over the same
// persons is hidden even when its rows are as many. (A result run again,
// the same plan, is released as before: see released; and so is one
// whose rows the same Source defines, see Cell.Source, while another
// Source is other rows even by the same plan.) Sets are built
// only for records of that quantity and person count.
func (h *History) rowsNear(ctx context.Context, k setKey, earlier []*Cell, sets SetSource) (bad, viaHistory bool, err error) {
	var mine bytes.Buffer
	if err := json.Compact(&mine, k.plan); err != nil {
		return false, false, fmt.Errorf("release: history: a plan is not JSON: %w", err)
	}
	near := func(qty string, size int64, plan, src []byte, table string, concepts []int64) bool {
		if qty != k.qty || size != k.size || apart(table, k.table) || disjoint(concepts, k.concepts) {
			return false
		}
		if len(k.src) > 0 && len(src) > 0 {
			// The same rows of the same persons whatever the plan, or
			// other rows of them even by the same plan (a model's ages
			// on another date).
			return !bytes.Equal(src, k.src)
		}
		var p bytes.Buffer
		return json.Compact(&p, plan) != nil || !bytes.Equal(p.Bytes(), mine.Bytes())
	}
	for _, i := range h.byQty[qtySize{k.qty, k.size}] {
		r := &h.recs[i]
		if !near(r.Quantity, r.Size, r.Plan, r.Source, r.Table, r.Concepts) {
			continue
		}
		if same, err := h.sameSet(ctx, sets, k.plan, r.Plan); err != nil || same {
			return same, same, err
		}
	}
	for _, e := range earlier {
		ek, ok := setOf(e)
		if !ok || !near(ek.qty, ek.size, ek.plan, ek.src, ek.table, ek.concepts) {
			continue
		}
		if same, err := h.sameSet(ctx, sets, k.plan, ek.plan); err != nil || same {
			return same, false, err
		}
	}
	return false, false, nil
}

// shownBefore reports whether count c's person set is that of a released
// earlier cell of its result, by another plan.
func (h *History) shownBefore(ctx context.Context, c *Cell, earlier []*Cell, sets SetSource) (bool, error) {
	k, ok := setOf(c)
	if !ok || k.qty != "" {
		return false, nil
	}
	for _, e := range earlier {
		ek, ok := setOf(e)
		if !ok || ek.qty != "" || ek.size != k.size || bytes.Equal(ek.plan, k.plan) {
			continue
		}
		if same, err := h.sameSet(ctx, sets, k.plan, ek.plan); err != nil || same {
			return same, err
		}
	}
	return false, nil
}

// unchanged reports whether count k's person set is a history record's,
// reached by another plan: the same persons released before.
func (h *History) unchanged(ctx context.Context, k setKey, sets SetSource) (bool, error) {
	lo := sort.Search(len(h.order), func(j int) bool { return h.recs[h.order[j]].Size >= k.size })
	for j := lo; j < len(h.order); j++ {
		r := &h.recs[h.order[j]]
		if r.Size != k.size {
			break
		}
		if r.Quantity != "" || r.Small {
			continue
		}
		if same, err := h.sameSet(ctx, sets, k.plan, r.Plan); err != nil || same {
			return same, err
		}
	}
	return false, nil
}

// nested reports whether person set k is nested with the set of a history
// record or of an earlier released cell of the same decision, differing by
// 1..limit persons. With swaps (a set that values such as a mean follow),
// sets that differ by 1..limit persons in all, counting both ways, count
// too: B with one person, then B with another instead, gives the
// difference of their values (21 such pairs over other B's, and the
// swapped-in persons' total, gave a person's BMI, review 28); two counts
// alone do not. Sets are built only for near neighbours by size.
func (h *History) nested(ctx context.Context, k setKey, earlier []*Cell, limit int64, sets SetSource, swaps bool) (bad, viaHistory bool, err error) {
	var mine *roaring.Bitmap
	check := func(plan []byte) (bool, error) {
		if string(plan) == string(k.plan) {
			return false, nil
		}
		if mine == nil {
			var err error
			if mine, err = h.cache.get(ctx, sets, k.plan); err != nil {
				return false, err
			}
		}
		other, err := h.cache.get(ctx, sets, plan)
		if err != nil {
			return false, err
		}
		inter := mine.AndCardinality(other)
		a, b := int64(mine.GetCardinality()), int64(other.GetCardinality())
		diff := a + b - 2*int64(inter)
		nestedSets := inter == uint64(a) || inter == uint64(b)
		return (nestedSets || swaps) && diff > 0 && diff <= limit, nil
	}
	found := false
	err = h.neighbours(k.size, limit, swaps, func(r *Record) (bool, error) {
		bad, err := check(r.Plan)
		found = bad
		return bad, err
	})
	if err != nil || found {
		return found, found, err
	}
	for _, e := range earlier {
		ek, ok := setOf(e)
		if !ok || ek.qty != "" || ek.size == k.size && !swaps {
			continue
		}
		if d := ek.size - k.size; d < -limit || d > limit {
			continue
		}
		if bad, err := check(ek.plan); err != nil || bad {
			return bad, false, err
		}
	}
	return false, false, nil
}

// auditWindow is the plans of the history records the combined audit
// takes: the most recent; the first auditPerTable of each of the last
// auditResults results (a result's records share their session and
// time), so that one large table cannot push the rest out (a %sql table
// of 200 groups, released between the sides of a triangle — A∪T, A∪G,
// then G∪T — pushed the first two out, review 29); and the largest,
// however old: totals ("all persons", a whole cohort) are what parts are
// subtracted from.
func (h *History) auditWindow() [][]byte {
	var plans [][]byte
	seen := map[string]bool{}
	add := func(r *Record) bool {
		if r.Quantity != "" || r.Small || seen[string(r.Plan)] {
			return false
		}
		seen[string(r.Plan)] = true
		plans = append(plans, r.Plan)
		return true
	}
	for i, n := len(h.recs)-1, 0; i >= 0 && n < auditWindow; i-- {
		if add(&h.recs[i]) {
			n++
		}
	}
	for i, results := len(h.recs)-1, 0; i >= 0 && results < auditResults; results++ {
		end, r := i, &h.recs[i]
		for i >= 0 && h.recs[i].Session == r.Session && h.recs[i].Time.Equal(r.Time) {
			i--
		}
		for k, taken := i+1, 0; k <= end && taken < auditPerTable; k++ {
			if add(&h.recs[k]) {
				taken++
			}
		}
	}
	for j, n := len(h.order)-1, 0; j >= 0 && n < auditLargest; j-- {
		if add(&h.recs[h.order[j]]) {
			n++
		}
	}
	return plans
}

// combined reports whether c, with the same result's earlier released
// cells and the workspace's recent and largest releases, lets a small
// group be computed by adding and subtracting counts (see combine.go).
// The atoms of the history's sets are kept while the history is
// unchanged, so each cell of a result splits them only by its own sets.
func (h *History) combined(ctx context.Context, c *Cell, earlier []*Cell, limit int64, sets SetSource) (bool, error) {
	if h.windowLen != h.recordCount() || h.window == nil {
		h.window, h.windowLen = append(h.auditWindow(), h.windows.audit()...), h.recordCount()
	}
	var plans [][]byte
	seen := map[string]bool{string(c.Plan): true}
	add := func(plan []byte) {
		if !seen[string(plan)] {
			seen[string(plan)] = true
			plans = append(plans, plan)
		}
	}
	for _, p := range h.window {
		add(p)
	}
	fromHistory := len(plans)
	// The same result's cells, the first auditSameCell of them: each
	// cell's list is the one before plus at most one plan (the cell before
	// it, when released), so its atoms are the last cell's refined atoms.
	for _, e := range earlier {
		if len(plans)-fromHistory == auditSameCell {
			break
		}
		if ek, ok := setOf(e); ok && ek.qty == "" {
			add(e.Plan)
		}
	}
	if len(plans) < 2 { // pairs are the nested check's
		return false, nil
	}
	build := func(plans [][]byte, a *atoms) error {
		for _, p := range plans {
			if isWindowPlan(p) && len(a.bms) >= maxAtoms/2 {
				// Windows come after the records, and leave the atoms
				// room for the cell's own set: forty scattered windows
				// must not push the audit past its bound, where it
				// gives up.
				continue
			}
			b, err := h.planSet(ctx, sets, p)
			if err != nil {
				return err
			}
			a.refine(b)
		}
		return nil
	}
	if h.base == nil || h.baseLen != h.recordCount() {
		var a atoms
		if err := build(plans[:fromHistory], &a); err != nil {
			return false, err
		}
		h.base, h.baseLen = &a, h.recordCount()
	}
	a, rest := *h.base, plans[fromHistory:]
	if h.sameOf == h.base && len(h.samePlans) <= len(rest) && samePrefix(h.samePlans, rest) {
		a, rest = h.sameAtoms, rest[len(h.samePlans):]
	}
	if err := build(rest, &a); err != nil {
		return false, err
	}
	h.sameOf, h.samePlans, h.sameAtoms = h.base, plans[fromHistory:], a
	mine, err := h.cache.get(ctx, sets, c.Plan)
	if err != nil {
		return false, err
	}
	// Beyond the first cells, the result's cells of c's own level: a
	// Compare of X ∪ T, X ∪ Y and Y is X ∪ T less X ∪ Y plus Y = T in
	// every row, and the rows of its second variable were past the first
	// auditSameCell cells (review 34 read diagnoses and an HbA1c of 5.4).
	// And as many history records of that level: a Compare of 32 groups
	// put X ∪ Y and Y deep in one result, past the first cells of it the
	// window takes; then a count of X ∪ T by race, less X ∪ Y, plus Y gave
	// T by race (review 35).
	more := h.levelPlans(c, earlier, seen)
	base := a
	if err := build(more, &a); err != nil {
		return false, err
	}
	ok := a.refine(mine)
	if len(plans)-fromHistory < auditSameCell {
		// The next cell's list is this one's plus c's plan, when c is
		// released: keep the atoms refined by it (without the level's).
		next, fits := a, ok
		if len(more) > 0 {
			next = base
			fits = next.refine(mine)
		}
		if fits {
			h.samePlans = append(slices.Clip(h.samePlans), c.Plan)
			h.sameAtoms = next
		}
	}
	if !ok {
		return false, nil // beyond the audit's bound: the nested check stands
	}
	return revealsSmall(a.split(len(a.in)-1), limit), nil
}

// levelPlans is the plans, none of seen, that count a level c counts too
// (the same value of a variable, in another group): up to auditSameLevel
// released earlier cells of the result, most recent first, and as many
// count records of the history among its last levelScan.
func (h *History) levelPlans(c *Cell, earlier []*Cell, seen map[string]bool) [][]byte {
	levels := levelsOf(c.Partitions)
	if len(levels) == 0 {
		return nil
	}
	var out [][]byte
	take := func(plan []byte) {
		if !seen[string(plan)] {
			seen[string(plan)] = true
			out = append(out, plan)
		}
	}
	for j := len(earlier) - 1; j >= 0 && len(out) < auditSameLevel; j-- {
		e := earlier[j]
		if ek, ok := setOf(e); !ok || ek.qty != "" {
			continue
		}
		for _, p := range e.Partitions {
			if levels[p.Level] {
				take(e.Plan)
				break
			}
		}
	}
	// The records of c's levels, most recent first: the most recent
	// unseen ones of each level hold those of all of them.
	var recs []int32
	for l := range levels {
		mine := map[string]bool{}
		for _, i := range slices.Backward(h.byLevel[l]) {
			if int(i) < len(h.recs)-levelScan || len(mine) == auditSameLevel {
				break
			}
			if p := string(h.recs[i].Plan); !seen[p] && !mine[p] {
				mine[p] = true
				recs = append(recs, i)
			}
		}
	}
	slices.SortFunc(recs, func(a, b int32) int { return cmp.Compare(b, a) })
	recs = slices.Compact(recs)
	for n := len(out); len(recs) > 0 && len(out)-n < auditSameLevel; recs = recs[1:] {
		take(h.recs[recs[0]].Plan)
	}
	return out
}

// levelsOf is the levels partitions name.
func levelsOf(parts []Partition) map[string]bool {
	levels := map[string]bool{}
	for _, p := range parts {
		if p.Level != "" {
			levels[p.Level] = true
		}
	}
	return levels
}

func samePrefix(prefix, plans [][]byte) bool {
	for i, p := range prefix {
		if string(p) != string(plans[i]) {
			return false
		}
	}
	return true
}

// setCache keeps recently built person sets by plan.
type setCache struct {
	max  int
	sets map[string]*roaring.Bitmap
	fifo []string
}

func newSetCache(max int) *setCache { return &setCache{max: max, sets: map[string]*roaring.Bitmap{}} }

func (s *setCache) get(ctx context.Context, src SetSource, plan []byte) (*roaring.Bitmap, error) {
	if b, ok := s.sets[string(plan)]; ok {
		return b, nil
	}
	if src == nil {
		return nil, fmt.Errorf("release: no way to rebuild person sets for differencing")
	}
	b, err := src.PersonSet(ctx, plan)
	if err != nil {
		return nil, err
	}
	if len(s.fifo) >= s.max {
		delete(s.sets, s.fifo[0])
		s.fifo = s.fifo[1:]
	}
	s.sets[string(plan)] = b
	s.fifo = append(s.fifo, string(plan))
	return b, nil
}
