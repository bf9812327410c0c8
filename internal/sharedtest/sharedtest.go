// Package sharedtest finds, for tests, the reference data kept in the
// folder shared beside the repository (../shared from the repository root:
// the OMOP CDM specification, the OHDSI Eunomia exports, vocabulary shards).
// Outside CI a missing folder skips the test; in CI (the environment
// variable CI set to "true", as CI services do) it fails the test, so tests
// on real data cannot silently stop running there.
//
// Test-only: nothing outside _test.go files imports it.
package sharedtest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Path returns the path of rel inside ../shared (e.g. "omop/cdm53"),
// relative to the test's working directory. When it does not exist the
// test is skipped, or failed when CI=true.
func Path(t testing.TB, rel string) string {
	t.Helper()
	p, err := find(rel)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v: CI runs the tests on real data, check out ../shared beside the repository", err)
		} else {
			t.Skipf("%v", err)
		}
		return ""
	}
	return p
}

// find locates rel in the shared folder beside the repository root, the
// nearest directory at or above the working directory holding go.mod.
func find(rel string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root := wd
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		up := filepath.Dir(root)
		if up == root {
			return "", errors.New("sharedtest: no go.mod at or above " + wd)
		}
		root = up
	}
	p := filepath.Join(root, "..", "shared", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	if r, err := filepath.Rel(wd, p); err == nil {
		p = r
	}
	return p, nil
}
