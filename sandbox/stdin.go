package sandbox

import (
	"context"
	"errors"
	"io"
	"sync"
	"unicode/utf8"

	"enclave/rpc"
)

// ErrNoStdin is what reading stdin returns when the frontend does not
// accept input for the cell.
var ErrNoStdin = errors.New("stdin is not available: the frontend does not accept input for this cell")

// stdin is the cell's standard input: when the cell reads and nothing is
// buffered, it asks the kernel for a line (rpc.InputRequest) and waits for
// the frontend's answer. It implements io.RuneScanner so that fmt.Scan
// calls lose nothing between them.
type stdin struct {
	w *Worker

	mu      sync.Mutex
	buf     []byte // lines received; buf[pos:] is unread
	pos     int
	last    int // size of the last rune read, for UnreadRune
	replies chan *rpc.Msg
}

func newStdin(w *Worker) *stdin {
	return &stdin{w: w, replies: make(chan *rpc.Msg, 1)}
}

// reset drops what a previous cell left unread.
func (in *stdin) reset() {
	in.mu.Lock()
	in.buf, in.pos, in.last = nil, 0, -1
	in.mu.Unlock()
	select {
	case <-in.replies:
	default:
	}
}

// fill asks the frontend for a line; called with in.mu held.
func (in *stdin) fill() error {
	c := in.w.currentCell()
	if c == nil || !c.allowStdin {
		return ErrNoStdin
	}
	in.w.out.flush()
	if err := in.w.conn.Send(&rpc.Msg{Type: rpc.InputRequest, ID: c.id, Input: &rpc.InputPrompt{}}); err != nil {
		return err
	}
	select {
	case m := <-in.replies:
		if m.Reply != nil && m.Reply.Error != "" {
			return errors.New("input: " + m.Reply.Error)
		}
		if in.pos == len(in.buf) {
			in.buf, in.pos = in.buf[:0], 0
		}
		in.buf = append(in.buf, m.Text...)
		in.buf = append(in.buf, '\n')
		return nil
	case <-c.ctx.Done():
		return context.Cause(c.ctx)
	}
}

func (in *stdin) Read(p []byte) (int, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pos == len(in.buf) {
		if err := in.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, in.buf[in.pos:])
	in.pos += n
	in.last = -1
	return n, nil
}

func (in *stdin) ReadRune() (r rune, size int, err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pos == len(in.buf) {
		if err := in.fill(); err != nil {
			return 0, 0, err
		}
	}
	r, size = utf8.DecodeRune(in.buf[in.pos:])
	in.pos += size
	in.last = size
	return r, size, nil
}

// UnreadRune puts back the last rune read.
func (in *stdin) UnreadRune() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.last <= 0 {
		return errors.New("stdin: UnreadRune without ReadRune")
	}
	in.pos -= in.last
	in.last = -1
	return nil
}

var _ io.RuneScanner = (*stdin)(nil)
