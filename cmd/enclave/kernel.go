package main

// The kernel binds its TCP sockets before the Go runtime and the linked C++
// libraries have started: a constructor run by the dynamic loader reads the
// connection file named on the command line and listens on its five ports,
// so a frontend that connects right after spawning the kernel is queued by
// the OS instead of being refused and retrying 100 ms later. The Go side
// adopts these listeners (the prebound argument of zmqsock.Listen); on any doubt (ipc, an
// odd file, a port in use) nothing is pre-bound and Go binds as usual,
// reporting errors itself.

/*
#include <arpa/inet.h>
#include <stdio.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int enclave_pre_port[5];
static int enclave_pre_fd[5] = {-1, -1, -1, -1, -1};

// enclave_json_value finds "key" in s and returns a pointer to its value.
static const char *enclave_json_value(const char *s, const char *key) {
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\"", key);
	const char *p = strstr(s, pat);
	if (!p) return NULL;
	p += strlen(pat);
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
	if (*p != ':') return NULL;
	p++;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
	return p;
}

static int enclave_json_string(const char *s, const char *key, char *out, size_t n) {
	const char *p = enclave_json_value(s, key);
	if (!p || *p != '"') return -1;
	p++;
	size_t i = 0;
	while (*p && *p != '"' && *p != '\\' && i + 1 < n) out[i++] = *p++;
	if (*p != '"') return -1;
	out[i] = 0;
	return 0;
}

static void enclave_close_pre(void) {
	for (int i = 0; i < 5; i++) {
		if (enclave_pre_fd[i] >= 0) close(enclave_pre_fd[i]);
		enclave_pre_fd[i] = -1;
	}
}

__attribute__((constructor(101))) static void enclave_prebind(int argc, char **argv, char **envp) {
	(void)envp;
	if (argc < 3 || strcmp(argv[1], "kernel") != 0) return;
	const char *path = NULL;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if ((!strcmp(a, "--connection-file") || !strcmp(a, "-connection-file") || !strcmp(a, "-f") || !strcmp(a, "--f")) && i + 1 < argc) {
			path = argv[++i];
		} else if (!strncmp(a, "--connection-file=", 18)) {
			path = a + 18;
		} else if ((!strcmp(a, "--worker") || !strcmp(a, "-worker")) && i + 1 < argc) {
			i++;
		} else if (a[0] != '-') {
			path = a;
		}
	}
	if (!path) return;
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0) return;
	char buf[8192];
	ssize_t n = read(f, buf, sizeof buf - 1);
	close(f);
	if (n <= 0) return;
	buf[n] = 0;
	char transport[16] = "tcp", ip[64];
	enclave_json_string(buf, "transport", transport, sizeof transport);
	if (strcmp(transport, "tcp") != 0 || enclave_json_string(buf, "ip", ip, sizeof ip) != 0) return;
	static const char *keys[5] = {"shell_port", "control_port", "iopub_port", "stdin_port", "hb_port"};
	for (int i = 0; i < 5; i++) {
		const char *v = enclave_json_value(buf, keys[i]);
		if (!v) return;
		long p = strtol(v, NULL, 10);
		if (p <= 0 || p > 65535) return;
		enclave_pre_port[i] = (int)p;
	}
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof ss);
	int family;
	if (!strcmp(ip, "*") || !strcmp(ip, "0.0.0.0")) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_ANY);
		len = sizeof *a;
	} else if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = family = AF_INET;
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = family = AF_INET6;
		len = sizeof(struct sockaddr_in6);
	} else {
		return;
	}
	for (int i = 0; i < 5; i++) {
		int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) { enclave_close_pre(); return; }
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (family == AF_INET) ((struct sockaddr_in *)&ss)->sin_port = htons(enclave_pre_port[i]);
		else ((struct sockaddr_in6 *)&ss)->sin6_port = htons(enclave_pre_port[i]);
		if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0) {
			close(fd);
			enclave_close_pre();
			return;
		}
		enclave_pre_fd[i] = fd;
	}
}

// enclave_prebound hands over the listener for port, once; -1 if none.
static int enclave_prebound(int port) {
	for (int i = 0; i < 5; i++) {
		if (enclave_pre_fd[i] >= 0 && enclave_pre_port[i] == port) {
			int fd = enclave_pre_fd[i];
			enclave_pre_fd[i] = -1;
			return fd;
		}
	}
	return -1;
}
*/
import "C"

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"enclave/datasets/workspace"
	"enclave/kernel"
	"enclave/kernel/wire"
	"enclave/kernel/wire/zmqsock"
	"enclave/kernel/worker"
	"enclave/sandbox/cells"
)

func init() {
	register(&command{
		Name:  "kernel",
		Usage: "kernel [--connection-file] FILE [--worker PATH]   (started by Jupyter through kernel.json)",
		Run:   runKernel,
	})
}

// Environment read by the kernel.
const (
	envWorker      = "ENCLAVE_WORKER"       // path of enclave-worker
	envCellTimeout = "ENCLAVE_CELL_TIMEOUT" // "10m", "90s" or seconds
	envOutputCap   = "ENCLAVE_OUTPUT_CAP"   // bytes of output per cell
)

func runKernel(args []string) error {
	t0 := time.Now()
	fs := flag.NewFlagSet("kernel", flag.ContinueOnError)
	connFile := fs.String("connection-file", "", "Jupyter connection file")
	fs.StringVar(connFile, "f", "", "Jupyter connection file (as ipykernel's -f)")
	workerPath := fs.String("worker", "", "enclave-worker binary (default: $"+envWorker+", else next to enclave)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *connFile == "" && fs.NArg() == 1 {
		*connFile = fs.Arg(0)
	}
	if *connFile == "" || fs.NArg() > 1 {
		return errUsage
	}
	logger := log.New(os.Stderr, "enclave kernel: ", log.LstdFlags|log.Lmicroseconds)

	ci, err := wire.ReadConnectionFile(*connFile)
	if err != nil {
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

	// The worker starts while the sockets are bound; it is waited for at
	// the first cell.
	exec := worker.New(worker.Config{Path: wpath, Log: log.New(os.Stderr, "enclave worker: ", log.LstdFlags|log.Lmicroseconds)})
	codec, err := wire.NewCodec(ci)
	if err != nil {
		exec.Close()
		return err
	}
	socks, err := zmqsock.Listen(ci, codec, logger, prebound(ci))
	if err != nil {
		exec.Close()
		return err
	}
	defer socks.Close()
	defer exec.Close()

	cfg := kernel.Config{
		Executor:    exec,
		Log:         logger,
		OutputCap:   outCap,
		CellTimeout: timeout,
		Ports: map[string]int{"shell_port": ci.ShellPort, "iopub_port": ci.IOPubPort, "stdin_port": ci.StdinPort,
			"hb_port": ci.HBPort, "control_port": ci.ControlPort},
		IsComplete: isComplete,
	}
	// A workspace the researcher may not open does not stop the kernel: it
	// starts and answers every cell with the reason, so the researcher sees
	// it in the notebook. It is opened in the background (its catalog may
	// take a moment) and waited for at the first cell.
	var sess *workspace.Session
	opened := make(chan struct{})
	var wsInfo *kernel.WorkspaceInfo
	var wsErr error
	go func() {
		defer close(opened)
		s, err := workspace.FromEnv(time.Now())
		switch {
		case err != nil:
			logger.Printf("workspace refused: %v", err)
			wsErr = err
		case s != nil:
			sess = s
			i := s.Info
			wsInfo = &kernel.WorkspaceInfo{Name: i.Name, Purpose: i.Purpose, Tier: string(i.Tier),
				Datasets: i.Datasets, Researcher: i.Researcher, Text: i.Text(), Markdown: i.Markdown()}
			logger.Printf("workspace %s (%s tier) open for %s", i.Name, i.Tier, i.Researcher)
		}
	}()
	defer func() {
		<-opened
		sess.Close() // the session stays open for the kernel's life: the analysis API attaches to it
	}()
	cfg.OpenWorkspace = func() (*kernel.WorkspaceInfo, error) {
		<-opened
		return wsInfo, wsErr
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

// prebound collects the listeners the loader-time constructor opened.
func prebound(ci *wire.ConnectionInfo) map[int]net.Listener {
	m := map[int]net.Listener{}
	for _, port := range []int{ci.ShellPort, ci.ControlPort, ci.IOPubPort, ci.StdinPort, ci.HBPort} {
		fd := C.enclave_prebound(C.int(port))
		if fd < 0 {
			continue
		}
		f := os.NewFile(uintptr(fd), fmt.Sprintf("prebound port %d", port))
		l, err := net.FileListener(f)
		f.Close()
		if err == nil {
			m[port] = l
		}
	}
	return m
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
