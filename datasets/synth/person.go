package synth

import (
	"math"

	"enclave/datasets/genomics/gensim"
)

// Calendar of the synthetic program: enrolment opens on the All of Us
// launch date and the data cut is the end of every observation period.
var (
	enrolStart = mkday(2018, 5, 6)
	enrolEnd   = mkday(2023, 12, 31)
	dataCut    = mkday(2024, 7, 1)
)

// Condition indexes. Their order is the order risks are drawn in, so a
// condition may depend on any earlier one (comorbidity).
const (
	condObesity = iota
	condHTN
	condT2D
	condHLD
	condAsthma
	condDepression
	condCKD
	condCAD
	condHF
	condAF
	condOA
	condCOPD
	condHypothyroid
	condGERD
	numConds
)

// condInfo names a condition: the standard concept written (some
// conditions pick one of several descendants, see drawConditions), the
// ICD-10-CM code written as condition_source_value, and a label.
var condInfo = [numConds]struct {
	concept int64
	icd10   string
	label   string
}{
	condObesity:     {433736, "E66.9", "obesity"},
	condHTN:         {320128, "I10", "essential hypertension"},
	condT2D:         {201826, "E11.9", "type 2 diabetes"},
	condHLD:         {432867, "E78.5", "hyperlipidemia"},
	condAsthma:      {317009, "J45.909", "asthma"},
	condDepression:  {440383, "F32.A", "depression"},
	condCKD:         {46271022, "N18.3", "chronic kidney disease"},
	condCAD:         {317576, "I25.10", "coronary arteriosclerosis"},
	condHF:          {316139, "I50.9", "heart failure"},
	condAF:          {313217, "I48.91", "atrial fibrillation"},
	condOA:          {80180, "M19.90", "osteoarthritis"},
	condCOPD:        {255573, "J44.9", "COPD"},
	condHypothyroid: {140673, "E03.9", "hypothyroidism"},
	condGERD:        {318800, "K21.9", "GERD"},
}

// person is the latent state of one participant, from which every row is
// derived.
type person struct {
	id       int64
	birth    day
	ageCut   float64 // age in years at the data cut
	male     bool    // biological sex used by the physiology model
	sexAns   int64   // sex at birth answer (PPI) or PMI skip/PNA
	genders  []int64 // gender identity answers (one or two)
	races    []int64 // race/ethnicity answers (several allowed)
	hispanic bool
	ancestry string // AFR AMR EAS EUR SAS, for the planted variants
	state    int    // index into states
	site     int64  // home care_site_id
	provider int64  // primary care provider_id
	orient   int64
	educ     int64
	employ   int64
	smoker   bool

	enrol    day
	hasEHR   bool
	ehrStart day
	end      day // last day observed: data cut or death
	death    day // 0 when alive at the data cut

	heightCm float64
	bmi0     float64 // BMI at enrolment
	bmiSlope float64 // BMI change per year
	ldlBase  float64 // untreated LDL mg/dL including the planted variants
	t2dGene  float64 // Σ T2DLogOR·dosage

	has      [numConds]bool
	onset    [numConds]day
	concept  [numConds]int64
	ckdStage int // 2..4

	device bool
}

var (
	// raceAncestry is the ancestry a single race answer implies.
	raceAncestry = map[int64]string{
		aRaceWhite: "EUR", aRaceBlack: "AFR", aRaceHispanic: "AMR", aRaceAIAN: "AMR",
		aRaceMENA: "EUR", aRaceNHPI: "EAS",
	}
)

// States of residence: the All of Us enrolment skews to states with large
// partner sites; location rows are written for every one.
var states = []struct {
	code string
	w    float64
}{
	{"NY", 14}, {"CA", 11}, {"IL", 7}, {"AZ", 7}, {"PA", 7}, {"MA", 6}, {"WI", 6}, {"MI", 5},
	{"AL", 4}, {"GA", 4}, {"TX", 4}, {"FL", 4}, {"NC", 3}, {"LA", 3}, {"TN", 2}, {"OH", 2},
	{"NJ", 2}, {"MS", 1}, {"SC", 1}, {"CO", 1}, {"WA", 1}, {"MN", 1}, {"MO", 1}, {"KY", 0.5},
	{"OR", 0.5}, {"UT", 0.5}, {"VA", 0.5}, {"MD", 0.5}, {"IN", 0.5}, {"CT", 0.5},
}

// Care sites: a few per state (more in states with more participants),
// each with providersPerSite providers. Ids encode the state and site.
const providersPerSite = 25

func siteCount(state int) int { return max(1, int(states[state].w/2+0.5)) }

func siteID(state, k int) int64 { return int64((state+1)*100 + k + 1) }

func providerID(site int64, k int) int64 { return site*100 + int64(k) + 1 }

var stateWeights = func() []float64 {
	w := make([]float64, len(states))
	for i, s := range states {
		w[i] = s.w
	}
	return w
}()

// ageBands are (lo, hi, weight) of age at the data cut: an adult cohort,
// older than the US population as All of Us is, with about 3% aged 89+.
var ageBands = []struct{ lo, hi, w float64 }{
	{19, 30, 11}, {30, 40, 14}, {40, 50, 14}, {50, 60, 18}, {60, 70, 20}, {70, 80, 14},
	{80, 89, 6}, {89, 101, 3},
}

var ageBandWeights = func() []float64 {
	w := make([]float64, len(ageBands))
	for i, b := range ageBands {
		w[i] = b.w
	}
	return w
}()

// Race/ethnicity groups (about 45% not non-Hispanic white, as in All of Us).
var raceGroups = []struct {
	w       float64
	answers []int64
}{
	{56, []int64{aRaceWhite}},
	{20, []int64{aRaceBlack}},
	{10, []int64{aRaceHispanic}},
	{4.5, []int64{aRaceHispanic, aRaceWhite}},
	{0.8, []int64{aRaceHispanic, aRaceBlack}},
	{0.7, []int64{aRaceHispanic, aRaceNoneOfThese}},
	{3.5, []int64{aRaceAsian}},
	{1.2, []int64{aRaceWhite, aRaceBlack}},
	{0.8, []int64{aRaceWhite, aRaceAIAN}},
	{0.5, []int64{aRaceWhite, aRaceAsian}},
	{0.3, []int64{aRaceBlack, aRaceAIAN}},
	{0.8, []int64{aRaceAIAN}},
	{0.6, []int64{aRaceMENA}},
	{0.2, []int64{aRaceNHPI}},
	{2.0, []int64{aRaceNoneOfThese}},
	{1.6, []int64{cPMIPreferNotAnswer}},
	{0.5, []int64{cPMISkip}},
}

var raceWeights = func() []float64 {
	w := make([]float64, len(raceGroups))
	for i, g := range raceGroups {
		w[i] = g.w
	}
	return w
}()

func weights(w ...float64) []float64 { return w }

var (
	sexAnswers    = []int64{aSexFemale, aSexMale, aSexIntersex, aSexNoneOfThese, cPMIPreferNotAnswer, cPMISkip}
	sexWeights    = weights(59.5, 39.3, 0.15, 0.25, 0.5, 0.3)
	orientAnswers = []int64{aSOStraight, aSOGay, aSOLesbian, aSOBisexual, aSONone, cPMIPreferNotAnswer, cPMISkip}
	orientWeights = weights(86, 2.6, 1.4, 4.2, 1.3, 2.5, 2.0)
	educAnswers   = []int64{aEduNever, aEduOneToFour, aEduFiveToEight, aEduNineToEleven, aEduTwelveOrGED,
		aEduCollegeOneToThree, aEduCollegeGraduate, aEduAdvancedDegree, cPMIPreferNotAnswer, cPMISkip}
	educWeights = weights(0.3, 0.3, 1.8, 6.5, 21, 28, 21, 17, 2.3, 1.8)
)

// draw fills p from its random stream. Conditions, death and device
// ownership are drawn here; the visit-level rows are drawn by emit.
func (p *person) draw(g *rng, seed int64) {
	*p = person{id: p.id, genders: p.genders[:0], races: p.races[:0]}

	// Age and birth date.
	b := ageBands[g.pick(ageBandWeights)]
	p.ageCut = b.lo + (b.hi-b.lo)*g.float()
	if b.lo >= 89 { // the oldest thin out quickly
		p.ageCut = 89 + 12*(1-math.Sqrt(g.float()))
	}
	p.birth = dataCut - day(p.ageCut*365.25)

	// Sex at birth and gender identity.
	p.sexAns = sexAnswers[g.pick(sexWeights)]
	switch p.sexAns {
	case aSexMale:
		p.male = true
	case aSexFemale:
		p.male = false
	default:
		p.male = g.bern(0.45)
	}
	u := g.float()
	switch {
	case u < 0.005:
		p.genders = append(p.genders, aGenderNonBinary)
	case u < 0.008:
		p.genders = append(p.genders, aGenderTransgender)
		if p.male {
			p.genders = append(p.genders, aGenderWoman)
		} else {
			p.genders = append(p.genders, aGenderMan)
		}
	case u < 0.010:
		p.genders = append(p.genders, aGenderAdditional)
	case u < 0.013: // identifies as the other binary gender
		if p.male {
			p.genders = append(p.genders, aGenderWoman)
		} else {
			p.genders = append(p.genders, aGenderMan)
		}
	case u < 0.021:
		p.genders = append(p.genders, cPMIPreferNotAnswer)
	case u < 0.027:
		p.genders = append(p.genders, cPMISkip)
	default:
		if p.male {
			p.genders = append(p.genders, aGenderMan)
		} else {
			p.genders = append(p.genders, aGenderWoman)
		}
	}

	// Race, ethnicity and the genetic ancestry the variants are drawn from.
	rg := raceGroups[g.pick(raceWeights)]
	p.races = append(p.races, rg.answers...)
	for _, a := range p.races {
		if a == aRaceHispanic {
			p.hispanic = true
		}
	}
	switch {
	case p.hispanic:
		p.ancestry = "AMR"
	case p.races[0] == aRaceAsian:
		if g.bern(0.3) {
			p.ancestry = "SAS"
		} else {
			p.ancestry = "EAS"
		}
	default:
		if a, ok := raceAncestry[p.races[0]]; ok {
			p.ancestry = a
		} else {
			p.ancestry = gensim.Ancestries[g.pick(weights(20, 15, 5, 55, 5))]
		}
	}

	p.state = g.pick(stateWeights)
	p.orient = orientAnswers[g.pick(orientWeights)]
	if p.ageCut > 65 && p.orient == aSOBisexual && g.bern(0.5) {
		p.orient = aSOStraight
	}
	p.educ = educAnswers[g.pick(educWeights)]
	college := p.educ == aEduCollegeGraduate || p.educ == aEduAdvancedDegree
	p.smoker = g.bern(clamp(0.38+0.1*boolf(p.male)-0.15*boolf(college), 0.05, 0.9))

	// Enrolment, EHR span, observation end.
	p.enrol = enrolStart + day(g.intn(int(enrolEnd-enrolStart)+1))
	adult := p.birth + 6575 // 18th birthday
	if p.enrol < adult {
		p.enrol = adult
	}
	p.hasEHR = g.bern(0.8)
	p.ehrStart = p.enrol - day(g.float()*9*365)
	if p.ehrStart < adult {
		p.ehrStart = adult
	}
	if !p.hasEHR {
		p.ehrStart = p.enrol
	}
	p.end = dataCut

	// Physiology.
	race0 := p.races[0]
	black := boolf(race0 == aRaceBlack)
	asian := boolf(p.ancestry == "EAS" || p.ancestry == "SAS")
	female := boolf(!p.male)
	if p.male {
		p.heightCm = g.normal(176-5*asian-1*boolf(p.hispanic), 7)
	} else {
		p.heightCm = g.normal(162.5-4*asian-1*boolf(p.hispanic), 6.5)
	}
	ageAdj := math.Min(p.ageCut, 62) - 40 - 0.25*math.Max(0, p.ageCut-70)
	mu := math.Log(27.6 + 0.09*ageAdj + 2.8*black*female + 1.2*boolf(p.hispanic) - 4*asian)
	p.bmi0 = clamp(math.Exp(g.normal(mu, 0.2)), 15, 70)
	p.bmiSlope = g.normal(0.1, 0.25)

	var ldlShift float64
	for v, pv := range gensim.PlantedVariants {
		d := float64(gensim.Dosage(seed, p.id, p.ancestry, v))
		ldlShift += pv.LDLBeta * d
		p.t2dGene += pv.T2DLogOR * d
	}
	p.ldlBase = g.normal(112+0.35*(math.Min(p.ageCut, 65)-40)+0.5*(p.bmi0-28)-5*black, 30) + ldlShift
	if p.ldlBase < 40 {
		p.ldlBase = 40 + 10*g.float()
	}

	// Employment depends on age.
	switch {
	case p.ageCut >= 67:
		p.employ = pickAns(g, []int64{aEmpRetired, aEmpWages, aEmpSelf, aEmpUnable, aEmpHomemaker, cPMISkip, cPMIPreferNotAnswer}, weights(74, 8, 5, 6, 3, 2.5, 1.5))
	case p.ageCut < 25:
		p.employ = pickAns(g, []int64{aEmpStudent, aEmpWages, aEmpOutOfWorkShort, aEmpOutOfWorkLong, aEmpSelf, cPMISkip}, weights(40, 40, 8, 4, 3, 2))
	default:
		p.employ = pickAns(g, []int64{aEmpWages, aEmpSelf, aEmpOutOfWorkLong, aEmpOutOfWorkShort, aEmpHomemaker, aEmpStudent, aEmpRetired, aEmpUnable, cPMIPreferNotAnswer, cPMISkip},
			weights(52, 9, 7, 5, 5, 1.5, 6, 10, 1.5, 2))
	}

	p.site = siteID(p.state, g.intn(siteCount(p.state)))
	p.provider = providerID(p.site, g.intn(providersPerSite))

	p.drawConditions(g, black, female)
	p.drawDeath(g)
	p.drawDevice(g, college)
}

func pickAns(g *rng, ans []int64, w []float64) int64 { return ans[g.pick(w)] }

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// drawConditions decides which chronic conditions a person is diagnosed
// with by the data cut, and when they began. Risks depend on age, sex,
// ancestry, BMI, smoking, earlier conditions and the planted variants.
func (p *person) drawConditions(g *rng, black, female float64) {
	a := p.ageCut
	d := (a - 50) / 10
	bmi := p.bmi0
	male := 1 - female
	smk := boolf(p.smoker)
	hasf := func(c int) float64 { return boolf(p.has[c]) }
	hisp := boolf(p.hispanic)
	asian := boolf(p.ancestry == "EAS" || p.ancestry == "SAS")

	set := func(c int, logit float64, minAge float64) {
		if !g.bern(logistic(logit)) {
			return
		}
		// Years since onset: most chronic diagnoses are recent.
		back := g.exp() * 9
		onAge := math.Max(minAge, a-back)
		if onAge >= a {
			onAge = a - 0.1
		}
		p.has[c] = true
		p.onset[c] = p.birth + day(onAge*365.25)
		p.concept[c] = condInfo[c].concept
	}
	switch {
	case bmi >= 35:
		set(condObesity, 0.8, 18)
	case bmi >= 30:
		set(condObesity, -0.35, 18)
	default:
		set(condObesity, -4.5, 18)
	}
	if p.has[condObesity] && bmi >= 40 {
		p.concept[condObesity] = 434005
	}
	set(condHTN, -1.42+0.62*d+0.08*(bmi-28)+0.55*black+0.2*male, 25)
	set(condT2D, -3.05+0.42*d+0.1*(bmi-28)+0.55*black+0.55*hisp+0.6*asian+0.45*hasf(condHTN)+p.t2dGene-0.3, 25)
	set(condHLD, -1.45+0.45*d+0.022*(p.ldlBase-120)+0.5*hasf(condT2D)+0.3*hasf(condHTN)-0.3*black, 25)
	set(condAsthma, -2.4+0.35*female+0.3*black+0.03*(bmi-28)-0.05*d, 3)
	set(condDepression, -2.12+0.6*female-0.08*d+0.2*hasf(condObesity)+0.2*smk, 14)
	set(condCKD, -4.75+0.75*d+0.9*hasf(condT2D)+0.8*hasf(condHTN)+0.4*black, 30)
	set(condCAD, -5.0+0.8*d+0.7*male+0.6*hasf(condT2D)+0.5*hasf(condHTN)+0.5*hasf(condHLD)+0.5*smk, 35)
	set(condHF, -5.45+0.8*d+1.0*hasf(condCAD)+0.6*hasf(condHTN)+0.4*hasf(condT2D), 40)
	set(condAF, -5.5+0.95*d+0.4*male+0.5*hasf(condHTN)+0.8*hasf(condHF), 40)
	set(condOA, -2.96+0.7*d+0.3*female+0.04*(bmi-28), 35)
	set(condCOPD, -4.75+0.6*d+1.9*smk, 40)
	set(condHypothyroid, -3.3+1.0*female+0.3*d, 20)
	set(condGERD, -1.9+0.2*d+0.03*(bmi-28), 18)

	if p.has[condCKD] {
		p.ckdStage = []int{2, 3, 3, 3, 3, 4}[g.intn(6)]
		p.concept[condCKD] = map[int]int64{2: 443601, 3: 443597, 4: 443612}[p.ckdStage]
	}
	if p.has[condDepression] {
		p.concept[condDepression] = []int64{440383, 440383, 4152280, 4152280, 4152280, 4282096}[g.intn(6)]
	}
}

// drawDeath gives a Gompertz mortality hazard raised by serious
// conditions; the person dies between enrolment and the data cut with the
// implied probability.
func (p *person) drawDeath(g *rng) {
	ageEnrol := float64(p.enrol-p.birth) / 365.25
	h := math.Exp(-10.9 + 0.09*ageEnrol)
	h *= 1 + 0.5*boolf(p.has[condCAD]) + 1.2*boolf(p.has[condHF]) + 0.3*boolf(p.has[condT2D]) +
		0.8*boolf(p.has[condCOPD]) + 0.6*boolf(p.has[condCKD]) + 0.3*boolf(p.smoker)
	years := float64(dataCut-p.enrol) / 365.25
	if years <= 0 || !g.bern(1-math.Exp(-h*years)) {
		return
	}
	p.death = p.enrol + 30 + day(g.float()*float64(dataCut-p.enrol-30))
	if p.death > dataCut {
		p.death = dataCut
	}
	p.end = p.death
	for c := range p.has {
		if p.has[c] && p.onset[c] > p.death {
			p.has[c] = false
		}
	}
}

// drawDevice decides Fitbit ownership: about a fifth of participants, more
// often younger, female and college-educated people (as in All of Us).
func (p *person) drawDevice(g *rng, college bool) {
	l := -1.45 - 0.02*(p.ageCut-50) + 0.25*boolf(!p.male) + 0.45*boolf(college) - 0.2*boolf(p.races[0] == aRaceBlack)
	p.device = g.bern(logistic(l)) && p.end-p.enrol > 30
}

// active reports whether condition c has begun by t.
func (p *person) active(c int, t day) bool { return p.has[c] && p.onset[c] <= t }

// ageAt returns the age in years on t.
func (p *person) ageAt(t day) float64 { return float64(t-p.birth) / 365.25 }

// bmiAt returns the BMI on t.
func (p *person) bmiAt(t day) float64 {
	return clamp(p.bmi0+p.bmiSlope*float64(t-p.enrol)/365.25, 14, 75)
}
