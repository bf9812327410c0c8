package release

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"enclave/api/spec"
	"enclave/internal/opaqueid"
	"enclave/kernel"
	"enclave/kernel/wire"
	"enclave/release/airlock"
	"enclave/release/audit"
)

// Gate is the release layer's kernel.Gate: every iopub message of a cell
// and every user-derived reply field passes Release, in send order.
//
//   - A display or result that is a reference to a kernel-rendered result
//     (spec.MIMERef) is replaced by the kernel's rendering, with a display
//     id and metadata of the kernel's own: the worker chooses nothing of
//     what is shown. It is released even when the worker is tainted.
//   - Everything else is free-form. It passes while the worker is clean,
//     and is withheld for review (one airlock item per cell, announced by a
//     notice) once the worker is tainted or the session's egress volume is
//     spent.
//   - Every byte, on every channel, counts against the cell's budget
//     (Policy.CellOutput): stream text is cut, an error is shortened,
//     anything else past the budget is dropped, with one notice.
type Gate struct {
	s *Session
	// pace is the first step of the run times a cell that ran while the
	// worker held rows is rounded up to (TaintPace; tests shorten it).
	pace time.Duration

	mu    sync.Mutex
	cells map[string]*cellState
	ids   map[string]string // worker display id → kernel display id
}

type cellState struct {
	used       int64
	capNoticed bool
	released   int
	sum        hash.Hash
	held       bytes.Buffer
	heldDrop   int64
	heldKinds  map[string]int
	heldLines  int
	cut        int64
}

// NewGate returns the gate of session s.
func NewGate(s *Session) *Gate {
	return &Gate{s: s, pace: TaintPace, cells: map[string]*cellState{}, ids: map[string]string{}}
}

// Use replaces the gate's session: the kernel starts with a session of
// default policy and switches to the workspace's once it is open.
func (g *Gate) Use(s *Session) {
	g.mu.Lock()
	g.s = s
	g.mu.Unlock()
}

var (
	_ kernel.Gate   = (*Gate)(nil)
	_ kernel.Pacer  = (*Gate)(nil)
	_ kernel.Holder = (*Gate)(nil)
)

// Holding implements kernel.Holder: while the worker holds rows, or the
// session's egress volume is spent, its answers to completion and inspect
// requests are held, so it is not asked (review 44: how long it takes to
// answer depends on what its cells defined).
func (g *Gate) Holding() bool {
	g.mu.Lock()
	s := g.s
	g.mu.Unlock()
	return s.Tainted() != "" || s.egressSpent()
}

// TaintPace is the shortest run time of a cell that ran while the worker
// held rows; longer ones are rounded up to TaintPace·2ⁿ. A worker holding
// rows chooses how long its cell runs: timed to the millisecond, sleeping
// a reading's value in tens of milliseconds gave one reading per cell
// (review 44). Rounded up to doubling steps, a run time of up to the
// 10-minute cell timeout tells at most one of 10 steps, about 3.3 bits.
const TaintPace = time.Second

// Pace implements kernel.Pacer: a cell that ran while the worker held rows
// (or until it crashed, which ends the taint) ends at the first of
// started + pace·2ⁿ not before now. An interrupt does not end it sooner: a
// reply at once would say whether the code had finished before a moment
// the researcher chose to the millisecond (review 46); the cell's timeout
// or the kernel's shutdown does.
func (g *Gate) Pace(ctx context.Context, cell string, started time.Time) {
	g.mu.Lock()
	s, step := g.s, g.pace
	g.mu.Unlock()
	if step <= 0 || !s.taintedSince(started) {
		return
	}
	ran := time.Since(started)
	for step < ran {
		step *= 2
	}
	t := time.NewTimer(step - ran)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		if errors.Is(context.Cause(ctx), kernel.ErrInterrupted) {
			<-t.C
		}
	}
}

// errorMax is the size an error is cut to when it does not fit the budget:
// a failed cell always says why, briefly.
const errorMax = 2048

func (g *Gate) cell(id string) *cellState {
	c := g.cells[id]
	if c == nil {
		c = &cellState{sum: sha256.New(), heldKinds: map[string]int{}}
		g.cells[id] = c
	}
	return c
}

// Release implements kernel.Gate.
func (g *Gate) Release(o kernel.Output) []kernel.Output {
	switch o.MsgType {
	case "status", "execute_input":
		return []kernel.Output{o} // kernel state and the frontend's own code
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch o.MsgType {
	case "inspect_reply", "complete_reply":
		// Not part of a cell: they count against the session's volume
		// only, and say nothing once the worker holds rows.
		if g.s.Tainted() != "" || g.s.egressSpent() {
			return nil
		}
		g.s.addEgress(int64(len(o.Content)))
		return []kernel.Output{o}
	}
	c := g.cell(o.Cell)
	structured := false
	switch o.MsgType {
	case "display_data", "update_display_data", "execute_result":
		if bytes.Contains(o.Content, []byte(spec.MIMERef)) {
			out, held, ok := g.substitute(o)
			if !ok {
				if g.s.Tainted() != "" || g.s.egressSpent() {
					// The worker chose to send it: held, as any output
					// of its own, or one notice per reference would count
					// whatever it likes (review 38: a BMI of 20.4 as 204).
					g.hold(c, o)
					return nil
				}
				return g.admit(c, g.notice(o.Cell, "[enclave] a result reference was not recognised and is not shown\n"))
			}
			if held {
				g.hold(c, out)
				return nil
			}
			o, structured = out, true
		} else {
			o = g.ownDisplayID(o)
		}
	}
	if !structured {
		hold := g.s.Tainted() != "" || g.s.egressSpent()
		if hold {
			if o.MsgType == "input_request" {
				return nil // the prompt could carry a value; the frontend gets an empty one
			}
			g.hold(c, o)
			return nil
		}
	}
	return g.admit(c, o)
}

// admit releases o within the cell's budget.
func (g *Gate) admit(c *cellState, o kernel.Output) []kernel.Output {
	limit := g.s.Policy.CellOutput
	size := int64(len(o.Content))
	if limit <= 0 || c.used+size <= limit {
		return g.count(c, o)
	}
	var out []kernel.Output
	switch o.MsgType {
	case "stream":
		if cut, ok := kernel.CutStream(o, limit-c.used); ok && !c.capNoticed {
			out = append(out, g.count(c, cut)...)
			c.cut += size - int64(len(cut.Content))
		} else {
			c.cut += size
		}
	case "error":
		out = append(out, g.count(c, shortError(o))...)
	default:
		c.cut += size
	}
	if !c.capNoticed {
		c.capNoticed = true
		n := g.notice(o.Cell, fmt.Sprintf("\n[enclave] this cell's output passed the %s limit; the rest is not shown.\n", kernel.ByteSize(limit)))
		out = append(out, g.count(c, n)...)
	}
	return out
}

func (g *Gate) count(c *cellState, o kernel.Output) []kernel.Output {
	c.used += int64(len(o.Content))
	c.released++
	c.sum.Write(o.Content)
	g.s.addEgress(int64(len(o.Content)))
	return []kernel.Output{o}
}

// hold keeps o for the airlock item of its cell.
func (g *Gate) hold(c *cellState, o kernel.Output) {
	kind := o.MsgType
	if kind == "stream" {
		var s struct {
			Name string `json:"name"`
			Text string `json:"text"`
		}
		if json.Unmarshal(o.Content, &s) == nil {
			kind = s.Name
			c.heldLines += strings.Count(s.Text, "\n")
			if !strings.HasSuffix(s.Text, "\n") {
				c.heldLines++
			}
		}
	}
	c.heldKinds[kind]++
	room := g.s.Policy.CellOutput - int64(c.held.Len())
	if int64(len(o.Content))+64 > room {
		c.heldDrop += int64(len(o.Content))
		return
	}
	fmt.Fprintf(&c.held, `{"msg_type":%q,"content":`, o.MsgType)
	c.held.Write(o.Content)
	c.held.WriteString("}\n")
}

// CellDone implements kernel.Gate: it files the cell's withheld output in
// the airlock, announces it, and audits what the cell released.
func (g *Gate) CellDone(cell string) []kernel.Output {
	g.mu.Lock()
	c := g.cells[cell]
	delete(g.cells, cell)
	sess := g.s
	g.mu.Unlock()
	if c == nil {
		return nil
	}
	var out []kernel.Output
	review := ""
	results := sess.takeHeld(cell) // an item with any cannot be approved
	if len(c.heldKinds) > 0 {
		summary := heldSummary(c)
		why := sess.Tainted()
		if why == "" {
			why = "this session's egress volume is spent"
		} else {
			why = "the worker holds row-level data (" + why + "); restart the kernel to clear it"
		}
		if sess.Airlock != nil {
			it, err := sess.Airlock.Submit(airlock.Item{Kind: "output", Author: sess.Researcher, Session: sess.ID, Cell: cell,
				MIME: "application/x-ndjson", Summary: summary, Results: results}, c.held.Bytes())
			if err == nil {
				review = it.ID
			}
		}
		// The notice names the review item only: how much was held, and of
		// which kinds, would itself tell something of what the rows hold.
		text := "[enclave] output withheld for review"
		if review != "" {
			text += ": " + review
		}
		text += " — " + why + "\n"
		n := g.notice(cell, text)
		g.mu.Lock()
		out = g.count(c, n)
		g.mu.Unlock()
	}
	data := map[string]any{"outputs": c.released, "bytes": c.used, "sha256": hex.EncodeToString(c.sum.Sum(nil))}
	if review != "" {
		data["withheld"] = review
	}
	if c.cut > 0 {
		data["cut_bytes"] = c.cut
	}
	if c.heldDrop > 0 {
		data["held_dropped_bytes"] = c.heldDrop
	}
	sess.record(audit.Entry{Type: "output", Cell: cell, Data: jsonObj(data)})
	sess.cellReleased(c.used)
	return out
}

func heldSummary(c *cellState) string {
	var parts []string
	if c.heldLines > 0 {
		parts = append(parts, plural(c.heldLines, "line"))
	}
	for _, k := range []string{"display_data", "update_display_data", "execute_result", "error", "user_expression", "clear_output"} {
		if n := c.heldKinds[k]; n > 0 {
			parts = append(parts, plural(n, strings.ReplaceAll(k, "_", " ")))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "output")
	}
	return strings.Join(parts, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// displayContent is the part of a display message the gate rewrites.
type displayContent struct {
	ExecutionCount *int                       `json:"execution_count,omitempty"`
	Data           map[string]json.RawMessage `json:"data"`
	Transient      struct {
		DisplayID string `json:"display_id,omitempty"`
	} `json:"transient"`
}

// substitute replaces a reference bundle by the kernel's rendering, and
// says whether the rendering must be held for review.
func (g *Gate) substitute(o kernel.Output) (out kernel.Output, held, ok bool) {
	var d displayContent
	if json.Unmarshal(o.Content, &d) != nil {
		return o, false, false
	}
	var ref spec.Ref
	if raw, ok := d.Data[spec.MIMERef]; !ok || json.Unmarshal(raw, &ref) != nil {
		return o, false, false
	}
	r, ok := g.s.rendered(ref.Ref)
	if !ok {
		return o, false, false
	}
	if r.cell != o.Cell && g.s.Tainted() != "" {
		// A worker holding rows could choose which earlier result to show
		// again as a signal: once tainted, only this cell's own results.
		return o, false, false
	}
	bundle := r.bundle
	content := map[string]any{"data": bundle, "metadata": map[string]any{}}
	if d.ExecutionCount != nil {
		content["execution_count"] = *d.ExecutionCount
	}
	if o.MsgType != "execute_result" {
		tr := map[string]any{}
		if d.Transient.DisplayID != "" {
			tr["display_id"] = g.kernelID(d.Transient.DisplayID)
		}
		content["transient"] = tr
	}
	b, err := wire.Marshal(content)
	if err != nil {
		return o, false, false
	}
	return kernel.Output{Cell: o.Cell, MsgType: o.MsgType, Content: b}, r.held, true
}

// ownDisplayID replaces the worker's display id by the kernel's, so a
// display id cannot carry a value even on a released display.
func (g *Gate) ownDisplayID(o kernel.Output) kernel.Output {
	if !bytes.Contains(o.Content, []byte(`"display_id"`)) {
		return o
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(o.Content, &m) != nil {
		return o
	}
	var tr struct {
		DisplayID string `json:"display_id"`
	}
	if json.Unmarshal(m["transient"], &tr) != nil || tr.DisplayID == "" {
		return o
	}
	t, _ := json.Marshal(map[string]string{"display_id": g.kernelID(tr.DisplayID)})
	m["transient"] = t
	b, err := json.Marshal(m)
	if err != nil {
		return o
	}
	return kernel.Output{Cell: o.Cell, MsgType: o.MsgType, Content: b}
}

func (g *Gate) kernelID(worker string) string {
	if id, ok := g.ids[worker]; ok {
		return id
	}
	id := opaqueid.New("enclave-" + shortID(g.s.ID) + "-")
	if len(g.ids) > 100000 {
		clear(g.ids)
	}
	g.ids[worker] = id
	return id
}

func shortID(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

func (g *Gate) notice(cell, text string) kernel.Output {
	b, _ := wire.Marshal(map[string]string{"name": "stderr", "text": text})
	return kernel.Output{Cell: cell, MsgType: "stream", Content: b}
}

// shortError cuts an error to errorMax bytes: its name, the start of its
// value, and no traceback beyond a note.
func shortError(o kernel.Output) kernel.Output {
	var e struct {
		Name  string `json:"ename"`
		Value string `json:"evalue"`
	}
	json.Unmarshal(o.Content, &e)
	clip := func(s string, n int) string {
		if len(s) <= n {
			return s
		}
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		return s[:n] + "…"
	}
	name, value := clip(e.Name, 100), clip(e.Value, errorMax/2)
	tb := []string{name + ": " + value, "[enclave] the rest of this error passed the cell's output limit and is not shown"}
	b, _ := wire.Marshal(map[string]any{"ename": name, "evalue": value, "traceback": tb})
	return kernel.Output{Cell: o.Cell, MsgType: o.MsgType, Content: b}
}
