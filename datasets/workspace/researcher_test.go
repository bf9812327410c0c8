package workspace

import (
	"errors"
	"testing"
	"time"
)

func day(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// alice holds every requirement of both tiers on 2026-11-26.
func alice() Researcher {
	return Researcher{
		ID:            "alice",
		Identity:      Identity{Method: LoginGov, Verified: day("2026-01-05")},
		RCRTraining:   day("2026-06-01"),
		CodeOfConduct: day("2026-06-01"),
		Institution:   Institution{Name: "Acme University", DURA: Controlled},
		CTTraining:    day("2026-06-01"),
	}
}

func TestCheck(t *testing.T) {
	now := time.Date(2026, 11, 26, 15, 4, 5, 0, time.UTC)
	reg := Workspace{Name: "T2D", Tier: Registered, Researchers: []string{"alice"}}
	ctl := Workspace{Name: "T2D genomics", Tier: Controlled, Researchers: []string{"alice"}}
	tests := []struct {
		name string
		edit func(*Researcher)
		ws   Workspace
		want string // "" = admitted
	}{
		{"complete record, registered", nil, reg, ""},
		{"complete record, controlled", nil, ctl, ""},
		{"id.me identity", func(r *Researcher) { r.Identity.Method = IDMe }, ctl, ""},
		{"not a member", func(r *Researcher) { r.ID = "bob" }, reg,
			`researcher bob is not a member of workspace "T2D"`},
		{"no identity verification", func(r *Researcher) { r.Identity = Identity{} }, reg,
			"researcher alice has no verified identity (login.gov or id.me)"},
		{"unknown identity method", func(r *Researcher) { r.Identity.Method = "passport" }, reg,
			`researcher alice's identity was verified by "passport", not login.gov or id.me`},
		{"identity without date", func(r *Researcher) { r.Identity.Verified = Date{} }, reg,
			"researcher alice has no identity verification date on record"},
		{"no RCR training", func(r *Researcher) { r.RCRTraining = Date{} }, reg,
			"researcher alice has no Responsible Conduct of Research training on record"},
		{"RCR training expired a year to the day", func(r *Researcher) { r.RCRTraining = day("2025-11-26") }, reg,
			"Responsible Conduct of Research training expired on 2026-11-26 (taken 2025-11-26; renew it every year)"},
		{"RCR training valid on its last day", func(r *Researcher) { r.RCRTraining = day("2025-11-27") }, reg, ""},
		{"RCR training in the future", func(r *Researcher) { r.RCRTraining = day("2027-01-01") }, reg,
			"Responsible Conduct of Research training date 2027-01-01 of researcher alice is in the future"},
		{"code of conduct unsigned", func(r *Researcher) { r.CodeOfConduct = Date{} }, reg,
			"researcher alice has not signed the Data User Code of Conduct"},
		{"no institution", func(r *Researcher) { r.Institution = Institution{} }, reg,
			"institution of researcher alice has no Data Use and Registration Agreement (DURA)"},
		{"institution without DURA", func(r *Researcher) { r.Institution.DURA = "" }, reg,
			"institution Acme University has no Data Use and Registration Agreement (DURA)"},
		{"registered DURA, registered tier", func(r *Researcher) { r.Institution.DURA = Registered }, reg, ""},
		{"registered DURA, controlled tier", func(r *Researcher) { r.Institution.DURA = Registered }, ctl,
			"institution Acme University has no controlled tier DURA"},
		{"no controlled tier training, registered tier", func(r *Researcher) { r.CTTraining = Date{} }, reg, ""},
		{"no controlled tier training, controlled tier", func(r *Researcher) { r.CTTraining = Date{} }, ctl,
			"researcher alice has no controlled tier training on record"},
		{"controlled tier training expired", func(r *Researcher) { r.CTTraining = day("2025-03-01") }, ctl,
			"controlled tier training expired on 2026-03-01 (taken 2025-03-01; renew it every year)"},
		{"controlled tier training expired, registered tier", func(r *Researcher) { r.CTTraining = day("2025-03-01") }, reg, ""},
		{"leap day training expires 1 March", func(r *Researcher) { r.CTTraining = day("2024-02-29"); r.RCRTraining = day("2024-02-29") }, ctl,
			"Responsible Conduct of Research training expired on 2025-03-01 (taken 2024-02-29; renew it every year); " +
				"controlled tier training expired on 2025-03-01 (taken 2024-02-29; renew it every year)"},
		{"every reason at once", func(r *Researcher) { *r = Researcher{ID: "carol"} }, ctl,
			`researcher carol is not a member of workspace "T2D genomics"; ` +
				"researcher carol has no verified identity (login.gov or id.me); " +
				"researcher carol has no Responsible Conduct of Research training on record; " +
				"researcher carol has not signed the Data User Code of Conduct; " +
				"institution of researcher carol has no Data Use and Registration Agreement (DURA); " +
				"researcher carol has no controlled tier training on record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := alice()
			if tt.edit != nil {
				tt.edit(&r)
			}
			err := Check(r, tt.ws, now)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("admitted, want refusal %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("reason\n got %q\nwant %q", err, tt.want)
			}
			var ae *AccessError
			if !errors.Is(err, ErrAccess) || !errors.As(err, &ae) || ae.Tier != tt.ws.Tier {
				t.Errorf("error %T does not wrap ErrAccess as *AccessError for tier %s", err, tt.ws.Tier)
			}
		})
	}
}

func TestEligibleIgnoresMembership(t *testing.T) {
	r := alice()
	r.ID = "dave"
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	if err := Eligible(r, Controlled, now); err != nil {
		t.Fatalf("Eligible: %v", err)
	}
}

func TestExpiryUsesLocalDay(t *testing.T) {
	// 23:30 on 28 Feb in New York is already 1 March in UTC; the researcher's
	// own calendar day decides.
	ny := time.FixedZone("EST", -5*3600)
	r := alice()
	r.RCRTraining = day("2026-03-01")
	r.CTTraining = day("2026-03-01")
	now := time.Date(2027, 2, 28, 23, 30, 0, 0, ny)
	if err := Check(r, Workspace{Name: "w", Tier: Controlled, Researchers: []string{"alice"}}, now); err != nil {
		t.Fatalf("refused on the last valid day: %v", err)
	}
}
