package workspace

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// dateLayout is how every date in workspace.yaml and researchers.yaml is written.
const dateLayout = "2006-01-02"

// Date is a calendar day, independent of time zone. The zero Date means
// "not on record".
type Date struct{ t time.Time }

// ParseDate reads a day written as 2006-01-02.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(dateLayout, strings.TrimSpace(s))
	if err != nil {
		return Date{}, fmt.Errorf("date %q is not a day written as YYYY-MM-DD", s)
	}
	return Date{t}, nil
}

// Day returns the calendar day of t in t's own location.
func Day(t time.Time) Date {
	return Date{time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)}
}

// IsZero reports whether the date is absent.
func (d Date) IsZero() bool { return d.t.IsZero() }

// String writes the day as 2006-01-02, or "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.t.Format(dateLayout)
}

// Before reports whether d is an earlier day than e.
func (d Date) Before(e Date) bool { return d.t.Before(e.t) }

// AddYears returns the same day n years later (29 February rolls to 1 March).
func (d Date) AddYears(n int) Date { return Date{d.t.AddDate(n, 0, 0)} }

// MarshalYAML writes the day as 2006-01-02.
func (d Date) MarshalYAML() (any, error) {
	if d.IsZero() {
		return nil, nil
	}
	return d.String(), nil
}

// UnmarshalYAML reads a 2006-01-02 day and names the line of a bad one.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a date YYYY-MM-DD", n.Line)
	}
	if n.Tag == "!!null" || n.Value == "" {
		*d = Date{}
		return nil
	}
	v, err := ParseDate(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalJSON writes the day as "2006-01-02", or null when absent.
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(d.String())
}
