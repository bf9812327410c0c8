package bigquery

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"

	bq "cloud.google.com/go/bigquery"

	"enclave/datasets"
)

// The vocabulary queries are those of datasets/vocab in GoogleSQL: ILIKE
// becomes LOWER(...) LIKE LOWER(...), and "(standard_concept = 'S') DESC
// NULLS LAST" an explicit rank, so the order of results is the same.

// SearchConcepts implements datasets.Catalog.
func (c *Catalog) SearchConcepts(ctx context.Context, q datasets.ConceptQuery) ([]datasets.Concept, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	if limit > 1000 {
		limit = 1000
	}
	p := &plan{}
	var where []string
	rank := ""
	if t := strings.TrimSpace(q.Text); t != "" {
		pat := p.param("%" + likeEscape(t) + "%")
		text := p.param(t)
		where = append(where, "(LOWER(c.concept_name) LIKE LOWER("+pat+") OR c.concept_id IN (SELECT concept_id FROM "+c.ref("concept_synonym")+
			" WHERE LOWER(concept_synonym_name) LIKE LOWER("+pat+")) OR c.concept_code = "+text+" OR CAST(c.concept_id AS STRING) = "+text+")")
		prefix := p.param(likeEscape(t) + "%")
		rank = "CASE WHEN CAST(c.concept_id AS STRING) = " + text + " OR c.concept_code = " + text + " THEN 0 WHEN LOWER(c.concept_name) = LOWER(" + text +
			") THEN 1 WHEN LOWER(c.concept_name) LIKE LOWER(" + prefix + ") THEN 2 ELSE 3 END, "
	}
	if q.Code != "" {
		where = append(where, "c.concept_code = "+p.param(q.Code))
	}
	if q.Vocabulary != "" {
		where = append(where, "LOWER(c.vocabulary_id) = LOWER("+p.param(q.Vocabulary)+")")
	}
	if q.Domain != "" {
		where = append(where, "LOWER(c.domain_id) = LOWER("+p.param(q.Domain)+")")
	}
	if q.StandardOnly {
		where = append(where, "c.standard_concept = 'S'")
	}
	if len(where) == 0 {
		return nil, datasets.Errorf("concept search needs a text, code, vocabulary or domain")
	}
	sql := "SELECT c.concept_id, c.concept_name, c.domain_id, c.vocabulary_id, c.concept_class_id, " +
		"COALESCE(c.standard_concept, ''), c.concept_code, COALESCE(c.invalid_reason, '') FROM " + c.ref("concept") + " c WHERE " +
		strings.Join(where, " AND ") + " ORDER BY " + rank +
		"CASE WHEN c.standard_concept = 'S' THEN 0 WHEN c.standard_concept IS NOT NULL THEN 1 ELSE 2 END, c.concept_name, c.concept_id LIMIT " +
		strconv.Itoa(limit)
	var out []datasets.Concept
	err := c.query(ctx, "concept_search", sql, p.params, func(row []bq.Value) error {
		var k datasets.Concept
		k.ID = toInt(row[0])
		k.Name, k.Domain, k.Vocabulary, k.Class = str(row[1]), str(row[2]), str(row[3]), str(row[4])
		k.Standard, k.Code, k.InvalidReason = str(row[5]), str(row[6]), str(row[7])
		out = append(out, k)
		return nil
	})
	return out, err
}

// Descendants implements datasets.Catalog.
func (c *Catalog) Descendants(ctx context.Context, ids ...int64) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	set := map[int64]bool{}
	for _, id := range ids {
		set[id] = true
	}
	for chunk := range slices.Chunk(ids, maxInList) {
		p := &plan{}
		err := c.query(ctx, "descendants", "SELECT DISTINCT descendant_concept_id FROM "+c.ref("concept_ancestor")+
			" WHERE ancestor_concept_id IN ("+idList(p, chunk)+")", p.params, func(row []bq.Value) error {
			set[toInt(row[0])] = true
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([]int64, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// MapToStandard implements datasets.Catalog.
func (c *Catalog) MapToStandard(ctx context.Context, ids ...int64) (map[int64][]int64, error) {
	out := map[int64][]int64{}
	if len(ids) == 0 {
		return out, nil
	}
	for chunk := range slices.Chunk(ids, maxInList) {
		p := &plan{}
		err := c.query(ctx, "map_to_standard", "SELECT DISTINCT concept_id_1, concept_id_2 FROM "+c.ref("concept_relationship")+
			" WHERE relationship_id = 'Maps to' AND invalid_reason IS NULL AND concept_id_1 IN ("+idList(p, chunk)+")", p.params,
			func(row []bq.Value) error {
				a, b := toInt(row[0]), toInt(row[1])
				out[a] = append(out[a], b)
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	for k, v := range out { // as DuckDB's ORDER BY 1, 2; an id repeated across chunks once
		slices.Sort(v)
		out[k] = slices.Compact(v)
	}
	return out, nil
}

// maxInList is the most ids one IN list binds; longer lists are asked in
// chunks. BigQuery caps a query's parameters (10,000) and the emulator's IN
// takes a few hundred arguments (it rejects an ARRAY parameter with UNNEST).
const maxInList = 200

func idList(p *plan, ids []int64) string {
	ph := make([]string, len(ids))
	for i, id := range ids {
		ph[i] = p.param(id)
	}
	return strings.Join(ph, ",")
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func str(v bq.Value) string {
	s, _ := v.(string)
	return s
}
