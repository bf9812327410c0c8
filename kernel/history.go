package kernel

import "sync"

// history is the session's input (and text/plain output) history, as
// history_request reads it. Session numbers follow IPython: this kernel's
// session is 1, and 0 or a negative number in a range request mean the
// current session.
type history struct {
	mu      sync.Mutex
	entries []histEntry
}

type histEntry struct {
	line   int
	input  string
	output string
}

const historySession = 1

func (h *history) add(line int, input string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.entries = append(h.entries, histEntry{line: line, input: input})
}

func (h *history) setOutput(line int, output string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := len(h.entries) - 1; i >= 0; i-- {
		if h.entries[i].line == line {
			h.entries[i].output = output
			return
		}
	}
}

// historyQuery is the content of a history_request.
type historyQuery struct {
	Output  bool   `json:"output"`
	Raw     bool   `json:"raw"`
	Access  string `json:"hist_access_type"`
	Session int    `json:"session"`
	Start   int    `json:"start"`
	Stop    int    `json:"stop"`
	N       *int   `json:"n"`
	Pattern string `json:"pattern"`
	Unique  bool   `json:"unique"`
}

// query answers q with [session, line, input] or [session, line, [input,
// output]] tuples, oldest first.
func (h *history) query(q historyQuery) []any {
	h.mu.Lock()
	defer h.mu.Unlock()
	var picked []histEntry
	switch q.Access {
	case "tail":
		n := len(h.entries)
		if q.N != nil && *q.N >= 0 && *q.N < n {
			n = *q.N
		}
		picked = h.entries[len(h.entries)-n:]
	case "range":
		if q.Session > 0 && q.Session != historySession {
			return []any{}
		}
		for _, e := range h.entries {
			if e.line >= q.Start && (q.Stop <= 0 || e.line < q.Stop) {
				picked = append(picked, e)
			}
		}
	case "search":
		pat := q.Pattern
		if pat == "" {
			pat = "*"
		}
		seen := map[string]bool{}
		for i := len(h.entries) - 1; i >= 0; i-- { // newest first, for unique and n
			e := h.entries[i]
			if !globMatch(pat, e.input) {
				continue
			}
			if q.Unique {
				if seen[e.input] {
					continue
				}
				seen[e.input] = true
			}
			picked = append(picked, e)
			if q.N != nil && *q.N > 0 && len(picked) == *q.N {
				break
			}
		}
		for i, j := 0, len(picked)-1; i < j; i, j = i+1, j-1 {
			picked[i], picked[j] = picked[j], picked[i]
		}
	}
	out := make([]any, 0, len(picked))
	for _, e := range picked {
		if q.Output {
			var o any
			if e.output != "" {
				o = e.output
			}
			out = append(out, []any{historySession, e.line, []any{e.input, o}})
		} else {
			out = append(out, []any{historySession, e.line, e.input})
		}
	}
	return out
}

// globMatch matches SQLite GLOB style patterns (* and ?, no classes) where
// '*' also crosses '/' and newlines, as IPython's history search does. It
// backtracks only to the last star, so it is linear in practice and no
// pattern a frontend sends can make it blow up.
func globMatch(pat, s string) bool {
	p := []rune(pat)
	r := []rune(s)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(r) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == r[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
