package analysis_test

import (
	"fmt"
	"sort"
	"testing"

	"enclave/api/spec"
)

// TestSurvival checks a Kaplan–Meier table against SQL written here: every
// shown at-risk and events-so-far count is the true one, and between any
// two days shown (day 0 included) the events and the censorings, which a
// reader gets by subtraction, are each 0 or more than 20 persons.
func TestSurvival(t *testing.T) {
	var monthly, daily []int
	for d := 30; d <= 1200; d += 30 {
		monthly = append(monthly, d)
	}
	// Day 1 twice (a request may repeat a day): nothing falls between.
	daily = append(daily, 1)
	for d := 1; d < 40; d++ {
		daily = append(daily, d)
	}
	t.Run("every 30 days", func(t *testing.T) {
		// The data must exercise the censoring rule, or this proves nothing.
		if hidden, _ := checkSurvival(t, monthly); hidden == 0 {
			t.Errorf("no day was hidden for 1–20 censorings alone: choose other days")
		}
	})
	t.Run("every day", func(t *testing.T) {
		// Days a step apart, most with no one's time between them: shown,
		// such a day would say so (review 52 read a person's time to the
		// day from the first day hidden).
		if _, quiet := checkSurvival(t, daily); quiet == 0 {
			t.Errorf("no day had nothing since the day before: choose other days")
		}
	})
}

// checkSurvival asks for the table on the given days in a fresh workspace
// and checks it against the truth; it returns how many days were hidden for
// 1–20 censorings alone and how many had nothing since the day before.
func checkSurvival(t *testing.T, days []int) (hiddenForCensoring, quiet int) {
	cut := dataCut(t)
	e := newEnv(t)
	tab := e.table(spec.MSurvival, spec.SurvivalArgs{
		Start: e.events("condition_occurrence", cT2D).ID,
		Event: e.events("measurement", cHbA1c).ID,
		Days:  days,
	})

	// Ground truth: days from the first T2D row to the first HbA1c row on
	// or after it, else to the end of observation (or the data cut).
	truth := queryRows(t, fmt.Sprintf(`
		WITH st AS (SELECT person_id, min(condition_start_date) AS t0 FROM condition_occurrence
		            WHERE condition_concept_id = %d GROUP BY 1),
		     ev AS (SELECT st.person_id, min(m.measurement_date) AS t1 FROM st JOIN measurement m
		            ON m.person_id = st.person_id AND m.measurement_date >= st.t0
		            AND m.measurement_concept_id = %d GROUP BY 1),
		     en AS (SELECT person_id, max(observation_period_end_date) AS e FROM observation_period GROUP BY 1)
		SELECT date_diff('day', st.t0, coalesce(ev.t1, least(coalesce(en.e, DATE '%[3]s'), DATE '%[3]s'))),
		       ev.t1 IS NOT NULL
		FROM st LEFT JOIN ev USING (person_id) LEFT JOIN en USING (person_id)`, cT2D, cHbA1c, cut))
	type obs struct {
		t     int64
		event bool
	}
	var data []obs
	for _, r := range truth {
		if tt := r[0].(int64); tt >= 0 {
			data = append(data, obs{tt, r[1].(bool)})
		}
	}
	sort.Slice(data, func(i, j int) bool { return data[i].t < data[j].t })
	atRisk := func(d int) (n int64) {
		for _, o := range data {
			if o.t >= int64(d) {
				n++
			}
		}
		return n
	}
	eventsBefore := func(d int) (n int64) {
		for _, o := range data {
			if o.event && o.t < int64(d) {
				n++
			}
		}
		return n
	}

	if len(tab.Rows) != len(days)+1 {
		t.Fatalf("%d rows, want day 0 and %d days", len(tab.Rows), len(days))
	}
	checkCount(t, "persons at day 0", tab.Rows[0][1], int64(len(data)))
	prevDay, prevRisk, prevEvents := 0, int64(len(data)), int64(0)
	for i, d := range days {
		row := tab.Rows[i+1]
		if row[0].Text != fmt.Sprint(d) {
			t.Fatalf("row %d is day %q, want %d", i+1, row[0].Text, d)
		}
		risk, events := atRisk(d), eventsBefore(d)
		checkCount(t, fmt.Sprintf("day %d at risk", d), row[1], risk)
		checkCount(t, fmt.Sprintf("day %d events", d), row[2], events)
		// Was the day hidden because of its own censorings (the events
		// since the previous asked-for day are not small)?
		pr, pe := atRisk(days[max(i-1, 0)]), eventsBefore(days[max(i-1, 0)])
		if i == 0 {
			pr, pe = int64(len(data)), 0
		}
		ev, cens := events-pe, pr-risk-(events-pe)
		if row[1].Value == nil && (ev == 0 || ev > 20) && cens >= 1 && cens <= 20 && risk > 20 {
			hiddenForCensoring++
		}
		if ev == 0 && cens == 0 {
			quiet++
		}
		if row[1].Value == nil || row[2].Value == nil {
			continue
		}
		// What a reader derives from this day and the previous one shown.
		gotEvents := int64(*row[2].Value) - prevEvents
		gotCensored := prevRisk - int64(*row[1].Value) - gotEvents
		for what, n := range map[string]int64{"events": gotEvents, "censorings": gotCensored} {
			if n >= 1 && n <= 20 {
				t.Errorf("days %d→%d shown: %d %s derivable by subtraction", prevDay, d, n, what)
			}
		}
		if gotEvents == 0 && gotCensored == 0 {
			t.Errorf("days %d→%d shown: no one's time falls between them", prevDay, d)
		}
		prevDay, prevRisk, prevEvents = d, int64(*row[1].Value), int64(*row[2].Value)
	}
	return hiddenForCensoring, quiet
}
