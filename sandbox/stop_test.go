package sandbox

import (
	"strconv"
	"strings"

	"testing"
	"time"

	"enclave/rpc"
)

// send starts a cell without waiting for it.
func (k *kernelSide) send(code string) uint64 {
	k.t.Helper()
	k.nextID++
	id := k.nextID
	if err := k.conn.Send(&rpc.Msg{Type: rpc.Execute, ID: id, Exec: &rpc.ExecRequest{Code: code, CellNumber: int(id)}}); err != nil {
		k.t.Fatal(err)
	}
	return id
}

// startedMarker is what a cell started by sendStarted prints first.
const startedMarker = "enclave-test: cell running\n"

// sendStarted starts a cell (statements only) whose first statement prints
// startedMarker and returns once the marker arrived: the cell is running,
// so an interrupt sent now finds it.
func (k *kernelSide) sendStarted(code string) uint64 {
	k.t.Helper()
	id := k.send("print(" + strconv.Quote(startedMarker) + ")\n" + code)
	var seen strings.Builder
	deadline := time.After(20 * time.Second)
	for {
		select {
		case m, ok := <-k.events:
			if !ok {
				k.t.Fatalf("worker closed the pipe before cell %d started", id)
			}
			if m.ID != id {
				continue
			}
			switch m.Type {
			case rpc.Stream:
				seen.WriteString(m.Stream.Text)
				if strings.Contains(seen.String(), startedMarker) {
					return id
				}
			case rpc.Done, rpc.Error:
				k.t.Fatalf("cell %d ended (%s) before printing its start marker", id, m.Type)
			}
		case <-deadline:
			k.t.Fatalf("cell %d did not print its start marker in 20 s", id)
		}
	}
}

// An interpreted loop is stopped at its next step: the cell is reported
// Interrupted within milliseconds of the interrupt and the notebook keeps
// its variables.
func TestInterruptInterpretedLoop(t *testing.T) {
	stuck := make(chan string, 1)
	k := startWorker(t, Options{Stuck: func(msg string) { stuck <- msg }})
	if o := k.exec("n := 41", rpc.ExecRequest{}); o.Err != nil {
		t.Fatal(o.Err)
	}
	for _, code := range []string{"for {\n}", "for {\n\tn++\n}", "func spin() {\n\tfor {\n\t}\n}\nspin()"} {
		id := k.sendStarted(code)
		start := time.Now()
		k.conn.Send(&rpc.Msg{Type: rpc.Interrupt, ID: id})
		o := k.collect(id, 5*time.Second)
		took := time.Since(start)
		t.Logf("%q: interrupt → done in %v", code, took)
		if o.Err == nil || o.Err.Name != ErrInterrupt {
			t.Errorf("%q: error %+v, want %s", code, o.Err, ErrInterrupt)
		}
		// Milliseconds when idle; a loaded 2-core host can delay any step.
		if took > 500*time.Millisecond {
			t.Errorf("%q: interrupted after %v, want a few ms", code, took)
		}
	}
	if o := k.exec("n > 41", rpc.ExecRequest{}); o.Err != nil || len(o.Results) != 1 || o.Results[0]["text/plain"] != "true" {
		t.Errorf("variables after interrupts: %+v %+v", o.Results, o.Err)
	}
	select {
	case msg := <-stuck:
		t.Errorf("Stuck called for an interpreted loop: %s", msg)
	default:
	}
}

// slowStep is one call into compiled code (the regexp engine over 2 MB:
// 0.5 s on an idle core, more under load); an interrupt cannot reach
// inside it. startSlowCall prepares its input in a cell of its own, so
// that in the slowStep cell started by sendStarted the only interpreted
// step between the start marker and the call is building the regexp.
const slowStep = "regexp.MustCompile(`([ab]{1,20})*c`).MatchString(s)"

func startSlowCall(k *kernelSide) {
	k.t.Helper()
	code := "import (\n\t\"regexp\"\n\t\"strings\"\n)\ns := strings.Repeat(\"ab\", 1<<20)"
	if o := k.exec(code, rpc.ExecRequest{}); o.Err != nil {
		k.t.Fatal(o.Err)
	}
}

// A cell inside one long compiled call is not reported interrupted while
// the call runs: past the grace the worker says on the cell's stderr that
// it is being stopped and the variables are lost, and calls Stuck (where
// the worker's main exits); it stays busy meanwhile, still answering
// completion requests, and reports the cell only once the call returned.
func TestInterruptCompiledCall(t *testing.T) {
	const grace = 200 * time.Millisecond
	type stuckCall struct {
		at  time.Time
		msg string
	}
	stuck := make(chan stuckCall, 1)
	k := startWorker(t, Options{StopGrace: grace, Stuck: func(msg string) { stuck <- stuckCall{time.Now(), msg} }})
	startSlowCall(k)
	id := k.sendStarted(slowStep)
	interruptAt := time.Now()
	k.conn.Send(&rpc.Msg{Type: rpc.Interrupt, ID: id})

	var (
		stderr      strings.Builder
		events      []rpc.Type
		errInfo     *rpc.ErrorInfo
		doneAt      time.Time
		s           stuckCall
		gotStuck    bool
		completeAt  time.Time
		completeSnt bool
	)
	deadline := time.After(30 * time.Second)
	stuckCh := stuck
	for doneAt.IsZero() {
		select {
		case s = <-stuckCh:
			gotStuck, stuckCh = true, nil
			// The worker is busy with the cell: completion still works.
			k.conn.Send(&rpc.Msg{Type: rpc.Complete, ID: 1 << 40, Query: &rpc.CodeQuery{Code: "strings.Rep", CursorPos: 11}})
			completeSnt = true
		case m, ok := <-k.events:
			if !ok {
				t.Fatal("worker closed the pipe")
			}
			switch {
			case m.ID == 1<<40 && m.Type == rpc.CompleteReply:
				completeAt = time.Now()
			case m.ID != id:
			default:
				events = append(events, m.Type)
				switch m.Type {
				case rpc.Stream:
					if m.Stream.Name == "stderr" {
						stderr.WriteString(m.Stream.Text)
					}
				case rpc.Error:
					errInfo = m.Err
				case rpc.Done:
					doneAt = time.Now()
				}
			}
		case <-deadline:
			t.Fatalf("cell did not end; events %v", events)
		}
	}
	t.Logf("interrupt → Stuck %v, → Done %v; events %v", s.at.Sub(interruptAt), doneAt.Sub(interruptAt), events)
	if !gotStuck {
		t.Fatalf("Stuck was not called; the call ended %v after the interrupt (the test needs a call longer than %v)", doneAt.Sub(interruptAt), grace)
	}
	if d := s.at.Sub(interruptAt); d < grace {
		t.Errorf("Stuck called %v after the interrupt, before the grace of %v", d, grace)
	}
	if !doneAt.After(s.at) {
		t.Errorf("Done before Stuck: the cell was reported while its call still ran")
	}
	for _, want := range []string{"did not stop within 200ms of the interrupt", "compiled library code", "variables are lost"} {
		if !strings.Contains(s.msg, want) {
			t.Errorf("Stuck message %q lacks %q", s.msg, want)
		}
		if !strings.Contains(stderr.String(), "[enclave] ") || !strings.Contains(stderr.String(), want) {
			t.Errorf("cell stderr %q lacks %q", stderr.String(), want)
		}
	}
	if errInfo == nil || errInfo.Name != ErrInterrupt {
		t.Errorf("error %+v, want %s once the call returned", errInfo, ErrInterrupt)
	}
	if completeSnt && (completeAt.IsZero() || !completeAt.Before(doneAt)) {
		t.Errorf("completion during the stuck cell was not answered before the cell ended")
	}
}

// Shutdown is still obeyed while a cell is stuck in a compiled call.
func TestShutdownWhileStuck(t *testing.T) {
	stuck := make(chan string, 1)
	k := startWorker(t, Options{StopGrace: 50 * time.Millisecond, Stuck: func(msg string) { stuck <- msg }})
	startSlowCall(k)
	id := k.sendStarted(slowStep)
	k.conn.Send(&rpc.Msg{Type: rpc.Interrupt, ID: id})
	select {
	case <-stuck:
	case <-time.After(10 * time.Second):
		t.Fatal("Stuck not called")
	}
	start := time.Now()
	k.conn.Send(&rpc.Msg{Type: rpc.Shutdown})
	select {
	case err := <-k.done:
		t.Logf("Serve returned %v after %v", err, time.Since(start))
		k.done <- err // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Shutdown")
	}
}

// A cell whose last step is a Sleep (or an input wait) that the interrupt
// ends is reported Interrupted, never ok: the code returns normally, before
// or after the stop, and only the cell's context tells.
func TestInterruptEndsSleep(t *testing.T) {
	k := startWorker(t, Options{})
	k.exec("import \"time\"", rpc.ExecRequest{})
	for i := 0; i < 20; i++ {
		id := k.sendStarted("time.Sleep(time.Hour)")
		k.conn.Send(&rpc.Msg{Type: rpc.Interrupt, ID: id})
		if o := k.collect(id, 5*time.Second); o.Status != "error" || o.Err == nil || o.Err.Name != ErrInterrupt {
			t.Fatalf("run %d: status %s, error %+v; want %s", i, o.Status, o.Err, ErrInterrupt)
		}
	}
}
