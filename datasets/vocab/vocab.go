package vocab

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"enclave/datasets"
)

//go:embed data/*.csv.gz
var data embed.FS

// Tables are the vocabulary tables the default vocabulary provides, in load order.
var Tables = []string{"concept", "vocabulary", "domain", "relationship", "concept_relationship", "concept_synonym", "concept_ancestor"}

// WriteDefault writes the embedded default vocabulary into dir as
// <table>.csv.gz files (comma separated, lower-case header), ready for
// DuckDB's read_csv. It returns the paths by table name.
func WriteDefault(dir string) (map[string]string, error) {
	out := map[string]string{}
	for _, t := range Tables {
		b, err := fs.ReadFile(data, "data/"+t+".csv.gz")
		if err != nil {
			return nil, fmt.Errorf("vocab: embedded %s: %w", t, err)
		}
		p := filepath.Join(dir, t+".csv.gz")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return nil, fmt.Errorf("vocab: %w", err)
		}
		out[t] = p
	}
	return out, nil
}

// Querier is what the queries need: *sql.DB, *sql.Conn and *sql.Tx all fit.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Search finds concepts matching q in the concept (and concept_synonym)
// tables of db, best matches first: exact code, then names starting with
// the text, then standard concepts, then by name.
func Search(ctx context.Context, db Querier, q datasets.ConceptQuery) ([]datasets.Concept, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	if limit > 1000 {
		limit = 1000
	}
	var where []string
	var args []any
	rank := "" // ORDER BY prefix ranking exact and prefix matches first
	if t := strings.TrimSpace(q.Text); t != "" {
		where = append(where, `(c.concept_name ILIKE ? ESCAPE '\' OR c.concept_id IN (SELECT concept_id FROM concept_synonym WHERE concept_synonym_name ILIKE ? ESCAPE '\') OR c.concept_code = ? OR CAST(c.concept_id AS VARCHAR) = ?)`)
		pat := "%" + likeEscape(t) + "%"
		args = append(args, pat, pat, t, t)
		rank = `CASE WHEN CAST(c.concept_id AS VARCHAR) = ? OR c.concept_code = ? THEN 0 WHEN lower(c.concept_name) = lower(?) THEN 1 WHEN c.concept_name ILIKE ? ESCAPE '\' THEN 2 ELSE 3 END, `
	}
	if q.Code != "" {
		where = append(where, "c.concept_code = ?")
		args = append(args, q.Code)
	}
	if q.Vocabulary != "" {
		where = append(where, "lower(c.vocabulary_id) = lower(?)")
		args = append(args, q.Vocabulary)
	}
	if q.Domain != "" {
		where = append(where, "lower(c.domain_id) = lower(?)")
		args = append(args, q.Domain)
	}
	if q.StandardOnly {
		where = append(where, "c.standard_concept = 'S'")
	}
	if len(where) == 0 {
		return nil, datasets.Errorf("concept search needs a text, code, vocabulary or domain")
	}
	var rankArgs []any
	if rank != "" {
		t := strings.TrimSpace(q.Text)
		rankArgs = []any{t, t, t, likeEscape(t) + "%"}
	}
	query := `SELECT c.concept_id, c.concept_name, c.domain_id, c.vocabulary_id, c.concept_class_id,
		coalesce(c.standard_concept, ''), c.concept_code, coalesce(c.invalid_reason, '')
		FROM concept c WHERE ` + strings.Join(where, " AND ") + `
		ORDER BY ` + rank + `(c.standard_concept = 'S') DESC NULLS LAST, c.concept_name, c.concept_id LIMIT ` + fmt.Sprint(limit)
	rows, err := db.QueryContext(ctx, query, append(args, rankArgs...)...)
	if err != nil {
		return nil, &datasets.Error{Safe: "concept search failed", Err: err}
	}
	defer rows.Close()
	var out []datasets.Concept
	for rows.Next() {
		var c datasets.Concept
		var name, dom, voc, class, code sql.NullString
		if err := rows.Scan(&c.ID, &name, &dom, &voc, &class, &c.Standard, &code, &c.InvalidReason); err != nil {
			return nil, &datasets.Error{Safe: "concept search failed", Err: err}
		}
		c.Name, c.Domain, c.Vocabulary, c.Class, c.Code = name.String, dom.String, voc.String, class.String, code.String
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, &datasets.Error{Safe: "concept search failed", Err: err}
	}
	return out, nil
}

func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// Descendants returns ids and all their descendants in concept_ancestor,
// sorted and without duplicates. An id with no concept_ancestor rows is
// returned as itself (a concept is its own descendant).
func Descendants(ctx context.Context, db Querier, ids ...int64) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ph, args := placeholders(ids)
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT descendant_concept_id FROM concept_ancestor WHERE ancestor_concept_id IN (`+ph+`)`, args...)
	if err != nil {
		return nil, &datasets.Error{Safe: "descendant lookup failed", Err: err}
	}
	defer rows.Close()
	set := map[int64]bool{}
	for _, id := range ids {
		set[id] = true
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, &datasets.Error{Safe: "descendant lookup failed", Err: err}
		}
		set[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, &datasets.Error{Safe: "descendant lookup failed", Err: err}
	}
	out := make([]int64, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// MapToStandard maps each id through concept_relationship "Maps to" (valid
// rows only). A standard concept maps to itself in OMOP vocabularies; ids
// with no mapping are absent from the result.
func MapToStandard(ctx context.Context, db Querier, ids ...int64) (map[int64][]int64, error) {
	out := map[int64][]int64{}
	if len(ids) == 0 {
		return out, nil
	}
	ph, args := placeholders(ids)
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT concept_id_1, concept_id_2 FROM concept_relationship
		WHERE relationship_id = 'Maps to' AND invalid_reason IS NULL AND concept_id_1 IN (`+ph+`)
		ORDER BY 1, 2`, args...)
	if err != nil {
		return nil, &datasets.Error{Safe: "concept mapping failed", Err: err}
	}
	defer rows.Close()
	for rows.Next() {
		var a, b int64
		if err := rows.Scan(&a, &b); err != nil {
			return nil, &datasets.Error{Safe: "concept mapping failed", Err: err}
		}
		out[a] = append(out[a], b)
	}
	if err := rows.Err(); err != nil {
		return nil, &datasets.Error{Safe: "concept mapping failed", Err: err}
	}
	return out, nil
}

func placeholders(ids []int64) (string, []any) {
	args := make([]any, len(ids))
	ph := make([]string, len(ids))
	for i, id := range ids {
		args[i] = id
		ph[i] = "?"
	}
	return strings.Join(ph, ","), args
}
