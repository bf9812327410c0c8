package bigquery

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"enclave/datasets"
	"enclave/datasets/omop"
	"enclave/datasets/synth"
)

// The emulator tests need the goccy/bigquery-emulator binary (v0.8.1),
// which `make test-bigquery` builds once into ~/.cache/enclave and names in
// ENCLAVE_BIGQUERY_EMULATOR. Without it they are skipped, unless
// ENCLAVE_BIGQUERY_REQUIRED=1 (as make test-bigquery sets), when a missing
// binary fails them.
const (
	envEmulator = "ENCLAVE_BIGQUERY_EMULATOR"
	envRequired = "ENCLAVE_BIGQUERY_REQUIRED"
	envPersons  = "ENCLAVE_BIGQUERY_PERSONS" // synthetic cohort size (default 300: the emulator answers each query in about a second)
	testProject = "enclave-test"
	// maxRows bounds the tables the conformance cases join with person:
	// the emulator runs such a join in time proportional to the two
	// tables' rows multiplied, so a query over GiBleed's 65,719 condition
	// eras and 2,694 persons did not answer within 2 minutes, while the
	// 300-person cohort's 10,605 measurements take seconds.
	maxRows = 12000
)

type emulator struct {
	cmd      *exec.Cmd
	endpoint string
	done     chan struct{}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startEmulator runs the emulator on loopback with an empty dataset and
// waits until it answers.
func startEmulator(t *testing.T, dataset string) *emulator {
	t.Helper()
	bin := os.Getenv(envEmulator)
	if bin == "" {
		if os.Getenv(envRequired) == "1" {
			t.Fatalf("%s is not set: run `make test-bigquery`", envEmulator)
		}
		t.Skipf("no BigQuery emulator (%s unset; `make test-bigquery` builds and runs it)", envEmulator)
	}
	port, grpc := freePort(t), freePort(t)
	cmd := exec.Command(bin, "--host=127.0.0.1", "--project="+testProject, "--dataset="+dataset,
		"--port="+strconv.Itoa(port), "--grpc-port="+strconv.Itoa(grpc), "--log-level=error")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// Killed with the test binary, even when a test timeout panics past
	// the cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &emulator{cmd: cmd, endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan struct{})}
	go func() { cmd.Wait(); close(e.done) }()
	t.Cleanup(e.stop)
	// Ready when the datasets listing answers; give up after 60 s.
	url := fmt.Sprintf("%s/bigquery/v2/projects/%s/datasets", e.endpoint, testProject)
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return e
			}
		}
		select {
		case <-e.done:
			t.Fatalf("emulator exited before answering: %v", cmd.ProcessState)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("emulator did not answer on %s within 60 s: %v", url, err)
		}
	}
}

func (e *emulator) stop() {
	select {
	case <-e.done:
		return
	default:
	}
	e.cmd.Process.Kill()
	<-e.done
}

// cohort makes a synthetic cohort, imports it with the DuckDB importer and
// returns the path of its tier database.
func cohort(t *testing.T, persons int, tier datasets.Tier) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := synth.Generate(synth.Options{Persons: persons, Seed: 14, Out: filepath.Join(dir, "omop"), Format: synth.FormatParquet}); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "cdm.duckdb")
	if _, err := omop.Import(context.Background(), base, filepath.Join(dir, "omop"), omop.Options{
		AgeAsOf: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Tiers: []datasets.Tier{tier}, MemoryLimit: "2GB"}); err != nil {
		t.Fatal(err)
	}
	return omop.TierPath(base, tier)
}

// load copies a tier database into the emulator's dataset.
func load(t *testing.T, cfg Config, tierPath string) *LoadReport {
	t.Helper()
	db, err := sql.Open("duckdb", tierPath+"?access_mode=READ_ONLY")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	rep, err := Load(context.Background(), cfg, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for _, n := range rep.Tables {
		rows += n
	}
	t.Logf("loaded %d tables, %d rows into the emulator in %s", len(rep.Tables), rows, time.Since(start).Round(time.Millisecond))
	return rep
}

func persons(t *testing.T) int {
	n := 300
	if s := os.Getenv(envPersons); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			t.Fatalf("%s=%q is not a positive number", envPersons, s)
		}
		n = v
	}
	return n
}
