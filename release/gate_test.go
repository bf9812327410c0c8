package release

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"enclave/api/spec"
	"enclave/kernel"
	"enclave/release/airlock"
	"enclave/release/audit"
)

func testSession(t *testing.T, mod func(*Policy)) *Session {
	t.Helper()
	dir := t.TempDir()
	air, err := airlock.Open(filepath.Join(dir, AirlockDir))
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.Open(filepath.Join(dir, "audit", "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	eg, err := OpenWorkspaceEgress(filepath.Join(dir, HistoryDir, EgressFile))
	if err != nil {
		t.Fatal(err)
	}
	p := Defaults()
	if mod != nil {
		mod(&p)
	}
	s := &Session{Policy: p, Airlock: air, Audit: log, WorkspaceEgress: eg, ID: "sess-1234567890", Researcher: "alice"}
	t.Cleanup(func() { s.Close() })
	return s
}

func out(cell, msgType string, content any) kernel.Output {
	b, _ := json.Marshal(content)
	return kernel.Output{Cell: cell, MsgType: msgType, Content: b}
}

func stream(cell, text string) kernel.Output {
	return out(cell, "stream", map[string]string{"name": "stdout", "text": text})
}

func TestGateSubstitutesKernelRenderings(t *testing.T) {
	s := testSession(t, nil)
	g := NewGate(s)
	ref := s.Register("c1", map[string]any{"text/html": "<table>kernel</table>", "text/plain": "kernel"})
	got := g.Release(out("c1", "display_data", map[string]any{
		"data":      map[string]any{spec.MIMERef: spec.Ref{Ref: ref}, "text/plain": "worker's own text"},
		"metadata":  map[string]any{"worker": "meta"},
		"transient": map[string]any{"display_id": "value-42"},
	}))
	if len(got) != 1 {
		t.Fatalf("got %v", got)
	}
	c := string(got[0].Content)
	for _, bad := range []string{"worker's own text", "value-42", "worker", spec.MIMERef} {
		if strings.Contains(c, bad) {
			t.Errorf("released display keeps %q: %s", bad, c)
		}
	}
	if !strings.Contains(c, "<table>kernel</table>") || !strings.Contains(c, `"display_id":"enclave-`) {
		t.Errorf("released %s", c)
	}
	// An unknown reference shows a notice, never the worker's bundle.
	got = g.Release(out("c1", "execute_result", map[string]any{"execution_count": 1,
		"data": map[string]any{spec.MIMERef: spec.Ref{Ref: "res-999"}, "text/plain": "forged"}}))
	if len(got) != 1 || got[0].MsgType != "stream" || strings.Contains(string(got[0].Content), "forged") {
		t.Errorf("unknown ref: %v", got)
	}
	// A free-form display keeps its content but not the worker's display id.
	got = g.Release(out("c1", "display_data", map[string]any{"data": map[string]any{"text/plain": "x"},
		"metadata": map[string]any{}, "transient": map[string]any{"display_id": "secret-value"}}))
	if len(got) != 1 || strings.Contains(string(got[0].Content), "secret-value") {
		t.Errorf("display id passed: %s", got[0].Content)
	}
	g.CellDone("c1")
}

func TestTaintWithholdsFreeFormToTheAirlock(t *testing.T) {
	s := testSession(t, nil)
	g := NewGate(s)
	if got := g.Release(stream("c1", "before\n")); len(got) != 1 {
		t.Fatalf("clean worker's output withheld: %v", got)
	}
	g.CellDone("c1")
	s.Taint("Collect of all persons")
	ref := s.Register("c2", map[string]any{"text/plain": "a released table"})
	for _, o := range []kernel.Output{
		stream("c2", "row 1\nrow 2\n"),
		out("c2", "display_data", map[string]any{"data": map[string]any{"text/html": "<b>123</b>"}}),
		out("c2", "clear_output", map[string]any{"wait": false}),
		out("c2", "error", map[string]any{"ename": "panic", "evalue": "person 123", "traceback": []string{}}),
		out("c2", "user_expression", map[string]any{"status": "ok"}),
	} {
		if got := g.Release(o); len(got) != 0 {
			t.Errorf("%s released under taint: %s", o.MsgType, got[0].Content)
		}
	}
	if got := g.Release(out("c2", "execute_result", map[string]any{"execution_count": 2,
		"data": map[string]any{spec.MIMERef: spec.Ref{Ref: ref}}})); len(got) != 1 {
		t.Errorf("a kernel-built result was withheld under taint")
	}
	if got := g.Release(out("q1", "inspect_reply", map[string]any{"text/plain": "value"})); got != nil {
		t.Errorf("inspect under taint: %v", got)
	}
	notice := g.CellDone("c2")
	if len(notice) != 1 {
		t.Fatalf("no notice: %v", notice)
	}
	var n struct{ Text string }
	json.Unmarshal(notice[0].Content, &n)
	if !strings.HasPrefix(n.Text, "[enclave] output withheld for review: r-0001 — ") || strings.Contains(n.Text, "line") {
		t.Errorf("notice %q", n.Text)
	}
	it, content, err := s.Airlock.Get("r-0001")
	if err != nil || it.Author != "alice" || it.Cell != "c2" || !strings.Contains(string(content), "row 2") || !strings.Contains(string(content), "person 123") {
		t.Fatalf("airlock item %+v %q %v", it, content, err)
	}
	s.Untaint()
	if got := g.Release(stream("c3", "after restart\n")); len(got) != 1 {
		t.Errorf("output withheld after a fresh worker")
	}
}

func TestBudgetCoversEveryChannel(t *testing.T) {
	s := testSession(t, func(p *Policy) { p.CellOutput = 1000 })
	g := NewGate(s)
	var released int
	for i := 0; i < 200; i++ {
		for _, o := range g.Release(out("c1", "clear_output", map[string]any{"wait": false})) {
			released += len(o.Content)
		}
	}
	if released > 1000+200 {
		t.Errorf("clear_output flood released %d bytes past a 1000-byte budget", released)
	}
	g.CellDone("c1")
	got := g.Release(out("c2", "error", map[string]any{"ename": "panic", "evalue": strings.Repeat("v", 100000),
		"traceback": []string{strings.Repeat("t", 100000)}}))
	if len(got) < 1 || got[0].MsgType != "error" || len(got[0].Content) > errorMax+500 {
		t.Fatalf("a huge error: %d outputs, first %d bytes", len(got), len(got[0].Content))
	}
	g.CellDone("c2")
	got = g.Release(stream("c3", strings.Repeat("s", 5000)))
	total := 0
	for _, o := range got {
		total += len(o.Content)
	}
	if total > 1000+200 || len(got) != 2 {
		t.Errorf("stream over budget: %d outputs, %d bytes", len(got), total)
	}
}

func TestEgressVolumesHoldFreeForm(t *testing.T) {
	s := testSession(t, func(p *Policy) { p.SessionEgress = 300 })
	g := NewGate(s)
	for i := 0; i < 10; i++ {
		g.Release(stream("c1", strings.Repeat("x", 50)))
	}
	if !s.egressSpent() {
		t.Fatal("session volume spent but no alert")
	}
	if got := g.Release(stream("c1", "more")); len(got) != 0 {
		t.Errorf("free-form output released past the session volume")
	}
	if n := g.CellDone("c1"); len(n) != 1 || !strings.Contains(string(n[0].Content), "egress volume") {
		t.Errorf("notice %v", n)
	}
	es, _ := audit.Read(s.Audit.Path(), audit.Filter{Type: "alert"})
	if len(es) != 1 || es[0].Rules[0] != "egress" {
		t.Errorf("alerts %+v", es)
	}

	// Two sessions of one workspace share the workspace volume.
	a := testSession(t, func(p *Policy) { p.WorkspaceEgress = 500 })
	b := &Session{Policy: a.Policy, WorkspaceEgress: a.WorkspaceEgress, Audit: a.Audit, ID: "other"}
	ga, gb := NewGate(a), NewGate(b)
	ga.Release(stream("a1", strings.Repeat("x", 300)))
	ga.CellDone("a1")
	gb.Release(stream("b1", strings.Repeat("y", 300)))
	gb.CellDone("b1")
	if !b.egressSpent() {
		t.Error("the workspace volume spent by two sessions raised no alert")
	}
}

// TestTaintedWorkerCannotReplayEarlierResults: once tainted, a worker that
// shows an earlier cell's result (chosen by row data, as a signal) has it
// held with its other output, without a notice of its own (one notice per
// reference would count whatever the worker likes: review 38); a result
// the kernel registered as shown for its own cell still shows.
func TestTaintedWorkerCannotReplayEarlierResults(t *testing.T) {
	s := testSession(t, nil)
	g := NewGate(s)
	old := s.Register("c1", map[string]any{"text/plain": "earlier table"})
	show := func(cell, ref string) []kernel.Output {
		return g.Release(out(cell, "display_data", map[string]any{"data": map[string]any{spec.MIMERef: spec.Ref{Ref: ref}}}))
	}
	if got := show("c2", old); len(got) != 1 || !strings.Contains(string(got[0].Content), "earlier table") {
		t.Fatalf("a clean worker could not show an earlier result: %v", got)
	}
	s.Taint("Collect")
	for range 3 {
		if got := show("c3", old); len(got) != 0 {
			t.Errorf("a tainted worker's replay of an earlier result gave: %v", got)
		}
	}
	mine := s.Register("c3", map[string]any{"text/plain": "this cell's table"})
	if got := show("c3", mine); len(got) != 1 || !strings.Contains(string(got[0].Content), "this cell's table") {
		t.Errorf("this cell's own result was not shown under taint: %v", got)
	}
	if done := g.CellDone("c3"); len(done) != 1 || !strings.Contains(string(done[0].Content), "withheld for review: r-0001") {
		t.Errorf("the replays were not held in one item: %v", done)
	}
}

// A result made while the worker held rows may carry row values in its
// description (a filter bound, a title), in which of its cells passed and
// in how many such results a cell made: %releases lists none of it.
func TestRecentHidesHeldResults(t *testing.T) {
	s := testSession(t, nil)
	ctx := context.Background()
	for _, d := range []*Decision{
		{What: "stats.Count(persons born 1957)", Cells: []*Cell{{Stat: Count, Value: 400, Persons: 400}}},
		{What: "stats.Count(persons born 1961 with person_id 8812)", Held: true, Cells: []*Cell{{Stat: Count, Value: 3, Persons: 3}}},
	} {
		if _, err := s.Decide(ctx, "c1", d); err != nil {
			t.Fatal(err)
		}
	}
	s.Taint("omop.Collect")
	text := s.RecentText(10)
	for _, want := range []string{"persons born 1957", "1 cells: 1 released", "held for review and not listed"} {
		if !strings.Contains(text, want) {
			t.Errorf("%%releases lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, "\n") != 3 {
		t.Errorf("%%releases lists more than the notice and the one result made before the rows came:\n%s", text)
	}
	for _, leak := range []string{"1961", "8812", "small cell"} {
		if strings.Contains(text, leak) {
			t.Errorf("%%releases shows %q of a held result:\n%s", leak, text)
		}
	}
}

// TestPaceWhileTainted: a cell that ran while the worker held rows ends on
// a coarse clock (review 44 slept a BMI in tens of milliseconds per cell);
// a clean cell is not held back, nor one whose timeout came; an interrupt
// does not end it sooner (review 46 timed its reply).
func TestPaceWhileTainted(t *testing.T) {
	s := testSession(t, nil)
	g := NewGate(s)
	ctx := context.Background()

	g.pace = time.Hour // a clean cell would time the test out if it waited
	g.Pace(ctx, "c1", time.Now())

	s.Taint("Collect")
	done, cancel := context.WithCancelCause(ctx)
	cancel(kernel.ErrCellTimeout)
	g.Pace(done, "c2", time.Now()) // timed out: the frontend knows when

	g.pace = 40 * time.Millisecond
	interrupted, stop := context.WithCancelCause(ctx)
	stop(kernel.ErrInterrupted)
	started := time.Now()
	if g.Pace(interrupted, "c2", started); time.Since(started) < g.pace {
		t.Errorf("an interrupted cell ended after %v, before %v", time.Since(started), g.pace)
	}
	for _, ran := range []time.Duration{0, 10 * time.Millisecond, 50 * time.Millisecond} {
		started := time.Now().Add(-ran)
		g.Pace(ctx, "c3", started)
		want := g.pace
		for want < ran {
			want *= 2
		}
		if took := time.Since(started); took < want {
			t.Errorf("a cell that ran %v ended after %v, before %v", ran, took, want)
		}
	}

	// A worker that crashes on purpose ends its taint, not the pacing of
	// the cell it crashed in.
	started = time.Now()
	s.Untaint()
	g.Pace(ctx, "c4", started)
	if took := time.Since(started); took < g.pace {
		t.Errorf("the cell whose worker crashed ended after %v, before %v", took, g.pace)
	}
	g.pace = time.Hour
	g.Pace(ctx, "c5", time.Now()) // clean again
}

// TestHeldResultsCopiedLaterCannotBeApproved: a tainted worker makes a
// held table in one cell (no output, no item) and prints its text in the
// next; that item holds the table as surely as one shown in its own cell
// (review 44 had an ordinary-looking table approved this way).
func TestHeldResultsCopiedLaterCannotBeApproved(t *testing.T) {
	s := testSession(t, nil)
	g := NewGate(s)
	ctx := context.Background()
	s.Taint("Collect")
	if _, err := s.Decide(ctx, "c1", &Decision{What: "stats.Count(persons aged 32–66)", Held: true,
		Cells: []*Cell{{Stat: Count, Value: 2971, Persons: 2971}}}); err != nil {
		t.Fatal(err)
	}
	if n := g.CellDone("c1"); len(n) != 0 {
		t.Fatalf("a cell with no output filed an item: %v", n)
	}
	g.Release(stream("c2", "Persons aged 32–66: 2,971\n"))
	g.CellDone("c2")
	it, _, err := s.Airlock.Get("r-0001")
	if err != nil || it.Results == 0 {
		t.Fatalf("the copy's item %+v (%v) does not hold the table", it, err)
	}
	if _, err := s.Airlock.Approve("r-0001", "steward", "", t.TempDir()); !errors.Is(err, airlock.ErrHeldResults) {
		t.Errorf("approved a copy of a held table: %v", err)
	}
	// After a fresh worker, the count starts again.
	s.Untaint()
	g.Release(stream("c3", "clean\n"))
	if n := g.CellDone("c3"); len(n) != 0 {
		t.Errorf("a clean cell's output went to the airlock: %v", n)
	}
}
