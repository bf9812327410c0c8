package service

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// proc is one kernel process the service started: a spare waiting on its
// assignment pipe, or an assigned kernel.
type proc struct {
	cmd    *exec.Cmd
	assign *os.File      // write end of the assignment pipe, nil once written
	exited chan struct{} // closed when the process has ended and was reaped
	state  *os.ProcessState
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// signal sends sig to the process; a process that has ended is not an
// error. os.Process signals through a pidfd, so a recycled pid is never hit.
func (p *proc) signal(sig syscall.Signal) {
	select {
	case <-p.exited:
		return
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		log.Printf("enclave serve: signal %v to pid %d: %v", sig, p.pid(), err)
	}
}

// exitText says how the process ended ("exit status 0", "signal: killed").
func (p *proc) exitText() string {
	if p.state == nil {
		return "running"
	}
	return p.state.String()
}

// forker runs every fork of the service on one OS thread that never exits:
// a child's PR_SET_PDEATHSIG fires when the thread that forked it ends, not
// the process, and Go may end threads.
type forker struct{ jobs chan func() }

func newForker() *forker {
	f := &forker{jobs: make(chan func())}
	go func() {
		runtime.LockOSThread() // never unlocked: the thread lives as long as the service
		for job := range f.jobs {
			job()
		}
	}()
	return f
}

func (f *forker) do(job func()) {
	done := make(chan struct{})
	f.jobs <- func() { job(); close(done) }
	<-done
}

// spawn starts a kernel process: argv plus "--service-fd 3", with env, in
// its own process group, SIGTERM when the service dies, its output in the
// service's log. The process waits for its Assignment on fd 3.
func (s *Server) spawn() (*proc, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	argv := append(append([]string(nil), s.cfg.Kernel[1:]...), "--service-fd", "3")
	cmd := exec.Command(s.cfg.Kernel[0], argv...)
	cmd.Env = s.cfg.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Dir = "/"
	cmd.Stdout = outW
	cmd.Stderr = outW
	cmd.ExtraFiles = []*os.File{r}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	s.fork.do(func() { err = cmd.Start() })
	r.Close()
	outW.Close()
	if err != nil {
		w.Close()
		outR.Close()
		return nil, fmt.Errorf("start a kernel (%s): %w", s.cfg.Kernel[0], err)
	}
	p := &proc{cmd: cmd, assign: w, exited: make(chan struct{})}
	go s.copyLog(fmt.Sprintf("kernel pid %d: ", cmd.Process.Pid), outR)
	go func() {
		cmd.Wait()
		p.state = cmd.ProcessState
		close(p.exited)
	}()
	return p, nil
}

// copyLog copies a kernel's output into the service's log, line by line.
// It never reaches the researcher: a worker's crash report can hold values
// from the data, and only the release gate may let those out.
func (s *Server) copyLog(prefix string, r io.ReadCloser) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		s.log.Print(prefix + sc.Text())
	}
}

// addSpare starts one spare kernel into the pool, unless the service is
// closing or the pool is full.
func (s *Server) addSpare() {
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return
	}
	p, err := s.spawn()
	if err != nil {
		s.log.Printf("spare kernel: %v", err)
		return
	}
	select {
	case s.spares <- p:
		s.mu.Lock()
		closing := s.closing
		s.mu.Unlock()
		if closing {
			s.drainSpares()
		}
	default:
		p.assign.Close()
		p.signal(syscall.SIGKILL)
	}
}

// refillDelay is how long after taking a spare the service starts its
// replacement.
const refillDelay = 500 * time.Millisecond

// take returns a spare kernel that is still alive, or a new one.
func (s *Server) take() (*proc, error) {
	for {
		select {
		case p := <-s.spares:
			// The replacement starts once this kernel is up: its start
			// (an exec of a large binary) would compete for the CPU with
			// the kernel the researcher is waiting for.
			time.AfterFunc(refillDelay, s.addSpare)
			select {
			case <-p.exited:
				s.log.Printf("spare kernel pid %d had ended (%s); taking another", p.pid(), p.exitText())
				p.assign.Close()
				continue
			default:
				return p, nil
			}
		default:
			return s.spawn()
		}
	}
}

// drainSpares ends the spare kernels in the pool.
func (s *Server) drainSpares() {
	for {
		select {
		case p := <-s.spares:
			p.assign.Close()
			p.signal(syscall.SIGKILL)
		default:
			return
		}
	}
}
