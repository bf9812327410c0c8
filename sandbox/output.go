package sandbox

import (
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"enclave/rpc"
)

// Defaults for output coalescing and the per-cell cap.
const (
	DefaultMaxOutput     = 10 << 20
	DefaultFlushInterval = 5 * time.Millisecond
	// DefaultChunk is the most output one rpc.Stream carries. Large
	// chunks mean fewer iopub messages: 1 MiB streams ~30% faster end to
	// end than 64 KiB through the kernel and jupyter_client.
	DefaultChunk = 1 << 20
)

// streams buffers a cell's stdout and stderr and sends them to the kernel
// as rpc.Stream chunks: after a short delay, when a buffer is full, before
// any other event of the cell, and at its end. Order between the two
// streams is kept by flushing one before writing to the other.
type streams struct {
	conn     *rpc.Conn
	interval time.Duration
	chunk    int // most bytes per rpc.Stream

	mu        sync.Mutex
	id        uint64 // cell the output belongs to
	name      string // stream of the pending text
	buf       []byte
	written   int64 // bytes accepted for this cell
	max       int64
	truncated bool
	noticed   map[string]bool // notices sent in this cell
	timer     *time.Timer
	pending   bool // timer armed
}

func newStreams(conn *rpc.Conn, interval time.Duration) *streams {
	s := &streams{conn: conn, interval: interval, chunk: DefaultChunk}
	s.timer = time.AfterFunc(time.Hour, s.timerFlush)
	s.timer.Stop()
	return s
}

// start begins a cell: output goes to id, at most max bytes of it.
func (s *streams) start(id uint64, max int64) {
	s.mu.Lock()
	s.flushAllLocked()
	s.id, s.max, s.written, s.truncated = id, max, 0, false
	clear(s.noticed)
	s.mu.Unlock()
}

func (s *streams) timerFlush() {
	s.mu.Lock()
	s.pending = false
	s.flushLocked()
	s.mu.Unlock()
}

// flush sends what is buffered, before another event of the cell.
func (s *streams) flush() {
	s.mu.Lock()
	s.flushAllLocked()
	s.mu.Unlock()
}

// flushLocked sends the buffer but for an incomplete UTF-8 sequence at its
// end, which waits for the bytes that complete it (a chunk boundary must
// not turn one character into two U+FFFD).
func (s *streams) flushLocked() {
	cut := len(s.buf)
	for i := len(s.buf) - 1; i >= 0 && i >= len(s.buf)-utf8.UTFMax; i-- {
		if utf8.RuneStart(s.buf[i]) {
			if !utf8.FullRune(s.buf[i:]) {
				cut = i
			}
			break
		}
	}
	s.send(cut)
}

// flushAllLocked sends everything, complete or not (the cell ended).
func (s *streams) flushAllLocked() { s.send(len(s.buf)) }

func (s *streams) send(n int) {
	if n == 0 {
		return
	}
	// A failed send means the kernel is gone; Serve ends on the closed pipe.
	s.conn.SendStream(s.id, s.name, s.buf[:n])
	s.buf = s.buf[:copy(s.buf, s.buf[n:])]
}

func (s *streams) write(name string, p []byte) (int, error) {
	n := len(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.truncated {
		return n, nil
	}
	if s.name != name {
		s.flushAllLocked()
		s.name = name
	}
	if s.max > 0 && s.written+int64(len(p)) > s.max {
		p = p[:s.max-s.written]
		if i := lastRuneStart(p); i < len(p) && !utf8.FullRune(p[i:]) {
			p = p[:i] // do not end on half a character
		}
		s.truncated = true
	}
	s.written += int64(len(p))
	for len(p) > 0 {
		room := s.chunk - len(s.buf)
		if room <= 0 {
			s.flushLocked()
			room = s.chunk - len(s.buf)
		}
		k := min(room, len(p))
		s.buf = append(s.buf, p[:k]...)
		p = p[k:]
	}
	if len(s.buf) >= s.chunk {
		s.flushLocked()
	}
	if s.truncated {
		s.flushAllLocked()
		s.name = "stderr"
		s.buf = append(s.buf, "\n[enclave] output truncated: the cell wrote more than "+sizeText(s.max)+"; the rest was dropped\n"...)
		s.flushAllLocked()
		s.noticed = map[string]bool{"truncated": true}
	}
	if len(s.buf) > 0 && !s.pending {
		s.pending = true
		s.timer.Reset(s.interval)
	}
	return n, nil
}

// lastRuneStart is the index where the last (maybe incomplete) UTF-8
// sequence of p starts.
func lastRuneStart(p []byte) int {
	for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax; i-- {
		if utf8.RuneStart(p[i]) {
			return i
		}
	}
	return len(p)
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// notice writes a line of the worker's own to the cell's stderr, outside
// the cap; each text at most once per cell.
func (s *streams) notice(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.noticed[text] {
		return
	}
	if s.noticed == nil {
		s.noticed = map[string]bool{}
	}
	s.noticed[text] = true
	if s.name != "stderr" {
		s.flushAllLocked()
		s.name = "stderr"
	}
	s.buf = append(s.buf, "[enclave] "+text+"\n"...)
	s.flushAllLocked()
}

// charge counts n bytes of other output (displays) against the cell's cap;
// it reports false, and counts nothing, if they do not fit.
func (s *streams) charge(n int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max > 0 && s.written+n > s.max {
		return false
	}
	s.written += n
	return true
}

// limit is the running cell's cap.
func (s *streams) limit() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}

// streamWriter is the io.Writer of one stream.
type streamWriter struct {
	s    *streams
	name string
}

func (w streamWriter) Write(p []byte) (int, error) { return w.s.write(w.name, p) }
