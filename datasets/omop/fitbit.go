package omop

import "strings"

// FitbitTables are the seven All of Us Fitbit tables (DESIGN.md §6), each
// with person_id. They are not part of the OMOP CDM; types follow the All of
// Us Researcher Workbench data dictionary.
var FitbitTables = []Table{
	{Name: "activity_summary", Fields: []Field{
		personField(),
		{Name: "date", CDMType: "date", Required: true},
		{Name: "activity_calories", CDMType: "float"},
		{Name: "calories_bmr", CDMType: "float"},
		{Name: "calories_out", CDMType: "float"},
		{Name: "elevation", CDMType: "float"},
		{Name: "floors", CDMType: "integer"},
		{Name: "steps", CDMType: "integer"},
		{Name: "sedentary_minutes", CDMType: "integer"},
		{Name: "lightly_active_minutes", CDMType: "integer"},
		{Name: "fairly_active_minutes", CDMType: "integer"},
		{Name: "very_active_minutes", CDMType: "integer"},
		{Name: "marginal_calories", CDMType: "float"},
	}},
	{Name: "heart_rate_summary", Fields: []Field{
		personField(),
		{Name: "date", CDMType: "date", Required: true},
		{Name: "zone_name", CDMType: "varchar(50)"},
		{Name: "min_heart_rate", CDMType: "integer"},
		{Name: "max_heart_rate", CDMType: "integer"},
		{Name: "minute_in_zone", CDMType: "integer"},
		{Name: "calorie_count", CDMType: "float"},
	}},
	{Name: "heart_rate_minute_level", Fields: []Field{
		personField(),
		{Name: "datetime", CDMType: "datetime", Required: true},
		{Name: "heart_rate_value", CDMType: "integer"},
	}},
	{Name: "steps_intraday", Fields: []Field{
		personField(),
		{Name: "datetime", CDMType: "datetime", Required: true},
		{Name: "steps", CDMType: "integer"},
	}},
	{Name: "sleep_daily_summary", Fields: []Field{
		personField(),
		{Name: "sleep_date", CDMType: "date", Required: true},
		{Name: "is_main_sleep", CDMType: "varchar(10)"},
		{Name: "minute_in_bed", CDMType: "integer"},
		{Name: "minute_asleep", CDMType: "integer"},
		{Name: "minute_after_wakeup", CDMType: "integer"},
		{Name: "minute_awake", CDMType: "integer"},
		{Name: "minute_restless", CDMType: "integer"},
		{Name: "minute_deep", CDMType: "integer"},
		{Name: "minute_light", CDMType: "integer"},
		{Name: "minute_rem", CDMType: "integer"},
		{Name: "minute_wake", CDMType: "integer"},
	}},
	{Name: "sleep_level", Fields: []Field{
		personField(),
		{Name: "sleep_date", CDMType: "date", Required: true},
		{Name: "is_main_sleep", CDMType: "varchar(10)"},
		{Name: "level", CDMType: "varchar(20)"},
		{Name: "start_datetime", CDMType: "datetime"},
		{Name: "duration_in_min", CDMType: "float"},
	}},
	{Name: "device", Fields: []Field{
		personField(),
		{Name: "device_id", CDMType: "varchar(255)"},
		{Name: "device_date", CDMType: "date", Required: true},
		{Name: "battery", CDMType: "varchar(20)"},
		{Name: "battery_level", CDMType: "integer"},
		{Name: "device_version", CDMType: "varchar(50)"},
		{Name: "device_type", CDMType: "varchar(50)"},
		{Name: "last_sync_time", CDMType: "datetime"},
	}},
}

func personField() Field {
	return Field{Name: "person_id", CDMType: "integer", Required: true, ForeignKey: true, FKTable: "person", FKField: "person_id"}
}

// IsFitbit reports whether name is one of the Fitbit tables, ignoring case
// and surrounding space as the catalog does when it resolves a table name
// (so a grant check built on IsFitbit cannot be sidestepped by "STEPS_INTRADAY").
func IsFitbit(name string) bool {
	name = strings.ToLower(strings.TrimSpace(name))
	for _, t := range FitbitTables {
		if t.Name == name {
			return true
		}
	}
	return false
}
