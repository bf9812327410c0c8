package sandbox

import (
	"io"
	"log"
	"os"
	"testing"
)

// TestMain silences the standard logger: yaegi logs "nil type" and the like
// before panics the worker recovers from (compile attempts that fail).
func TestMain(m *testing.M) {
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}
