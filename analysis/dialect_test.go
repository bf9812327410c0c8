package analysis

import (
	"database/sql"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

// TestAgeAt runs the age expression in DuckDB over births around the date
// it is taken at: birthdays reached and not, the month-end rule for those
// born on 29 February, missing month and day, and births after the date,
// which must be negative so that AgeBetween(0, …) leaves them out.
func TestAgeAt(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cases := []struct {
		name    string
		y, m, d any // month and day may be nil
		at      string
		want    int64
	}{
		{"birthday passed", 1980, 3, 1, "2020-06-30", 40},
		{"birthday today", 1980, 6, 30, "2020-06-30", 40},
		{"birthday tomorrow", 1980, 7, 1, "2020-06-30", 39},
		{"no month or day: 1 January", 1980, nil, nil, "2020-01-01", 40},
		{"no day: the 1st", 1980, 2, nil, "2020-01-31", 39},
		{"29 February, 28 February of a common year (month end)", 2000, 2, 29, "2021-02-28", 21},
		{"29 February, 28 February of a leap year", 2000, 2, 29, "2020-02-28", 19},
		{"29 February, on it", 2000, 2, 29, "2020-02-29", 20},
		{"born on the day", 2020, 6, 30, "2020-06-30", 0},
		{"born the day after", 2020, 7, 1, "2020-06-30", -1},
		{"born six months after", 2021, 1, 1, "2020-06-30", -1},
		{"born a year after", 2021, 6, 30, "2020-06-30", -1},
		{"born a year and a day after", 2021, 7, 1, "2020-06-30", -2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := "SELECT " + duckSQL.age("p", tc.at) + " FROM (SELECT ?::INTEGER AS year_of_birth, ?::INTEGER AS month_of_birth, ?::INTEGER AS day_of_birth) p"
			var got int64
			if err := db.QueryRow(q, tc.y, tc.m, tc.d).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("age at %s of a person born %v-%v-%v = %d, want %d", tc.at, tc.y, tc.m, tc.d, got, tc.want)
			}
			if tc.want < 0 {
				return
			}
			// Up to the date, DuckDB's own date_sub agrees.
			var ds int64
			if err := db.QueryRow("SELECT date_sub('year', make_date(?::INTEGER, coalesce(?::INTEGER, 1), coalesce(?::INTEGER, 1)), DATE '"+tc.at+"')", tc.y, tc.m, tc.d).Scan(&ds); err != nil {
				t.Fatal(err)
			}
			if ds != got {
				t.Errorf("date_sub gives %d, the expression %d", ds, got)
			}
		})
	}
}
