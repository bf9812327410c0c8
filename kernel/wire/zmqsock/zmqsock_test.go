package zmqsock

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"enclave/kernel/wire"
)

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

type harness struct {
	ci    *wire.ConnectionInfo
	codec *wire.Codec
	socks *Sockets
	got   chan *wire.Message
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, options ...Option) *harness {
	t.Helper()
	p := freePorts(t, 5)
	ci := &wire.ConnectionInfo{Transport: "tcp", IP: "127.0.0.1", ShellPort: p[0], ControlPort: p[1],
		IOPubPort: p[2], StdinPort: p[3], HBPort: p[4], SignatureScheme: "hmac-sha256", Key: "secret"}
	codec, err := wire.NewCodec(ci)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{ci: ci, codec: codec, got: make(chan *wire.Message, 16), logs: &syncBuffer{}}
	h.socks, err = Listen(ci, codec, log.New(h.logs, "", 0), options...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.socks.Close() })
	h.socks.Serve(func(ch wire.Channel, m *wire.Message) { h.got <- m })
	return h
}

func (h *harness) dealer(t *testing.T, id string) zmq4.Socket {
	t.Helper()
	d := zmq4.NewDealer(context.Background(), zmq4.WithID(zmq4.SocketIdentity(id)), zmq4.WithDialerRetry(20*time.Millisecond))
	if err := d.Dial(h.ci.Endpoint(h.ci.ShellPort)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func (h *harness) frames(t *testing.T, msgType string) [][]byte {
	t.Helper()
	f, err := h.codec.Encode(&wire.Message{Header: wire.NewHeader(msgType, "client"), Content: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (h *harness) expect(t *testing.T, msgType string) *wire.Message {
	t.Helper()
	select {
	case m := <-h.got:
		if m.Header.MsgType != msgType {
			t.Fatalf("got %s, want %s", m.Header.MsgType, msgType)
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s delivered; log:\n%s", msgType, h.logs)
	}
	return nil
}

func (h *harness) expectNothing(t *testing.T) {
	t.Helper()
	select {
	case m := <-h.got:
		t.Fatalf("%s delivered, want nothing", m.Header.MsgType)
	case <-time.After(150 * time.Millisecond):
	}
}

func TestRequestAndReply(t *testing.T) {
	h := start(t)
	d := h.dealer(t, "frontend-1")
	if err := d.SendMulti(zmq4.NewMsgFrom(h.frames(t, "kernel_info_request")...)); err != nil {
		t.Fatal(err)
	}
	req := h.expect(t, "kernel_info_request")
	if len(req.Identities) != 1 || string(req.Identities[0]) != "frontend-1" {
		t.Fatalf("identities %q", req.Identities)
	}
	rep, _ := wire.Reply(req, "kernel_info_reply", "k", map[string]string{"status": "ok"})
	if err := h.socks.Send(wire.Shell, rep); err != nil {
		t.Fatal(err)
	}
	msg, err := d.Recv()
	if err != nil {
		t.Fatal(err)
	}
	m, err := h.codec.Decode(msg.Frames)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.MsgType != "kernel_info_reply" || m.ParentID() != req.Header.MsgID {
		t.Fatalf("reply %+v parent %s", m.Header, m.ParentID())
	}
}

func TestHeartbeatEchoes(t *testing.T) {
	h := start(t)
	r := zmq4.NewReq(context.Background())
	defer r.Close()
	if err := r.Dial(h.ci.Endpoint(h.ci.HBPort)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ping := []byte("ping-" + strconv.Itoa(i))
		if err := r.Send(zmq4.NewMsg(ping)); err != nil {
			t.Fatal(err)
		}
		msg, err := r.Recv()
		if err != nil || !bytes.Equal(msg.Bytes(), ping) {
			t.Fatalf("heartbeat answered %q, %v", msg.Frames, err)
		}
	}
}

func TestBadSignatureAndReplayAreDroppedAndLogged(t *testing.T) {
	h := start(t)
	d := h.dealer(t, "f")
	f := h.frames(t, "execute_request")
	bad := append([][]byte(nil), f...)
	bad[1] = bytes.Repeat([]byte("0"), 64)
	d.SendMulti(zmq4.NewMsgFrom(bad...))
	h.expectNothing(t)
	d.SendMulti(zmq4.NewMsgFrom(f...))
	h.expect(t, "execute_request")
	d.SendMulti(zmq4.NewMsgFrom(f...)) // replay
	h.expectNothing(t)
	if n := h.socks.Dropped.Load(); n != 2 {
		t.Errorf("dropped %d, want 2", n)
	}
	logs := h.logs.String()
	for _, want := range []string{"bad or missing signature", "replayed signature"} {
		if !bytes.Contains([]byte(logs), []byte(want)) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// greeting is a ZMTP 3.0 greeting for the NULL mechanism.
func greeting() []byte {
	g := make([]byte, 64)
	g[0], g[9], g[10] = 0xFF, 0x7F, 3
	copy(g[12:], "NULL")
	return g
}

func TestHostileConnectionsDoNotStopTheKernel(t *testing.T) {
	h := start(t, WithHandshakeTimeout(300*time.Millisecond))
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(h.ci.ShellPort))
	attacks := map[string][]byte{
		"frame of 2^62 bytes": append(greeting(), 0x02, 0x40, 0, 0, 0, 0, 0, 0, 0),
		"garbage":             bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 1000),
		"silence":             nil,
	}
	var conns []net.Conn
	for name, payload := range attacks {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		conns = append(conns, c)
		c.Write(payload)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	d := h.dealer(t, "honest")
	d.SendMulti(zmq4.NewMsgFrom(h.frames(t, "kernel_info_request")...))
	h.expect(t, "kernel_info_request")
}

func TestOversizedMessageClosesOnlyThatPeer(t *testing.T) {
	h := start(t, WithMaxMessage(1<<20))
	big := h.dealer(t, "big")
	f := h.frames(t, "execute_request")
	f = append(f, make([]byte, 2<<20))
	big.SendMulti(zmq4.NewMsgFrom(f...))
	h.expectNothing(t)
	d := h.dealer(t, "small")
	d.SendMulti(zmq4.NewMsgFrom(h.frames(t, "kernel_info_request")...))
	h.expect(t, "kernel_info_request")
}

func TestListenFailureNamesSocket(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := freePorts(t, 4)
	ci := &wire.ConnectionInfo{Transport: "tcp", IP: "127.0.0.1", ShellPort: l.Addr().(*net.TCPAddr).Port,
		ControlPort: p[0], IOPubPort: p[1], StdinPort: p[2], HBPort: p[3], SignatureScheme: "hmac-sha256"}
	codec, _ := wire.NewCodec(ci)
	_, err = Listen(ci, codec, log.New(io.Discard, "", 0))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("shell socket")) {
		t.Fatalf("got %v, want an error naming the shell socket", err)
	}
}

func TestIPCTransport(t *testing.T) {
	dir := t.TempDir()
	ci := &wire.ConnectionInfo{Transport: "ipc", IP: dir + "/k", ShellPort: 1, ControlPort: 2, IOPubPort: 3,
		StdinPort: 4, HBPort: 5, SignatureScheme: "hmac-sha256", Key: "k"}
	codec, _ := wire.NewCodec(ci)
	socks, err := Listen(ci, codec, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	defer socks.Close()
	got := make(chan *wire.Message, 1)
	socks.Serve(func(ch wire.Channel, m *wire.Message) { got <- m })
	d := zmq4.NewDealer(context.Background(), zmq4.WithID(zmq4.SocketIdentity("x")))
	defer d.Close()
	if err := d.Dial(ci.Endpoint(ci.ShellPort)); err != nil {
		t.Fatal(err)
	}
	f, _ := codec.Encode(&wire.Message{Header: wire.NewHeader("kernel_info_request", "c"), Content: json.RawMessage(`{}`)})
	d.SendMulti(zmq4.NewMsgFrom(f...))
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("nothing over ipc")
	}
}
