package zmqsock

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"

	"enclave/kernel/wire"
)

// Sockets are a kernel's bound sockets.
type Sockets struct {
	codec *wire.Codec
	log   *log.Logger
	ctx   context.Context
	stop  context.CancelFunc

	socks map[wire.Channel]zmq4.Socket
	mu    map[wire.Channel]*sync.Mutex // one sender at a time per socket

	// Dropped counts incoming messages dropped by the codec.
	Dropped atomic.Int64
	wg      sync.WaitGroup
}

// Listen binds the five sockets of ci. On failure it closes what it bound
// and names the socket and endpoint that failed.
func Listen(ci *wire.ConnectionInfo, codec *wire.Codec, logger *log.Logger, options ...Option) (*Sockets, error) {
	lim := limits{maxMessage: DefaultMaxMessage, handshake: DefaultHandshakeTimeout}
	for _, o := range options {
		o(&lim)
	}
	tcp, ipc, err := transportsFor(lim)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Sockets{codec: codec, log: logger, ctx: ctx, stop: stop,
		socks: map[wire.Channel]zmq4.Socket{}, mu: map[wire.Channel]*sync.Mutex{}}
	zl := log.New(logWriter{logger}, "zmq4: ", 0)
	opts := []zmq4.Option{zmq4.WithTimeout(30 * time.Second), zmq4.WithLogger(zl)}
	specs := []struct {
		ch   wire.Channel
		port int
		make func(context.Context, ...zmq4.Option) zmq4.Socket
	}{
		{wire.HB, ci.HBPort, zmq4.NewRouter},
		{wire.IOPub, ci.IOPubPort, zmq4.NewPub},
		{wire.Control, ci.ControlPort, zmq4.NewRouter},
		{wire.Stdin, ci.StdinPort, zmq4.NewRouter},
		{wire.Shell, ci.ShellPort, zmq4.NewRouter},
	}
	for _, sp := range specs {
		sock := sp.make(ctx, opts...)
		ep := endpoint(ci, sp.port, tcp, ipc)
		if err := sock.Listen(ep); err != nil {
			sock.Close()
			s.Close()
			return nil, fmt.Errorf("cannot listen on the %s socket at %s: %w", sp.ch, ci.Endpoint(sp.port), unwrapListen(err))
		}
		s.socks[sp.ch] = sock
		s.mu[sp.ch] = new(sync.Mutex)
	}
	return s, nil
}

// endpoint is ci's endpoint for port on the scanning transports tcp or ipc.
func endpoint(ci *wire.ConnectionInfo, port int, tcp, ipc string) string {
	ep := ci.Endpoint(port)
	if rest, ok := strings.CutPrefix(ep, "ipc://"); ok {
		return ipc + "://" + rest
	}
	return tcp + "://" + strings.TrimPrefix(ep, "tcp://")
}

func unwrapListen(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// Serve starts one goroutine per incoming socket. Heartbeats are echoed on
// their own goroutine; messages on shell, control and stdin that pass the
// codec are handed to deliver, in arrival order per socket. Serve returns
// at once; Close stops the goroutines.
func (s *Sockets) Serve(deliver func(wire.Channel, *wire.Message)) {
	s.wg.Add(4)
	go s.heartbeat()
	for _, ch := range []wire.Channel{wire.Shell, wire.Control, wire.Stdin} {
		go s.receive(ch, deliver)
	}
}

func (s *Sockets) heartbeat() {
	defer s.wg.Done()
	sock := s.socks[wire.HB]
	for {
		msg, err := sock.Recv()
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			continue
		}
		if len(msg.Frames) == 0 {
			continue
		}
		if err := sock.SendMulti(msg); err != nil && s.ctx.Err() == nil {
			s.log.Printf("heartbeat: %v", err)
		}
	}
}

func (s *Sockets) receive(ch wire.Channel, deliver func(wire.Channel, *wire.Message)) {
	defer s.wg.Done()
	sock := s.socks[ch]
	for {
		msg, err := sock.Recv()
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			continue // a peer's connection failed; others go on
		}
		m, err := s.codec.Decode(msg.Frames)
		if err != nil {
			s.Dropped.Add(1)
			s.log.Printf("dropped a message on %s: %v", ch, err)
			continue
		}
		deliver(ch, m)
	}
}

// Send signs and sends m on ch. For iopub, m's identities are the topic.
func (s *Sockets) Send(ch wire.Channel, m *wire.Message) error {
	sock, ok := s.socks[ch]
	if !ok || ch == wire.HB {
		return fmt.Errorf("zmqsock: cannot send on %s", ch)
	}
	frames, err := s.codec.Encode(m)
	if err != nil {
		return err
	}
	mu := s.mu[ch]
	mu.Lock()
	defer mu.Unlock()
	if err := sock.SendMulti(zmq4.NewMsgFrom(frames...)); err != nil {
		return fmt.Errorf("zmqsock: send %s on %s: %w", m.Header.MsgType, ch, err)
	}
	return nil
}

// Close closes all sockets.
func (s *Sockets) Close() error {
	s.stop()
	var first error
	for _, sock := range s.socks {
		if err := sock.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

type logWriter struct{ l *log.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Print(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
