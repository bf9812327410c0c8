package sandbox

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/traefik/yaegi/interp"
)

// stopper runs the interpreter's programs so that an interrupt stops them
// the way yaegi's ExecuteWithContext does, but returns only once the
// program has really returned.
//
// ExecuteWithContext runs Execute in a goroutine of its own and returns as
// soon as the context is done, after telling the program to stop
// (interp.stop: the run id is bumped, so interpreted code ends at its next
// step, and the done channel is closed, so channel operations end). A
// program inside one long call to compiled code (a regexp over 512 MB) goes
// on computing after that return, with nothing left to tell when it ends:
// the worker would report the cell interrupted while it still runs, and
// start the next cell on an interpreter that is still in use.
//
// yaegi v0.16.1 exports no other way to stop a program, so the stopper does
// what ExecuteWithContext does through the interpreter's unexported fields
// (located by name and type; newStopper fails if they change) and calls
// Execute on the caller's goroutine. It is armed for a whole cell, so that
// interpreted code the worker calls outside Execute (a String method while
// rendering the result) is stopped too.
type stopper struct {
	ip         *interp.Interpreter
	imu        *sync.RWMutex  // interp.mutex, guards done and cancelChan
	done       *chan struct{} // interp.done, closed to end channel operations
	cancelChan *bool          // interp.cancelChan: channel operations watch done
	id         *uint64        // interp.id, the run id a running frame must match
	fastChan   bool           // interp.opt.fastChan (YAEGI_FAST_CHAN)

	mu      sync.Mutex
	armed   bool // a cell runs and *done is open
	stopped bool // it was told to stop
}

// newStopper finds the fields of ip that cancellation uses.
func newStopper(ip *interp.Interpreter) (*stopper, error) {
	v := reflect.ValueOf(ip).Elem()
	field := func(name string, t reflect.Type) (unsafe.Pointer, error) {
		f := v.FieldByName(name)
		if !f.IsValid() || f.Type() != t {
			return nil, fmt.Errorf("yaegi's Interpreter has no field %s of type %v (the worker stops cells through it; see sandbox/stop.go)", name, t)
		}
		return unsafe.Pointer(f.UnsafeAddr()), nil
	}
	s := &stopper{ip: ip}
	p, err := field("mutex", reflect.TypeOf(sync.RWMutex{}))
	if err != nil {
		return nil, err
	}
	s.imu = (*sync.RWMutex)(p)
	if p, err = field("done", reflect.TypeOf(make(chan struct{}))); err != nil {
		return nil, err
	}
	s.done = (*chan struct{})(p)
	if p, err = field("cancelChan", reflect.TypeOf(false)); err != nil {
		return nil, err
	}
	s.cancelChan = (*bool)(p)
	if p, err = field("id", reflect.TypeOf(uint64(0))); err != nil {
		return nil, err
	}
	s.id = (*uint64)(p)
	if p, err = field("fastChan", reflect.TypeOf(false)); err != nil {
		return nil, err
	}
	s.fastChan = *(*bool)(p)
	return s, nil
}

// cell arms the stopper for one cell: from here until the returned end is
// called, ctx being done stops whatever interpreted code runs for the cell
// (its programs, a String method the worker calls to show a value, its
// goroutines).
func (s *stopper) cell(ctx context.Context) (end func()) {
	s.imu.Lock()
	*s.done = make(chan struct{})
	*s.cancelChan = !s.fastChan
	s.imu.Unlock()
	s.mu.Lock()
	s.armed, s.stopped = true, false
	s.mu.Unlock()
	unwatch := context.AfterFunc(ctx, s.stop)
	return func() {
		unwatch()
		s.mu.Lock()
		s.armed = false
		s.mu.Unlock()
	}
}

// run executes prog for the armed cell; if the cell is stopped meanwhile,
// it returns ctx's error once Execute has returned. It does not return
// before then, however long a compiled call inside prog takes.
func (s *stopper) run(ctx context.Context, prog *interp.Program) (reflect.Value, error) {
	if err := ctx.Err(); err != nil {
		return reflect.Value{}, err
	}
	res, err := s.ip.Execute(prog)
	// Execute returns no error when stopped: interpreted code just ends
	// where it was. Nor when the interrupt ended a time.Sleep (or an input
	// wait) that was the program's last step before stop ran: it is
	// interrupted all the same.
	if err := ctx.Err(); err != nil {
		return reflect.Value{}, err
	}
	return res, err
}

// stop tells the cell's code to end, as interp.stop does; once per cell.
func (s *stopper) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.armed || s.stopped {
		return
	}
	s.stopped = true
	atomic.AddUint64(s.id, 1)
	close(*s.done)
}
