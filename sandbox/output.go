package sandbox

import (
	"strconv"
	"sync"
	"time"

	"enclave/sandbox/rpc"
)

// Defaults for output coalescing and the per-cell cap.
const (
	DefaultMaxOutput     = 10 << 20
	DefaultFlushInterval = 5 * time.Millisecond
	flushSize            = 64 << 10
)

// streams buffers a cell's stdout and stderr and sends them to the kernel
// as rpc.Stream chunks: after a short delay, when a buffer is full, before
// any other event of the cell, and at its end. Order between the two
// streams is kept by flushing one before writing to the other.
type streams struct {
	conn     *rpc.Conn
	interval time.Duration

	mu        sync.Mutex
	id        uint64 // cell the output belongs to
	name      string // stream of the pending text
	buf       []byte
	written   int64 // bytes accepted for this cell
	max       int64
	truncated bool
	timer     *time.Timer
	pending   bool // timer armed
	sendErr   error
}

func newStreams(conn *rpc.Conn, interval time.Duration) *streams {
	s := &streams{conn: conn, interval: interval, buf: make([]byte, 0, flushSize)}
	s.timer = time.AfterFunc(time.Hour, s.timerFlush)
	s.timer.Stop()
	return s
}

// start begins a cell: output goes to id, at most max bytes of it.
func (s *streams) start(id uint64, max int64) {
	s.mu.Lock()
	s.flushLocked()
	s.id, s.max, s.written, s.truncated = id, max, 0, false
	s.mu.Unlock()
}

func (s *streams) timerFlush() {
	s.mu.Lock()
	s.pending = false
	s.flushLocked()
	s.mu.Unlock()
}

// flush sends what is buffered.
func (s *streams) flush() {
	s.mu.Lock()
	s.flushLocked()
	s.mu.Unlock()
}

func (s *streams) flushLocked() {
	if len(s.buf) == 0 {
		return
	}
	err := s.conn.Send(&rpc.Msg{Type: rpc.Stream, ID: s.id, Stream: &rpc.StreamChunk{Name: s.name, Text: string(s.buf)}})
	if err != nil && s.sendErr == nil {
		s.sendErr = err
	}
	s.buf = s.buf[:0]
}

func (s *streams) write(name string, p []byte) (int, error) {
	n := len(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.truncated {
		return n, nil
	}
	if s.name != name {
		s.flushLocked()
		s.name = name
	}
	if s.max > 0 && s.written+int64(len(p)) > s.max {
		p = p[:s.max-s.written]
		s.truncated = true
	}
	s.written += int64(len(p))
	for len(p) > 0 {
		room := flushSize - len(s.buf)
		if room <= 0 {
			s.flushLocked()
			room = flushSize
		}
		k := min(room, len(p))
		s.buf = append(s.buf, p[:k]...)
		p = p[k:]
	}
	if len(s.buf) >= flushSize {
		s.flushLocked()
	}
	if s.truncated {
		s.flushLocked()
		s.name = "stderr"
		s.buf = append(s.buf, "\n[enclave] output truncated: the cell wrote more than "+sizeText(s.max)+"; the rest was dropped\n"...)
		s.flushLocked()
	}
	if len(s.buf) > 0 && !s.pending {
		s.pending = true
		s.timer.Reset(s.interval)
	}
	return n, nil
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

// streamWriter is the io.Writer of one stream.
type streamWriter struct {
	s    *streams
	name string
}

func (w streamWriter) Write(p []byte) (int, error) { return w.s.write(w.name, p) }
