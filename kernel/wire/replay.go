package wire

import (
	"container/list"
	"sync"
)

// ReplayGuard remembers the signatures of the last N accepted messages and
// rejects a message whose signature it has seen, as jupyter_client's
// Session does with its digest history. Bounded, so a flood of messages
// cannot grow it: the oldest digest is forgotten first.
type ReplayGuard struct {
	mu   sync.Mutex
	max  int
	seen map[string]*list.Element
	lru  *list.List // front = newest
}

// NewReplayGuard returns a guard remembering up to max digests.
func NewReplayGuard(max int) *ReplayGuard {
	if max <= 0 {
		max = 1
	}
	return &ReplayGuard{max: max, seen: make(map[string]*list.Element), lru: list.New()}
}

// Seen records sig and reports whether it had been recorded before.
func (g *ReplayGuard) Seen(sig []byte) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if e, ok := g.seen[string(sig)]; ok {
		g.lru.MoveToFront(e)
		return true
	}
	g.seen[string(sig)] = g.lru.PushFront(string(sig))
	if g.lru.Len() > g.max {
		old := g.lru.Back()
		g.lru.Remove(old)
		delete(g.seen, old.Value.(string))
	}
	return false
}

// Len is the number of digests remembered.
func (g *ReplayGuard) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lru.Len()
}
