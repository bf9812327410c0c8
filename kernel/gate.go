package kernel

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"enclave/kernel/wire"
)

// Output is one iopub message on its way out, before it is signed.
type Output struct {
	Cell    string          // msg_id of the request it belongs to ("" for none)
	MsgType string          // "stream", "display_data", "status", …
	Content json.RawMessage // the message content
}

// Gate sees every iopub message before it is sent, and every part of a
// shell or stdin message that carries what user code produced (MsgType
// "error" for the error fields of execute_reply, "user_expression",
// "inspect_reply", "complete_reply", "input_request"), and decides what leaves: the output
// unchanged, changed (truncated), replaced by a notice, or nothing. The
// release layer (disclosure control, airlock) implements it; EgressGate is
// the gate used until then. Release is called in send order and may be
// called from several goroutines.
type Gate interface {
	Release(o Output) []Output
	// CellDone is called after the last output of a cell, before its
	// execute_reply; what it returns (a notice of withheld output) is
	// published as the cell's last outputs.
	CellDone(cell string) []Output
}

// Holder is a Gate that can tell, before anything is asked of the
// worker, that what it answers will be held (the worker holds rows): the
// kernel then does not ask it at all, since how long it took to answer,
// or its cursor positions, would still leave.
type Holder interface {
	Holding() bool
}

// holding reports whether the gate holds the worker's answers now.
func (k *Kernel) holding() bool {
	h, ok := k.gate.(Holder)
	return ok && h.Holding()
}

// Pacer is a Gate that may hold back the end of a cell. Pace is called
// once the cell's code (and its user expressions) has run, before anything
// that tells the frontend it ended leaves (its error, the gate's notice,
// execute_reply, the idle status); started is when the request was taken
// up. It returns when the end may be told; the Pacer decides whether ctx
// being done (an interrupt, the cell's timeout) ends the wait.
type Pacer interface {
	Pace(ctx context.Context, cell string, started time.Time)
}

// EgressGate counts the bytes released in this session and caps the
// output of each cell: past CellCap bytes, stream text is cut and other
// outputs are withheld, with one notice per cell saying so.
type EgressGate struct {
	CellCap int64 // bytes of output per cell; <= 0 means no cap

	mu       sync.Mutex
	released int64
	withheld int64
	cells    map[string]*cellEgress
}

type cellEgress struct {
	used     int64
	noticed  bool
	withheld int64
}

// NewEgressGate returns a gate with the given per-cell cap.
func NewEgressGate(cellCap int64) *EgressGate {
	return &EgressGate{CellCap: cellCap, cells: map[string]*cellEgress{}}
}

// capped reports whether a message type counts against the per-cell cap.
func capped(msgType string) bool {
	switch msgType {
	case "stream", "display_data", "update_display_data", "execute_result":
		return true
	}
	return false
}

// Release implements Gate.
func (g *EgressGate) Release(o Output) []Output {
	g.mu.Lock()
	defer g.mu.Unlock()
	size := int64(len(o.Content))
	if !capped(o.MsgType) || g.CellCap <= 0 || o.Cell == "" {
		g.released += size
		return []Output{o}
	}
	c := g.cells[o.Cell]
	if c == nil {
		c = &cellEgress{}
		g.cells[o.Cell] = c
	}
	if c.used+size <= g.CellCap {
		c.used += size
		g.released += size
		return []Output{o}
	}
	var out []Output
	if !c.noticed && o.MsgType == "stream" {
		if cut, ok := CutStream(o, g.CellCap-c.used); ok {
			out = append(out, cut)
			c.used += int64(len(cut.Content))
			g.released += int64(len(cut.Content))
			size -= int64(len(cut.Content))
		}
	}
	c.withheld += size
	g.withheld += size
	if !c.noticed {
		c.noticed = true
		n := g.notice(o.Cell, fmt.Sprintf("\n[enclave] this cell's output passed the %s limit; the rest is not shown.\n", ByteSize(g.CellCap)))
		g.released += int64(len(n.Content))
		out = append(out, n)
	}
	return out
}

// CellDone implements Gate.
func (g *EgressGate) CellDone(cell string) []Output {
	g.mu.Lock()
	delete(g.cells, cell)
	g.mu.Unlock()
	return nil
}

// Released is the number of content bytes sent on iopub in this session.
func (g *EgressGate) Released() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.released
}

// Withheld is the number of content bytes the cap kept back.
func (g *EgressGate) Withheld() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.withheld
}

func (g *EgressGate) notice(cell, text string) Output {
	b, _ := wire.Marshal(map[string]string{"name": "stderr", "text": text})
	return Output{Cell: cell, MsgType: "stream", Content: b}
}

// CutStream returns o, a stream output, with its text cut at a rune
// boundary so the content fits in room bytes; false if nothing fits.
func CutStream(o Output, room int64) (Output, bool) {
	var s struct {
		Name string `json:"name"`
		Text string `json:"text"`
	}
	if json.Unmarshal(o.Content, &s) != nil {
		return Output{}, false
	}
	b := []byte(o.Content)
	keep := len(s.Text)
	for int64(len(b)) > room {
		keep -= int(int64(len(b)) - room)
		for keep > 0 && !utf8.RuneStart(s.Text[keep]) {
			keep--
		}
		if keep <= 0 {
			return Output{}, false
		}
		var err error
		if b, err = wire.Marshal(map[string]string{"name": s.Name, "text": s.Text[:keep]}); err != nil {
			return Output{}, false
		}
	}
	return Output{Cell: o.Cell, MsgType: o.MsgType, Content: b}, true
}

// ByteSize renders a byte count for people: "32 MiB", "64 KiB", "100-byte".
func ByteSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d-byte", n)
}
