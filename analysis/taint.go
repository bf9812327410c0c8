package analysis

import (
	"encoding/json"
	"regexp"
)

// Once row-level data has entered the worker, the worker can choose the
// parameters of its API calls from those rows: an age bound, a date, a
// title, a group's name, a histogram range. A result whose parameters it
// chose is then a channel for the rows even though every number in it
// passed the rules, so it is computed, judged and held for review instead
// of shown. Results of handles made before the rows arrived, with no free
// values in the call, are shown as usual.

// closedKeys are argument fields whose values come from closed sets the
// kernel validates (variable and column names, model kinds, formulas of
// such names) or are handles.
var closedKeys = map[string]bool{
	"handle": true, "cohort": true, "outcome": true, "groups": true, "start": true, "event": true,
	"by": true, "vars": true, "column": true, "kind": true, "formula": true, "bind": true, "base": true,
	"columns": true, "pcs": true, "variants": true, "pheno": true, "covariates": true,
}

var handleID = regexp.MustCompile(`^h[0-9]+$`)

// heldCall reports whether a call's results must be held: the worker is
// tainted and the call names a handle made after taint or carries a value
// outside the closed fields.
func (s *Server) heldCall(args json.RawMessage) bool {
	if s.sess.Tainted() == "" {
		return false
	}
	var v any
	if json.Unmarshal(args, &v) != nil {
		return true
	}
	return s.freeValues(v, "")
}

func (s *Server) freeValues(v any, key string) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if s.freeValues(c, k) {
				return true
			}
		}
		return false
	case []any:
		for _, c := range x {
			if s.freeValues(c, key) {
				return true
			}
		}
		return false
	case string:
		if handleID.MatchString(x) {
			s.mu.Lock()
			h := s.handles[x]
			s.mu.Unlock()
			return h == nil || h.afterTaint
		}
		return x != "" && !closedKeys[key]
	case nil:
		return false
	case bool:
		return false
	case float64:
		return x != 0 && !closedKeys[key]
	}
	return true
}
