package release

import (
	"bytes"
	"syscall"
)

// Plans returns the distinct plans of the released cells in the history
// (every kernel's, read afresh under a shared lock) that begin with prefix.
// Analyses whose cells are too many to record one by one (the genomics
// variant counts) use it to difference their own cells against the
// populations released before.
func (h *History) Plans(prefix []byte) ([][]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.lock(syscall.LOCK_SH); err != nil {
		return nil, err
	}
	err := h.refresh()
	h.unlock()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out [][]byte
	for _, r := range h.recs {
		if bytes.HasPrefix(r.Plan, prefix) && !seen[string(r.Plan)] {
			seen[string(r.Plan)] = true
			out = append(out, append([]byte(nil), r.Plan...))
		}
	}
	return out, nil
}
