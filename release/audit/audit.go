package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MaxLine is the longest line, newline included, that Append writes and that
// Verify and Read accept.
const MaxLine = 4 << 20

// Entry is one line of the log.
type Entry struct {
	Seq        int64           `json:"seq"`  // 1, 2, 3… assigned by Append
	Time       time.Time       `json:"time"` // assigned by Append (UTC)
	Prev       string          `json:"prev"` // hex SHA-256 of the previous line's bytes ("" for seq 1)
	Type       string          `json:"type"` // session_start, session_stop, cell, decision, review, alert, export, error…
	Session    string          `json:"session,omitempty"`
	Researcher string          `json:"researcher,omitempty"`
	Cell       string          `json:"cell,omitempty"`  // msg_id of the execute_request
	Rules      []string        `json:"rules,omitempty"` // names of the rules that fired, for filtering
	Data       json.RawMessage `json:"data,omitempty"`  // anything else, the caller's JSON
}

// ErrClosed is returned by Append on a closed Log.
var ErrClosed = errors.New("audit: log is closed")

// Log appends to one audit file.
type Log struct {
	path string
	mu   sync.Mutex // flock is per open file: goroutines sharing f need this too
	f    *os.File
	// Background syncs (AppendSyncSoon): one request pending at most; the
	// syncer goroutine runs while the log is open.
	syncReq  chan struct{}
	syncDone chan struct{}
	syncErr  error // the first failed background sync, returned by Close
	// The end of the line this Log wrote last, with its seq and hash: while
	// the file still ends there, no one appended since and the last line
	// need not be read back.
	lastEnd  int64
	lastSeq  int64
	lastHash string
}

// Open opens the log at path for appending, creating its directory (0700)
// and the file (0600) if missing.
func Open(path string) (*Log, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	l := &Log{path: path, f: f, syncReq: make(chan struct{}, 1), syncDone: make(chan struct{})}
	go l.syncer()
	return l, nil
}

// syncer syncs the file whenever asked, coalescing requests that arrive
// while a sync runs into one more.
func (l *Log) syncer() {
	defer close(l.syncDone)
	for range l.syncReq {
		l.mu.Lock()
		f := l.f
		l.mu.Unlock()
		if f == nil {
			continue
		}
		if err := f.Sync(); err != nil {
			l.mu.Lock()
			if l.syncErr == nil && l.f != nil {
				l.syncErr = fmt.Errorf("audit: sync %s: %w", l.path, err)
			}
			l.mu.Unlock()
		}
	}
}

// Path returns the file the log appends to.
func (l *Log) Path() string { return l.path }

// Append sets e's Seq, Prev and Time, writes it as the next line and syncs
// it to disk. It returns the entry as written.
func (l *Log) Append(e Entry) (Entry, error) { return l.append(e, syncNow) }

// AppendUnsynced is Append without a sync of its own: the line is in the
// file (a killed process loses nothing) and reaches the disk with the next
// sync or the system's writeback. For records that release nothing by
// themselves (the code a cell runs), which a synced record follows.
func (l *Log) AppendUnsynced(e Entry) (Entry, error) { return l.append(e, syncNone) }

// AppendSyncSoon is Append with the sync done in the background, right
// after it returns (syncs asked for while one runs are coalesced): the line
// is in the file when it returns, so a killed process loses nothing. For
// records written after what they describe has already left, such as the
// summary of a cell's outputs: a sync before returning would add its
// latency to every cell without ordering anything.
func (l *Log) AppendSyncSoon(e Entry) (Entry, error) { return l.append(e, syncSoon) }

// How append makes a line durable.
const (
	syncNow  = iota // fsync before returning
	syncNone        // leave it to the next sync or the system's writeback
	syncSoon        // ask the background syncer
)

func (l *Log) append(e Entry, sync int) (Entry, error) {
	if e.Type == "" {
		return Entry{}, errors.New("audit: entry has no type")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return Entry{}, ErrClosed
	}
	unlock, err := flock(l.f, syscall.LOCK_EX)
	if err != nil {
		return Entry{}, err
	}
	defer unlock()

	fi, err := l.f.Stat()
	if err != nil {
		return Entry{}, fmt.Errorf("audit: %w", err)
	}
	size := fi.Size()
	e.Seq, e.Prev = 1, ""
	if size > 0 && size == l.lastEnd {
		e.Seq, e.Prev = l.lastSeq+1, l.lastHash
	} else {
		last, err := lastLine(l.f, size)
		if err != nil {
			return Entry{}, fmt.Errorf("audit: %s: %w; run enclave audit verify", l.path, err)
		}
		if last != nil {
			var p struct {
				Seq int64 `json:"seq"`
			}
			if err := json.Unmarshal(last, &p); err != nil || p.Seq < 1 {
				return Entry{}, fmt.Errorf("audit: %s: the last line is not an entry; run enclave audit verify", l.path)
			}
			e.Seq, e.Prev = p.Seq+1, hashLine(last)
		}
	}
	e.Time = time.Now().UTC()
	line, err := json.Marshal(e)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: entry %s: %w", e.Type, err)
	}
	line = append(line, '\n')
	if len(line) > MaxLine {
		return Entry{}, fmt.Errorf("audit: entry %s is %d bytes, more than %d", e.Type, len(line), MaxLine)
	}
	if _, err := l.f.Write(line); err != nil {
		l.f.Truncate(size) // take back a partial line, so the log stays appendable
		l.lastEnd = 0
		return Entry{}, fmt.Errorf("audit: write %s: %w", l.path, err)
	}
	l.lastEnd, l.lastSeq, l.lastHash = size+int64(len(line)), e.Seq, hashLine(line[:len(line)-1])
	switch sync {
	case syncNow:
		if err := l.f.Sync(); err != nil {
			return Entry{}, fmt.Errorf("audit: sync %s: %w", l.path, err)
		}
	case syncSoon:
		select {
		case l.syncReq <- struct{}{}:
		default: // one is pending: it will cover this line
		}
	}
	return e, nil
}

// Close closes the log; further Appends fail with ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.f == nil {
		l.mu.Unlock()
		return nil
	}
	err := errors.Join(l.syncErr, l.f.Sync())
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	close(l.syncReq) // appends check l.f first: nothing sends after this
	l.mu.Unlock()
	<-l.syncDone // the syncer has seen the close
	return err
}

// flock locks f (LOCK_EX or LOCK_SH) and returns the unlock function.
func flock(f *os.File, how int) (func(), error) {
	fd := int(f.Fd())
	for {
		err := syscall.Flock(fd, how)
		if err == nil {
			break
		}
		if err != syscall.EINTR {
			return nil, fmt.Errorf("audit: lock %s: %w", f.Name(), err)
		}
	}
	return func() { syscall.Flock(fd, syscall.LOCK_UN) }, nil
}

// lastLine returns the last line of f, whose size is size, without its
// newline; nil if f is empty. It reads backwards from the end, never the
// whole file.
func lastLine(f *os.File, size int64) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], size-1); err != nil {
		return nil, err
	}
	if b[0] != '\n' {
		return nil, errors.New("the last line is incomplete (no newline at the end)")
	}
	end := size - 1 // the last line is [start, end)
	start := int64(0)
	buf := make([]byte, 4096)
	for pos := end; pos > 0; {
		n := min(int64(len(buf)), pos)
		if _, err := f.ReadAt(buf[:n], pos-n); err != nil {
			return nil, err
		}
		pos -= n
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			start = pos + int64(i) + 1
			break
		}
		if end-pos > MaxLine {
			return nil, fmt.Errorf("the last line is longer than %d bytes", MaxLine)
		}
	}
	line := make([]byte, end-start)
	if _, err := f.ReadAt(line, start); err != nil {
		return nil, err
	}
	return line, nil
}

func hashLine(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// lines calls fn for each line of the file at path (without its newline),
// under a shared lock. complete is false for a last line with no newline.
func lines(path string, fn func(no int, line []byte, complete bool) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	unlock, err := flock(f, syscall.LOCK_SH)
	if err != nil {
		return err
	}
	defer unlock()
	r := bufio.NewReaderSize(f, 64<<10)
	for no := 1; ; no++ {
		var line []byte
		for {
			frag, err := r.ReadSlice('\n')
			line = append(line, frag...)
			if len(line) > MaxLine {
				return fmt.Errorf("audit: line %d is longer than %d bytes", no, MaxLine)
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF {
				if len(line) == 0 {
					return nil
				}
				return fn(no, line, false)
			}
			if err != nil {
				return fmt.Errorf("audit: %s: %w", path, err)
			}
			break
		}
		if err := fn(no, line[:len(line)-1], true); err != nil {
			return err
		}
	}
}

// Verify checks the log at path: every line is a complete JSON entry, seq
// runs 1, 2, 3… and each prev is the hash of the line before. It returns the
// number of entries, or an error naming the first broken line.
func Verify(path string) (n int, err error) {
	var prev []byte // the previous line
	err = lines(path, func(no int, line []byte, complete bool) error {
		where := fmt.Sprintf("line %d (after seq %d)", no, no-1)
		if !complete {
			return fmt.Errorf("audit: %s: the last line is incomplete (no newline) — the log was cut short or a write was interrupted", where)
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return fmt.Errorf("audit: %s: not a valid entry (%v) — the log was edited", where, err)
		}
		where = fmt.Sprintf("line %d (seq %d)", no, e.Seq)
		if e.Seq != int64(no) {
			return fmt.Errorf("audit: %s: expected seq %d — a line was removed, inserted or moved", where, no)
		}
		want := ""
		if prev != nil {
			want = hashLine(prev)
		}
		if e.Prev != want {
			if no == 1 {
				return fmt.Errorf("audit: %s: the first entry must have an empty prev — the log was edited", where)
			}
			return fmt.Errorf("audit: %s: prev hash does not match line %d — the log was edited or a line removed", where, no-1)
		}
		prev = append(prev[:0], line...)
		n = no
		return nil
	})
	return n, err
}

// Filter selects entries for Read. Empty fields match everything; Session
// and Cell match as prefixes (so the short ids `enclave audit show` prints
// work), Type exactly, Rule as one of the entry's rules.
type Filter struct {
	Session, Cell, Rule, Type string
}

func (f Filter) match(e *Entry) bool {
	if !strings.HasPrefix(e.Session, f.Session) || !strings.HasPrefix(e.Cell, f.Cell) {
		return false
	}
	if f.Type != "" && e.Type != f.Type {
		return false
	}
	if f.Rule == "" {
		return true
	}
	for _, r := range e.Rules {
		if r == f.Rule {
			return true
		}
	}
	return false
}

// Read returns the entries of the log at path that match f, in order. It
// does not check the chain (Verify does) but fails on a line that does not
// parse.
func Read(path string, f Filter) ([]Entry, error) {
	var out []Entry
	err := lines(path, func(no int, line []byte, complete bool) error {
		if !complete {
			return fmt.Errorf("audit: line %d: the last line is incomplete (no newline)", no)
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return fmt.Errorf("audit: line %d: not a valid entry: %v", no, err)
		}
		if f.match(&e) {
			out = append(out, e)
		}
		return nil
	})
	return out, err
}
