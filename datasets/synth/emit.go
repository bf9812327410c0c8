package synth

import (
	"math"

	"enclave/datasets/synth/internal/pq"
)

// maxRowsPerPerson bounds the rows of one table per person: row ids are
// person_id*idStride + seq, so they are unique and independent of chunking.
const (
	idStride         = 1000
	maxRowsPerPerson = idStride - 1
)

// visit is one visit_occurrence of the person being generated.
type visit struct {
	id         int64
	kind       int64 // 9201 inpatient, 9202 outpatient, 9203 emergency
	site       int64 // care_site_id
	provider   int64 // provider_id
	start, end day
	minute     int // start time of day, minutes after midnight
}

// drug describes a prescribable product.
type drug struct {
	concept    int64 // clinical drug or ingredient concept written
	ingredient int64 // ingredient concept, for drug_era
	inhaler    bool
	class      int // drugStatin etc., for treatment effects on measurements
}

const (
	drugOther = iota
	drugStatin
	drugStatinHigh
	drugAntihypertensive
	drugMetformin
	drugInsulin
)

var (
	dMetformin    = drug{40163924, 1503297, false, drugMetformin}
	dInsulin      = drug{1502905, 1502905, false, drugInsulin}
	dLisinopril10 = drug{19080128, 1308216, false, drugAntihypertensive}
	dLisinopril20 = drug{19080129, 1308216, false, drugAntihypertensive}
	dAmlodipine   = drug{1332419, 1332418, false, drugAntihypertensive}
	dHCTZ         = drug{19078106, 974166, false, drugAntihypertensive}
	dLosartan     = drug{40185304, 1367500, false, drugAntihypertensive}
	dMetoprolol   = drug{1307046, 1307046, false, drugAntihypertensive}
	dAtorva80     = drug{1545959, 1545958, false, drugStatinHigh}
	dAtorva       = drug{1545958, 1545958, false, drugStatin}
	dSimva20      = drug{1539411, 1539403, false, drugStatin}
	dSimva10      = drug{1539463, 1539403, false, drugStatin}
	dRosuva       = drug{1510813, 1510813, false, drugStatinHigh}
	dAspirin      = drug{1112807, 1112807, false, drugOther}
	dAlbuterol    = drug{1154615, 1154343, true, drugOther}
	dFluticasone  = drug{40169216, 1149380, true, drugOther}
	dTiotropium   = drug{1106776, 1106776, true, drugOther}
	dSertraline   = drug{739207, 739138, false, drugOther}
	dFluoxetine   = drug{19077463, 755695, false, drugOther}
	dEscitalopram = drug{715939, 715939, false, drugOther}
	dBupropion    = drug{750982, 750982, false, drugOther}
	dLevothyrox   = drug{40174880, 1501700, false, drugOther}
	dOmeprazole   = drug{923645, 923645, false, drugOther}
	dFurosemide   = drug{956874, 956874, false, drugOther}
	dCarvedilol   = drug{1346823, 1346823, false, drugAntihypertensive}
	dApixaban     = drug{43013024, 43013024, false, drugOther}
	dWarfarin     = drug{1310149, 1310149, false, drugOther}
	dIbuprofen    = drug{1177480, 1177480, false, drugOther}
)

// course is one treatment: a drug taken from start until stop.
type course struct {
	d           drug
	start, stop day
	visitID     int64
	provider    int64 // prescriber, on the first prescription
}

// gen generates the rows of one chunk of persons; each worker owns one.
type gen struct {
	seed   int64
	g      *rng
	p      person
	bufs   [numPersonTables]rowBuf
	visits []visit
	drugs  []course
	recs   [numConds][]day        // condition record dates of the current person
	seq    [numPersonTables]int64 // row counter of the current person per table
	ancs   []string               // ancestry of each person of the chunk
}

func newGen(seed int64, format string) *gen {
	x := &gen{seed: seed, g: newRNG()}
	for i := range x.bufs {
		x.bufs[i].ncol = len(personTables[i].cols)
		if format == FormatParquet {
			x.bufs[i].rg = pq.NewRowGroup(personTables[i].pqColumns())
		}
	}
	return x
}

// nextID returns the next row id of table t for the current person, or
// false once the person has maxRowsPerPerson rows in it.
func (x *gen) nextID(t tableID) (int64, bool) {
	if x.seq[t] >= maxRowsPerPerson {
		return 0, false
	}
	x.seq[t]++
	return x.p.id*idStride + x.seq[t], true
}

// Random stream labels: each part of a person draws from its own stream so
// that changing one part (say Fitbit) leaves the others unchanged.
const (
	streamPerson = iota + 1
	streamEHR
	streamFitbit
)

// person generates every row of person id.
func (x *gen) person(id int64) {
	x.p.id = id
	x.seq = [numPersonTables]int64{}
	x.g.reset(x.seed, id, streamPerson)
	x.p.draw(x.g, x.seed)
	x.ancs = append(x.ancs, x.p.ancestry)
	x.emitPerson()
	x.emitSurvey()
	if x.p.hasEHR {
		x.g.reset(x.seed, id, streamEHR)
		x.emitEHR()
	}
	if x.p.death != 0 {
		x.emitDeath()
	}
	if x.p.device {
		x.g.reset(x.seed, id, streamFitbit)
		x.emitFitbit()
	}
}

// conceptCode maps every concept the generator writes to its code, for
// *_source_value columns.
var conceptCode = func() map[int64]string {
	m := make(map[int64]string, len(concepts))
	for _, c := range concepts {
		m[c.id] = c.code
	}
	return m
}()

func (x *gen) emitPerson() {
	p := &x.p
	r := &x.bufs[tPerson]
	y, m, d := p.birth.civil()
	gender := int64(cNoMatch)
	switch p.sexAns {
	case aSexMale:
		gender = cMale
	case aSexFemale:
		gender = cFemale
	}
	// Race and ethnicity as All of Us derives them from The Basics.
	var races []int64
	for _, a := range p.races {
		if a != aRaceHispanic {
			races = append(races, a)
		}
	}
	var race, raceSrc int64
	var raceSrcValue string
	switch {
	case len(races) > 1:
		race, raceSrc, raceSrcValue = cRaceMoreThanOne, cRaceMoreThanOne, "WhatRaceEthnicity_GeneralizedMultPopulations"
	case len(races) == 1:
		raceSrc, raceSrcValue = races[0], conceptCode[races[0]]
		race = map[int64]int64{aRaceWhite: cRaceWhite, aRaceBlack: cRaceBlack, aRaceAsian: cRaceAsian,
			aRaceAIAN: cRaceAIAN, aRaceNHPI: cRaceNHPI, aRaceMENA: cRaceMENA}[races[0]]
		if race == 0 {
			race = races[0] // none of these, prefer not to answer, skip
		}
	default: // Hispanic only
		race, raceSrc, raceSrcValue = cNoMatch, cNoMatch, "No matching concept"
	}
	eth, ethSrc, ethSrcValue := int64(cNotHispanic), int64(cNoMatch), ""
	switch {
	case p.hispanic:
		eth, ethSrc, ethSrcValue = cHispanic, aRaceHispanic, conceptCode[aRaceHispanic]
	case len(races) == 1 && (races[0] == cPMIPreferNotAnswer || races[0] == cPMISkip || races[0] == aRaceNoneOfThese):
		eth, ethSrc, ethSrcValue = races[0], races[0], conceptCode[races[0]]
	}
	r.int(p.id).int(gender).int(int64(y)).int(int64(m)).int(int64(d)).datetime(p.birth.at(0, 0)).
		int(race).int(eth).int(int64(p.state + 1)).int(p.provider).int(p.site).null().
		str(conceptCode[p.sexAns]).int(p.sexAns).str(raceSrcValue).int(raceSrc).str(ethSrcValue).int(ethSrc).end()

	start := p.ehrStart
	if p.enrol < start {
		start = p.enrol
	}
	x.bufs[tObservationPeriod].int(p.id).int(p.id).date(start).date(p.end).int(cTypePeriodEHR).end()
}

// emitSurvey writes The Basics (and one Lifestyle) answers on the
// enrolment day, as observation rows with the question in
// observation_source_concept_id and the answer in value_source_concept_id.
func (x *gen) emitSurvey() {
	p := &x.p
	t := p.enrol.at(8+x.g.intn(12), x.g.intn(60))
	ans := func(q, a int64) {
		id, ok := x.nextID(tObservation)
		if !ok {
			return
		}
		x.bufs[tObservation].int(id).int(p.id).int(q).date(p.enrol).datetime(t).int(cTypeSurvey).
			null().null().int(a).null().null().null().null().null().
			str(conceptCode[q]).int(q).null().null().int(a).str(conceptCode[a]).end()
	}
	for _, a := range p.races {
		ans(qRace, a)
	}
	for _, a := range p.genders {
		ans(qGender, a)
	}
	ans(qSexAtBirth, p.sexAns)
	ans(qSexualOrientation, p.orient)
	ans(qEducation, p.educ)
	ans(qEmployment, p.employ)
	if p.smoker {
		ans(qSmoking100Cigs, aSmokingYes)
	} else {
		ans(qSmoking100Cigs, aSmokingNo)
	}
}

func (x *gen) emitDeath() {
	p := &x.p
	cause := int64(cNoMatch)
	for _, c := range []int{condHF, condCAD, condCOPD, condCKD, condT2D} {
		if p.has[c] && x.g.bern(0.5) {
			cause = p.concept[c]
			break
		}
	}
	x.bufs[tDeath].int(p.id).date(p.death).datetime(p.death.at(x.g.intn(24), x.g.intn(60))).
		int(cTypeEHR).int(cause).null().null().end()
}

// emitEHR writes visits and, at each visit, the conditions recorded, the
// drugs started and the measurements taken.
func (x *gen) emitEHR() {
	p := &x.p
	g := x.g
	x.makeVisits()
	x.drugs = x.drugs[:0]
	var recorded [numConds]bool
	for c := range x.recs {
		x.recs[c] = x.recs[c][:0]
	}
	var prev int64
	for i := range x.visits {
		v := &x.visits[i]
		r := &x.bufs[tVisitOccurrence]
		r.int(v.id).int(p.id).int(v.kind).date(v.start).datetime(v.start.at(0, v.minute)).
			date(v.end).datetime(v.end.at(0, min(v.minute+30, 1439))).int(cTypeVisitEHR).int(v.provider).int(v.site).
			str(visitCode(v.kind)).int(0).null().null().null().null()
		if prev != 0 {
			r.int(prev)
		} else {
			r.null()
		}
		r.end()
		prev = v.id

		precord := 0.3
		switch v.kind {
		case cInpatient:
			precord = 0.7
		case cEmergency:
			precord = 0.2
		}
		for c := 0; c < numConds; c++ {
			if !p.active(c, v.start) {
				continue
			}
			first := !recorded[c]
			if !first && !g.bern(precord) {
				continue
			}
			recorded[c] = true
			if x.emitCondition(c, v) {
				x.recs[c] = append(x.recs[c], v.start)
			}
			if first {
				x.startTreatment(c, v)
			}
		}
		x.emitMeasurements(v)
	}
	x.emitDrugs()
	x.emitConditionEras()
}

// emitConditionEras derives condition_era as the OHDSI era script does:
// each record lasts one day, and records of the same concept less than 30
// days apart join one era.
func (x *gen) emitConditionEras() {
	p := &x.p
	for c := 0; c < numConds; c++ {
		recs := x.recs[c] // chronological: visits are sorted
		for i := 0; i < len(recs); {
			start, end, n := recs[i], recs[i]+1, 1
			for i++; i < len(recs) && recs[i] <= end+30; i++ {
				end = max(end, recs[i]+1)
				n++
			}
			id, ok := x.nextID(tConditionEra)
			if !ok {
				return
			}
			x.bufs[tConditionEra].int(id).int(p.id).int(p.concept[c]).date(start).date(min(end, p.end)).int(int64(n)).end()
		}
	}
}

func visitCode(kind int64) string {
	switch kind {
	case cInpatient:
		return "IP"
	case cEmergency:
		return "ER"
	}
	return "OP"
}

// makeVisits draws the person's visits between the EHR start and the end
// of observation: routine outpatient visits at a rate that grows with age
// and the number of conditions, a visit on each diagnosis date, emergency
// visits and admissions more often with cardiopulmonary disease.
func (x *gen) makeVisits() {
	p := &x.p
	g := x.g
	x.visits = x.visits[:0]
	add := func(kind int64, t day) {
		if t < p.ehrStart || t > p.end || len(x.visits) >= 600 {
			return
		}
		v := visit{kind: kind, start: t, end: t, minute: 7*60 + g.intn(11*60), site: p.site, provider: p.provider}
		if kind != cOutpatient || g.bern(0.15) { // seen elsewhere in the state, or by a colleague
			if g.bern(0.5) {
				v.site = siteID(p.state, g.intn(siteCount(p.state)))
			}
			v.provider = providerID(v.site, g.intn(providersPerSite))
		}
		if kind == cInpatient {
			v.end = t + day(1+g.intn(6))
			if v.end > p.end {
				v.end = p.end
			}
		}
		if kind == cEmergency {
			v.minute = g.intn(24 * 60)
		}
		x.visits = append(x.visits, v)
	}
	for t := p.ehrStart; t <= p.end; {
		n := 0
		for c := 0; c < numConds; c++ {
			if p.active(c, t) {
				n++
			}
		}
		age := p.ageAt(t)
		lOP := 0.7 + 0.3*float64(n) + 0.012*math.Max(0, age-40)
		lER := 0.06 + 0.12*boolf(p.active(condAsthma, t) || p.active(condCOPD, t) || p.active(condHF, t))
		lIP := 0.015 + 0.08*boolf(p.active(condHF, t) || p.active(condCAD, t) || p.active(condCKD, t)) + 0.003*math.Max(0, age-60)
		total := lOP + lER + lIP
		t += day(1 + g.exp()/total*365)
		switch g.pick([]float64{lOP, lER, lIP}) {
		case 0:
			add(cOutpatient, t)
		case 1:
			add(cEmergency, t)
		default:
			add(cInpatient, t)
		}
	}
	for c := 0; c < numConds; c++ {
		if p.has[c] && p.onset[c] >= p.ehrStart {
			add(cOutpatient, p.onset[c])
		}
	}
	if len(x.visits) == 0 {
		add(cOutpatient, p.ehrStart+day(g.intn(int(p.end-p.ehrStart)+1)))
	}
	// Insertion sort: visits are few and mostly in order.
	vs := x.visits
	for i := 1; i < len(vs); i++ {
		for j := i; j > 0 && (vs[j].start < vs[j-1].start || vs[j].start == vs[j-1].start && vs[j].minute < vs[j-1].minute); j-- {
			vs[j], vs[j-1] = vs[j-1], vs[j]
		}
	}
	if len(vs) > maxRowsPerPerson {
		x.visits = vs[:maxRowsPerPerson]
	}
	for i := range x.visits {
		x.visits[i].id = p.id*idStride + int64(i+1)
	}
}

// emitCondition records condition c at visit v; false when the person's
// rows of the table are exhausted.
func (x *gen) emitCondition(c int, v *visit) bool {
	id, ok := x.nextID(tConditionOccurrence)
	if !ok {
		return false
	}
	p := &x.p
	icd := condInfo[c].icd10
	switch p.concept[c] {
	case 434005:
		icd = "E66.01"
	case 443601:
		icd = "N18.2"
	case 443612:
		icd = "N18.4"
	case 4152280, 4282096:
		icd = "F32.9"
	}
	x.bufs[tConditionOccurrence].int(id).int(p.id).int(p.concept[c]).date(v.start).datetime(v.start.at(0, v.minute)).
		null().null().int(cTypeEHR).null().null().int(v.provider).int(v.id).null().str(icd).int(0).null().end()
	return true
}

// treatments lists, per condition, the probability of treatment and the
// drug alternatives (weights) started at diagnosis; extra are add-on drugs
// started independently.
type treatment struct {
	p     float64
	alts  []drug
	w     []float64
	extra []struct {
		p float64
		d drug
	}
}

type addon = struct {
	p float64
	d drug
}

var treatments = [numConds]treatment{
	condT2D:         {0.78, []drug{dMetformin}, weights(1), []addon{{0.15, dInsulin}}},
	condHTN:         {0.75, []drug{dLisinopril10, dLisinopril20, dAmlodipine, dHCTZ, dLosartan}, weights(28, 12, 25, 15, 20), []addon{{0.15, dHCTZ}, {0.1, dAmlodipine}}},
	condHLD:         {0.62, []drug{dSimva20, dSimva10, dAtorva, dRosuva}, weights(35, 10, 35, 20), nil},
	condCAD:         {0.8, []drug{dAtorva80}, weights(1), []addon{{0.5, dAspirin}, {0.4, dMetoprolol}}},
	condAsthma:      {0.85, []drug{dAlbuterol}, weights(1), []addon{{0.35, dFluticasone}}},
	condDepression:  {0.6, []drug{dSertraline, dFluoxetine, dEscitalopram, dBupropion}, weights(40, 20, 25, 15), nil},
	condHypothyroid: {0.9, []drug{dLevothyrox}, weights(1), nil},
	condGERD:        {0.55, []drug{dOmeprazole}, weights(1), nil},
	condHF:          {0.75, []drug{dFurosemide}, weights(1), []addon{{0.6, dCarvedilol}}},
	condAF:          {0.75, []drug{dApixaban, dWarfarin}, weights(75, 25), nil},
	condCOPD:        {0.7, []drug{dTiotropium}, weights(1), []addon{{0.6, dAlbuterol}}},
	condOA:          {0.35, []drug{dIbuprofen}, weights(1), nil},
}

// startTreatment starts the drugs for condition c diagnosed (first
// recorded) at visit v.
func (x *gen) startTreatment(c int, v *visit) {
	tr := &treatments[c]
	g := x.g
	if tr.alts == nil || !g.bern(tr.p) {
		return
	}
	x.addCourse(tr.alts[g.pick(tr.w)], v.start, v)
	for _, e := range tr.extra {
		if g.bern(e.p) {
			x.addCourse(e.d, v.start+day(g.intn(730)), nil)
		}
	}
}

// addCourse starts drug d on start, prescribed at visit v (nil when the
// prescription has no visit).
func (x *gen) addCourse(d drug, start day, v *visit) {
	p := &x.p
	if start > p.end {
		return
	}
	for _, c := range x.drugs {
		if c.d.ingredient == d.ingredient {
			return
		}
	}
	stop := p.end
	if x.g.bern(0.15) { // discontinued
		if s := start + day(180+x.g.intn(4*365)); s < stop {
			stop = s
		}
	}
	c := course{d: d, start: start, stop: stop}
	if v != nil {
		c.visitID, c.provider = v.id, v.provider
	}
	x.drugs = append(x.drugs, c)
}

// onDrug reports whether a drug of the class is being taken on t.
func (x *gen) onDrug(class int, t day) bool {
	for _, c := range x.drugs {
		if c.d.class == class && c.start <= t && t <= c.stop {
			return true
		}
	}
	return false
}

// emitDrugs writes one prescription per year of each course (90-day
// supply with 3 refills, or a 30-day inhaler with 11) and one drug_era
// per course at the ingredient level.
func (x *gen) emitDrugs() {
	p := &x.p
	g := x.g
	for _, c := range x.drugs {
		n := 0
		var last day
		for s := c.start; s <= c.stop; s += day(360 + g.intn(21)) {
			id, ok := x.nextID(tDrugExposure)
			if !ok {
				break
			}
			e := s + 359
			if e > c.stop {
				e = c.stop
			}
			r := &x.bufs[tDrugExposure]
			r.int(id).int(p.id).int(c.d.concept).date(s).null().date(e).null().null().int(cTypeEHR).null()
			if c.d.inhaler {
				r.int(11).float(1, 0).int(30)
			} else {
				r.int(3).float(90, 0).int(90)
			}
			r.null().null().null()
			if n == 0 && c.visitID != 0 {
				r.int(c.provider).int(c.visitID)
			} else {
				r.null().null()
			}
			r.null().str(conceptCode[c.d.concept]).int(0).null().null().end()
			n++
			last = e
		}
		if n == 0 {
			continue
		}
		if id, ok := x.nextID(tDrugEra); ok {
			x.bufs[tDrugEra].int(id).int(p.id).int(c.d.ingredient).date(c.start).date(last).int(int64(n)).int(0).end()
		}
	}
}

// measSpec is what a measurement row repeats: the LOINC code, the unit and
// its code, and the reference range of labs.
type measSpec struct {
	code     string
	unit     int64
	unitCode string
	lo, hi   float64
	hasRange bool
}

func specOf(concept int64) measSpec {
	switch concept {
	case cHbA1c:
		return measSpec{"4548-4", cUnitPercent, "%", 4.0, 5.6, true}
	case cGlucose:
		return measSpec{"2345-7", cUnitMgDL, "mg/dL", 70, 99, true}
	case cLDL:
		return measSpec{"2089-1", cUnitMgDL, "mg/dL", 0, 99, true}
	case cHDL:
		return measSpec{"2085-9", cUnitMgDL, "mg/dL", 40, 100, true}
	case cTotalChol:
		return measSpec{"2093-3", cUnitMgDL, "mg/dL", 0, 199, true}
	case cTriglyceride:
		return measSpec{"2571-8", cUnitMgDL, "mg/dL", 0, 149, true}
	case cCreatinine:
		return measSpec{"2160-0", cUnitMgDL, "mg/dL", 0.6, 1.3, true}
	case cSBP:
		return measSpec{code: "8480-6", unit: cUnitMmHg, unitCode: "mm[Hg]"}
	case cDBP:
		return measSpec{code: "8462-4", unit: cUnitMmHg, unitCode: "mm[Hg]"}
	case cWeight:
		return measSpec{code: "29463-7", unit: cUnitKg, unitCode: "kg"}
	case cHeight:
		return measSpec{code: "8302-2", unit: cUnitCm, unitCode: "cm"}
	case cBMI:
		return measSpec{code: "39156-5", unit: cUnitKgM2, unitCode: "kg/m2"}
	case cHeartRate:
		return measSpec{code: "8867-4", unit: cUnitPerMin, unitCode: "/min"}
	}
	panic("synth: no measurement spec for concept")
}

func (x *gen) measure(v *visit, concept int64, value float64, prec int) {
	id, ok := x.nextID(tMeasurement)
	if !ok {
		return
	}
	m := specOf(concept)
	r := &x.bufs[tMeasurement]
	r.int(id).int(x.p.id).int(concept).date(v.start).datetime(v.start.at(0, v.minute+5)).null().int(cTypeEHR).
		null().float(value, prec).null().int(m.unit)
	if m.hasRange {
		r.float(m.lo, 1).float(m.hi, 1)
	} else {
		r.null().null()
	}
	r.int(v.provider).int(v.id).null().str(m.code).int(0).str(m.unitCode).null().end()
}

// emitMeasurements writes the vitals and labs taken at a visit, with values
// that follow the person's conditions, treatment and planted variants.
func (x *gen) emitMeasurements(v *visit) {
	p := &x.p
	g := x.g
	t := v.start
	age := p.ageAt(t)
	pv, pglu, pcreat := 0.6, 0.25, 0.2
	switch v.kind {
	case cInpatient:
		pv, pglu, pcreat = 1, 0.9, 0.9
	case cEmergency:
		pv, pglu, pcreat = 0.85, 0.6, 0.6
	}
	diabetic := p.active(condT2D, t)
	if g.bern(pv) {
		htn := p.active(condHTN, t)
		sbp := 116 + 0.45*(age-40) + 0.5*(p.bmiAt(t)-27) + 16*boolf(htn) - 9*boolf(x.onDrug(drugAntihypertensive, t)) + g.normal(0, 11)
		sbp = clamp(sbp, 85, 220)
		dbp := clamp(0.45*sbp+18+g.normal(0, 7), 45, 130)
		x.measure(v, cSBP, math.Round(sbp), 0)
		x.measure(v, cDBP, math.Round(dbp), 0)
		if g.bern(0.8) {
			bmi := p.bmiAt(t) + g.normal(0, 0.4)
			h := p.heightCm / 100
			x.measure(v, cWeight, bmi*h*h, 1)
			x.measure(v, cBMI, bmi, 1)
			if g.bern(0.2) {
				x.measure(v, cHeight, p.heightCm+g.normal(0, 0.8), 1)
			}
		}
		if g.bern(0.5) {
			hr := 72 + 4*boolf(p.active(condHF, t)) - 3*boolf(p.male) + g.normal(0, 10)
			x.measure(v, cHeartRate, math.Round(clamp(hr, 40, 150)), 0)
		}
	}
	// Years until diabetes onset: glycaemia rises before the diagnosis.
	pre := 0.0
	if p.has[condT2D] && !diabetic {
		if yrs := float64(p.onset[condT2D]-t) / 365.25; yrs < 3 {
			pre = 1 - yrs/3
		}
	}
	if g.bern(pglu) {
		glu := 92 + 0.6*(p.bmiAt(t)-27) + 20*pre + g.normal(0, 11)
		if diabetic {
			glu = 150 - 20*boolf(x.onDrug(drugMetformin, t)) + g.normal(0, 40)
		}
		x.measure(v, cGlucose, math.Round(clamp(glu, 55, 500)), 0)
	}
	pa1c := 0.06 + 0.06*boolf(p.active(condObesity, t)) + 0.1*pre
	if diabetic {
		pa1c = 0.55
	}
	if g.bern(pa1c) {
		a1c := 5.3 + 0.015*(p.bmiAt(t)-27) + 0.8*pre + g.normal(0, 0.3)
		if diabetic {
			a1c = 7.6 - 0.7*boolf(x.onDrug(drugMetformin, t)) + 0.5*boolf(x.onDrug(drugInsulin, t)) + g.normal(0, 1.1)
			a1c = math.Max(a1c, 5.7)
		}
		x.measure(v, cHbA1c, clamp(a1c, 4, 15), 1)
	}
	plip := 0.1
	if p.active(condHLD, t) || p.active(condT2D, t) || p.active(condCAD, t) || x.onDrug(drugStatin, t) {
		plip = 0.35
	}
	if g.bern(plip) {
		ldl := p.ldlBase
		switch {
		case x.onDrug(drugStatinHigh, t):
			ldl *= 0.5
		case x.onDrug(drugStatin, t):
			ldl *= 0.65
		}
		ldl = clamp(ldl+g.normal(0, 10), 20, 400)
		hdl := clamp(54-0.7*(p.bmiAt(t)-27)+9*boolf(!p.male)+g.normal(0, 10), 18, 120)
		tg := clamp(115+3.5*(p.bmiAt(t)-27)+40*boolf(diabetic)+g.normal(0, 45), 35, 900)
		x.measure(v, cLDL, math.Round(ldl), 0)
		x.measure(v, cHDL, math.Round(hdl), 0)
		x.measure(v, cTriglyceride, math.Round(tg), 0)
		x.measure(v, cTotalChol, math.Round(ldl+hdl+tg/5), 0)
	}
	if p.active(condCKD, t) || p.active(condHTN, t) || diabetic {
		pcreat += 0.25
	}
	if g.bern(pcreat) {
		cr := 0.75 + 0.2*boolf(p.male) + 0.004*math.Max(0, age-40) + g.normal(0, 0.12)
		if p.active(condCKD, t) {
			cr += []float64{0, 0, 0.35, 0.9, 2.0}[p.ckdStage]
		}
		x.measure(v, cCreatinine, clamp(cr, 0.3, 12), 2)
	}
}
