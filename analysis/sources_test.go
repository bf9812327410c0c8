package analysis

import (
	"bytes"
	"testing"
)

// TestSourcesIgnoreConceptOrder: a handle of concepts (a, b) and a %sql
// IN (b, a, a) read the same rows, so their Sources are one (review 58
// found the %sql twin of a Describe hidden for the order of its IN list).
func TestSourcesIgnoreConceptOrder(t *testing.T) {
	ab := &eventsPlan{Table: "measurement", Concepts: []int64{3028437, 3007070}}
	ba := &eventsPlan{Table: "measurement", Concepts: []int64{3007070, 3028437, 3028437}}
	if !bytes.Equal(meanSource(ab, "value_as_number", "2024-06-30"), meanSource(ba, "value_as_number", "2024-06-30")) {
		t.Error("meanSource differs by the order of the concepts")
	}
	if !bytes.Equal(rowsSource(ab), rowsSource(ba)) {
		t.Error("rowsSource differs by the order of the concepts")
	}
	if bytes.Equal(rowsSource(ab), rowsSource(&eventsPlan{Table: "measurement", Concepts: []int64{3028437}})) {
		t.Error("rowsSource of (a, b) and of (a) are one")
	}
	if ab.Concepts[0] != 3028437 {
		t.Error("the handle's own concepts were reordered")
	}
}
