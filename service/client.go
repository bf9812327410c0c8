package service

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"enclave/kernel/wire"
)

// Client is a connection to the service: enclave launch holds one for its
// kernel's whole life.
type Client struct {
	c  *net.UnixConn
	r  *bufio.Reader
	mu sync.Mutex // serialises writes
}

// ErrNoService is wrapped by Dial's error when nothing listens on the socket.
var ErrNoService = errors.New("the enclave service is not running")

// Dial connects to the service's socket.
func Dial(socket string) (*Client, error) {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("%w (cannot connect to %s: %v); ask the data steward", ErrNoService, socket, err)
	}
	return &Client{c: c, r: bufio.NewReader(c)}, nil
}

// Close closes the connection: the service then stops the kernel.
func (c *Client) Close() error { return c.c.Close() }

// Start asks for a kernel on ci opening workspace ws ("" for none) and
// returns the service's first answer: EvStarted, or EvError as an error.
func (c *Client) Start(ws string, ci *wire.ConnectionInfo) (Event, error) {
	if err := c.send(Request{Op: OpStart, Version: Version, Workspace: ws, Connection: ci}); err != nil {
		return Event{}, err
	}
	ev, err := c.Next()
	if err != nil {
		return ev, err
	}
	switch ev.Event {
	case EvStarted:
		return ev, nil
	case EvError:
		return ev, errors.New(ev.Error)
	}
	return ev, fmt.Errorf("the enclave service answered %q to a start", ev.Event)
}

// Next returns the service's next event; io.EOF when it closed the
// connection.
func (c *Client) Next() (Event, error) {
	var ev Event
	err := readLine(c.r, &ev)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return ev, err
}

// Interrupt asks the service to interrupt the kernel (SIGINT).
func (c *Client) Interrupt() error { return c.send(Request{Op: OpInterrupt}) }

// Terminate asks the service to stop the kernel.
func (c *Client) Terminate() error { return c.send(Request{Op: OpTerminate}) }

func (c *Client) send(r Request) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return writeLine(c.c, r)
}

// QueryStatus asks the service at socket to describe itself.
func QueryStatus(socket string, timeout time.Duration) (*Status, error) {
	c, err := Dial(socket)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.c.SetDeadline(time.Now().Add(timeout))
	if err := c.send(Request{Op: OpStatus}); err != nil {
		return nil, err
	}
	ev, err := c.Next()
	if err != nil {
		return nil, err
	}
	if ev.Event == EvError {
		return nil, errors.New(ev.Error)
	}
	if ev.Status == nil {
		return nil, fmt.Errorf("the enclave service answered %q to a status request", ev.Event)
	}
	return ev.Status, nil
}
