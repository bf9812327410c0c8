package fitbit

import "enclave/api/omop"

// ActivitySummary is one row per person and day: steps, calories, active minutes…
func ActivitySummary() omop.Events { return omop.Table("activity_summary") }

// HeartRateSummary is one row per person, day and heart-rate zone.
func HeartRateSummary() omop.Events { return omop.Table("heart_rate_summary") }

// HeartRateMinuteLevel is one row per person and minute.
func HeartRateMinuteLevel() omop.Events { return omop.Table("heart_rate_minute_level") }

// StepsIntraday is one row per person and minute with steps.
func StepsIntraday() omop.Events { return omop.Table("steps_intraday") }

// SleepDailySummary is one row per person and night: minutes asleep, in bed, per stage…
func SleepDailySummary() omop.Events { return omop.Table("sleep_daily_summary") }

// SleepLevel is one row per sleep stage episode.
func SleepLevel() omop.Events { return omop.Table("sleep_level") }

// Device is one row per person, device and day of sync.
func Device() omop.Events { return omop.Table("device") }
