package kernel

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// magic is a kernel-side command: a cell line starting with '%', answered
// by the trusted kernel instead of the worker.
type magic struct {
	help string
	run  func(k *Kernel, ctx context.Context, args string, s *cellSink) *CellError
}

// magics is the table of line magics. The data layer adds %sql, %tables
// and friends here.
var magics = map[string]magic{
	"workspace": {"show the open workspace: name, purpose, tier, granted datasets", (*Kernel).magicWorkspace},
	"sandbox":   {"show where cells run and the confinement in force", (*Kernel).magicSandbox},
}

// Magic is a magic served outside this package (the analysis layer's
// %sql, %tables, %concepts, %policy, %releases, %audit). As a line magic
// ("%name args") Body is empty; as a cell magic ("%%name args" on the first
// line) Body is the rest of the cell, which is then not run as Go.
type Magic struct {
	Help string
	Run  func(ctx context.Context, m MagicCall) *CellError
	// Complete, when set, returns completions of the word before the
	// cursor in a cell of this magic (table and column names for %sql).
	Complete func(word string) []string
}

// magicCompletion completes the words of a magic cell ("%sql SELECT …
// FROM meas", "%describe cond") with the magic's own Complete, when the
// cursor is in a cell that starts with a served magic.
func (k *Kernel) magicCompletion(code string, cursor int) (Completion, bool) {
	r := []rune(code)
	if cursor > len(r) {
		cursor = len(r)
	}
	trimmed := strings.TrimLeft(code, " \t\r\n")
	if !strings.HasPrefix(trimmed, "%") {
		return Completion{}, false
	}
	line, _, _ := strings.Cut(trimmed, "\n")
	name, _, _ := strings.Cut(strings.TrimLeft(line, "%"), " ")
	m, ok := k.cfg.Magics[name]
	if !ok || m.Complete == nil {
		return Completion{}, false
	}
	start := cursor
	for start > 0 && (r[start-1] == '_' || r[start-1] == '.' || unicode.IsLetter(r[start-1]) || unicode.IsDigit(r[start-1])) {
		start--
	}
	word := string(r[start:cursor])
	if i := strings.LastIndex(word, "."); i >= 0 { // table.column: complete the column
		start += len([]rune(word[:i+1]))
		word = word[i+1:]
	}
	matches := m.Complete(word)
	if matches == nil {
		matches = []string{}
	}
	return Completion{Matches: matches, CursorStart: start, CursorEnd: cursor}, true
}

// MagicCall is one use of a Magic.
type MagicCall struct {
	Cell string // msg_id of the execute_request
	Args string
	Body string
	Out  MagicOutput
}

// MagicOutput is where a magic shows its results; they pass the gate as
// every other output does.
type MagicOutput interface {
	Stream(name, text string)
	Display(d *Display)
}

// runMagics runs the '%' lines at the top of code and returns the Go code
// after them.
func (k *Kernel) runMagics(ctx context.Context, cell, code string, s *cellSink) (string, *CellError) {
	for {
		trimmed := strings.TrimLeft(code, " \t\r\n")
		if !strings.HasPrefix(trimmed, "%") {
			return code, nil
		}
		line, rest, _ := strings.Cut(trimmed, "\n")
		whole := strings.HasPrefix(line, "%%")
		name, args, _ := strings.Cut(strings.TrimSpace(strings.TrimLeft(line, "%")), " ")
		args = strings.TrimSpace(args)
		if ext, ok := k.cfg.Magics[name]; ok {
			call := MagicCall{Cell: cell, Args: args, Out: s}
			if whole {
				call.Body, rest = rest, ""
			}
			if err := ext.Run(ctx, call); err != nil {
				return "", err
			}
			code = rest
			continue
		}
		m, ok := magics[name]
		if !ok || whole {
			return "", &CellError{Name: "UnknownMagic", Value: fmt.Sprintf("%s%s is not a magic of this kernel (known: %s)", map[bool]string{false: "%", true: "%%"}[whole], name, k.magicNames())}
		}
		if err := m.run(k, ctx, args, s); err != nil {
			return "", err
		}
		code = rest
	}
}

func (k *Kernel) magicNames() string {
	var names []string
	for n := range magics {
		names = append(names, "%"+n)
	}
	for n := range k.cfg.Magics {
		names = append(names, "%"+n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (k *Kernel) magicWorkspace(_ context.Context, _ string, s *cellSink) *CellError {
	var b strings.Builder
	w, _ := k.workspace()
	if w == nil {
		if k.cfg.NoWorkspace != "" {
			b.WriteString(strings.TrimRight(k.cfg.NoWorkspace, "\n") + "\n")
		} else {
			b.WriteString("No workspace is open: no datasets are attached to this kernel. Ask your data steward for a workspace.\n")
		}
	} else if w.Text != "" {
		b.WriteString(w.Text)
	} else {
		ds := "none"
		if len(w.Datasets) > 0 {
			ds = strings.Join(w.Datasets, ", ")
		}
		fmt.Fprintf(&b, "workspace   %s\npurpose     %s\ntier        %s\ndatasets    %s\n", w.Name, w.Purpose, w.Tier, ds)
		if w.Researcher != "" {
			fmt.Fprintf(&b, "researcher  %s\n", w.Researcher)
		}
	}
	if g, ok := k.gate.(*EgressGate); ok {
		fmt.Fprintf(&b, "released    %d bytes of output this session\n", g.Released())
	}
	if w != nil && w.Markdown != "" {
		s.Display(&Display{Data: map[string]any{"text/plain": b.String(), "text/markdown": w.Markdown}})
		return nil
	}
	s.Stream("stdout", b.String())
	return nil
}

func (k *Kernel) magicSandbox(ctx context.Context, _ string, s *cellSink) *CellError {
	d, ok := k.cfg.Executor.(Describer)
	if !ok {
		s.Stream("stdout", "cells run in-process (no worker description available)\n")
		return nil
	}
	text, err := d.Describe(ctx)
	if err != nil {
		return &CellError{Name: "SandboxError", Value: err.Error()}
	}
	s.Stream("stdout", text)
	return nil
}
