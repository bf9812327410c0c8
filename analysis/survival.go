package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"

	"enclave/api/spec"
	"enclave/datasets"
	"enclave/release"
)

// survival is a Kaplan–Meier table: from each person's first row of Start
// to their first row of Event on or after it, censored at the end of the
// person's observation (or the data cut), reported at the days asked for.
//
// The estimate at a day is a product over the event times before it, so
// it is released only when the persons at risk, the events since the
// previous reported day and the persons censored since then are each 0 or
// at least the minimum count: the counts are tied by margins (cumulative
// events = previous + interval; at risk before = at risk now + events +
// censored), so an interval of 1–20 events or censorings hides its day.
func (s *Server) survival(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.SurvivalArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	start, err := s.handle(a.Start)
	if err != nil {
		return nil, err
	}
	event, err := s.handle(a.Event)
	if err != nil {
		return nil, err
	}
	if start.events == nil || event.events == nil {
		return nil, datasets.Errorf("stats.Survival takes two events handles: the start (e.g. a diagnosis) and the event")
	}
	if len(a.Days) == 0 {
		a.Days = []int{365, 730, 1095, 1825}
	}
	if len(a.Days) > 40 {
		return nil, datasets.Errorf("at most 40 report days")
	}
	days := append([]int(nil), a.Days...)
	sort.Ints(days)
	for _, d := range days {
		if d <= 0 || d > 36500 {
			return nil, datasets.Errorf("report days must be between 1 and 36500")
		}
	}
	b := &sqlb{s: s}
	q, err := s.survivalQuery(b, start.events, event.events)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, "SELECT t, e FROM ("+q+")", b.args...)
	if err != nil {
		return nil, err
	}
	type obs struct {
		t int
		e bool
	}
	var data []obs
	for rows.Next() {
		var t int64
		var e bool
		if err := rows.Scan(&t, &e); err != nil {
			rows.Close()
			return nil, err
		}
		if t >= 0 {
			data = append(data, obs{int(t), e})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Slice(data, func(i, j int) bool { return data[i].t < data[j].t })
	n := int64(len(data))
	tb := &built{title: fmt.Sprintf("Kaplan–Meier: from %s to %s", start.desc, event.desc)}
	tb.columns = []string{"day", "at risk", "events so far", "survival", "95% CI low", "95% CI high"}
	// Each day's persons at risk and persons with the event so far are
	// person sets (kmPlan), differenced like any other: the same table
	// asked for day 155 and then day 156 must not show both.
	plan := func(day int, risk bool) []byte {
		return kmPlan{KM: kmSets{S: start.events, E: event.events, Day: day, Risk: risk}}.bytes()
	}
	total := tb.add(&release.Cell{Stat: release.Count, Value: float64(n), Persons: n, Plan: plan(0, true), Desc: "persons with " + start.desc})
	tb.rows = append(tb.rows, []*slot{{text: "0"}, {cell: total}, {text: "0"}, {text: "1.000"}, {text: ""}, {text: ""}})
	// Walk the event times once, noting the estimate at each report day.
	surv, varSum := 1.0, 0.0
	i := 0
	atRisk := n
	var cumEvents int64
	prevCum := tb.add(&release.Cell{Stat: release.Count, Value: 0, Persons: 0})
	prevRisk := total
	// hide marks cells hidden for the day; those of 1–20 persons are
	// small already, and shown so.
	hide := func(cs ...*release.Cell) {
		for _, c := range cs {
			if c.Persons == 0 || c.Persons >= int64(s.sess.Policy.MinCount) {
				c.Status = spec.Secondary
			}
		}
	}
	// A day hidden for 0 or 1–20 events or censorings since the one
	// before (shown as such, so the note below tells nothing more).
	fewBetween := false
	for _, d := range days {
		for i < len(data) && data[i].t < d {
			t := data[i].t
			var deaths, gone int64
			for i < len(data) && data[i].t == t {
				if data[i].e {
					deaths++
				}
				gone++
				i++
			}
			if deaths > 0 && atRisk > 0 {
				surv *= 1 - float64(deaths)/float64(atRisk)
				if atRisk > deaths {
					varSum += float64(deaths) / (float64(atRisk) * float64(atRisk-deaths))
				}
			}
			cumEvents += deaths
			atRisk -= gone
		}
		lo, hi := logLogCI(surv, varSum)
		what := fmt.Sprintf(" at day %d: %s → %s", d, start.desc, event.desc)
		risk := tb.add(&release.Cell{Stat: release.Count, Value: float64(atRisk), Persons: atRisk, Plan: plan(d, true), Desc: "at risk" + what})
		cum := tb.add(&release.Cell{Stat: release.Count, Value: float64(cumEvents), Persons: cumEvents, Plan: plan(d, false), Desc: "events" + what})
		interval := tb.add(&release.Cell{Stat: release.Count, Value: cum.Value - prevCum.Value, Persons: cumEvents - prevCum.Persons})
		if interval.Persons > 0 && interval.Persons < int64(s.sess.Policy.MinCount) {
			// Hide this day rather than let the margin rule reach back
			// and hide every earlier one.
			hide(cum)
			fewBetween = true
		}
		// Those who left the risk set since the previous day without the
		// event were censored: at risk before = at risk now + events +
		// censored. A drop of 1–20 censorings is a small count too.
		left := prevRisk.Persons - atRisk - interval.Persons
		censored := tb.add(&release.Cell{Stat: release.Count, Value: float64(left), Persons: left})
		if left > 0 && left < int64(s.sess.Policy.MinCount) {
			hide(risk, cum)
			fewBetween = true
		}
		if left == 0 && interval.Persons == 0 {
			// Nothing since the previous day: shown, it would say no
			// one's time falls between the two days, and a start set of
			// one person padded with persons whose times lie past the
			// days asked for gave that person's time to the day as the
			// first day hidden (review 52). A day shows 21 or more
			// persons' times since the one before, or nothing.
			hide(risk, cum, interval, censored)
			fewBetween = true
		}
		tb.margins = append(tb.margins,
			release.Margin{Total: cum, Parts: []*release.Cell{prevCum, interval}},
			release.Margin{Total: prevRisk, Parts: []*release.Cell{risk, interval, censored}})
		sc := tb.add(&release.Cell{Stat: release.Rate, Value: surv, Persons: n, Denom: atRisk, Of: cum, DenomOf: risk, Digits: 3})
		lc := tb.add(&release.Cell{Stat: release.Rate, Value: lo, Persons: n, Denom: atRisk, Of: cum, DenomOf: risk, Digits: 3})
		hc := tb.add(&release.Cell{Stat: release.Rate, Value: hi, Persons: n, Denom: atRisk, Of: cum, DenomOf: risk, Digits: 3})
		for _, c := range []*release.Cell{sc, lc, hc} {
			if atRisk < int64(s.sess.Policy.MinCount) {
				c.Status = spec.Derived
			}
		}
		tb.rows = append(tb.rows, []*slot{{text: fmt.Sprint(d)}, {cell: risk}, {cell: cum}, {cell: sc}, {cell: lc}, {cell: hc}})
		prevCum, prevRisk = cum, risk
	}
	tb.notes = append(tb.notes, "time from each person's first start row to their first event row on or after it; censored at the end of observation",
		fmt.Sprintf("a day is hidden when fewer than %d persons are at risk, or 1–%d events or censorings, or none at all, fall since the previous day; Greenwood log-log intervals",
			s.sess.Policy.MinCount, s.sess.Policy.MinCount-1))
	if fewBetween {
		tb.notes = append(tb.notes, "days with few or no events or censorings since the day before are hidden: ask for days further apart")
	}
	return s.finish(ctx, cell, "stats.Survival("+start.desc+" → "+event.desc+")", tb)
}

// survivalQuery is the SQL of one row per person with a start row: pid,
// t (days from the first start row to the first event row on or after it,
// or to the end of observation or the data cut) and e (the event came).
func (s *Server) survivalQuery(b *sqlb, start, event *eventsPlan) (string, error) {
	sd, ed := dateColumn(s.table(start.Table)), dateColumn(s.table(event.Table))
	if sd == "" || ed == "" {
		return "", datasets.Errorf("both tables need a date column")
	}
	sw, err := b.eventsWhere(start, "x")
	if err != nil {
		return "", err
	}
	ew, err := b.eventsWhere(event, "y")
	if err != nil {
		return "", err
	}
	cut := "DATE '" + s.dataCut + "'"
	end := cut
	if s.tables["observation_period"] != nil {
		end = "coalesce((SELECT max(o.observation_period_end_date) FROM observation_period o WHERE o.person_id = st.person_id), " + cut + ")"
	}
	return "WITH st AS (SELECT x.person_id, min(x." + quoteIdent(sd) + ") AS t0 FROM " + quoteIdent(start.Table) + " x" +
		whereClause(sw) + " GROUP BY 1), ev AS (SELECT st.person_id, min(y." + quoteIdent(ed) + ") AS t1 FROM st JOIN " +
		quoteIdent(event.Table) + " y ON y.person_id = st.person_id AND y." + quoteIdent(ed) + " >= st.t0" +
		andClause(ew) + " GROUP BY 1) " +
		"SELECT st.person_id AS pid, " + s.d.daysBetween("st.t0", "coalesce(ev.t1, least("+end+", "+cut+"))") + " AS t, ev.t1 IS NOT NULL AS e " +
		"FROM st LEFT JOIN ev ON ev.person_id = st.person_id", nil
}

// kmPlan rebuilds the person set of a Kaplan–Meier cell: the persons at
// risk at Day (follow-up of at least Day days) or, with Risk false, those
// whose event came before Day.
type kmPlan struct {
	KM kmSets `json:"km"`
}

type kmSets struct {
	S    *eventsPlan `json:"s"`
	E    *eventsPlan `json:"e"`
	Day  int         `json:"day"`
	Risk bool        `json:"risk,omitempty"`
}

func (p kmPlan) bytes() []byte { return planJSON(p) }

// survivalSet is the person set of Kaplan–Meier plan p.
func (s *Server) survivalSet(ctx context.Context, p kmSets) (*roaring.Bitmap, error) {
	if p.S == nil || p.E == nil {
		return nil, fmt.Errorf("analysis: a Kaplan–Meier plan needs both events plans")
	}
	b := &sqlb{s: s}
	q, err := s.survivalQuery(b, p.S, p.E)
	if err != nil {
		return nil, err
	}
	cond := "t >= 0 AND t >= " + b.arg(int64(p.Day))
	if !p.Risk {
		cond = "t >= 0 AND e AND t < " + b.arg(int64(p.Day))
	}
	return s.listSet(ctx, "SELECT list(pid) FROM ("+q+") WHERE "+cond, b.args...)
}

// logLogCI is the 95% interval of a survival estimate s with Greenwood sum v.
func logLogCI(s, v float64) (lo, hi float64) {
	if s <= 0 || s >= 1 || v <= 0 {
		return s, s
	}
	const z = 1.959963984540054
	se := math.Sqrt(v) / math.Abs(math.Log(s))
	return math.Pow(s, math.Exp(z*se)), math.Pow(s, math.Exp(-z*se))
}

func whereClause(w []string) string {
	if len(w) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w, " AND ")
}

func andClause(w []string) string {
	if len(w) == 0 {
		return ""
	}
	return " AND " + strings.Join(w, " AND ")
}
