package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"enclave/api/spec"
	"enclave/internal/opaqueid"
	"enclave/release/airlock"
	"enclave/release/audit"
)

// Session is the release state of one kernel session in one workspace:
// the policy, the workspace's shared history, audit log and airlock, the
// worker's taint, the results the kernel rendered for this session, and
// the egress counters. The analysis API and the Gate share it.
type Session struct {
	Policy  Policy
	History *History
	Audit   *audit.Log // nil: decisions are not recorded (tests)
	Airlock *airlock.Queue
	Sets    SetSource
	// WorkspaceEgress counts what all sessions of the workspace released;
	// nil in sessions without a workspace.
	WorkspaceEgress *WorkspaceEgress
	ID              string // kernel session id
	Researcher      string
	Workspace       string

	mu      sync.Mutex
	tainted string    // why the worker is tainted; "" when clean
	cleaned time.Time // when a fresh worker last replaced a tainted one
	// heldTaint counts the held results made since the worker was
	// tainted: every later output of that worker may copy them.
	heldTaint int
	results   map[string]registered
	resOrder  []string
	recent    []Summary      // the last decisions, for %releases
	held      map[string]int // cell → how many held results it made
	egress    int64          // bytes released this session
	alerted   bool
}

// auditFailures counts audit appends that failed (for the kernel log).
var auditFailures atomic.Int64

// AuditFailures reports how many audit appends failed in this process.
func AuditFailures() int64 { return auditFailures.Load() }

// maxResults bounds the renderings kept for references.
const maxResults = 4096

// Summary is one result's release decision as %releases shows it: sizes
// only as released, never a hidden value.
type Summary struct {
	Time     time.Time      `json:"time"`
	Cell     string         `json:"cell,omitempty"`
	What     string         `json:"what"`
	Cells    int            `json:"cells"`
	Released int            `json:"released"`
	Rules    map[string]int `json:"rules,omitempty"` // status → cells
	Ref      string         `json:"ref,omitempty"`
	Held     bool           `json:"held,omitempty"`
}

// Taint marks the worker as holding row-level data (why says which call).
func (s *Session) Taint(why string) {
	s.mu.Lock()
	first := s.tainted == ""
	if first {
		s.tainted = why
	}
	s.mu.Unlock()
	if first {
		s.record(audit.Entry{Type: "taint", Data: jsonObj(map[string]any{"why": why})})
	}
}

// Untaint is called when a fresh worker replaces the tainted one: its
// memory, and the rows in it, are gone. It reports whether the worker
// was tainted.
func (s *Session) Untaint() bool {
	s.mu.Lock()
	was := s.tainted
	s.tainted = ""
	if was != "" {
		s.cleaned = time.Now()
		s.heldTaint = 0
	}
	s.mu.Unlock()
	if was != "" {
		s.record(audit.Entry{Type: "untaint", Data: jsonObj(map[string]any{"why": "fresh worker"})})
	}
	return was != ""
}

// Tainted returns why the worker is tainted, or "".
func (s *Session) Tainted() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tainted
}

// taintedSince reports whether the worker held rows at any time since t:
// it does now, or a fresh worker replaced a tainted one after t (a worker
// that crashes on purpose ends its taint, not what it did before).
func (s *Session) taintedSince(t time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tainted != "" || s.cleaned.After(t)
}

// registered is a rendering and the cell it was made for.
type registered struct {
	bundle map[string]any
	cell   string
	held   bool
}

// Register keeps a bundle the kernel rendered for cell (the msg_id of the
// execute_request) and returns its reference, which the worker may show
// in place of the bundle (spec.MIMERef).
func (s *Session) Register(cell string, bundle map[string]any) string {
	return s.register(cell, bundle, false)
}

// RegisterHeld is Register for a result that must be reviewed before it is
// shown: one a worker holding rows may have chosen the parameters of. The
// gate files it in the airlock instead of releasing it.
func (s *Session) RegisterHeld(cell string, bundle map[string]any) string {
	return s.register(cell, bundle, true)
}

func (s *Session) register(cell string, bundle map[string]any, held bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.results == nil {
		s.results = map[string]registered{}
	}
	ref := opaqueid.Unused("res-", func(r string) bool { _, ok := s.results[r]; return ok })
	s.results[ref] = registered{bundle, cell, held}
	s.resOrder = append(s.resOrder, ref)
	if len(s.resOrder) > maxResults {
		delete(s.results, s.resOrder[0])
		s.resOrder = s.resOrder[1:]
	}
	return ref
}

// Rendered returns the bundle registered under ref.
func (s *Session) Rendered(ref string) (map[string]any, bool) {
	r, ok := s.rendered(ref)
	return r.bundle, ok
}

func (s *Session) rendered(ref string) (registered, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.results[ref]
	return r, ok
}

// Decide judges d under the policy and the workspace history, records the
// decision in the audit log and in the session's recent decisions, and
// returns the decision's summary.
func (s *Session) Decide(ctx context.Context, cell string, d *Decision) (Summary, error) {
	err := s.Policy.Judge(ctx, d, s.History, s.Sets)
	sum := Summary{Time: time.Now().UTC(), Cell: cell, What: d.What, Cells: len(d.Cells), Rules: map[string]int{}, Held: d.Held}
	var rules []string
	cells := make([]map[string]any, 0, len(d.Cells))
	for _, c := range d.Cells {
		if c.Suppressed() {
			if sum.Rules[c.Status] == 0 {
				rules = append(rules, c.Status)
			}
			sum.Rules[c.Status]++
		} else {
			sum.Released++
		}
		e := map[string]any{"desc": c.Desc, "status": statusName(c.Status), "persons": c.Persons}
		if !c.Suppressed() {
			e["value"] = c.Value
		}
		cells = append(cells, e)
	}
	sort.Strings(rules)
	data := map[string]any{"what": d.What, "cells": cells}
	if d.Held {
		data["held"] = true
	}
	if err != nil {
		data["error"] = err.Error()
	}
	// The audit log is the steward's: it holds the hidden sizes too.
	s.record(audit.Entry{Type: "decision", Cell: cell, Rules: rules, Data: jsonObj(data)})
	s.mu.Lock()
	if d.Held {
		if s.held == nil {
			s.held = map[string]int{}
		}
		s.held[cell]++
		s.heldTaint++
	}
	s.recent = append(s.recent, sum)
	if len(s.recent) > 200 {
		s.recent = s.recent[len(s.recent)-200:]
	}
	s.mu.Unlock()
	return sum, err
}

// takeHeld forgets the held results cell made and returns how many held
// results its output may copy: those it made and, while the worker holds
// rows, those made since the worker was tainted. A cell that makes a held
// table and prints nothing, then one that prints the table's text, would
// otherwise give a reviewer an ordinary-looking table to approve whose
// cohort's parameters were chosen from the rows (review 44).
func (s *Session) takeHeld(cell string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.held[cell]
	delete(s.held, cell)
	if s.tainted != "" {
		n = max(n, s.heldTaint)
	}
	return n
}

// SetRef notes the rendering of the last decision (for %releases).
func (s *Session) SetRef(ref string) {
	s.mu.Lock()
	if n := len(s.recent); n > 0 {
		s.recent[n-1].Ref = ref
	}
	s.mu.Unlock()
}

// Recent returns the last n decisions, newest last.
func (s *Session) Recent(n int) []Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > len(s.recent) {
		n = len(s.recent)
	}
	return append([]Summary(nil), s.recent[len(s.recent)-n:]...)
}

// RecentText renders the last n decisions for %releases.
func (s *Session) RecentText(n int) string {
	// Held results are not listed, not even by a line each: how many a
	// cell made may have been chosen from the rows the worker holds (the
	// bits of a person's reading, review 36), and their parameters and
	// which of their cells passed too.
	var rs []Summary
	for _, r := range s.Recent(200) {
		if !r.Held {
			rs = append(rs, r)
		}
	}
	rs = rs[max(0, len(rs)-n):]
	var b strings.Builder
	if s.Tainted() != "" {
		b.WriteString("results made while the worker holds rows are held for review and not listed here\n")
	}
	if len(rs) == 0 {
		b.WriteString("no results released in this session yet\n")
		return b.String()
	}
	for _, r := range rs {
		fmt.Fprintf(&b, "%s  %s\n    %d cells: %d released", r.Time.Local().Format("15:04:05"), r.What, r.Cells, r.Released)
		keys := make([]string, 0, len(r.Rules))
		for k := range r.Rules {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, ", %d %s", r.Rules[k], statusName(k))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// statusName names a cell status for people.
func statusName(st string) string {
	switch st {
	case spec.Released:
		return "released"
	case spec.Small:
		return "small cell"
	case spec.Secondary:
		return "secondary suppression"
	case spec.Derived:
		return "derived from few persons"
	case spec.Dominance:
		return "dominance"
	case spec.Extreme:
		return "extreme value"
	case spec.Difference:
		return "differencing"
	case spec.Model:
		return "model rule"
	case spec.Overlap:
		return "overlapping quantile windows"
	case spec.Ties:
		return "quantile window of tied values"
	case spec.NoData:
		return "no value"
	}
	return st
}

// How entries reach the disk. The code a cell runs and the text of a %sql
// query release nothing by themselves and are written without a sync of
// their own (the next sync carries them). A cell's output summary is
// written after its outputs have left, so a sync before returning would
// order nothing and add a disk flush to every cell: it is synced in the
// background. Everything else, decisions above all (they gate what a cell
// gets back), is synced before the append returns.
var (
	unsynced   = map[string]bool{"code": true, "sql": true}
	syncedSoon = map[string]bool{"output": true}
)

// Record appends an entry to the audit log with the session's identity.
func (s *Session) Record(e audit.Entry) { s.record(e) }

func (s *Session) record(e audit.Entry) {
	if s.Audit == nil {
		return
	}
	if e.Session == "" {
		e.Session = s.ID
	}
	if e.Researcher == "" {
		e.Researcher = s.Researcher
	}
	appendEntry := s.Audit.Append
	switch {
	case unsynced[e.Type]:
		appendEntry = s.Audit.AppendUnsynced
	case syncedSoon[e.Type]:
		appendEntry = s.Audit.AppendSyncSoon
	}
	if _, err := appendEntry(e); err != nil {
		// The audit log is the steward's record: failing to write it is
		// reported on the kernel log by the caller's logger; nothing here
		// may leak to the researcher.
		auditFailures.Add(1)
	}
}

func jsonObj(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{"error":"unencodable audit data"}`)
	}
	return b
}

// addEgress counts released bytes and raises the egress alert once the
// session's volume is spent.
func (s *Session) addEgress(n int64) {
	s.mu.Lock()
	s.egress += n
	alert := !s.alerted && s.Policy.SessionEgress > 0 && s.egress > s.Policy.SessionEgress
	if alert {
		s.alerted = true
	}
	total := s.egress
	s.mu.Unlock()
	if alert {
		s.record(audit.Entry{Type: "alert", Rules: []string{"egress"},
			Data: jsonObj(map[string]any{"released_bytes": total, "session_egress": s.Policy.SessionEgress})})
	}
}

// cellReleased adds a finished cell's bytes to the workspace's volume and
// raises the workspace egress alert once it is spent.
func (s *Session) cellReleased(n int64) {
	if s.WorkspaceEgress == nil || n == 0 {
		return
	}
	total, err := s.WorkspaceEgress.Add(n)
	if err != nil {
		s.record(audit.Entry{Type: "error", Data: jsonObj(map[string]any{"egress": err.Error()})})
		return
	}
	s.mu.Lock()
	alert := !s.alerted && s.Policy.WorkspaceEgress > 0 && total > s.Policy.WorkspaceEgress
	if alert {
		s.alerted = true
	}
	s.mu.Unlock()
	if alert {
		s.record(audit.Entry{Type: "alert", Rules: []string{"workspace_egress"},
			Data: jsonObj(map[string]any{"workspace_released_bytes": total, "workspace_egress": s.Policy.WorkspaceEgress})})
	}
}

// egressSpent reports whether free-form output must now be held.
func (s *Session) egressSpent() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.alerted
}

// Egress is the bytes released in this session.
func (s *Session) Egress() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.egress
}

// Where the release layer keeps its files in a workspace directory.
const (
	HistoryDir  = "release" // also holds EgressFile
	HistoryFile = "history.jsonl"
	AirlockDir  = "airlock"
)

// Close closes the session's history, audit log and egress counter.
func (s *Session) Close() error {
	var errs []error
	if s.History != nil {
		errs = append(errs, s.History.Close())
	}
	if s.Audit != nil {
		errs = append(errs, s.Audit.Close())
	}
	if s.WorkspaceEgress != nil {
		errs = append(errs, s.WorkspaceEgress.Close())
	}
	return errors.Join(errs...)
}
