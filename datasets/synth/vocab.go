package synth

// concept is one vocabulary row the generator writes into concept.csv.
// Rows for concepts that the default vocabulary (the Eunomia shards in
// ../shared/omop/vocab) already holds are copied from it unchanged, so a
// merge never sees two different names for one id.
type concept struct {
	id                                    int64
	name, domain, vocab, class, std, code string
	validStart                            string
}

// Concept ids the generator writes. All are real OMOP/Athena ids; the
// PPI ids are the All of Us survey concepts (The Basics, Lifestyle) and
// 2000000008 is All of Us' own "more than one population" race concept.
const (
	cNoMatch = 0

	cMale                 = 8507
	cFemale               = 8532
	cHispanic             = 38003563
	cNotHispanic          = 38003564
	cRaceAsian            = 8515
	cRaceBlack            = 8516
	cRaceWhite            = 8527
	cRaceAIAN             = 8657
	cRaceNHPI             = 8557
	cRaceMENA             = 38003615
	cRaceMoreThanOne      = 2000000008
	cInpatient            = 9201
	cOutpatient           = 9202
	cEmergency            = 9203
	cTypeEHR              = 32817
	cTypeSurvey           = 45905771
	cTypePeriodEHR        = 44814724
	cTypeVisitEHR         = 44818518
	cUnitPercent          = 8554
	cUnitMgDL             = 8840
	cUnitKgM2             = 9531
	cUnitMmHg             = 8876
	cUnitKg               = 9529
	cUnitCm               = 8582
	cUnitPerMin           = 8541
	cHbA1c                = 3004410
	cGlucose              = 3004501
	cBMI                  = 3038553
	cSBP                  = 3004249
	cDBP                  = 3012888
	cLDL                  = 3028437
	cHDL                  = 3007070
	cTotalChol            = 3027114
	cTriglyceride         = 3022192
	cWeight               = 3025315
	cHeight               = 3036277
	cHeartRate            = 3027018
	cCreatinine           = 3016723
	cPMIPreferNotAnswer   = 903079
	cPMISkip              = 903096
	qRace                 = 1586140
	qGender               = 1585838
	qSexAtBirth           = 1585845
	qSexualOrientation    = 1585899
	qEducation            = 1585940
	qEmployment           = 1585952
	qSmoking100Cigs       = 1585857
	aSmokingYes           = 1585858
	aSmokingNo            = 1585859
	aRaceAIAN             = 1586141
	aRaceAsian            = 1586142
	aRaceBlack            = 1586143
	aRaceMENA             = 1586144
	aRaceNHPI             = 1586145
	aRaceWhite            = 1586146
	aRaceHispanic         = 1586147
	aRaceNoneOfThese      = 1586148
	aGenderMan            = 1585839
	aGenderWoman          = 1585840
	aGenderNonBinary      = 1585841
	aGenderTransgender    = 1585842
	aGenderAdditional     = 1585843
	aSexMale              = 1585846
	aSexFemale            = 1585847
	aSexIntersex          = 1585848
	aSexNoneOfThese       = 1585849
	aSOStraight           = 1585900
	aSOGay                = 1585901
	aSOLesbian            = 1585902
	aSOBisexual           = 1585903
	aSONone               = 1585904
	aEduNever             = 1585941
	aEduOneToFour         = 1585942
	aEduFiveToEight       = 1585943
	aEduNineToEleven      = 1585944
	aEduTwelveOrGED       = 1585945
	aEduCollegeOneToThree = 1585946
	aEduCollegeGraduate   = 1585947
	aEduAdvancedDegree    = 1585948
	aEmpWages             = 1585953
	aEmpSelf              = 1585954
	aEmpOutOfWorkLong     = 1585955
	aEmpOutOfWorkShort    = 1585956
	aEmpHomemaker         = 1585957
	aEmpStudent           = 1585958
	aEmpRetired           = 1585959
	aEmpUnable            = 1585960
)

var concepts = []concept{
	// Copied from the default vocabulary (Eunomia GiBleed / Synthea27Nj shards).
	{0, "No matching concept", "Metadata", "None", "Undefined", "", "No matching concept", "1970-01-01"},
	{8507, "MALE", "Gender", "Gender", "Gender", "S", "M", "1970-01-01"},
	{8532, "FEMALE", "Gender", "Gender", "Gender", "S", "F", "1970-01-01"},
	{38003563, "Hispanic or Latino", "Ethnicity", "Ethnicity", "Ethnicity", "S", "Hispanic", "1970-01-01"},
	{38003564, "Not Hispanic or Latino", "Ethnicity", "Ethnicity", "Ethnicity", "S", "Not Hispanic", "1970-01-01"},
	{9201, "Inpatient Visit", "Visit", "Visit", "Visit", "S", "IP", "1970-01-01"},
	{9202, "Outpatient Visit", "Visit", "Visit", "Visit", "S", "OP", "1970-01-01"},
	{9203, "Emergency Room Visit", "Visit", "Visit", "Visit", "S", "ER", "1970-01-01"},
	{201826, "Type 2 diabetes mellitus", "Condition", "SNOMED", "Clinical Finding", "S", "44054006", "2002-01-31"},
	{320128, "Essential hypertension", "Condition", "SNOMED", "Clinical Finding", "S", "59621000", "2002-01-31"},
	{432867, "Hyperlipidemia", "Condition", "SNOMED", "Clinical Finding", "S", "55822004", "2002-01-31"},
	{317009, "Asthma", "Condition", "SNOMED", "Clinical Finding", "S", "195967001", "1970-01-01"},
	{313217, "Atrial fibrillation", "Condition", "SNOMED", "Clinical Finding", "S", "49436004", "1970-01-01"},
	{316139, "Heart failure", "Condition", "SNOMED", "Clinical Finding", "S", "84114007", "2002-01-31"},
	{80180, "Osteoarthritis", "Condition", "SNOMED", "Clinical Finding", "S", "396275006", "1970-01-01"},
	{4152280, "Major depressive disorder", "Condition", "SNOMED", "Clinical Finding", "S", "370143000", "2002-07-31"},
	{4282096, "Major depression, single episode", "Condition", "SNOMED", "Clinical Finding", "S", "36923009", "2002-01-31"},
	{318800, "Gastroesophageal reflux disease", "Condition", "SNOMED", "Clinical Finding", "S", "235595009", "2002-01-31"},
	{140673, "Hypothyroidism", "Condition", "SNOMED", "Clinical Finding", "S", "40930008", "1970-01-01"},
	{317576, "Coronary arteriosclerosis", "Condition", "SNOMED", "Clinical Finding", "S", "53741008", "1970-01-01"},
	{443601, "Chronic kidney disease stage 2", "Condition", "SNOMED", "Clinical Finding", "S", "431856006", "2008-07-31"},
	{443597, "Chronic kidney disease stage 3", "Condition", "SNOMED", "Clinical Finding", "S", "433144002", "2008-07-31"},
	{443612, "Chronic kidney disease stage 4", "Condition", "SNOMED", "Clinical Finding", "S", "431857002", "2008-07-31"},
	{1308216, "lisinopril", "Drug", "RxNorm", "Ingredient", "S", "29046", "1970-01-01"},
	{19080128, "lisinopril 10 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "314076", "1970-01-01"},
	{19080129, "lisinopril 20 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "314077", "1970-01-01"},
	{1332418, "Amlodipine", "Drug", "RxNorm", "Ingredient", "S", "17767", "1970-01-01"},
	{1332419, "Amlodipine 5 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "197361", "1970-01-01"},
	{19078106, "hydrochlorothiazide 25 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "310798", "1970-01-01"},
	{40185304, "losartan potassium 50 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "979492", "2010-06-06"},
	{1545958, "atorvastatin", "Drug", "RxNorm", "Ingredient", "S", "83367", "1970-01-01"},
	{1545959, "atorvastatin 80 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "259255", "1970-01-01"},
	{1539403, "Simvastatin", "Drug", "RxNorm", "Ingredient", "S", "36567", "1970-01-01"},
	{1539411, "Simvastatin 20 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "312961", "1970-01-01"},
	{1539463, "simvastatin 10 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "314231", "1970-01-01"},
	{40163924, "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet", "Drug", "RxNorm", "Quant Clinical Drug", "S", "860975", "2009-09-06"},
	{1154343, "Albuterol", "Drug", "RxNorm", "Ingredient", "S", "435", "1970-01-01"},
	{1154615, "200 ACTUAT Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler", "Drug", "RxNorm", "Quant Clinical Drug", "S", "745679", "2007-12-30"},
	{1149380, "fluticasone", "Drug", "RxNorm", "Ingredient", "S", "41126", "1970-01-01"},
	{40169216, "120 ACTUAT Fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler", "Drug", "RxNorm", "Quant Clinical Drug", "S", "895994", "2010-01-31"},
	{739207, "sertraline 100 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "312938", "1970-01-01"},
	{19077463, "fluoxetine 20 MG Oral Capsule", "Drug", "RxNorm", "Clinical Drug", "S", "310385", "1970-01-01"},
	{1501700, "levothyroxine", "Drug", "RxNorm", "Ingredient", "S", "10582", "1970-01-01"},
	{40174880, "Levothyroxine Sodium 0.075 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "966222", "2010-04-04"},
	{1310149, "Warfarin", "Drug", "RxNorm", "Ingredient", "S", "11289", "1970-01-01"},
	{1112807, "Aspirin", "Drug", "RxNorm", "Ingredient", "S", "1191", "1970-01-01"},
	{1177480, "Ibuprofen", "Drug", "RxNorm", "Ingredient", "S", "5640", "1970-01-01"},
	{3004410, "Hemoglobin A1c/Hemoglobin.total in Blood", "Measurement", "LOINC", "Lab Test", "S", "4548-4", "1970-01-01"},
	{3004501, "Glucose lab", "Measurement", "LOINC", "Lab Test", "S", "2345-7", "1970-01-01"},
	{3038553, "Body mass index (BMI) [Ratio]", "Measurement", "LOINC", "Clinical Observation", "S", "39156-5", "1970-01-01"},
	{3004249, "Systolic blood pressure", "Measurement", "LOINC", "Clinical Observation", "S", "8480-6", "1996-09-06"},
	{3012888, "Diastolic blood pressure", "Measurement", "LOINC", "Clinical Observation", "S", "8462-4", "1996-09-06"},
	{3027114, "Cholesterol [Mass/volume] in Serum or Plasma", "Measurement", "LOINC", "Lab Test", "S", "2093-3", "1970-01-01"},
	{3007070, "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "Measurement", "LOINC", "Lab Test", "S", "2085-9", "1970-01-01"},
	{3022192, "Triglyceride [Mass/volume] in Serum or Plasma", "Measurement", "LOINC", "Lab Test", "S", "2571-8", "1970-01-01"},
	{3025315, "Body weight", "Measurement", "LOINC", "Clinical Observation", "S", "29463-7", "1970-01-01"},
	{3036277, "Body height", "Measurement", "LOINC", "Clinical Observation", "S", "8302-2", "1996-09-06"},
	{3027018, "Heart rate", "Measurement", "LOINC", "Clinical Observation", "S", "8867-4", "1970-01-01"},
	{3016723, "Creatinine serum/plasma", "Measurement", "LOINC", "Lab Test", "S", "2160-0", "1970-01-01"},
	{8554, "percent", "Unit", "UCUM", "Unit", "S", "%", "1970-01-01"},
	{8840, "milligram per deciliter", "Unit", "UCUM", "Unit", "S", "mg/dL", "1970-01-01"},
	{9531, "kilogram per square meter", "Unit", "UCUM", "Unit", "S", "kg/m2", "1970-01-01"},
	{8876, "millimeter mercury column", "Unit", "UCUM", "Unit", "S", "mm[Hg]", "1970-01-01"},
	{9529, "kilogram", "Unit", "UCUM", "Unit", "S", "kg", "1970-01-01"},
	{8582, "centimeter", "Unit", "UCUM", "Unit", "S", "cm", "1970-01-01"},
	{8541, "per minute", "Unit", "UCUM", "Unit", "S", "/min", "1970-01-01"},

	// Not in the default vocabulary: real Athena ids, names as Athena has them.
	{8515, "Asian", "Race", "Race", "Race", "S", "2", "1970-01-01"},
	{8516, "Black or African American", "Race", "Race", "Race", "S", "3", "1970-01-01"},
	{8527, "White", "Race", "Race", "Race", "S", "5", "1970-01-01"},
	{8657, "American Indian or Alaska Native", "Race", "Race", "Race", "S", "1", "1970-01-01"},
	{8557, "Native Hawaiian or Other Pacific Islander", "Race", "Race", "Race", "S", "4", "1970-01-01"},
	{38003615, "Middle Eastern or North African", "Race", "Race", "Race", "S", "3.1", "1970-01-01"},
	{32817, "EHR", "Type Concept", "Type Concept", "Type Concept", "S", "OMOP4976890", "1970-01-01"},
	{45905771, "Observation Recorded from a Survey", "Type Concept", "Observation Type", "Observation Type", "S", "OMOP generated", "1970-01-01"},
	{44814724, "Period covering healthcare encounters", "Type Concept", "Obs Period Type", "Obs Period Type", "S", "OMOP generated", "1970-01-01"},
	{44818518, "Visit derived from EHR record", "Type Concept", "Visit Type", "Visit Type", "S", "OMOP generated", "1970-01-01"},
	{201820, "Diabetes mellitus", "Condition", "SNOMED", "Clinical Finding", "S", "73211009", "1970-01-01"},
	{316866, "Hypertensive disorder", "Condition", "SNOMED", "Clinical Finding", "S", "38341003", "1970-01-01"},
	{440383, "Depressive disorder", "Condition", "SNOMED", "Clinical Finding", "S", "35489007", "1970-01-01"},
	{433736, "Obesity", "Condition", "SNOMED", "Clinical Finding", "S", "414916001", "1970-01-01"},
	{434005, "Morbid obesity", "Condition", "SNOMED", "Clinical Finding", "S", "238136002", "1970-01-01"},
	{255573, "Chronic obstructive lung disease", "Condition", "SNOMED", "Clinical Finding", "S", "13645005", "1970-01-01"},
	{46271022, "Chronic kidney disease", "Condition", "SNOMED", "Clinical Finding", "S", "709044004", "2015-07-31"},
	{1503297, "metformin", "Drug", "RxNorm", "Ingredient", "S", "6809", "1970-01-01"},
	{974166, "hydrochlorothiazide", "Drug", "RxNorm", "Ingredient", "S", "5487", "1970-01-01"},
	{1367500, "losartan", "Drug", "RxNorm", "Ingredient", "S", "52175", "1970-01-01"},
	{739138, "sertraline", "Drug", "RxNorm", "Ingredient", "S", "36437", "1970-01-01"},
	{755695, "fluoxetine", "Drug", "RxNorm", "Ingredient", "S", "4493", "1970-01-01"},
	{715939, "escitalopram", "Drug", "RxNorm", "Ingredient", "S", "321988", "1970-01-01"},
	{750982, "bupropion", "Drug", "RxNorm", "Ingredient", "S", "42347", "1970-01-01"},
	{923645, "omeprazole", "Drug", "RxNorm", "Ingredient", "S", "7646", "1970-01-01"},
	{43013024, "apixaban", "Drug", "RxNorm", "Ingredient", "S", "1364430", "2012-12-31"},
	{956874, "furosemide", "Drug", "RxNorm", "Ingredient", "S", "4603", "1970-01-01"},
	{1346823, "carvedilol", "Drug", "RxNorm", "Ingredient", "S", "20352", "1970-01-01"},
	{1307046, "metoprolol", "Drug", "RxNorm", "Ingredient", "S", "6918", "1970-01-01"},
	{1106776, "tiotropium", "Drug", "RxNorm", "Ingredient", "S", "69120", "1970-01-01"},
	{1510813, "rosuvastatin", "Drug", "RxNorm", "Ingredient", "S", "301542", "1970-01-01"},
	{1502905, "insulin glargine", "Drug", "RxNorm", "Ingredient", "S", "274783", "1970-01-01"},
	{3028437, "Cholesterol in LDL [Mass/volume] in Serum or Plasma", "Measurement", "LOINC", "Lab Test", "S", "2089-1", "1970-01-01"},

	// All of Us survey vocabulary (PPI) and All of Us' generalised race
	// answer, as the default vocabulary's local extension
	// (datasets/vocab/local/concept.csv) has them.
	{903079, "PMI: Prefer Not To Answer", "Observation", "PPI", "Answer", "", "PMI_PreferNotToAnswer", "1970-01-01"},
	{903096, "PMI: Skip", "Observation", "PPI", "Answer", "", "PMI_Skip", "1970-01-01"},
	{qRace, "Race: What Race Ethnicity", "Observation", "PPI", "Question", "", "Race_WhatRaceEthnicity", "1970-01-01"},
	{aRaceAIAN, "What Race Ethnicity: AIAN", "Observation", "PPI", "Answer", "", "WhatRaceEthnicity_AIAN", "1970-01-01"},
	{aRaceAsian, "What Race Ethnicity: Asian", "Observation", "PPI", "Answer", "", "WhatRaceEthnicity_Asian", "1970-01-01"},
	{aRaceBlack, "What Race Ethnicity: Black", "Observation", "PPI", "Answer", "", "WhatRaceEthnicity_Black", "1970-01-01"},
	{aRaceMENA, "What Race Ethnicity: MENA", "Observation", "PPI", "Answer", "", "WhatRaceEthnicity_MENA", "1970-01-01"},
	{aRaceNHPI, "What Race Ethnicity: NHPI", "Observation", "PPI", "Answer", "", "WhatRaceEthnicity_NHPI", "1970-01-01"},
	{aRaceWhite, "What Race Ethnicity: White", "Observation", "PPI", "Answer", "", "WhatRaceEthnicity_White", "1970-01-01"},
	{aRaceHispanic, "What Race Ethnicity: Hispanic", "Observation", "PPI", "Answer", "", "WhatRaceEthnicity_Hispanic", "1970-01-01"},
	{aRaceNoneOfThese, "What Race Ethnicity: Race Ethnicity None Of These", "Observation", "PPI", "Answer", "", "WhatRaceEthnicity_RaceEthnicityNoneOfThese", "1970-01-01"},
	{qGender, "Gender: Gender Identity", "Observation", "PPI", "Question", "", "Gender_GenderIdentity", "1970-01-01"},
	{aGenderMan, "Gender Identity: Man", "Observation", "PPI", "Answer", "", "GenderIdentity_Man", "1970-01-01"},
	{aGenderWoman, "Gender Identity: Woman", "Observation", "PPI", "Answer", "", "GenderIdentity_Woman", "1970-01-01"},
	{aGenderNonBinary, "Gender Identity: Non Binary", "Observation", "PPI", "Answer", "", "GenderIdentity_NonBinary", "1970-01-01"},
	{aGenderTransgender, "Gender Identity: Transgender", "Observation", "PPI", "Answer", "", "GenderIdentity_Transgender", "1970-01-01"},
	{aGenderAdditional, "Gender Identity: Additional Options", "Observation", "PPI", "Answer", "", "GenderIdentity_AdditionalOptions", "1970-01-01"},
	{qSexAtBirth, "Biological Sex At Birth: Sex At Birth", "Observation", "PPI", "Question", "", "BiologicalSexAtBirth_SexAtBirth", "1970-01-01"},
	{aSexMale, "Sex At Birth: Male", "Observation", "PPI", "Answer", "", "SexAtBirth_Male", "1970-01-01"},
	{aSexFemale, "Sex At Birth: Female", "Observation", "PPI", "Answer", "", "SexAtBirth_Female", "1970-01-01"},
	{aSexIntersex, "Sex At Birth: Intersex", "Observation", "PPI", "Answer", "", "SexAtBirth_Intersex", "1970-01-01"},
	{aSexNoneOfThese, "Sex At Birth: None Of These", "Observation", "PPI", "Answer", "", "SexAtBirth_SexAtBirthNoneOfThese", "1970-01-01"},
	{qSexualOrientation, "The Basics: Sexual Orientation", "Observation", "PPI", "Question", "", "TheBasics_SexualOrientation", "1970-01-01"},
	{aSOStraight, "Sexual Orientation: Straight", "Observation", "PPI", "Answer", "", "SexualOrientation_Straight", "1970-01-01"},
	{aSOGay, "Sexual Orientation: Gay", "Observation", "PPI", "Answer", "", "SexualOrientation_Gay", "1970-01-01"},
	{aSOLesbian, "Sexual Orientation: Lesbian", "Observation", "PPI", "Answer", "", "SexualOrientation_Lesbian", "1970-01-01"},
	{aSOBisexual, "Sexual Orientation: Bisexual", "Observation", "PPI", "Answer", "", "SexualOrientation_Bisexual", "1970-01-01"},
	{aSONone, "Sexual Orientation: None Of These", "Observation", "PPI", "Answer", "", "SexualOrientation_None", "1970-01-01"},
	{qEducation, "Education Level: Highest Grade", "Observation", "PPI", "Question", "", "EducationLevel_HighestGrade", "1970-01-01"},
	{aEduNever, "Highest Grade: Never Attended", "Observation", "PPI", "Answer", "", "HighestGrade_NeverAttended", "1970-01-01"},
	{aEduOneToFour, "Highest Grade: One Through Four", "Observation", "PPI", "Answer", "", "HighestGrade_OneThroughFour", "1970-01-01"},
	{aEduFiveToEight, "Highest Grade: Five Through Eight", "Observation", "PPI", "Answer", "", "HighestGrade_FiveThroughEight", "1970-01-01"},
	{aEduNineToEleven, "Highest Grade: Nine Through Eleven", "Observation", "PPI", "Answer", "", "HighestGrade_NineThroughEleven", "1970-01-01"},
	{aEduTwelveOrGED, "Highest Grade: Twelve Or GED", "Observation", "PPI", "Answer", "", "HighestGrade_TwelveOrGED", "1970-01-01"},
	{aEduCollegeOneToThree, "Highest Grade: College One to Three", "Observation", "PPI", "Answer", "", "HighestGrade_CollegeOnetoThree", "1970-01-01"},
	{aEduCollegeGraduate, "Highest Grade: College Graduate", "Observation", "PPI", "Answer", "", "HighestGrade_CollegeGraduate", "1970-01-01"},
	{aEduAdvancedDegree, "Highest Grade: Advanced Degree", "Observation", "PPI", "Answer", "", "HighestGrade_AdvancedDegree", "1970-01-01"},
	{qEmployment, "Employment: Employment Status", "Observation", "PPI", "Question", "", "Employment_EmploymentStatus", "1970-01-01"},
	{aEmpWages, "Employment Status: Employed For Wages", "Observation", "PPI", "Answer", "", "EmploymentStatus_EmployedForWages", "1970-01-01"},
	{aEmpSelf, "Employment Status: Self Employed", "Observation", "PPI", "Answer", "", "EmploymentStatus_SelfEmployed", "1970-01-01"},
	{aEmpOutOfWorkLong, "Employment Status: Out Of Work One Or More", "Observation", "PPI", "Answer", "", "EmploymentStatus_OutOfWorkOneOrMore", "1970-01-01"},
	{aEmpOutOfWorkShort, "Employment Status: Out Of Work Less Than One", "Observation", "PPI", "Answer", "", "EmploymentStatus_OutOfWorkLessThanOne", "1970-01-01"},
	{aEmpHomemaker, "Employment Status: Homemaker", "Observation", "PPI", "Answer", "", "EmploymentStatus_Homemaker", "1970-01-01"},
	{aEmpStudent, "Employment Status: Student", "Observation", "PPI", "Answer", "", "EmploymentStatus_Student", "1970-01-01"},
	{aEmpRetired, "Employment Status: Retired", "Observation", "PPI", "Answer", "", "EmploymentStatus_Retired", "1970-01-01"},
	{aEmpUnable, "Employment Status: Unable To Work", "Observation", "PPI", "Answer", "", "EmploymentStatus_UnableToWork", "1970-01-01"},
	{qSmoking100Cigs, "Smoking: 100 Cigs Lifetime", "Observation", "PPI", "Question", "", "Smoking_100CigsLifetime", "1970-01-01"},
	{aSmokingYes, "100 Cigs Lifetime: Yes", "Observation", "PPI", "Answer", "", "100CigsLifetime_Yes", "1970-01-01"},
	{aSmokingNo, "100 Cigs Lifetime: No", "Observation", "PPI", "Answer", "", "100CigsLifetime_No", "1970-01-01"},
	{cRaceMoreThanOne, "More than one population", "Observation", "AoU_General", "Answer", "", "MoreThanOnePopulation", "1970-01-01"},
}

// ancestry is one concept_ancestor edge the generator defines; every
// concept also gets its distance-0 self row.
type ancestry struct {
	ancestor, descendant int64
	levels               int
}

var ancestors = []ancestry{
	{201820, 201826, 1},   // diabetes mellitus ⊃ type 2
	{316866, 320128, 1},   // hypertensive disorder ⊃ essential hypertension
	{440383, 4152280, 1},  // depressive disorder ⊃ major depressive disorder
	{440383, 4282096, 2},  // … ⊃ major depression, single episode
	{4152280, 4282096, 1}, //
	{433736, 434005, 1},   // obesity ⊃ morbid obesity
	{46271022, 443601, 1}, // chronic kidney disease ⊃ stages 2–4
	{46271022, 443597, 1},
	{46271022, 443612, 1},
	// RxNorm ingredient ⊃ clinical drug (via the clinical drug component).
	{1308216, 19080128, 2},
	{1308216, 19080129, 2},
	{1332418, 1332419, 2},
	{974166, 19078106, 2},
	{1367500, 40185304, 2},
	{1545958, 1545959, 2},
	{1539403, 1539411, 2},
	{1539403, 1539463, 2},
	{1503297, 40163924, 2},
	{1154343, 1154615, 2},
	{1149380, 40169216, 2},
	{739138, 739207, 2},
	{755695, 19077463, 2},
	{1501700, 40174880, 2},
}

// vocabularies are the vocabulary rows (id, name, reference, version) for
// vocabularies the default vocabulary may lack; vocabulary_concept_id is 0.
var vocabularies = [][4]string{
	{"PPI", "AllOfUs_PPI (Columbia)", "http://terminology.pmi-ops.org/CodeSystem/ppi", "Codebook Version 0.3"},
	{"AoU_General", "AoU_General", "All of Us Data and Research Center", ""},
}
