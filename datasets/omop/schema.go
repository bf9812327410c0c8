package omop

//go:generate go run ./internal/genschema -spec ../../../shared/omop/cdm53/OMOP_CDMv5.3_Field_Level.csv -out schema_gen.go

import (
	"fmt"
	"strings"
)

// Field is one column of a CDM (or Fitbit) table as the specification gives it.
type Field struct {
	Name       string // lower-case field name
	CDMType    string // specification type, lower-case: integer, bigint, float, date, datetime, varchar(n), varchar(max)
	Required   bool   // isRequired = Yes: the import rejects empty values
	PrimaryKey bool
	ForeignKey bool
	FKTable    string // lower-case table the foreign key points to, "" if none
	FKField    string // lower-case field the foreign key points to
	FKDomain   string // expected concept domain for concept foreign keys, "" if none
}

// Table is one CDM (or Fitbit) table.
type Table struct {
	Name   string
	Fields []Field
}

// Field returns the field called name (case-insensitive).
func (t *Table) Field(name string) (Field, bool) {
	name = strings.ToLower(name)
	for _, f := range t.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// HasPerson reports whether the table's rows belong to a person (it has person_id).
func (t *Table) HasPerson() bool {
	_, ok := t.Field("person_id")
	return ok
}

// DuckDBType is the DuckDB column type used for a specification type.
func (f Field) DuckDBType() string {
	switch {
	case f.CDMType == "integer":
		return "INTEGER"
	case f.CDMType == "bigint":
		return "BIGINT"
	case f.CDMType == "float":
		return "DOUBLE"
	case f.CDMType == "date":
		return "DATE"
	case f.CDMType == "datetime":
		return "TIMESTAMP"
	case strings.HasPrefix(f.CDMType, "varchar"):
		return "VARCHAR"
	}
	panic("omop: unknown CDM type " + f.CDMType)
}

// IsDate reports whether the field holds a date or a datetime.
func (f Field) IsDate() bool { return f.CDMType == "date" || f.CDMType == "datetime" }

// MaxLen is the declared length of a varchar field, 0 when unbounded or not a varchar.
func (f Field) MaxLen() int {
	var n int
	if _, err := fmt.Sscanf(f.CDMType, "varchar(%d)", &n); err == nil {
		return n
	}
	return 0
}

// IsConcept reports whether the field is a foreign key to concept.concept_id.
func (f Field) IsConcept() bool { return f.FKTable == "concept" && f.FKField == "concept_id" }

// VocabularyTables are the standardized vocabulary tables of CDM v5.3. The
// import merges them with the embedded default vocabulary (package vocab).
var VocabularyTables = []string{
	"concept", "vocabulary", "domain", "concept_class", "concept_relationship",
	"relationship", "concept_synonym", "concept_ancestor", "source_to_concept_map", "drug_strength",
}

// Extensions are the All of Us additions to CDM v5.3 tables: survey answers
// are observation rows whose value_source_concept_id is the answer (PPI).
// They are appended after the specification's fields.
var Extensions = map[string][]Field{
	"observation": {
		{Name: "value_source_concept_id", CDMType: "integer", ForeignKey: true, FKTable: "concept", FKField: "concept_id"},
		{Name: "value_source_value", CDMType: "varchar(50)"},
	},
}

// Tables is every table a workspace database holds: the CDM v5.3 tables in
// specification order (with Extensions) followed by the Fitbit tables.
var Tables = func() []Table {
	var ts []Table
	for _, t := range CDM53 {
		t.Fields = append(append([]Field{}, t.Fields...), Extensions[t.Name]...)
		ts = append(ts, t)
	}
	return append(ts, FitbitTables...)
}()

var tableIndex = func() map[string]*Table {
	m := map[string]*Table{}
	for i := range Tables {
		m[Tables[i].Name] = &Tables[i]
	}
	return m
}()

// LookupTable returns the table called name (case-insensitive), or nil.
func LookupTable(name string) *Table { return tableIndex[strings.ToLower(strings.TrimSpace(name))] }

// IsVocabulary reports whether name is a vocabulary table (ignoring case).
func IsVocabulary(name string) bool {
	name = strings.ToLower(strings.TrimSpace(name))
	for _, v := range VocabularyTables {
		if v == name {
			return true
		}
	}
	return false
}

// DDL returns CREATE TABLE statements for every table in Tables. Required
// fields are NOT NULL except in vocabulary tables (real OHDSI vocabulary
// exports leave some required fields empty; the import warns); keys are not declared as constraints (the import
// checks them) so that bulk loads stay fast.
func DDL() string {
	var b strings.Builder
	for i := range Tables {
		b.WriteString(createTable(&Tables[i], Tables[i].Name))
		b.WriteString(";\n")
	}
	return b.String()
}

func createTable(t *Table, as string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (", quoteIdent(as))
	for i, f := range t.Fields {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", quoteIdent(f.Name), f.DuckDBType())
		if f.Required && !IsVocabulary(t.Name) {
			b.WriteString(" NOT NULL")
		}
	}
	b.WriteString(")")
	return b.String()
}

// quoteIdent quotes a SQL identifier for DuckDB.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteString quotes a SQL string literal for DuckDB.
func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// v54Renames maps CDM v5.4 column names to their v5.3 names, per table
// ("" = any table). Other v5.4 additions are extra columns and are ignored.
var v54Renames = map[string]string{
	"admitted_from_concept_id":   "admitting_source_concept_id",
	"admitted_from_source_value": "admitting_source_value",
	"discharged_to_concept_id":   "discharge_to_concept_id",
	"discharged_to_source_value": "discharge_to_source_value",
	"parent_visit_detail_id":     "visit_detail_parent_id",
}
