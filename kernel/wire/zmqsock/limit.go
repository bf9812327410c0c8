package zmqsock

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/transport"
)

// Default limits applied to every accepted connection.
const (
	// DefaultMaxMessage bounds the bytes of one multipart message.
	DefaultMaxMessage int64 = 64 << 20
	// DefaultHandshakeTimeout bounds the ZMTP greeting and handshake.
	DefaultHandshakeTimeout = 5 * time.Second
)

// limits are what each accepted connection is held to.
type limits struct {
	maxMessage int64
	handshake  time.Duration
}

// Option changes a limit of the sockets Listen binds.
type Option func(*limits)

// WithMaxMessage bounds the bytes of one multipart message (default
// DefaultMaxMessage).
func WithMaxMessage(n int64) Option { return func(l *limits) { l.maxMessage = n } }

// WithHandshakeTimeout bounds the ZMTP greeting and handshake (default
// DefaultHandshakeTimeout).
func WithHandshakeTimeout(d time.Duration) Option { return func(l *limits) { l.handshake = d } }

// ErrFrameTooLarge is returned to zmq4 (which then closes the connection)
// when a peer announces a message larger than the limit.
var ErrFrameTooLarge = errors.New("zmqsock: message larger than the limit")

// transports maps limits to the names of the zmq4 transports (tcp, unix)
// that wrap connections in a ZMTP scanner held to them. zmq4 keeps
// transports in a global registry by name, so each set of limits is
// registered once, under names of its own.
var transports struct {
	sync.Mutex
	names map[limits][2]string
}

// transportsFor returns the tcp and ipc transport names for l, registering
// them on first use.
func transportsFor(l limits) (tcp, ipc string, err error) {
	transports.Lock()
	defer transports.Unlock()
	if n, ok := transports.names[l]; ok {
		return n[0], n[1], nil
	}
	if transports.names == nil {
		transports.names = map[limits][2]string{}
	}
	k := len(transports.names)
	n := [2]string{fmt.Sprintf("enclave-tcp-%d", k), fmt.Sprintf("enclave-ipc-%d", k)}
	for i, network := range []string{"tcp", "unix"} {
		if err := zmq4.RegisterTransport(n[i], limitTransport{transport.New(network), l}); err != nil {
			return "", "", err
		}
	}
	transports.names[l] = n
	return n[0], n[1], nil
}

type limitTransport struct {
	inner transport.Transport
	l     limits
}

func (t limitTransport) Dial(ctx context.Context, d transport.Dialer, addr string) (net.Conn, error) {
	return t.inner.Dial(ctx, d, addr)
}

func (t limitTransport) Listen(ctx context.Context, addr string) (net.Listener, error) {
	l, err := t.inner.Listen(ctx, addr)
	if err != nil {
		return nil, err
	}
	return limitListener{l, t.l}, nil
}

func (t limitTransport) Addr(ep string) (string, error) { return t.inner.Addr(ep) }

type limitListener struct {
	net.Listener
	l limits
}

func (l limitListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(l.l.handshake))
	return &zmtpConn{Conn: c, greeting: 64, max: l.l.maxMessage, out: zmtpWriter{greeting: 64}}, nil
}

// zmtpConn follows the ZMTP 3 framing of the bytes it reads: a 64-byte
// greeting, then frames of flags (bit 0 more, bit 1 long size, bit 2
// command), a 1- or 8-byte size and a body. It fails the read that carries
// a size over the limit, before zmq4 sees it.
type zmtpConn struct {
	net.Conn
	greeting  int  // greeting bytes still to come
	state     int  // 0 flags, 1 size, 2 body
	flags     byte //
	size      []byte
	sizeWant  int   // 1 or 8
	body      int64 // body bytes still to come
	frame     int64 // size of the current frame
	msgBytes  int64 // bytes in the current multipart message
	max       int64
	handshook bool
	failed    error

	wmu sync.Mutex
	out zmtpWriter
}

// zmtpWriter gathers the frames zmq4 writes one by one (it cannot use
// writev through a wrapped connection) and writes each message with one
// call, so a Jupyter message of seven frames is one TCP segment, not
// fourteen.
type zmtpWriter struct {
	buf      []byte
	greeting int  // greeting bytes still to come
	state    int  // 0 flags, 1 size, 2 body
	flags    byte //
	sizeLeft int  // size bytes still to come
	size     []byte
	body     int64 // body bytes still to come
}

// flushSize bounds what is held back before a message is complete.
const flushSize = 64 << 10

func (c *zmtpConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	w := &c.out
	boundary := w.scan(p)
	if len(p) >= flushSize { // a big frame body: no copy, one writev with what is held
		bufs := net.Buffers{w.buf, p}
		_, err := bufs.WriteTo(c.Conn)
		w.buf = w.buf[:0]
		if err != nil {
			return 0, err
		}
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	if boundary || len(w.buf) >= flushSize {
		_, err := c.Conn.Write(w.buf)
		w.buf = w.buf[:0]
		if cap(w.buf) > 4*flushSize {
			w.buf = nil
		}
		if err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// scan follows the outgoing framing and reports whether b ended a unit
// worth sending at once: the greeting, a command, or the last frame of a
// message.
func (w *zmtpWriter) scan(b []byte) (boundary bool) {
	for len(b) > 0 {
		if w.greeting > 0 {
			k := min(w.greeting, len(b))
			w.greeting -= k
			b = b[k:]
			if w.greeting == 0 {
				boundary = true
			}
			continue
		}
		switch w.state {
		case 0:
			w.flags = b[0]
			b = b[1:]
			w.sizeLeft = 1
			if w.flags&0x02 != 0 {
				w.sizeLeft = 8
			}
			w.size = w.size[:0]
			w.state = 1
		case 1:
			k := min(w.sizeLeft, len(b))
			w.size = append(w.size, b[:k]...)
			w.sizeLeft -= k
			b = b[k:]
			if w.sizeLeft > 0 {
				continue
			}
			if len(w.size) == 1 {
				w.body = int64(w.size[0])
			} else {
				w.body = int64(binary.BigEndian.Uint64(w.size))
			}
			w.state = 2
			if w.body == 0 {
				w.state = 0
				boundary = boundary || w.flags&0x01 == 0 || w.flags&0x04 != 0
			}
		case 2:
			k := int64(len(b))
			if k > w.body {
				k = w.body
			}
			w.body -= k
			b = b[k:]
			if w.body == 0 {
				w.state = 0
				boundary = boundary || w.flags&0x01 == 0 || w.flags&0x04 != 0
			}
		}
	}
	return boundary
}

func (c *zmtpConn) Read(p []byte) (int, error) {
	if c.failed != nil {
		return 0, c.failed
	}
	n, err := c.Conn.Read(p)
	if e := c.scan(p[:n]); e != nil {
		c.failed = e
		c.Conn.Close()
		return 0, e
	}
	return n, err
}

func (c *zmtpConn) scan(b []byte) error {
	for len(b) > 0 {
		if c.greeting > 0 {
			k := min(c.greeting, len(b))
			c.greeting -= k
			b = b[k:]
			continue
		}
		switch c.state {
		case 0:
			c.flags = b[0]
			b = b[1:]
			c.sizeWant = 1
			if c.flags&0x02 != 0 {
				c.sizeWant = 8
			}
			c.size = c.size[:0]
			c.state = 1
		case 1:
			k := min(c.sizeWant-len(c.size), len(b))
			c.size = append(c.size, b[:k]...)
			b = b[k:]
			if len(c.size) < c.sizeWant {
				continue
			}
			var n uint64
			if c.sizeWant == 1 {
				n = uint64(c.size[0])
			} else {
				n = binary.BigEndian.Uint64(c.size)
			}
			if n > uint64(c.max) || c.msgBytes+int64(n) > c.max {
				return fmt.Errorf("%w: %d-byte frame from %s", ErrFrameTooLarge, n, c.RemoteAddr())
			}
			c.body = int64(n)
			c.frame = int64(n)
			c.state = 2
			if c.body == 0 {
				c.endFrame()
			}
		case 2:
			k := int64(len(b))
			if k > c.body {
				k = c.body
			}
			c.body -= k
			b = b[k:]
			if c.body == 0 {
				c.endFrame()
			}
		}
	}
	return nil
}

func (c *zmtpConn) endFrame() {
	c.state = 0
	if c.flags&0x04 != 0 { // command (READY during the handshake)
		if !c.handshook {
			c.handshook = true
			c.Conn.SetReadDeadline(time.Time{})
		}
		c.msgBytes = 0
		return
	}
	c.msgBytes += c.frame
	if c.flags&0x01 == 0 {
		c.msgBytes = 0
	}
}
