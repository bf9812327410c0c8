package synth

import (
	"strings"

	"enclave/datasets/synth/internal/pq"
)

// column is one column of an output table; typ is its SQL type (BIGINT,
// INTEGER, DOUBLE, VARCHAR, BOOLEAN, DATE, TIMESTAMP), which decides the
// Parquet type and how tests read the CSV.
type column struct {
	name string
	typ  string
}

// table is one output file of the OMOP folder.
type table struct {
	name string
	cols []column
	omop bool // an OMOP CDM v5.3 table (checked against the specification)
}

// tableID indexes tables; the generator appends rows to one buffer per id.
type tableID int

const (
	tPerson tableID = iota
	tObservationPeriod
	tVisitOccurrence
	tConditionOccurrence
	tDrugExposure
	tMeasurement
	tObservation
	tDeath
	tConditionEra
	tDrugEra
	tActivitySummary
	tHeartRateSummary
	tHeartRateMinuteLevel
	tStepsIntraday
	tSleepDailySummary
	tSleepLevel
	tDevice
	numPersonTables // tables written per person; the rest are written once
)

// cols parses "name:TYPE name:TYPE …"; a bare name is BIGINT.
func cols(spec string) []column {
	var out []column
	for _, f := range strings.Fields(spec) {
		name, typ, ok := strings.Cut(f, ":")
		if !ok {
			typ = "BIGINT"
		}
		out = append(out, column{name, typ})
	}
	return out
}

// Column lists follow the OHDSI CDM v5.3 field-level specification in order
// (OMOP_CDMv5.3_Field_Level.csv) and DESIGN.md §6 for the Fitbit tables.
// observation carries two extra columns, value_source_concept_id and
// value_source_value, as the All of Us CDR does (CDM v5.4 added them), so
// survey answers keep their PPI answer concept.
var personTables = [numPersonTables]table{
	tPerson: {"person", cols(`person_id gender_concept_id year_of_birth:INTEGER month_of_birth:INTEGER
		day_of_birth:INTEGER birth_datetime:TIMESTAMP race_concept_id ethnicity_concept_id location_id
		provider_id care_site_id person_source_value:VARCHAR gender_source_value:VARCHAR
		gender_source_concept_id race_source_value:VARCHAR race_source_concept_id
		ethnicity_source_value:VARCHAR ethnicity_source_concept_id`), true},
	tObservationPeriod: {"observation_period", cols(`observation_period_id person_id
		observation_period_start_date:DATE observation_period_end_date:DATE period_type_concept_id`), true},
	tVisitOccurrence: {"visit_occurrence", cols(`visit_occurrence_id person_id visit_concept_id
		visit_start_date:DATE visit_start_datetime:TIMESTAMP visit_end_date:DATE visit_end_datetime:TIMESTAMP
		visit_type_concept_id provider_id care_site_id visit_source_value:VARCHAR visit_source_concept_id
		admitting_source_concept_id admitting_source_value:VARCHAR discharge_to_concept_id
		discharge_to_source_value:VARCHAR preceding_visit_occurrence_id`), true},
	tConditionOccurrence: {"condition_occurrence", cols(`condition_occurrence_id person_id condition_concept_id
		condition_start_date:DATE condition_start_datetime:TIMESTAMP condition_end_date:DATE
		condition_end_datetime:TIMESTAMP condition_type_concept_id condition_status_concept_id
		stop_reason:VARCHAR provider_id visit_occurrence_id visit_detail_id condition_source_value:VARCHAR
		condition_source_concept_id condition_status_source_value:VARCHAR`), true},
	tDrugExposure: {"drug_exposure", cols(`drug_exposure_id person_id drug_concept_id
		drug_exposure_start_date:DATE drug_exposure_start_datetime:TIMESTAMP drug_exposure_end_date:DATE
		drug_exposure_end_datetime:TIMESTAMP verbatim_end_date:DATE drug_type_concept_id stop_reason:VARCHAR
		refills:INTEGER quantity:DOUBLE days_supply:INTEGER sig:VARCHAR route_concept_id lot_number:VARCHAR
		provider_id visit_occurrence_id visit_detail_id drug_source_value:VARCHAR drug_source_concept_id
		route_source_value:VARCHAR dose_unit_source_value:VARCHAR`), true},
	tMeasurement: {"measurement", cols(`measurement_id person_id measurement_concept_id measurement_date:DATE
		measurement_datetime:TIMESTAMP measurement_time:VARCHAR measurement_type_concept_id operator_concept_id
		value_as_number:DOUBLE value_as_concept_id unit_concept_id range_low:DOUBLE range_high:DOUBLE
		provider_id visit_occurrence_id visit_detail_id measurement_source_value:VARCHAR
		measurement_source_concept_id unit_source_value:VARCHAR value_source_value:VARCHAR`), true},
	tObservation: {"observation", cols(`observation_id person_id observation_concept_id observation_date:DATE
		observation_datetime:TIMESTAMP observation_type_concept_id value_as_number:DOUBLE
		value_as_string:VARCHAR value_as_concept_id qualifier_concept_id unit_concept_id provider_id
		visit_occurrence_id visit_detail_id observation_source_value:VARCHAR observation_source_concept_id
		unit_source_value:VARCHAR qualifier_source_value:VARCHAR
		value_source_concept_id value_source_value:VARCHAR`), true},
	tDeath: {"death", cols(`person_id death_date:DATE death_datetime:TIMESTAMP death_type_concept_id
		cause_concept_id cause_source_value:VARCHAR cause_source_concept_id`), true},
	tConditionEra: {"condition_era", cols(`condition_era_id person_id condition_concept_id
		condition_era_start_date:DATE condition_era_end_date:DATE condition_occurrence_count:INTEGER`), true},
	tDrugEra: {"drug_era", cols(`drug_era_id person_id drug_concept_id drug_era_start_date:DATE
		drug_era_end_date:DATE drug_exposure_count:INTEGER gap_days:INTEGER`), true},
	tActivitySummary: {"activity_summary", cols(`person_id date:DATE activity_calories:DOUBLE
		calories_bmr:DOUBLE calories_out:DOUBLE elevation:DOUBLE floors:BIGINT steps:BIGINT
		sedentary_minutes:BIGINT lightly_active_minutes:BIGINT fairly_active_minutes:BIGINT
		very_active_minutes:BIGINT marginal_calories:DOUBLE`), false},
	tHeartRateSummary: {"heart_rate_summary", cols(`person_id date:DATE zone_name:VARCHAR
		min_heart_rate:BIGINT max_heart_rate:BIGINT minute_in_zone:BIGINT calorie_count:DOUBLE`), false},
	tHeartRateMinuteLevel: {"heart_rate_minute_level", cols(`person_id datetime:TIMESTAMP
		heart_rate_value:BIGINT`), false},
	tStepsIntraday: {"steps_intraday", cols(`person_id datetime:TIMESTAMP steps:BIGINT`), false},
	tSleepDailySummary: {"sleep_daily_summary", cols(`person_id sleep_date:DATE is_main_sleep:BOOLEAN
		minute_in_bed:BIGINT minute_asleep:BIGINT minute_after_wakeup:BIGINT minute_awake:BIGINT
		minute_restless:BIGINT minute_deep:BIGINT minute_light:BIGINT minute_rem:BIGINT minute_wake:BIGINT`), false},
	tSleepLevel: {"sleep_level", cols(`person_id sleep_date:DATE is_main_sleep:BOOLEAN level:VARCHAR
		start_datetime:TIMESTAMP duration_in_min:BIGINT`), false},
	tDevice: {"device", cols(`person_id device_id:VARCHAR device_date:DATE battery:VARCHAR
		battery_level:BIGINT device_version:VARCHAR device_type:VARCHAR last_sync_time:TIMESTAMP`), false},
}

// Tables written once per cohort: vocabulary rows and small reference tables.
var (
	tblLocation = table{"location", cols(`location_id address_1:VARCHAR address_2:VARCHAR city:VARCHAR
		state:VARCHAR zip:VARCHAR county:VARCHAR location_source_value:VARCHAR`), true}
	tblCareSite = table{"care_site", cols(`care_site_id care_site_name:VARCHAR place_of_service_concept_id
		location_id care_site_source_value:VARCHAR place_of_service_source_value:VARCHAR`), true}
	tblProvider = table{"provider", cols(`provider_id provider_name:VARCHAR npi:VARCHAR dea:VARCHAR
		specialty_concept_id care_site_id year_of_birth:INTEGER gender_concept_id provider_source_value:VARCHAR
		specialty_source_value:VARCHAR specialty_source_concept_id gender_source_value:VARCHAR
		gender_source_concept_id`), true}
	tblCDMSource = table{"cdm_source", cols(`cdm_source_name:VARCHAR cdm_source_abbreviation:VARCHAR
		cdm_holder:VARCHAR source_description:VARCHAR source_documentation_reference:VARCHAR
		cdm_etl_reference:VARCHAR source_release_date:DATE cdm_release_date:DATE cdm_version:VARCHAR
		vocabulary_version:VARCHAR`), true}
	tblConcept = table{"concept", cols(`concept_id concept_name:VARCHAR domain_id:VARCHAR
		vocabulary_id:VARCHAR concept_class_id:VARCHAR standard_concept:VARCHAR concept_code:VARCHAR
		valid_start_date:DATE valid_end_date:DATE invalid_reason:VARCHAR`), true}
	tblConceptAncestor = table{"concept_ancestor", cols(`ancestor_concept_id descendant_concept_id
		min_levels_of_separation:INTEGER max_levels_of_separation:INTEGER`), true}
	tblConceptRelationship = table{"concept_relationship", cols(`concept_id_1 concept_id_2
		relationship_id:VARCHAR valid_start_date:DATE valid_end_date:DATE invalid_reason:VARCHAR`), true}
	tblVocabulary = table{"vocabulary", cols(`vocabulary_id:VARCHAR vocabulary_name:VARCHAR
		vocabulary_reference:VARCHAR vocabulary_version:VARCHAR vocabulary_concept_id`), true}
)

// header is the CSV header line of t.
func (t *table) header() []byte {
	var b []byte
	for i, c := range t.cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, c.name...)
	}
	return append(b, '\n')
}

// pqColumns is t's Parquet schema. Row ids (the first column of tables
// keyed by it), visit ids and timestamps are (nearly) unique within a row
// group, so they skip the dictionary.
func (t *table) pqColumns() []pq.Column {
	out := make([]pq.Column, len(t.cols))
	for i, c := range t.cols {
		var typ pq.Type
		switch c.typ {
		case "DOUBLE":
			typ = pq.Double
		case "VARCHAR":
			typ = pq.String
		case "BOOLEAN":
			typ = pq.Bool
		case "DATE":
			typ = pq.Date
		case "TIMESTAMP":
			typ = pq.Timestamp
		default:
			typ = pq.Int64
		}
		plain := typ == pq.Timestamp || (i == 0 && c.name == t.name+"_id") || strings.HasSuffix(c.name, "_occurrence_id")
		out[i] = pq.Column{Name: c.name, Type: typ, Plain: plain}
	}
	return out
}
