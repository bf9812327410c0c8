package omop

// All of Us PPI concept ids of "The Basics" demographic questions and
// answers, as survey rows carry them in observation
// (observation_source_concept_id = question, value_source_concept_id =
// answer). The registered tier generalises these answers; a generator that
// wants its survey rows generalised must use these ids (they are in the
// default vocabulary, datasets/vocab/local/concept.csv).
const (
	QuestionRace              = 1586140
	QuestionGenderIdentity    = 1585838
	QuestionSexAtBirth        = 1585845
	QuestionSexualOrientation = 1585899
	QuestionEducation         = 1585940
	QuestionEmployment        = 1585952

	RaceAIAN     = 1586141
	RaceAsian    = 1586142
	RaceBlack    = 1586143
	RaceMENA     = 1586144
	RaceNHPI     = 1586145
	RaceWhite    = 1586146
	RaceHispanic = 1586147
	RaceNone     = 1586148

	GenderMan          = 1585839
	GenderWoman        = 1585840
	GenderNonBinary    = 1585841
	GenderTransgender  = 1585842
	GenderOtherOptions = 1585843

	SexAtBirthMale     = 1585846
	SexAtBirthFemale   = 1585847
	SexAtBirthIntersex = 1585848
	SexAtBirthNone     = 1585849

	OrientationStraight = 1585900
	OrientationGay      = 1585901
	OrientationLesbian  = 1585902
	OrientationBisexual = 1585903
	OrientationNone     = 1585904

	EducationNeverAttended = 1585941
	EducationGrade1to4     = 1585942
	EducationGrade5to8     = 1585943
	EducationGrade9to11    = 1585944
	EducationGrade12OrGED  = 1585945
	EducationCollege1to3   = 1585946
	EducationCollegeGrad   = 1585947
	EducationAdvanced      = 1585948

	PreferNotToAnswer = 903079
	Skip              = 903096
)

// Generalised categories the registered tier substitutes (All of Us
// curation; local concept ids in the 2-billion range, in the default
// vocabulary as vocabulary "AoU_General").
const (
	GenAnotherSinglePopulation = 2000000001 // a single race reported by fewer than SmallGroup persons
	GenMoreThanOnePopulation   = 2000000008 // more than one race answered
	GenGenderIdentity          = 2000000002 // not man only, not woman only, differing from sex at birth, skipped
	GenSexAtBirth              = 2000000009 // not male, not female, prefer not to answer, skipped
	GenSexualOrientation       = 2000000003 // none of these, several answers, skipped
	GenEducation               = 2000000007 // less than a high school degree or equivalent
	GenEmployment              = 2000000005 // more than one employment status
)

// OMOP standard gender concepts used for person.gender_concept_id.
const (
	ConceptMale   = 8507
	ConceptFemale = 8532
)
