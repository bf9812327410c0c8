package kernel

import (
	"sync"
	"time"
	"unicode/utf8"
)

// streamBuffer coalesces a cell's stdout and stderr text into few stream
// messages: text is buffered and sent when the timer fires (FlushInterval
// after the first unsent byte), when it reaches FlushSize, when the stream
// name changes (so stdout and stderr keep their order), and before any
// other output of the cell and its reply (Flush).
type streamBuffer struct {
	interval time.Duration
	size     int
	send     func(name string, text []byte) // publishes one stream message; text is only valid during the call

	mu    sync.Mutex
	name  string
	buf   []byte
	timer *time.Timer
	armed bool
}

func newStreamBuffer(interval time.Duration, size int, send func(name string, text []byte)) *streamBuffer {
	return &streamBuffer{interval: interval, size: size, send: send}
}

// Write adds text written to the stream name.
func (s *streamBuffer) Write(name, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf) > 0 && name != s.name {
		s.flushLocked(true)
	}
	s.name = name
	s.buf = append(s.buf, text...)
	if len(s.buf) >= s.size {
		s.flushLocked(false)
	}
	if len(s.buf) > 0 && !s.armed {
		s.armed = true
		if s.timer == nil {
			s.timer = time.AfterFunc(s.interval, s.timerFlush)
		} else {
			s.timer.Reset(s.interval)
		}
	}
}

func (s *streamBuffer) timerFlush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = false
	s.flushLocked(false)
}

// Flush sends everything buffered, incomplete UTF-8 included.
func (s *streamBuffer) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked(true)
}

// Stop flushes and stops the timer.
func (s *streamBuffer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked(true)
	if s.timer != nil {
		s.timer.Stop()
	}
	s.armed = false
}

// flushLocked sends the buffer. Unless all is set, a multi-byte character
// cut in half by the worker's chunking stays buffered for the next flush.
func (s *streamBuffer) flushLocked(all bool) {
	n := len(s.buf)
	if n == 0 {
		return
	}
	if !all {
		n = completeUTF8(s.buf)
		if n == 0 {
			return
		}
	}
	s.send(s.name, s.buf[:n])
	rest := copy(s.buf, s.buf[n:])
	s.buf = s.buf[:rest]
	if cap(s.buf) > 4*s.size {
		s.buf = append([]byte(nil), s.buf...)
	}
}

// completeUTF8 returns the length of b without a trailing incomplete
// UTF-8 sequence.
func completeUTF8(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}
