// Package vocab holds the default OMOP vocabulary every workspace starts
// with and the vocabulary queries the catalog answers: concept search by
// name, code, vocabulary or domain; descendants through concept_ancestor;
// source→standard mapping through concept_relationship "Maps to".
//
// The default vocabulary is the real OHDSI Eunomia shards (GiBleed and
// Synthea27Nj, Apache-2.0) merged, plus a few local concepts (All of Us PPI
// survey questions and answers used by the registered-tier rules, and the
// All of Us generalised demographic categories). It is embedded as gzip CSV
// (data/, ~0.7 MB) and rebuilt by `go generate` from ../shared/omop/vocab.
//
// Trust level: trusted kernel side.
package vocab

//go:generate go run ./internal/mkdata -shards ../../../shared/omop/vocab -local local -out data
