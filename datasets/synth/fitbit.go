package synth

import (
	"math"
	"strconv"
)

// Fitbit models. A device owner wears it for a window after enrolment;
// daily steps fall with age, obesity, heart failure, COPD, depression and
// osteoarthritis; sleep shortens with age and depression; resting heart
// rate follows fitness. About 8% of owners also have one day of
// minute-level heart rate and steps (the intraday tables are by far the
// largest in All of Us; one day keeps 1M persons tractable).

var deviceModels = []struct{ version, typ string }{
	{"Charge 5", "TRACKER"}, {"Charge 4", "TRACKER"}, {"Inspire 3", "TRACKER"}, {"Inspire 2", "TRACKER"},
	{"Versa 4", "WATCH"}, {"Versa 2", "WATCH"}, {"Sense 2", "WATCH"},
}

var deviceWeights = weights(25, 15, 15, 10, 15, 10, 10)

// fitbitPerson is the per-person Fitbit state.
type fitbitPerson struct {
	start, end day
	steps      float64 // typical daily steps
	restHR     float64
	sleep      float64 // typical minutes asleep
	kg, bmr    float64
	maxHR      float64
	intraday   bool
}

func (x *gen) emitFitbit() {
	p := &x.p
	g := x.g
	var f fitbitPerson
	span := int(p.end-p.enrol) - 7
	if span < 1 {
		return
	}
	f.start = p.enrol + day(g.intn(min(span, 730)+1))
	f.end = f.start + day(7+g.exp()*25)
	if f.end > f.start+150 {
		f.end = f.start + 150
	}
	if f.end > p.end {
		f.end = p.end
	}
	age := p.ageAt(f.start)
	act := func(c int) float64 { return boolf(p.active(c, f.start)) }
	f.steps = 9000 - 55*(age-40) + 600*boolf(p.male) - 1500*boolf(p.bmi0 >= 30) - 1300*math.Max(act(condHF), act(condCOPD)) -
		700*act(condDepression) - 400*act(condOA) - 400*act(condT2D)
	f.steps = clamp(f.steps*math.Exp(g.normal(0, 0.3)), 1200, 22000)
	f.restHR = clamp(66-(f.steps-7000)/1000+3*boolf(p.bmi0 >= 30)+4*act(condHF)+2*act(condDepression)+g.normal(0, 5), 45, 95)
	f.sleep = clamp(425-0.4*(age-40)-18*act(condDepression)+g.normal(0, 25), 300, 540)
	h := p.heightCm / 100
	f.kg = p.bmiAt(f.start) * h * h
	f.bmr = 10*f.kg + 6.25*p.heightCm - 5*age - 161 + 166*boolf(p.male)
	f.maxHR = 220 - age
	f.intraday = g.bern(0.08)

	model := deviceModels[g.pick(deviceWeights)]
	devID := strconv.FormatUint(splitmix64(uint64(x.seed)^splitmix64(uint64(p.id)+0xf17b17)), 16)

	// Nights with sleep stages in sleep_level: the last three main sleeps.
	lastWorn := day(0)
	for d := f.start; d <= f.end; d++ {
		if !g.bern(0.92) {
			continue
		}
		lastWorn = d
		x.fitbitDay(&f, d)
	}
	for d := f.start; d <= f.end; d += 7 {
		x.deviceRow(d, devID, model.version, model.typ)
	}
	if f.intraday && lastWorn != 0 {
		x.intraday(&f, lastWorn)
	}
}

func (x *gen) deviceRow(d day, devID, version, typ string) {
	g := x.g
	lvl := 5 + g.intn(96)
	batt := "High"
	switch {
	case lvl < 25:
		batt = "Low"
	case lvl < 60:
		batt = "Medium"
	}
	x.bufs[tDevice].int(x.p.id).str(devID).date(d).str(batt).int(int64(lvl)).str(version).str(typ).
		datetime(d.at(6+g.intn(17), g.intn(60))).end()
}

// fitbitDay writes the activity, heart-rate zone and sleep rows of day d.
func (x *gen) fitbitDay(f *fitbitPerson, d day) {
	p := &x.p
	g := x.g
	wd := (int(d) + 4) % 7 // 0 = Sunday
	weekend := wd == 0 || wd == 6
	steps := f.steps * math.Exp(g.normal(0, 0.35))
	if weekend {
		steps *= 0.9
	}
	very := math.Round(steps / 10000 * 22 * math.Exp(g.normal(0, 0.4)))
	fairly := math.Round(steps / 10000 * 18 * math.Exp(g.normal(0, 0.4)))
	lightly := math.Round(math.Max(20, 110+steps/45+g.normal(0, 25)))

	// Main sleep of the night ending on d.
	asleep := 0.0
	if g.bern(0.88) {
		asleep = x.sleep(f, d, true)
	}
	if g.bern(0.05) {
		x.sleep(f, d, false)
	}
	nonwear := float64(g.intn(90))
	sed := math.Max(0, 1440-asleep-very-fairly-lightly-nonwear)
	scale := f.kg / 70
	actCal := math.Round(steps*0.035*scale + very*7*scale + fairly*4*scale + lightly*1.8*scale)
	floors := math.Round(steps / 1500 * math.Exp(g.normal(0, 0.5)))
	x.bufs[tActivitySummary].int(p.id).date(d).float(actCal, 0).float(math.Round(f.bmr), 0).
		float(math.Round(f.bmr)+actCal, 0).float(floors*3.048, 3).int(int64(floors)).int(int64(math.Round(steps))).
		int(int64(sed)).int(int64(lightly)).int(int64(fairly)).int(int64(very)).float(math.Round(actCal*0.55), 0).end()

	// Heart rate zones (Fitbit's defaults: 50/70/85% of the maximum).
	peak := math.Round(very * 0.15 * math.Exp(g.normal(0, 0.3)))
	cardio := math.Round(very*0.6 + fairly*0.2)
	fat := math.Round(fairly*0.8 + lightly*0.3)
	out := math.Max(0, 1440-nonwear-peak-cardio-fat)
	zones := [4]struct {
		name   string
		lo, hi float64
		min    float64
		cal    float64
	}{
		{"Out of Range", f.restHR - 10 + g.normal(0, 2), 0.5 * f.maxHR, out, 1.2},
		{"Fat Burn", 0.5*f.maxHR + 1, 0.7 * f.maxHR, fat, 5.5},
		{"Cardio", 0.7*f.maxHR + 1, 0.85 * f.maxHR, cardio, 9},
		{"Peak", 0.85*f.maxHR + 1, f.maxHR, peak, 12},
	}
	for _, z := range zones {
		x.bufs[tHeartRateSummary].int(p.id).date(d).str(z.name).int(int64(math.Round(z.lo))).int(int64(math.Round(z.hi))).
			int(int64(z.min)).float(math.Round(z.min*z.cal*scale*100)/100, 2).end()
	}
}

// Sleep levels of Fitbit's stage logs.
const (
	lvlWake = iota
	lvlLight
	lvlDeep
	lvlREM
)

var levelNames = [...]string{"wake", "light", "deep", "rem"}

// sleep writes one sleep log ending on d and returns the minutes asleep.
// The last three main sleeps of the wear window also get sleep_level rows,
// and their summary is computed from those levels so the two agree.
func (x *gen) sleep(f *fitbitPerson, d day, main bool) float64 {
	p := &x.p
	g := x.g
	r := &x.bufs[tSleepDailySummary]
	if !main { // a nap, classic log
		asleep := float64(20 + g.intn(70))
		restless := float64(g.intn(8))
		r.int(p.id).date(d).bool(false).int(int64(asleep + restless)).int(int64(asleep)).int(0).int(0).int(int64(restless)).
			null().null().null().null().end()
		return asleep
	}
	asleep := clamp(g.normal(f.sleep, 45), 150, 760)
	wake := math.Max(5, math.Round(asleep*0.12+g.normal(0, 8)))
	inBed := math.Round(asleep + wake)
	after := int64(g.intn(10))
	if g.bern(0.1) { // classic log
		awake := math.Round(wake * 0.3)
		r.int(p.id).date(d).bool(true).int(int64(inBed)).int(int64(inBed - wake)).int(after).int(int64(awake)).
			int(int64(wake - awake)).null().null().null().null().end()
		return inBed - wake
	}
	var mins [4]float64
	if d+3 > f.end {
		// Detailed levels: light/deep/light/rem cycles of ~90 minutes with
		// brief wakes, deep sleep early in the night and REM late.
		bed := (d-1).at(22, 30) + int64(g.normal(0, 50))*60
		t := bed
		left := int(inBed)
		seg := func(level, n int) {
			if n > left {
				n = left
			}
			if n <= 0 {
				return
			}
			x.bufs[tSleepLevel].int(p.id).date(d).bool(true).str(levelNames[level]).datetime(t).int(int64(n)).end()
			mins[level] += float64(n)
			t += int64(n) * 60
			left -= n
		}
		seg(lvlWake, 2+g.intn(10))
		for cycle := 0; left > 0; cycle++ {
			seg(lvlLight, 10+g.intn(30))
			seg(lvlDeep, max(5, 35-6*cycle+g.intn(15)))
			seg(lvlLight, 5+g.intn(20))
			seg(lvlREM, 5+6*cycle+g.intn(15))
			if g.bern(0.6) {
				seg(lvlWake, 1+g.intn(6))
			}
		}
		asleep = mins[lvlLight] + mins[lvlDeep] + mins[lvlREM]
		wake = mins[lvlWake]
	} else {
		deep := math.Round(asleep * clamp(g.normal(0.16, 0.03), 0.05, 0.3))
		rem := math.Round(asleep * clamp(g.normal(0.21, 0.04), 0.05, 0.35))
		asleep = math.Round(asleep)
		mins = [4]float64{wake, asleep - deep - rem, deep, rem}
	}
	r.int(p.id).date(d).bool(true).int(int64(inBed)).int(int64(asleep)).int(after).int(int64(wake)).null().
		int(int64(mins[lvlDeep])).int(int64(mins[lvlLight])).int(int64(mins[lvlREM])).int(int64(mins[lvlWake])).end()
	return asleep
}

// intraday writes minute-level heart rate and steps for day d: steps come
// in walking bouts during waking hours, heart rate rises with cadence and
// falls during sleep.
func (x *gen) intraday(f *fitbitPerson, d day) {
	p := &x.p
	g := x.g
	var steps [1440]int16
	total := int(f.steps * math.Exp(g.normal(0, 0.3)))
	for left := total; left > 0; {
		start := 7*60 + g.intn(15*60)
		n := 1 + g.intn(30)
		cad := 60 + g.intn(60)
		for m := start; m < start+n && m < 1440 && left > 0; m++ {
			s := min(cad+g.intn(10), left)
			steps[m] += int16(s)
			left -= s
		}
	}
	wakeMin := 6*60 + g.intn(120)
	showerAt := wakeMin + 30 + g.intn(60)
	for m := 0; m < 1440; m++ {
		if m >= showerAt && m < showerAt+25 { // not worn
			continue
		}
		hr := f.restHR + 12 + g.normal(0, 4)
		if m < wakeMin || m >= 23*60 {
			hr = f.restHR - 6 + g.normal(0, 2)
		}
		hr += float64(steps[m]) * 0.35
		t := d.at(0, m)
		x.bufs[tHeartRateMinuteLevel].int(p.id).datetime(t).int(int64(math.Round(clamp(hr, 35, f.maxHR)))).end()
		if steps[m] > 0 {
			x.bufs[tStepsIntraday].int(p.id).datetime(t).int(int64(steps[m])).end()
		}
	}
}
