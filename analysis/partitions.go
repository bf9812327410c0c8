package analysis

import (
	"encoding/json"
	"fmt"
	"sort"

	"enclave/release"
)

// partitionVars are the person-level variables whose levels partition any
// set of persons: each person has exactly one value (or none, "Unknown").
var partitionVars = []string{"gender", "race", "ethnicity", "age_decade", "age_group", "birth_decade"}

// ageBased reports whether a partition variable depends on the age date.
func ageBased(v string) bool { return v == "age_decade" || v == "age_group" }

// partitionsOf places a count cell of handle h (the group key with the
// fixed variables) in the partitions of persons it belongs to: for each
// person-level variable, either as the part for its value (when the cell
// fixes it) or as the total of the partition over it (when it does not).
// A cohort restricted to one sex (Cohort.Female/Male) counts as its base
// cohort with gender fixed, so Female() and Male() cohorts are parts of
// the same partition as a Count by gender.
func partitionsOf(h *handle, at string, vars []variable, key []any, fixed []bool) []release.Partition {
	base := cellPlan{C: h.cohort, E: h.events}
	fix := map[string]any{}
	if c := base.C; c != nil && c.Op == "and" && c.B != nil && c.B.Op == "sex" {
		base.C = c.A
		fix["gender"] = c.B.Sex
	}
	for i, v := range vars {
		if fixed[i] {
			fix[v.Name] = key[i]
		}
	}
	var out []release.Partition
	for _, pv := range partitionVars {
		others := map[string]string{}
		for n, v := range fix {
			if n != pv {
				others[n] = fmt.Sprint(v)
			}
		}
		g := struct {
			Base cellPlan          `json:"base"`
			Fix  map[string]string `json:"fix,omitempty"`
			Var  string            `json:"var"`
			At   string            `json:"at,omitempty"`
		}{Base: base, Fix: others, Var: pv}
		if ageBased(pv) {
			g.At = at
		}
		b, err := json.Marshal(g) // map keys are sorted: canonical
		if err != nil {
			continue
		}
		p := release.Partition{Group: string(b)}
		if v, ok := fix[pv]; ok {
			p.Level = fmt.Sprint(v)
			if v == nil {
				p.Level = "<nil>"
			}
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}
