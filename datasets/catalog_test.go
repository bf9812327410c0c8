package datasets

import (
	"errors"
	"fmt"
	"testing"
)

func TestParseTier(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Tier
		ok   bool
	}{{"registered", Registered, true}, {"controlled", Controlled, true}, {"public", "", false}, {"Registered", Registered, true}, {" CONTROLLED\n", Controlled, true}, {"", "", false}} {
		got, err := ParseTier(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseTier(%q) = %q, %v", tt.in, got, err)
		}
	}
}

// TestErrorTexts: the researcher's text never carries the engine's message;
// the audit text carries both, through any wrapping.
func TestErrorTexts(t *testing.T) {
	engine := errors.New(`Conversion Error: Could not convert string "Jane Doe 1960-03-15" to INT32`)
	err := fmt.Errorf("aggregate: %w", &Error{Safe: "query failed: a value has the wrong type for its column", Err: engine})
	if got := SafeText(err); got != "query failed: a value has the wrong type for its column" {
		t.Errorf("SafeText = %q", got)
	}
	if got := AuditText(err); got != "query failed: a value has the wrong type for its column: "+engine.Error() {
		t.Errorf("AuditText = %q", got)
	}
	if !errors.Is(err, engine) {
		t.Errorf("engine error not reachable with errors.Is")
	}
	if got := SafeText(engine); got != "internal error (details in the audit log)" {
		t.Errorf("SafeText(plain error) = %q: plain errors must not reach the researcher", got)
	}
	var e *Error = Errorf("no table %q in the %s tier", "x", Registered)
	if e.Error() != `no table "x" in the registered tier` || AuditText(e) != e.Safe {
		t.Errorf("Errorf texts %q / %q", e.Error(), AuditText(e))
	}
}
