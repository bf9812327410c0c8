package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	_ "time/tzdata" // time.LoadLocation works with no zoneinfo readable

	"enclave/rpc"
	"enclave/sandbox"
	"enclave/sandbox/confine"
)

// ExitStuck is the exit status of a worker that ended itself because an
// interrupted cell did not stop.
const ExitStuck = 3

func main() {
	// A runaway recursion in a cell should end the worker quickly, not
	// after it has grown a 1 GB stack. 128 MB holds over 100,000 frames of
	// interpreted recursion (400,000 overflow it in about a second here).
	debug.SetMaxStack(128 << 20)
	// When the worker dies of a panic the kernel reads "panic: …" from its
	// stderr: print no goroutine dumps after it (they carry raw argument
	// words). Runtime fatal errors (stack overflow) dump all goroutines
	// whatever this says.
	debug.SetTraceback("none")

	// The pipes come in blocking; non-blocking, os.NewFile reads and
	// writes them through the runtime's poller, so a goroutine waiting for
	// the next request parks instead of holding a thread in read(2), and
	// the handoffs between threads that a blocked thread costs at every
	// cell are spared. (Failing that, the pipes work as they are.)
	syscall.SetNonblock(3, true)
	syscall.SetNonblock(4, true)
	in := os.NewFile(3, "requests")
	out := os.NewFile(4, "events")
	if in == nil || out == nil {
		fmt.Fprintln(os.Stderr, "enclave-worker: fd 3 and 4 must be the kernel's pipes; this program is started by the enclave kernel")
		os.Exit(2)
	}
	opts, _ := confine.FromArgs(os.Args[1:])
	layers, err := confine.Apply(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "enclave-worker: confine:", err)
		os.Exit(1)
	}
	// SIGINT interrupts the running cell instead of ending the worker.
	sigint := make(chan os.Signal, 1)
	signal.Notify(sigint, os.Interrupt)
	conn := rpc.NewConn(in, out, nil)
	wopts := sandbox.Options{
		Confinement: layers,
		Interrupts:  sigint,
		// A cell that an interrupt cannot stop (one long compiled call)
		// ends the process: nothing else stops that call, and the kernel
		// must not be told the cell stopped while it computes on.
		Stuck: func(msg string) {
			fmt.Fprintln(os.Stderr, "enclave-worker: "+msg)
			os.Exit(ExitStuck)
		},
	}
	if err := sandbox.Serve(conn, wopts); err != nil {
		fmt.Fprintln(os.Stderr, "enclave-worker:", err)
		os.Exit(1)
	}
}
