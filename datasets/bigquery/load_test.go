package bigquery

import (
	"context"
	"net"
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
