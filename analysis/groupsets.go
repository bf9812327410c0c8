package analysis

import (
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// groupSets keeps the person sets of the groups of the last few queries
// (a %sql query, a cell plan's base), keyed by the query: differencing
// asks for the groups of one result one by one, and one pass of the query
// gives them all. The tier does not change while a kernel runs, so a kept
// set stays right.
type groupSets struct {
	mu    sync.Mutex
	max   int
	sets  map[string]map[string]*roaring.Bitmap
	order []string
}

// get returns the group sets of key, running build once when they are not
// kept; the oldest query's sets make room.
func (g *groupSets) get(key string, build func() (map[string]*roaring.Bitmap, error)) (map[string]*roaring.Bitmap, error) {
	g.mu.Lock()
	groups, ok := g.sets[key]
	g.mu.Unlock()
	if ok {
		return groups, nil
	}
	groups, err := build()
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sets == nil {
		g.sets = map[string]map[string]*roaring.Bitmap{}
	}
	if len(g.order) >= g.max {
		delete(g.sets, g.order[0])
		g.order = g.order[1:]
	}
	g.sets[key] = groups
	g.order = append(g.order, key)
	return groups, nil
}
