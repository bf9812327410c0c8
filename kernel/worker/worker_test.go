package worker

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"enclave/kernel"
	"enclave/kernel/worker/internal/fake"
)

// The test binary doubles as the fake worker: launch starts it with the
// argument "fake-worker".
func TestMain(m *testing.M) {
	if slices.Contains(os.Args[1:], "fake-worker") {
		fake.Main()
		return
	}
	os.Exit(m.Run())
}

func newExecutor(t *testing.T) *Executor {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	e := New(Config{Path: self, Args: []string{"fake-worker"}, Grace: 200 * time.Millisecond,
		Log: log.New(io.Discard, "", 0), Plain: os.Getenv("HARDEN") == ""})
	t.Cleanup(func() { e.Close() })
	return e
}

// events records what a cell produced.
type events struct {
	mu      sync.Mutex
	out     strings.Builder
	results []string
	display []*kernel.Display
	clears  int
	input   string
}

func (ev *events) Stream(name, text string) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.out.WriteString(name + ":" + text)
}
func (ev *events) Display(d *kernel.Display) {
	ev.mu.Lock()
	ev.display = append(ev.display, d)
	ev.mu.Unlock()
}
func (ev *events) Result(data, _ map[string]any) {
	ev.mu.Lock()
	ev.results = append(ev.results, data["text/plain"].(string))
	ev.mu.Unlock()
}
func (ev *events) RawResult(data, _ json.RawMessage) {
	var b struct {
		Text string `json:"text/plain"`
	}
	json.Unmarshal(data, &b)
	ev.mu.Lock()
	ev.results = append(ev.results, b.Text)
	ev.mu.Unlock()
}
func (ev *events) Clear(bool) { ev.mu.Lock(); ev.clears++; ev.mu.Unlock() }
func (ev *events) Input(ctx context.Context, prompt string, _ bool) (string, error) {
	if ev.input == "" {
		return "", errors.New("no stdin here")
	}
	return ev.input + " for " + prompt, nil
}
func (ev *events) Call(ctx context.Context, method string, _ json.RawMessage) (json.RawMessage, error) {
	if method == "echo" {
		return json.RawMessage(`{"ok":true}`), nil
	}
	return nil, errors.New("no such API method")
}

func run(t *testing.T, e *Executor, code string, ev *events) *kernel.CellError {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return e.Execute(ctx, &kernel.Cell{Code: code, Number: 1}, ev)
}

func TestCells(t *testing.T) {
	e := newExecutor(t)
	cases := []struct {
		name, code string
		wantOut    string
		wantErr    string
		check      func(*testing.T, *events)
	}{
		{"streams", "print a\neprint b\nprint c", "stdout:a\nstderr:b\nstdout:c\n", "", nil},
		{"result", "result 42", "", "", func(t *testing.T, ev *events) {
			if len(ev.results) != 1 || ev.results[0] != "42" {
				t.Errorf("results %q", ev.results)
			}
		}},
		{"display and update", "display d1\nupdate d1\nclear", "", "", func(t *testing.T, ev *events) {
			if len(ev.display) != 2 || ev.display[0].DisplayID != "d1" || !ev.display[1].Update || ev.clears != 1 {
				t.Errorf("displays %+v clears %d", ev.display, ev.clears)
			}
		}},
		{"error", "print x\nerr bad thing", "stdout:x\n", "Error: bad thing", nil},
		{"input", "input name?", "stdout:got Ada for name?\n", "", nil},
		{"api call served", "call echo", "stdout:{\"ok\":true}\n", "", nil},
		{"unknown api", "call omop.tables", "", "no such API method", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := &events{input: "Ada"}
			cerr := run(t, e, tc.code, ev)
			if tc.wantErr == "" && cerr != nil {
				t.Fatalf("cell failed: %v", cerr)
			}
			if tc.wantErr != "" && (cerr == nil || !strings.Contains(cerr.Error(), tc.wantErr)) {
				t.Fatalf("got error %v, want %q", cerr, tc.wantErr)
			}
			if got := ev.out.String(); got != tc.wantOut {
				t.Errorf("output %q, want %q", got, tc.wantOut)
			}
			if tc.check != nil {
				tc.check(t, ev)
			}
		})
	}
}

func TestWorkerCrashThenNextCellWorks(t *testing.T) {
	e := newExecutor(t)
	cerr := run(t, e, "crash", &events{})
	want := "the Go worker stopped: fatal error: stack overflow; variables were lost"
	if cerr == nil || cerr.Value != want {
		t.Fatalf("got %v, want %q", cerr, want)
	}
	ev := &events{}
	if cerr := run(t, e, "print alive", ev); cerr != nil || ev.out.String() != "stdout:alive\n" {
		t.Fatalf("next cell: %v %q", cerr, ev.out.String())
	}
}

func TestWorkerExitIsReported(t *testing.T) {
	e := newExecutor(t)
	cerr := run(t, e, "exit", &events{})
	if cerr == nil || !strings.Contains(cerr.Value, "exit status 3") || !strings.Contains(cerr.Value, "variables were lost") {
		t.Fatalf("got %v", cerr)
	}
}

func TestInterruptCooperative(t *testing.T) {
	e := newExecutor(t)
	run(t, e, "print warm", &events{})
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(50*time.Millisecond, func() { cancel(kernel.ErrInterrupted) })
	start := time.Now()
	cerr := e.Execute(ctx, &kernel.Cell{Code: "wait"}, &events{})
	if cerr == nil || cerr.Name != "Interrupted" {
		t.Fatalf("got %v, want the worker's own interrupt error", cerr)
	}
	if time.Since(start) > time.Second {
		t.Error("a cooperative interrupt waited for the grace period")
	}
	ev := &events{}
	if run(t, e, "print same worker", ev); ev.out.String() != "stdout:same worker\n" {
		t.Errorf("after interrupt: %q", ev.out.String())
	}
}

func TestInterruptKillsAfterGrace(t *testing.T) {
	e := newExecutor(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(50*time.Millisecond, func() { cancel(kernel.ErrInterrupted) })
	cerr := e.Execute(ctx, &kernel.Cell{Code: "spin"}, &events{})
	if cerr == nil || cerr.Value != lostInterrupt {
		t.Fatalf("got %v, want %q", cerr, lostInterrupt)
	}
	ev := &events{}
	if cerr := run(t, e, "print fresh", ev); cerr != nil || ev.out.String() != "stdout:fresh\n" {
		t.Fatalf("next cell: %v %q", cerr, ev.out.String())
	}
}

func TestTimeoutKills(t *testing.T) {
	e := newExecutor(t)
	ctx, cancel := context.WithTimeoutCause(context.Background(), 50*time.Millisecond, kernel.ErrCellTimeout)
	defer cancel()
	cerr := e.Execute(ctx, &kernel.Cell{Code: "spin"}, &events{})
	if cerr == nil || cerr.Value != lostTimeout {
		t.Fatalf("got %v, want %q", cerr, lostTimeout)
	}
}

func TestCompleteAndInspect(t *testing.T) {
	e := newExecutor(t)
	ctx := context.Background()
	c, err := e.Complete(ctx, "fmt.Pri", 7)
	if err != nil || len(c.Matches) != 2 || c.CursorEnd != 7 {
		t.Fatalf("complete %+v %v", c, err)
	}
	d, err := e.Inspect(ctx, "fmt.Println", 5, 0)
	if err != nil || d["text/plain"] == nil {
		t.Fatalf("inspect %v %v", d, err)
	}
}

func TestMissingWorkerBinary(t *testing.T) {
	e := New(Config{Path: "/nonexistent/enclave-worker", Log: log.New(io.Discard, "", 0)})
	defer e.Close()
	cerr := run(t, e, "print x", &events{})
	if cerr == nil || !strings.Contains(cerr.Value, "could not start") {
		t.Fatalf("got %v", cerr)
	}
}

func TestDeathReason(t *testing.T) {
	cases := []struct {
		out    string
		killed bool
		want   string
	}{
		{"runtime: goroutine stack exceeds 1000000000-byte limit\nfatal error: stack overflow\n\ngoroutine 1 [running]:", false, "fatal error: stack overflow"},
		{"...\nruntime: goroutine stack exceeds 1000000000-byte limit\n(trace cut)", false, "fatal error: stack overflow"},
		{"fatal error: runtime: out of memory\n", false, "fatal error: runtime: out of memory"},
		{"panic: boom\n\ngoroutine 7", false, "panic: boom"},
		{"", true, "killed by the kernel"},
	}
	for _, tc := range cases {
		if got := deathReason(tc.out, nil, tc.killed); got != tc.want {
			t.Errorf("deathReason(%q) = %q, want %q", tc.out, got, tc.want)
		}
	}
}

func TestDeathReasonFromATruncatedTrace(t *testing.T) {
	var b strings.Builder
	for range 60 {
		b.WriteString("github.com/traefik/yaegi/interp.runCfg(0x1, 0x2)\n\t/x/run.go:234 +0x265\n")
	}
	b.WriteString("\ngoroutine 1 gp=0x1 m=0 [syscall]:\nmain.main()\n")
	got := deathReason(b.String(), errors.New("exit status 2"), false)
	if !strings.Contains(got, "stack overflow") {
		t.Errorf("got %q", got)
	}
	if got := deathReason("goroutine 1 [running]:\nmain.main()\n", errors.New("exit status 2"), false); !strings.Contains(got, "Go runtime error") {
		t.Errorf("got %q", got)
	}
}

func TestDescribe(t *testing.T) {
	e := newExecutor(t)
	d, err := e.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d, "go-fake") || !strings.Contains(d, "process") {
		t.Errorf("description %q", d)
	}
}

// TestWorkerDeathBetweenCellsIsToldToTheNextCell: the next cell runs on a
// fresh worker and says so first, with how the last one stopped — unless
// it held rows: one chose among five ways to crash between cells, and the
// notice named it (review 46). When OnFresh says the old worker held rows,
// the notice says only that it stopped.
func TestWorkerDeathBetweenCellsIsToldToTheNextCell(t *testing.T) {
	for _, held := range []bool{false, true} {
		e := newExecutor(t)
		e.cfg.OnFresh = func() bool { return held }
		run(t, e, "print warm", &events{})
		e.mu.Lock()
		p := e.cur
		e.mu.Unlock()
		p.p.Kill()
		<-p.dead
		ev := &events{}
		if cerr := run(t, e, "print after", ev); cerr != nil {
			t.Fatal(cerr)
		}
		out := ev.out.String()
		told := strings.Contains(out, "signal") || strings.Contains(out, "killed")
		if !strings.Contains(out, "stderr:[enclave] the Go worker stopped between cells") || !strings.Contains(out, "variables were lost") ||
			!strings.HasSuffix(out, "stdout:after\n") || told == held {
			t.Errorf("held rows %v: %q", held, out)
		}
	}
}

func TestInterruptedButStillBusyWorkerIsKilled(t *testing.T) {
	e := newExecutor(t)
	run(t, e, "print warm", &events{})
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(50*time.Millisecond, func() { cancel(kernel.ErrInterrupted) })
	cerr := e.Execute(ctx, &kernel.Cell{Code: "spinbg"}, &events{})
	if cerr == nil || cerr.Value != lostInterrupt {
		t.Fatalf("got %v, want %q: the worker kept computing after saying it stopped", cerr, lostInterrupt)
	}
	ev := &events{}
	if cerr := run(t, e, "print fresh", ev); cerr != nil || ev.out.String() != "stdout:fresh\n" {
		t.Fatalf("next cell: %v %q", cerr, ev.out.String())
	}
}
