package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"

	"enclave/analysis"
	"enclave/datasets/bigquery"
	"enclave/datasets/workspace"
	"enclave/kernel"
	"enclave/kernel/wire"
	"enclave/kernel/wire/zmqsock"
	"enclave/kernel/worker"
	"enclave/release"
	"enclave/release/airlock"
	"enclave/release/audit"
	"enclave/sandbox/cells"
	"enclave/service"
)

func init() {
	register(&command{
		Name:  "kernel",
		Usage: "kernel [--connection-file] FILE [--worker PATH]   (started by Jupyter through kernel.json, or by enclave serve with --service-fd N)",
		Run:   runKernel,
	})
}

// Environment read by the kernel.
const (
	envWorker      = "ENCLAVE_WORKER"       // path of enclave-worker
	envCellTimeout = "ENCLAVE_CELL_TIMEOUT" // "10m", "90s" or seconds
	envOutputCap   = "ENCLAVE_OUTPUT_CAP"   // bytes of output per cell
	envCPUProfile  = "ENCLAVE_CPUPROFILE"   // file: a CPU profile of the kernel process for its life (benchmarks)
)

func runKernel(args []string) error {
	t0 := time.Now()
	fs := flag.NewFlagSet("kernel", flag.ContinueOnError)
	connFile := fs.String("connection-file", "", "Jupyter connection file")
	fs.StringVar(connFile, "f", "", "Jupyter connection file (as ipykernel's -f)")
	workerPath := fs.String("worker", "", "enclave-worker binary (default: $"+envWorker+", else next to enclave)")
	serviceFD := fs.Int("service-fd", 0, "read the connection, researcher and workspace from the enclave service on this descriptor (set by enclave serve), not from a connection file and the environment")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *connFile == "" && fs.NArg() == 1 {
		*connFile = fs.Arg(0)
	}
	if (*connFile == "") == (*serviceFD <= 0) || fs.NArg() > 1 {
		return errUsage
	}
	logger := log.New(os.Stderr, "enclave kernel: ", log.LstdFlags|log.Lmicroseconds)
	// A CPU profile of the kernel for benchmarks (bench/genomics_cell.sh):
	// the variable is set by whoever starts the kernel, never by a cell; the
	// profile holds stacks and sample counts, no data.
	if p := os.Getenv(envCPUProfile); p != "" {
		stop, err := startCPUProfile(p)
		if err != nil {
			return err
		}
		defer stop()
	}

	// Started by the service, the kernel waits here (a spare) until the
	// service assigns it a researcher's connection and workspace.
	var assigned *service.Assignment
	var ci *wire.ConnectionInfo
	var err error
	if *serviceFD > 0 {
		if assigned, err = service.ReadAssignment(os.NewFile(uintptr(*serviceFD), "service")); err != nil {
			return err
		}
		t0 = time.Now()
		ci = &assigned.Connection
	} else if ci, err = wire.ReadConnectionFile(*connFile); err != nil {
		return err
	}
	wpath, err := findWorker(*workerPath)
	if err != nil {
		return err
	}
	timeout, err := durationEnv(envCellTimeout, 10*time.Minute)
	if err != nil {
		return err
	}
	outCap, err := intEnv(envOutputCap, 32<<20)
	if err != nil {
		return err
	}

	// The release layer: a session of default policy until the workspace
	// is open, then the workspace's (policy, history, audit, airlock).
	session := uuid.NewString()
	pol := release.Defaults()
	pol.CellOutput = min(pol.CellOutput, outCap)
	gate := release.NewGate(&release.Session{Policy: pol, ID: session})
	var rel *release.Session // the workspace's, once open

	// The worker starts while the sockets are bound; it is waited for at
	// the first cell. A fresh worker has no rows in memory: taint ends.
	exec := worker.New(worker.Config{Path: wpath, Log: log.New(os.Stderr, "enclave worker: ", log.LstdFlags|log.Lmicroseconds),
		OnFresh: func() bool {
			return rel != nil && rel.Untaint()
		}})
	codec, err := wire.NewCodec(ci)
	if err != nil {
		exec.Close()
		return err
	}
	socks, err := zmqsock.Listen(ci, codec, logger)
	if err != nil {
		exec.Close()
		return err
	}
	defer socks.Close()
	defer exec.Close()

	cfg := kernel.Config{
		Session:     session,
		Gate:        gate,
		Executor:    modeExecutor{exec, assigned},
		Log:         logger,
		OutputCap:   outCap,
		CellTimeout: timeout,
		Ports: map[string]int{"shell_port": ci.ShellPort, "iopub_port": ci.IOPubPort, "stdin_port": ci.StdinPort,
			"hb_port": ci.HBPort, "control_port": ci.ControlPort},
		IsComplete:  isComplete,
		NoWorkspace: noWorkspaceText(assigned),
	}
	// A workspace the researcher may not open does not stop the kernel: it
	// starts and answers every cell with the reason, so the researcher sees
	// it in the notebook. It is opened in the background (its catalog may
	// take a moment) and waited for at the first cell.
	var sess *workspace.Session
	var api *analysis.Server
	opened := make(chan struct{})
	var wsInfo *kernel.WorkspaceInfo
	var wsErr error
	go func() {
		defer close(opened)
		s, err := openAssigned(assigned, time.Now())
		if err == nil && s != nil {
			rel, api, err = openRelease(s, session, outCap, logger)
			if err != nil {
				s.Close()
			}
		}
		switch {
		case err != nil:
			logger.Printf("workspace refused: %v", err)
			wsErr = err
		case s != nil:
			sess = s
			gate.Use(rel)
			i := s.Info
			wsInfo = &kernel.WorkspaceInfo{Name: i.Name, Purpose: i.Purpose, Tier: string(i.Tier),
				Datasets: i.Datasets, Researcher: i.Researcher, Text: i.Text() + identityText(assigned),
				Markdown: i.Markdown() + "| identity | " + strings.TrimSpace(strings.TrimPrefix(identityText(assigned), "identity:")) + " |\n"}
			logger.Printf("workspace %s (%s tier) open for %s", i.Name, i.Tier, i.Researcher)
		}
	}()
	defer func() {
		<-opened
		if rel != nil {
			rel.Record(audit.Entry{Type: "session_stop"})
			rel.Close()
		}
		sess.Close() // the session stays open for the kernel's life: the analysis API attaches to it
	}()
	cfg.OpenWorkspace = func() (*kernel.WorkspaceInfo, error) {
		<-opened
		return wsInfo, wsErr
	}
	server := func() (*analysis.Server, error) {
		<-opened
		switch {
		case wsErr != nil:
			return nil, wsErr
		case api == nil:
			return nil, noWorkspaceErr(assigned)
		}
		return api, nil
	}
	cfg.Magics = analysis.Magics(server)
	cfg.API = func(ctx context.Context, cell, method string, args json.RawMessage) (json.RawMessage, error) {
		a, err := server()
		if err != nil {
			return nil, err
		}
		return a.Call(ctx, cell, method, args)
	}
	var unrecorded sync.Once
	cfg.Audit = func(class kernel.AuditClass, msgType, detail string) {
		<-opened
		if rel == nil {
			// Said once: a line per cell would fill the server's log (and
			// cost every cell a write).
			unrecorded.Do(func() { logger.Printf("no workspace: requests are not audited (first: %s %s)", class, msgType) })
			return
		}
		e := audit.Entry{Type: string(class), Data: mustJSON(map[string]string{"msg_type": msgType})}
		if detail != "" {
			e.Data = mustJSON(map[string]string{"msg_type": msgType, "code": detail})
		}
		rel.Record(e)
	}

	k := kernel.New(cfg, socks)
	socks.Serve(k.Deliver)
	logger.Printf("serving %s (%s) %.1f ms after start", ci.Endpoint(ci.ShellPort), ci.Transport, float64(time.Since(t0).Microseconds())/1000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go k.Run(ctx)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	parentGone := watchParent()
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGINT {
				k.Interrupt()
				continue
			}
			logger.Printf("%v: shutting down", s)
			return nil
		case <-parentGone:
			logger.Printf("the process that started the kernel is gone: shutting down")
			return nil
		case <-k.Done():
			time.Sleep(20 * time.Millisecond) // let iopub's last messages leave
			return nil
		}
	}
}

// startCPUProfile writes a CPU profile of this process to path until stop.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envCPUProfile, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", envCPUProfile, err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// findWorker returns the enclave-worker binary: the flag, else
// $ENCLAVE_WORKER, else the file next to this executable.
func findWorker(flagPath string) (string, error) {
	p, from := flagPath, "--worker"
	if p == "" {
		p, from = os.Getenv(envWorker), "$"+envWorker
	}
	if p == "" {
		self, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("cannot find the enclave-worker binary: %w", err)
		}
		if r, err := filepath.EvalSymlinks(self); err == nil {
			self = r
		}
		p, from = filepath.Join(filepath.Dir(self), "enclave-worker"), "next to enclave"
	}
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return "", fmt.Errorf("the Go worker binary %s (%s) is missing: build it with `make build` or set %s", p, from, envWorker)
	case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("the Go worker binary %s (%s) is not an executable file", p, from)
	}
	return filepath.Abs(p)
}

func durationEnv(name string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return def, nil
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n > 0 {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q is not a positive duration such as 10m or 600", name, v)
	}
	return d, nil
}

func intEnv(name string, def int64) (int64, error) {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q is not a positive number of bytes", name, v)
	}
	return n, nil
}

// watchParent returns a channel closed when the process that started the
// kernel (JPY_PARENT_PID, as jupyter_client sets it) is gone, so that a
// crashed notebook server does not leave kernels and workers behind.
func watchParent() <-chan struct{} {
	gone := make(chan struct{})
	pid, err := strconv.Atoi(os.Getenv("JPY_PARENT_PID"))
	if err != nil || pid <= 1 {
		return gone
	}
	go func() {
		for range time.Tick(time.Second) {
			if os.Getppid() != pid && errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
				close(gone)
				return
			}
		}
	}()
	return gone
}

// isComplete answers is_complete_request with the same cell splitter the
// worker uses, run here: it is pure go/scanner code and needs no worker.
var isComplete = cells.IsComplete

// openRelease opens the release layer of an opened workspace (policy,
// history, audit log, airlock) and the analysis API over its catalog.
func openRelease(s *workspace.Session, session string, outCap int64, logger *log.Logger) (*release.Session, *analysis.Server, error) {
	dir := s.Workspace.Dir
	pol, err := release.LoadPolicy(dir, s.Workspace.Policy)
	if err != nil {
		return nil, nil, err
	}
	pol.CellOutput = min(pol.CellOutput, outCap) // ENCLAVE_OUTPUT_CAP may only tighten it
	// The workspace's history, and the researcher's across all their
	// workspaces over the same data.
	var more []string
	if key := s.Workspace.DataKey(); key != "" {
		home, err := workspace.Home()
		if err != nil {
			return nil, nil, err
		}
		more = append(more, workspace.ResearcherHistoryPath(home, s.Info.Researcher, key))
	}
	hist, err := release.OpenHistory(filepath.Join(dir, release.HistoryDir, release.HistoryFile), session, more...)
	if err != nil {
		return nil, nil, err
	}
	log, err := audit.Open(filepath.Join(dir, workspace.AuditDir, workspace.AuditFile))
	if err != nil {
		hist.Close()
		return nil, nil, err
	}
	air, err := airlock.Open(filepath.Join(dir, release.AirlockDir))
	if err != nil {
		hist.Close()
		log.Close()
		return nil, nil, err
	}
	egress, err := release.OpenWorkspaceEgress(filepath.Join(dir, release.HistoryDir, release.EgressFile))
	if err != nil {
		hist.Close()
		log.Close()
		return nil, nil, err
	}
	rel := &release.Session{Policy: pol, History: hist, Audit: log, Airlock: air, WorkspaceEgress: egress, ID: session,
		Researcher: s.Info.Researcher, Workspace: s.Info.Name}
	rel.Record(audit.Entry{Type: "session_start", Data: mustJSON(map[string]any{"workspace": s.Info.Name, "tier": s.Info.Tier,
		"purpose": s.Info.Purpose, "datasets": s.Info.Datasets})})
	if bqc, ok := s.Catalog.(*bigquery.Catalog); ok {
		// Bytes BigQuery processed, per query, to the audit log.
		bqc.SetQueryLog(func(st bigquery.QueryStats) {
			rel.Record(audit.Entry{Type: "bigquery_query", Data: mustJSON(st)})
		})
	}
	cat, ok := s.Catalog.(analysis.Engine)
	if !ok {
		rel.Close()
		return nil, nil, fmt.Errorf("the workspace's catalog cannot serve the analysis API: it runs no SQL")
	}
	api, err := analysis.New(context.Background(), cat, rel, analysis.Options{Datasets: s.Info.Datasets, Log: logger})
	if err != nil {
		rel.Close()
		return nil, nil, err
	}
	return rel, api, nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}
