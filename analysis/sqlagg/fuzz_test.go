package sqlagg

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzRewrite checks that Rewrite never panics, that it only ever refuses
// with a *RefusalError or accepts, and that an accepted plan's SQL runs
// with the persons column last. `go test` runs the seeds only.
func FuzzRewrite(f *testing.F) {
	for _, c := range acceptCases {
		f.Add(c.sql)
	}
	for _, c := range refuseCases {
		f.Add(c.sql)
	}
	f.Add("SELECT count(*) FROM person WHERE year_of_birth < 170141183460469231731687303715884105727")
	f.Add("SELECT count(*) FROM person WHERE gender_concept_id = '\x00\xff'")
	f.Add("SELECT count(*) FROM person AS \"we\"\"ird\"")
	db := openTestDB(f)
	f.Fuzz(func(t *testing.T, q string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p, err := Rewrite(ctx, db, q, testSchema)
		if err != nil {
			if !errors.Is(err, ErrRefused) && ctx.Err() == nil {
				t.Fatalf("non-refusal error for %q: %v", q, err)
			}
			return
		}
		if p.PersonOf == "" || len(p.Items) == 0 || !strings.Contains(p.SQL, PersonsColumn) || !strings.Contains(p.SetsSQL, PersonsColumn) {
			t.Fatalf("incomplete plan for %q: %+v", q, p)
		}
		rows, err := db.QueryContext(ctx, p.SQL)
		if err != nil {
			return // runtime errors (conversions…) are the runner's to sanitise
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err == nil && (len(cols) != p.Width || cols[len(cols)-1] != PersonsColumn) {
			t.Fatalf("columns %v for plan %+v", cols, p)
		}
	})
}
