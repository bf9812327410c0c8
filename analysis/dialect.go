package analysis

import (
	"strconv"
	"time"
)

// Dialecter is implemented by an Engine whose SQL is not DuckDB's: the
// analysis layer then writes the few functions that differ in that
// dialect. Identifiers stay double-quoted and values stay `?`
// placeholders in every dialect: the Engine maps both to its own syntax.
type Dialecter interface {
	SQLDialect() string // "googlesql" (BigQuery); anything else is DuckDB
}

// sqlDialect is the SQL an Engine speaks.
type sqlDialect int

const (
	duckSQL sqlDialect = iota
	googleSQL
)

func dialectOf(db Engine) sqlDialect {
	if d, ok := db.(Dialecter); ok && d.SQLDialect() == "googlesql" {
		return googleSQL
	}
	return duckSQL
}

// cast is CAST(e AS t) for t one of DOUBLE, BIGINT, VARCHAR, DATE.
func (d sqlDialect) cast(e, t string) string {
	if d == googleSQL {
		switch t {
		case "DOUBLE":
			t = "FLOAT64"
		case "BIGINT":
			t = "INT64"
		case "VARCHAR":
			t = "STRING"
		}
	}
	return "CAST(" + e + " AS " + t + ")"
}

// age is the age in whole years at the date at (checked by checkDate, so
// it is digits and dashes only) of the person alias p: the years since
// birth, less one when the birthday (month and day, 1 when missing) is
// still to come in the year of at. As DuckDB's date_sub counts, a
// birthday late in the month of at is reached when at is that month's
// last day (born 29 February, a year older on 28 February). A person born
// after at has a negative age, so is in no AgeBetween(0, …): date_sub
// itself truncates toward zero and gave 0 to anyone born up to a year
// after at. The same arithmetic in both dialects.
func (d sqlDialect) age(p, at string) string {
	t, err := time.Parse(time.DateOnly, at)
	if err != nil { // at is checked before: never reached
		return "NULL"
	}
	month, day := p+".month_of_birth", p+".day_of_birth"
	later := "coalesce(" + month + ", 1) * 100 + coalesce(" + day + ", 1) > " + strconv.Itoa(int(t.Month())*100+t.Day())
	if t.AddDate(0, 0, 1).Day() == 1 {
		later += " AND coalesce(" + month + ", 1) <> " + strconv.Itoa(int(t.Month()))
	}
	return "(" + strconv.Itoa(t.Year()) + " - " + p + ".year_of_birth - CASE WHEN " + later + " THEN 1 ELSE 0 END)"
}

// year is the calendar year of the date e.
func (d sqlDialect) year(e string) string {
	if d == googleSQL {
		return "EXTRACT(YEAR FROM " + e + ")"
	}
	return "year(" + e + ")"
}

// dayAfter is the date one day after the date e.
func (d sqlDialect) dayAfter(e string) string {
	if d == googleSQL {
		return "DATE_ADD(" + e + ", INTERVAL 1 DAY)"
	}
	return e + " + INTERVAL 1 DAY"
}

// daysBetween is the number of days from date a to date b.
func (d sqlDialect) daysBetween(a, b string) string {
	if d == googleSQL {
		return "DATE_DIFF(" + b + ", " + a + ", DAY)"
	}
	return "date_diff('day', " + a + ", " + b + ")"
}

// nth is an aggregate: the n-th smallest value of e in the group (the n-th
// largest with desc), NULL when the group has fewer than n non-NULL values.
// DuckDB keeps the n extremes in a heap (min(e, n)); a window ranking the
// rows sorts them all.
func (d sqlDialect) nth(e string, n int, desc bool) string {
	ns := strconv.Itoa(n)
	if d == googleSQL {
		order := e
		if desc {
			order += " DESC"
		}
		return "ARRAY_AGG(" + e + " IGNORE NULLS ORDER BY " + order + " LIMIT " + ns + ")[SAFE_ORDINAL(" + ns + ")]"
	}
	f := "min"
	if desc {
		f = "max"
	}
	return "list_extract(" + f + "(" + e + ", " + ns + "), " + ns + ")"
}
