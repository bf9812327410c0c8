package omop

import (
	"fmt"
	"html"
	"strings"

	"enclave/api/internal/call"
	"enclave/api/spec"
)

// ConceptSet is a list of concept ids: pass it with ... where ids are
// taken (omop.Conditions(t2d...), c.WithCondition(t2d...)).
type ConceptSet []int64

// Concepts checks that the ids are in the vocabulary and returns them as a set.
func Concepts(ids ...int64) ConceptSet {
	var found []spec.Concept
	call.Must("omop.Concepts", spec.MLookup, spec.ConceptArgs{IDs: ids}, &found)
	if len(found) < len(ids) {
		have := map[int64]bool{}
		for _, c := range found {
			have[c.ID] = true
		}
		for _, id := range ids {
			if !have[id] {
				panic(&call.Error{Op: "omop.Concepts", Msg: fmt.Sprintf("unknown concept id %d (search with %%concepts)", id)})
			}
		}
	}
	return ConceptSet(append([]int64(nil), ids...))
}

// Descendants is the set and every descendant concept (concept_ancestor).
func (s ConceptSet) Descendants() ConceptSet {
	var out []int64
	call.Must("ConceptSet.Descendants", spec.MDescendants, spec.ConceptArgs{IDs: s}, &out)
	return out
}

// Standard maps source concepts (ICD-10-CM, …) to the standard concepts
// they map to ("Maps to").
func (s ConceptSet) Standard() ConceptSet {
	var out []int64
	call.Must("ConceptSet.Standard", spec.MMapStandard, spec.ConceptArgs{IDs: s}, &out)
	return out
}

// ConceptList is a vocabulary search result (public reference data).
type ConceptList []spec.Concept

// Search finds concepts whose name contains text (case-insensitive).
func Search(text string) ConceptList {
	var out ConceptList
	call.Must("omop.Search", spec.MSearch, spec.SearchArgs{Text: text, Limit: 50}, &out)
	return out
}

// IDs returns the concept ids of the list as a set.
func (l ConceptList) IDs() ConceptSet {
	out := make(ConceptSet, len(l))
	for i, c := range l {
		out[i] = c.ID
	}
	return out
}

// String renders the list as text.
func (l ConceptList) String() string {
	var b strings.Builder
	for _, c := range l {
		fmt.Fprintf(&b, "%-10d %-12s %-10s %s\n", c.ID, c.Vocabulary, c.Domain, c.Name)
	}
	return b.String()
}

// HTML renders the list as a table.
func (l ConceptList) HTML() string {
	var b strings.Builder
	b.WriteString("<table><tr><th>concept_id</th><th>vocabulary</th><th>domain</th><th>code</th><th>name</th></tr>")
	for _, c := range l {
		fmt.Fprintf(&b, "<tr><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>", c.ID,
			html.EscapeString(c.Vocabulary), html.EscapeString(c.Domain), html.EscapeString(c.Code), html.EscapeString(c.Name))
	}
	b.WriteString("</table>")
	return b.String()
}
