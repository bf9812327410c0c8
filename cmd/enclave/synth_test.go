package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestSynthCommand: the documented forms work and bad usage is refused.
func TestSynthCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "omop")
	if err := runSynth([]string{"--persons", "300", "--seed", "9", "--out", out, "--format", "csv"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"person.csv", "observation.csv", "activity_summary.csv", "concept.csv"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	pq := filepath.Join(dir, "pq")
	if err := runSynth([]string{"--persons", "300", "--out", pq, "--variants", "100", "--genotyped", "50"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"person.parquet", "genomics/linkage.csv", "genomics/cohort.bed"} {
		if _, err := os.Stat(filepath.Join(pq, f)); err != nil {
			t.Error(err)
		}
	}
	for _, args := range [][]string{
		{"--out", dir},
		{"--persons", "10"},
		{"--persons", "10", "--out", dir, "extra"},
	} {
		if err := runSynth(args); !errors.Is(err, errUsage) {
			t.Errorf("runSynth(%q) = %v, want usage error", args, err)
		}
	}
	if err := runSynth([]string{"--persons", "10", "--out", dir, "--format", "xml"}); err == nil || errors.Is(err, errUsage) {
		t.Errorf("unknown format: %v", err)
	}
}
