package sqlagg

import (
	"database/sql"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

// testSchema mirrors the tables created by openTestDB (secret is in the
// database but not in the tier's schema).
var testSchema = Schema{Tables: map[string][]string{
	"person":               {"person_id", "gender_concept_id", "year_of_birth", "race_concept_id"},
	"condition_occurrence": {"condition_occurrence_id", "person_id", "condition_concept_id", "condition_start_date", "visit_occurrence_id"},
	"measurement":          {"measurement_id", "person_id", "measurement_concept_id", "value_as_number", "unit_concept_id"},
	"concept":              {"concept_id", "concept_name", "domain_id"},
}, Types: map[string]string{"concept_name": "VARCHAR", "domain_id": "VARCHAR", "value_as_number": "DOUBLE",
	"condition_start_date": "DATE", "year_of_birth": "INTEGER"}}

const testData = `
CREATE TABLE person (person_id BIGINT, gender_concept_id INTEGER, year_of_birth INTEGER, race_concept_id INTEGER);
INSERT INTO person VALUES
 (1, 8507, 1950, 8527), (2, 8507, 1960, 8527), (3, 8532, 1970, 8516), (4, 8532, 1980, 8527),
 (5, 8532, 1990, 8516), (6, 8507, 1955, 8516), (7, 8532, 1965, 8527), (123456, 8507, 1975, 8527);
CREATE TABLE condition_occurrence (condition_occurrence_id BIGINT, person_id BIGINT, condition_concept_id INTEGER, condition_start_date DATE, visit_occurrence_id BIGINT);
INSERT INTO condition_occurrence VALUES
 (10, 1, 201826, DATE '2020-01-01', 100), (11, 1, 201826, DATE '2020-02-01', 101), (12, 2, 201826, DATE '2020-03-01', 102),
 (13, 3, 320128, DATE '2020-04-01', 103), (14, 3, 201826, DATE '2020-05-01', 104), (15, 4, 320128, DATE '2020-06-01', 105),
 (16, 5, 320128, DATE '2020-07-01', 106), (17, 5, 320128, DATE '2020-08-01', 107), (18, 123456, 4329847, DATE '2020-09-01', 108);
CREATE TABLE measurement (measurement_id BIGINT, person_id BIGINT, measurement_concept_id INTEGER, value_as_number DOUBLE, unit_concept_id INTEGER);
INSERT INTO measurement VALUES
 (20, 1, 3004249, 120, 8876), (21, 1, 3004249, 130, 8876), (22, 2, 3004249, 140, 8876), (23, 3, 3004249, 110, 8876),
 (24, 4, 3025315, 70.5, 9529), (25, 5, 3025315, 80, 9529), (26, 6, 3025315, 90, 9529), (27, 6, 3004249, 125, 8876);
CREATE TABLE concept (concept_id INTEGER, concept_name VARCHAR, domain_id VARCHAR);
INSERT INTO concept VALUES (8507, 'MALE', 'Gender'), (8532, 'FEMALE', 'Gender'), (201826, 'Type 2 diabetes mellitus', 'Condition'),
 (320128, 'Essential hypertension', 'Condition'), (4329847, 'Myocardial infarction', 'Condition');
CREATE TABLE secret (person_id BIGINT, note VARCHAR);
INSERT INTO secret VALUES (1, 'hidden');
`

func openTestDB(tb testing.TB) *sql.DB {
	tb.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1) // one in-memory database, one connection
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Exec(testData); err != nil {
		tb.Fatal(err)
	}
	return db
}
