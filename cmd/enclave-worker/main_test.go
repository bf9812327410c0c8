package main

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"enclave/rpc"
	"enclave/sandbox/confine"
)

// TestMain runs main itself when the test binary is started as a worker.
func TestMain(m *testing.M) {
	if os.Getenv("ENCLAVE_WORKER_TEST_MAIN") == "1" {
		os.Args = []string{"enclave-worker", confine.OffArg}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// An interrupted cell stuck in one long compiled call ends the worker
// process: the cell's stderr says so, no Done is sent (the cell is not
// reported stopped while the call runs), the process exits with ExitStuck
// and its stderr carries the reason for the kernel's log.
func TestStuckCellEndsWorker(t *testing.T) {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	evR, evW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ENCLAVE_WORKER_TEST_MAIN=1")
	cmd.ExtraFiles = []*os.File{reqR, evW} // fd 3, 4
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reqR.Close()
	evW.Close()
	defer cmd.Process.Kill()
	conn := rpc.NewConn(evR, reqW, nil)
	if m, err := conn.Recv(); err != nil || m.Type != rpc.Ready {
		t.Fatalf("first message %+v, %v", m, err)
	}
	// The regexp engine over 16 MB: seconds, past the worker's 1.5 s grace.
	// The cell says when it reaches the slow call; the interrupt is sent
	// only then, so a slow machine cannot interrupt it earlier.
	code := "import (\n\t\"fmt\"\n\t\"regexp\"\n\t\"strings\"\n)\n" +
		"s := strings.Repeat(\"ab\", 1<<23)\n" +
		"fmt.Println(\"calling\")\n" +
		"regexp.MustCompile(`([ab]{1,20})*c`).MatchString(s)"
	// The interrupt can land between the print and the call, on a busy
	// machine: the interpreter then stops the cell as usual (an error
	// reply), and the cell is run again, up to five times.
	var start time.Time
	var cellErr strings.Builder
	ended := false
	for try := 1; try <= 5 && !ended; try++ {
		id := uint64(try)
		conn.Send(&rpc.Msg{Type: rpc.Execute, ID: id, Exec: &rpc.ExecRequest{Code: code, CellNumber: 7}})
		for {
			m, err := conn.Recv()
			if err != nil {
				t.Fatalf("recv before the call: %v", err)
			}
			if m.Type == rpc.Stream && strings.Contains(m.Stream.Text, "calling") {
				break
			}
			if m.Type == rpc.Done || m.Type == rpc.Error {
				t.Fatalf("cell ended before its slow call: %+v", m)
			}
		}
		start = time.Now()
		conn.Send(&rpc.Msg{Type: rpc.Interrupt, ID: id})
		cellErr.Reset()
	recv:
		for {
			m, err := conn.Recv()
			if errors.Is(err, io.EOF) {
				ended = true
				break
			}
			if err != nil {
				t.Fatalf("recv: %v", err)
			}
			switch m.Type {
			case rpc.Error:
				t.Logf("try %d: interrupted before the slow call began", try)
				for m.Type != rpc.Done {
					if m, err = conn.Recv(); err != nil {
						t.Fatalf("recv after the interrupt: %v", err)
					}
				}
				break recv
			case rpc.Done, rpc.Result:
				t.Fatalf("worker sent %s for a cell whose call still runs", m.Type)
			case rpc.Stream:
				if m.Stream.Name == "stderr" {
					cellErr.WriteString(m.Stream.Text)
				}
			}
		}
	}
	if !ended {
		t.Fatal("five interrupts all landed before the slow call")
	}
	err = cmd.Wait()
	took := time.Since(start)
	t.Logf("interrupt → exit %v (%v); cell stderr %q; process stderr %q", took, err, cellErr.String(), stderr.String())
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitStuck {
		t.Errorf("worker ended with %v, want exit status %d", err, ExitStuck)
	}
	want := "cell[7] did not stop within 1.5s of the interrupt"
	if !strings.Contains(cellErr.String(), "[enclave] "+want) || !strings.Contains(cellErr.String(), "variables are lost") {
		t.Errorf("cell stderr %q lacks %q and the lost variables", cellErr.String(), want)
	}
	if !strings.Contains(stderr.String(), "enclave-worker: "+want) {
		t.Errorf("process stderr %q lacks %q", stderr.String(), want)
	}
	if took > 10*time.Second {
		t.Errorf("worker took %v to end", took)
	}
}
