// Command floorkernel is a do-nothing Jupyter kernel for the latency
// benchmark: the floor our kernel is measured against. It speaks the same
// wire protocol through the same sockets (kernel/wire, zmqsock) but runs no
// code: execute_request is answered at once, and a cell whose code holds
// "stream" is answered with 8 MB of prebuilt text in 1 MiB stream messages.
// What our kernel costs above this floor is the core, the gate and the
// worker round trip. Benchmark only; not part of the product.
//
// With -echo it also publishes what every kernel that runs "1+1" must:
// execute_input before the reply and an execute_result ("2") for a cell
// that is not the stream test. The client parses each iopub message, so
// this floor shows how much of the gap to the plain one is those two
// messages rather than anything the kernel computes.
//
// Usage: floorkernel [-echo] CONNECTION_FILE
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/google/uuid"

	"enclave/kernel/wire"
	"enclave/kernel/wire/zmqsock"
)

// streamBytes and streamChunk shape the stream test: 8 MB in 1 MiB messages
// (the client's fastest message size here).
const (
	streamBytes = 8 << 20
	streamChunk = 1 << 20
)

func main() {
	args := os.Args[1:]
	echo := len(args) == 2 && args[0] == "-echo"
	if echo {
		args = args[1:]
	}
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: floorkernel [-echo] CONNECTION_FILE")
		os.Exit(2)
	}
	if err := run(args[0], echo); err != nil {
		fmt.Fprintln(os.Stderr, "floorkernel:", err)
		os.Exit(1)
	}
}

type floor struct {
	socks   *zmqsock.Sockets
	session string
	count   int
	chunk   string
	done    chan struct{}
	logger  *log.Logger
	echo    bool // publish execute_input and execute_result too
}

func run(connFile string, echo bool) error {
	ci, err := wire.ReadConnectionFile(connFile)
	if err != nil {
		return err
	}
	codec, err := wire.NewCodec(ci)
	if err != nil {
		return err
	}
	logger := log.New(os.Stderr, "floorkernel: ", log.LstdFlags)
	socks, err := zmqsock.Listen(ci, codec, logger)
	if err != nil {
		return err
	}
	defer socks.Close()
	f := &floor{socks: socks, session: uuid.NewString(), done: make(chan struct{}), logger: logger, echo: echo,
		chunk: strings.Repeat(strings.Repeat("x", 127)+"\n", streamChunk/128)}
	requests := make(chan request, 64)
	socks.Serve(func(ch wire.Channel, m *wire.Message) { requests <- request{ch, m} })
	for {
		select {
		case r := <-requests:
			f.handle(r.ch, r.m)
		case <-f.done:
			return nil
		}
	}
}

type request struct {
	ch wire.Channel
	m  *wire.Message
}

func (f *floor) send(ch wire.Channel, parent *wire.Message, msgType string, content any) {
	m, err := wire.Reply(parent, msgType, f.session, content)
	if err != nil {
		f.logger.Print(err)
		return
	}
	if ch == wire.IOPub {
		m.Identities = [][]byte{[]byte("kernel." + f.session + "." + msgType)}
	}
	if err := f.socks.Send(ch, m); err != nil {
		f.logger.Print(err)
	}
}

func (f *floor) status(parent *wire.Message, state string) {
	f.send(wire.IOPub, parent, "status", map[string]string{"execution_state": state})
}

func (f *floor) handle(ch wire.Channel, m *wire.Message) {
	f.status(m, "busy")
	defer f.status(m, "idle")
	switch m.Header.MsgType {
	case "kernel_info_request":
		f.send(ch, m, "kernel_info_reply", map[string]any{
			"status": "ok", "protocol_version": wire.ProtocolVersion, "implementation": "floorkernel",
			"implementation_version": "0", "banner": "do-nothing floor kernel",
			"language_info": map[string]any{"name": "go", "version": "", "mimetype": "text/x-go", "file_extension": ".go"},
		})
	case "execute_request":
		f.count++
		stream := strings.Contains(string(m.Content), "stream")
		if f.echo {
			var c struct {
				Code string `json:"code"`
			}
			json.Unmarshal(m.Content, &c)
			f.send(wire.IOPub, m, "execute_input", map[string]any{"code": c.Code, "execution_count": f.count})
			if !stream {
				f.send(wire.IOPub, m, "execute_result", map[string]any{"data": map[string]string{"text/plain": "2"},
					"metadata": map[string]any{}, "execution_count": f.count})
			}
		}
		if stream {
			for sent := 0; sent < streamBytes; sent += streamChunk {
				f.send(wire.IOPub, m, "stream", map[string]string{"name": "stdout", "text": f.chunk})
			}
		}
		f.send(ch, m, "execute_reply", map[string]any{"status": "ok", "execution_count": f.count, "user_expressions": map[string]any{}})
	case "shutdown_request":
		f.send(ch, m, "shutdown_reply", map[string]any{"status": "ok", "restart": false})
		close(f.done)
	}
}
