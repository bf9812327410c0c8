package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"enclave/analysis/render"
	"enclave/api/spec"
	"enclave/datasets"
	"enclave/kernel"
	"enclave/release/audit"
)

// magicTable lists the data magics and the methods that serve them.
var magicTable = []struct {
	name, help string
	run        func(*Server, context.Context, kernel.MagicCall) *kernel.CellError
}{
	{"tables", "list the tables of this workspace's tier", (*Server).magicTables},
	{"describe", "%describe TABLE: the columns of a table", (*Server).magicDescribe},
	{"concepts", "%concepts TEXT: search the vocabulary", (*Server).magicConcepts},
	{"policy", "the disclosure rules in force", (*Server).magicPolicy},
	{"releases", "%releases [N]: the last release decisions of this session", (*Server).magicReleases},
	{"audit", "%audit [N]: this session's last audit events (kinds and rules only)", (*Server).magicAudit},
	{"sql", "%sql SELECT … GROUP BY … (or %%sql on the first line): an aggregate query, checked", (*Server).magicSQL},
}

// Magics returns the data magics for kernel.Config.Magics. The kernel is
// configured before the workspace is open, so each magic asks server for
// the Server when it runs; server's error (no workspace, a refusal) is the
// magic's error.
func Magics(server func() (*Server, error)) map[string]kernel.Magic {
	out := map[string]kernel.Magic{}
	for _, m := range magicTable {
		m := m
		out[m.name] = kernel.Magic{Help: m.help, Run: func(ctx context.Context, c kernel.MagicCall) *kernel.CellError {
			s, err := server()
			if err != nil {
				return &kernel.CellError{Name: "NoData", Value: err.Error()}
			}
			return m.run(s, ctx, c)
		}, Complete: func(word string) []string {
			s, err := server()
			if err != nil {
				return nil
			}
			return s.completeNames(word)
		}}
	}
	return out
}

// show displays a bundle rendered here through a reference, so the gate
// releases it even when the worker is tainted.
func (s *Server) show(cell string, out kernel.MagicOutput, bundle map[string]any, t *spec.Table) {
	ref := s.register(cell, bundle, t)
	out.Display(&kernel.Display{Data: map[string]any{spec.MIMERef: spec.Ref{Ref: ref}}})
}

// showText displays kernel-built plain text (and optional markdown).
func (s *Server) showText(cell string, out kernel.MagicOutput, text string) {
	s.show(cell, out, map[string]any{"text/plain": text}, nil)
}

func magicErr(err error) *kernel.CellError {
	return &kernel.CellError{Name: "EnclaveError", Value: datasets.SafeText(err)}
}

func (s *Server) magicTables(ctx context.Context, m kernel.MagicCall) *kernel.CellError {
	t := &spec.Table{Title: fmt.Sprintf("Tables of the %s tier", s.tier), Columns: []string{"table", "columns", "concept column", "date column"}}
	for _, n := range s.order {
		ti := s.tables[n]
		if !ti.HasPerson {
			continue
		}
		t.Rows = append(t.Rows, []spec.Cell{{Text: n}, {Text: fmt.Sprint(len(ti.Columns))}, {Text: conceptColumn(ti)}, {Text: dateColumn(ti)}})
	}
	t.Notes = []string{"vocabulary tables (concept, concept_ancestor, …) are searched with %concepts", "row counts are not shown: they are counts of persons' records"}
	s.show(m.Cell, m.Out, render.TableBundle(t), t)
	return nil
}

func (s *Server) magicDescribe(ctx context.Context, m kernel.MagicCall) *kernel.CellError {
	ti := s.table(m.Args)
	if ti == nil {
		return magicErr(datasets.Errorf("no table %q in this workspace (see %%tables)", clip(m.Args, 60)))
	}
	t := &spec.Table{Title: "Table " + ti.Name, Columns: []string{"column", "type", "use"}}
	for _, c := range ti.Columns {
		use := "group, filter"
		switch {
		case strings.HasSuffix(c.Name, "_id") && !c.Concept:
			use = "identifier: not grouped, filtered or summarised"
		case c.Concept:
			use = "concept id: group, filter by concept"
		case c.Type == "DOUBLE" || c.Type == "INTEGER" || c.Type == "BIGINT":
			use = "number: describe, histogram, filter"
		case c.Type == "DATE" || strings.HasPrefix(c.Type, "TIMESTAMP"):
			use = "date: year(...), between"
		}
		t.Rows = append(t.Rows, []spec.Cell{{Text: c.Name}, {Text: strings.ToLower(c.Type)}, {Text: use}})
	}
	s.show(m.Cell, m.Out, render.TableBundle(t), t)
	return nil
}

func (s *Server) magicConcepts(ctx context.Context, m kernel.MagicCall) *kernel.CellError {
	if strings.TrimSpace(m.Args) == "" {
		return magicErr(datasets.Errorf("%%concepts TEXT: say what to search for, e.g. %%concepts diabetes"))
	}
	cs, err := s.db.SearchConcepts(ctx, datasets.ConceptQuery{Text: m.Args, Limit: 50})
	if err != nil {
		return magicErr(err)
	}
	t := &spec.Table{Title: "Concepts matching " + clip(m.Args, 60), Columns: []string{"concept_id", "name", "domain", "vocabulary", "code", "standard"}}
	for _, c := range cs {
		std := ""
		if c.Standard == "S" {
			std = "S"
		}
		t.Rows = append(t.Rows, []spec.Cell{{Text: fmt.Sprint(c.ID)}, {Text: c.Name}, {Text: c.Domain}, {Text: c.Vocabulary}, {Text: c.Code}, {Text: std}})
	}
	if len(cs) == 0 {
		t.Notes = []string{"no concept matches"}
	}
	s.show(m.Cell, m.Out, render.TableBundle(t), t)
	return nil
}

func (s *Server) magicPolicy(ctx context.Context, m kernel.MagicCall) *kernel.CellError {
	s.showText(m.Cell, m.Out, s.sess.Policy.Text())
	return nil
}

func (s *Server) magicReleases(ctx context.Context, m kernel.MagicCall) *kernel.CellError {
	n := 10
	fmt.Sscan(m.Args, &n)
	s.showText(m.Cell, m.Out, s.sess.RecentText(n))
	return nil
}

func (s *Server) magicAudit(ctx context.Context, m kernel.MagicCall) *kernel.CellError {
	n := 20
	fmt.Sscan(m.Args, &n)
	if s.sess.Audit == nil {
		s.showText(m.Cell, m.Out, "no audit log in this session\n")
		return nil
	}
	es, err := audit.Read(s.sess.Audit.Path(), audit.Filter{Session: s.sess.ID})
	if err != nil {
		return magicErr(datasets.Errorf("the audit log could not be read"))
	}
	// Decisions on results held for review are not listed, and neither
	// are the log's sequence numbers (their gaps would count them): how
	// many results a cell made, and which rules fired on them, may have
	// been chosen from the rows the worker holds (review 36). Nor is
	// anything logged while the worker held rows: its Collects and
	// errors, one event each, spelled a BMI and a date in bits (review
	// 40). While it holds them, the listing itself is held.
	s.held = s.sess.Tainted() != ""
	defer func() { s.held = false }()
	es = slices.DeleteFunc(es, heldDecision)
	es = outsideTaint(es)
	if len(es) > n {
		es = es[len(es)-n:]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "last %d audit events of this session (the steward's log holds the details; results held for review are not listed):\n", len(es))
	for _, e := range es {
		fmt.Fprintf(&b, "%s  %-10s", e.Time.Local().Format("15:04:05"), e.Type)
		if len(e.Rules) > 0 {
			fmt.Fprintf(&b, "  rules: %s", strings.Join(e.Rules, ", "))
		}
		b.WriteString("\n")
	}
	s.showText(m.Cell, m.Out, b.String())
	return nil
}

// outsideTaint keeps the events of es logged while the worker held no
// rows (and the taint and untaint events themselves).
func outsideTaint(es []audit.Entry) []audit.Entry {
	var out []audit.Entry
	tainted := false
	for _, e := range es {
		switch e.Type {
		case "taint":
			tainted = true
		case "untaint":
			tainted = false
		default:
			if tainted {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// heldDecision reports whether e is the decision on a result held for
// review (release.Decision.Held).
func heldDecision(e audit.Entry) bool {
	if e.Type != "decision" {
		return false
	}
	var d struct {
		Held bool `json:"held"`
	}
	return json.Unmarshal(e.Data, &d) == nil && d.Held
}

// completeNames completes table and column names of the tier (for %sql
// and %describe): public schema, not data.
func (s *Server) completeNames(word string) []string {
	w := strings.ToLower(word)
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if strings.HasPrefix(n, w) && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, n := range s.order {
		add(n)
	}
	for _, n := range s.order {
		for _, c := range s.tables[n].Columns {
			add(c.Name)
		}
	}
	sort.Strings(out)
	if len(out) > 200 {
		out = out[:200]
	}
	return out
}
