package workspace

import (
	"context"
	"time"
)

// Status is the steward's view of a workspace: the record, each member's
// access today and the row count of every table.
type Status struct {
	Workspace  *Workspace
	Access     map[string]string // researcher id → "ok" or the refusal
	Tables     map[string]int64  // rows of every base table; nil before the first import
	TierTables map[string]int64  // rows of every table of the workspace's tier
}

// Stat loads the workspace in dir, checks each member against the registry
// on day now and counts the rows of every table.
func Stat(ctx context.Context, dir string, now time.Time) (*Status, error) {
	w, err := Load(dir)
	if err != nil {
		return nil, err
	}
	st := &Status{Workspace: w, Access: map[string]string{}}
	home, err := Home()
	if err != nil {
		return nil, err
	}
	reg, err := LoadRegistry(RegistryPath(home))
	if err != nil {
		return nil, err
	}
	for _, id := range w.Researchers {
		r, err := reg.Lookup(id)
		if err == nil {
			err = Check(r, *w, now)
		}
		st.Access[id] = "ok"
		if err != nil {
			st.Access[id] = err.Error()
		}
	}
	if w.Import != nil {
		if st.Tables, st.TierTables, err = tableCounts(ctx, w); err != nil {
			return nil, err
		}
	}
	return st, nil
}
