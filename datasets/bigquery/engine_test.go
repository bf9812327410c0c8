package bigquery

import "testing"

func TestGoogleSQL(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
		bad  bool
	}{
		{in: `SELECT x."gender_concept_id" FROM "person" x WHERE x."year_of_birth" > ? AND x."race_concept_id" IN (?, ?)`, n: 3,
			want: "SELECT x.`gender_concept_id` FROM `person` x WHERE x.`year_of_birth` > @p0 AND x.`race_concept_id` IN (@p1, @p2)"},
		// A ? or " inside a string literal is text.
		{in: `SELECT CASE WHEN a < ? THEN 'why? "so"' END`, n: 1, want: `SELECT CASE WHEN a < @p0 THEN 'why? "so"' END`},
		{in: `SELECT "a""b"`, n: 0, bad: true}, // not a plain identifier
		{in: "SELECT `a`", n: 0, bad: true},    // GoogleSQL quoting is the engine's to write
		{in: `SELECT ? + ?`, n: 1, bad: true},  // values do not match placeholders
		{in: `SELECT 'open`, n: 0, bad: true},  // unterminated literal
		{in: `SELECT "open`, n: 0, bad: true},  // unterminated identifier
		{in: `SELECT 1`, n: 0, want: `SELECT 1`},
	}
	for _, c := range cases {
		got, err := googleSQL(c.in, c.n)
		if c.bad {
			if err == nil {
				t.Errorf("%s: want an error, got %q", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s:\n got %q, %v\nwant %q", c.in, got, err, c.want)
		}
	}
}
