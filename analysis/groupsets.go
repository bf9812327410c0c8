package analysis

import (
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// kept keeps what was built for the last few queries, keyed by the query
// text: the tier does not change while a kernel runs, so a kept value
// stays right. Values are shared and must not be changed by callers.
type kept[V any] struct {
	mu    sync.Mutex
	max   int
	vals  map[string]V
	order []string
}

// get returns the value kept for key, running build when there is none;
// the oldest key makes room. Errors are not kept.
func (k *kept[V]) get(key string, build func() (V, error)) (V, error) {
	k.mu.Lock()
	v, ok := k.vals[key]
	k.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := build()
	if err != nil {
		return v, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.vals == nil {
		k.vals = map[string]V{}
	}
	if _, ok := k.vals[key]; !ok {
		if len(k.order) >= k.max {
			delete(k.vals, k.order[0])
			k.order = k.order[1:]
		}
		k.order = append(k.order, key)
	}
	k.vals[key] = v
	return v, nil
}

// groupSets keeps the person sets of the groups of the last few queries (a
// %sql query, a cell plan's base): differencing asks for the groups of one
// result one by one, and one pass of the query gives them all.
type groupSets = kept[map[string]*roaring.Bitmap]
