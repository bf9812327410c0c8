package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"enclave/kernel/wire"
	"enclave/service"
)

func init() {
	register(&command{
		Name:  "launch",
		Usage: "launch [--socket PATH] [--workspace NAME] [--connection-file] FILE   (started by Jupyter as the researcher, through a kernelspec of enclave install --service)",
		Run:   runLaunch,
	})
}

// launchStopWait is how long the launcher, asked to stop, waits for the
// kernel's end before it leaves (closing its connection, which makes the
// service kill the kernel).
const launchStopWait = 5 * time.Second

// runLaunch is the kernel's stand-in in the researcher's Jupyter: it asks
// the enclave service for a kernel on the connection file's ports and key,
// then stays in the foreground until that kernel ends. Jupyter's SIGINT
// reaches the kernel as an interrupt, SIGTERM and SIGHUP stop it, and if
// the launcher is killed its connection closes and the service stops the
// kernel. Nothing of the researcher's environment is sent: the service
// knows who asks from the socket.
func runLaunch(args []string) error {
	fs := flag.NewFlagSet("launch", flag.ContinueOnError)
	socket := fs.String("socket", service.DefaultSocket, "the enclave service's socket")
	ws := fs.String("workspace", "", "the workspace the kernel opens, by the name the data steward gave it (checked by the service)")
	connFile := fs.String("connection-file", "", "Jupyter connection file")
	fs.StringVar(connFile, "f", "", "Jupyter connection file (as ipykernel's -f)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *connFile == "" && fs.NArg() == 1 {
		*connFile = fs.Arg(0)
	}
	if *connFile == "" || fs.NArg() > 1 {
		return errUsage
	}
	logger := log.New(os.Stderr, "enclave launch: ", log.LstdFlags|log.Lmicroseconds)
	// Signals are caught from the start: a SIGINT before the kernel runs
	// must not kill the stand-in Jupyter watches.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	ci, err := wire.ReadConnectionFile(*connFile)
	if err != nil {
		return err
	}
	c, err := service.Dial(*socket)
	if err != nil {
		return err
	}
	defer c.Close()
	ev, err := c.Start(*ws, ci)
	if err != nil {
		return fmt.Errorf("the enclave service started no kernel: %w", err)
	}
	what := "no workspace"
	if ev.Workspace != "" {
		what = "workspace " + ev.Workspace
	}
	logger.Printf("kernel %s (pid %d) started by the enclave service for researcher %q (Unix user %s), %s",
		ev.Kernel, ev.PID, ev.Researcher, ev.UnixUser, what)
	if ev.Refusal != "" {
		logger.Printf("refused: %s (every cell answers with this)", ev.Refusal)
	}
	return superviseLaunch(c, sigs, watchParent(), logger)
}

// superviseLaunch relays signals to the service until the kernel ends.
func superviseLaunch(c *service.Client, sigs <-chan os.Signal, parentGone <-chan struct{}, logger *log.Logger) error {
	type next struct {
		ev  service.Event
		err error
	}
	events := make(chan next, 1)
	go func() {
		for {
			ev, err := c.Next()
			events <- next{ev, err}
			if err != nil || ev.Event == service.EvExited {
				return
			}
		}
	}()
	var deadline <-chan time.Time
	stop := func(why string) {
		if deadline != nil {
			return
		}
		logger.Printf("%s: stopping the kernel", why)
		c.Terminate()
		deadline = time.After(launchStopWait)
	}
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGINT {
				if err := c.Interrupt(); err != nil {
					logger.Printf("interrupt: %v", err)
				}
				continue
			}
			stop(s.String())
		case <-parentGone:
			stop("the process that started the kernel is gone")
			parentGone = nil
		case <-deadline:
			return errors.New("the kernel did not stop in time; the service kills it")
		case n := <-events:
			switch {
			case errors.Is(n.err, io.EOF):
				return errors.New("the enclave service closed the connection (it stopped or restarted); the kernel is gone")
			case n.err != nil:
				return fmt.Errorf("the enclave service: %w", n.err)
			case n.ev.Event != service.EvExited:
				continue
			case n.ev.Code == 0:
				return nil
			case n.ev.Signal != "":
				return fmt.Errorf("the kernel was ended by %s", n.ev.Signal)
			}
			return fmt.Errorf("the kernel exited with status %d", n.ev.Code)
		}
	}
}
