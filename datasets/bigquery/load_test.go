package bigquery

import (
	"context"
	"database/sql"
	"math"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLoadUnreachable: an import to an endpoint where nothing answers
// fails with an error that says so, instead of retrying for ever. It needs
// no emulator: a closed loopback port is enough.
func TestLoadUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: connections are refused
	cfg := Config{Project: "enclave-test", Dataset: "cdr_unreachable", Endpoint: "http://" + addr, QueryTimeout: 2 * time.Second}
	_, err = Load(context.Background(), cfg, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "did not answer within 2s") {
		t.Fatalf("Load to a closed port: %v, want an error saying BigQuery did not answer", err)
	}
}

// TestLoadLargeTable: a table whose CSV is larger than the client's upload
// chunk (16 MiB; Fitbit minute-level tables are far larger) loads whole.
// Sent as a resumable upload, the emulator refused it ("failed to decode
// job"), and a 20,000-person cohort could not be imported.
func TestLoadLargeTable(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, "cdr_large")
	db, err := sql.Open("duckdb", filepath.Join(t.TempDir(), "tier.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const rows = 1_500_000 // about 21 bytes a row: 30 MiB of CSV (700,000 rows fit in one chunk)
	if _, err := db.Exec(`CREATE TABLE heart_rate_minute AS SELECT i // 1440 AS person_id, DATE '2020-01-01' + CAST(i % 1440 AS INTEGER) AS date, 60 + (i * 7919 % 600) / 10.0 AS heart_rate_value FROM range(?) t(i)`, rows); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Project: testProject, Dataset: "cdr_large", Endpoint: e.endpoint, QueryTimeout: 2 * time.Minute}
	rep, err := Load(context.Background(), cfg, db, nil)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if rep.Tables["heart_rate_minute"] != rows {
		t.Fatalf("loaded %d rows, want %d", rep.Tables["heart_rate_minute"], rows)
	}
	client, err := NewClient(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	it, err := client.Query("SELECT COUNT(*) AS n, SUM(heart_rate_value) AS s FROM `" + testProject + ".cdr_large.heart_rate_minute`").Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		N int64
		S float64
	}
	if err := it.Next(&got); err != nil {
		t.Fatal(err)
	}
	var wantSum float64
	if err := db.QueryRow(`SELECT SUM(heart_rate_value) FROM heart_rate_minute`).Scan(&wantSum); err != nil {
		t.Fatal(err)
	}
	if got.N != rows || math.Abs(got.S-wantSum) > 1e-6*wantSum {
		t.Fatalf("BigQuery holds %d rows summing to %v, want %d summing to %v", got.N, got.S, rows, wantSum)
	}
}
