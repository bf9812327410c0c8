package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"enclave/kernel/worker/launch"
	"enclave/rpc"
	"enclave/sandbox/confine"
	"enclave/service"
)

func init() {
	register(&command{
		Name:  "doctor",
		Usage: "doctor [--worker PATH] [--starts N] [--breakdown] [--strict] [--json] [--socket PATH]   (deployment mode; which sandbox layers are active here; worker startup time and memory)",
		Run:   runDoctor,
	})
}

// doctorReport is what `enclave doctor --json` prints; bench/sandbox.sh
// reads it.
type doctorReport struct {
	Worker       string   `json:"worker"`
	Host         string   `json:"host"`
	LandlockABI  int      `json:"landlock_abi"`
	KernelSide   []string `json:"kernel_side"` // launch.Process.Layers
	WorkerSide   []string `json:"worker_side"` // rpc.Hello.Confinement
	Verified     []string `json:"verified"`    // launch.Process.Verify, from /proc
	Inactive     []string `json:"inactive"`    // layers not fully active
	Starts       int      `json:"starts"`
	HardenedMs   float64  `json:"startup_hardened_ms"` // median, start → Ready
	PlainMs      float64  `json:"startup_plain_ms"`
	HardenedRSS  int64    `json:"idle_rss_hardened_kib"`
	PlainRSS     int64    `json:"idle_rss_plain_kib"`
	PlainWarning string   `json:"plain_warning,omitempty"`
	// With --breakdown: median startup with all hardening but one
	// kernel-side layer, by layer name.
	Without map[string]float64 `json:"startup_without_ms,omitempty"`
	// Deployment says which mode kernels run in (the enclave service or
	// single-user) and, with a service, whether its files are protected.
	Deployment deploymentReport `json:"deployment"`
}

func runDoctor(args []string) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	workerPath := fs.String("worker", "", "enclave-worker binary (default: $"+envWorker+", else next to enclave)")
	starts := fs.Int("starts", 5, "worker starts to time, hardened and plain each (median reported)")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	strict := fs.Bool("strict", false, "exit with an error when any layer is not fully active (for deployment checks)")
	breakdown := fs.Bool("breakdown", false, "also time starts without each kernel-side layer (netns, fsroot, userns)")
	socket := fs.String("socket", service.DefaultSocket, "the enclave service's socket (its absence means single-user mode)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 || *starts < 1 {
		return errUsage
	}
	path, err := findWorker(*workerPath)
	if err != nil {
		return err
	}
	rep := doctorReport{Worker: path, Host: hostLine(), LandlockABI: confine.LandlockABI(), Starts: *starts,
		Deployment: deployment(*socket)}

	// Interleaved, so that load from elsewhere on the host hits all alike.
	var hard, plain, scratch startStats
	var hardMs, plainMs []float64
	without := map[string]launch.Config{}
	if *breakdown {
		without["netns"] = launch.Config{Path: path, NoNetNS: true}
		without["fsroot"] = launch.Config{Path: path, NoEmptyRoot: true}
		without["userns"] = launch.Config{Path: path, KeepUID: true}
	}
	withoutMs := map[string][]float64{}
	for i := 0; i < *starts; i++ {
		last := i == *starts-1
		ms, err := timeStart(launch.Config{Path: path}, &hard, last)
		if err != nil {
			return fmt.Errorf("hardened worker: %w", err)
		}
		hardMs = append(hardMs, ms)
		ms, err = timeStart(launch.Config{Path: path, Plain: true}, &plain, last)
		if err != nil {
			return fmt.Errorf("plain worker: %w", err)
		}
		plainMs = append(plainMs, ms)
		for name, cfg := range without {
			ms, err := timeStart(cfg, &scratch, false)
			if err != nil {
				return fmt.Errorf("worker without %s: %w", name, err)
			}
			withoutMs[name] = append(withoutMs[name], ms)
		}
	}
	hard.medianMs, plain.medianMs = median(hardMs), median(plainMs)
	if *breakdown {
		rep.Without = map[string]float64{}
		for name, ms := range withoutMs {
			rep.Without[name] = median(ms)
		}
	}
	rep.KernelSide, rep.WorkerSide, rep.Verified = hard.kernelSide, hard.workerSide, hard.verified
	rep.HardenedMs, rep.PlainMs = hard.medianMs, plain.medianMs
	rep.HardenedRSS, rep.PlainRSS = hard.rssKiB, plain.rssKiB
	all := append(append([]string(nil), rep.KernelSide...), rep.WorkerSide...)
	_, rep.Inactive = confine.Active(append(all, rep.Verified...))
	if rep.Inactive == nil {
		rep.Inactive = []string{} // JSON [] rather than null
	}
	if ok, _ := confine.Active(plain.workerSide); ok {
		rep.PlainWarning = "the worker confined itself although asked not to (it ignores -confine=off): plain numbers include Landlock and seccomp"
	}

	if *asJSON {
		b, _ := json.Marshal(rep)
		fmt.Println(string(b))
		return strictErr(*strict, append(rep.Inactive, rep.Deployment.problems()...))
	}
	var b strings.Builder
	b.WriteString(rep.Deployment.text() + "\n")
	fmt.Fprintf(&b, "worker:  %s\nhost:    %s, Landlock ABI %d\n\n", rep.Worker, rep.Host, rep.LandlockABI)
	b.WriteString("set by the kernel (launch):\n")
	for _, l := range rep.KernelSide {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	b.WriteString("set by the worker on itself (confine):\n")
	if len(rep.WorkerSide) == 0 {
		b.WriteString("  (the worker reported no layers)\n")
	}
	for _, l := range rep.WorkerSide {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	b.WriteString("checked by the kernel in /proc (not self-reported):\n")
	for _, l := range rep.Verified {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	n := len(rep.KernelSide) + len(rep.WorkerSide) + len(rep.Verified)
	if len(rep.Inactive) == 0 {
		fmt.Fprintf(&b, "\nall %d layers active\n", n)
	} else {
		fmt.Fprintf(&b, "\n%d of %d layers NOT fully active:\n", len(rep.Inactive), n)
		for _, l := range rep.Inactive {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	fmt.Fprintf(&b, "\nworker startup (start → ready, median of %d): hardened %.1f ms, plain %.1f ms\n", rep.Starts, rep.HardenedMs, rep.PlainMs)
	for _, name := range []string{"netns", "fsroot", "userns"} {
		if ms, ok := rep.Without[name]; ok {
			fmt.Fprintf(&b, "  without %s: %.1f ms\n", name, ms)
		}
	}
	fmt.Fprintf(&b, "idle worker memory (RSS): hardened %.1f MiB, plain %.1f MiB\n", float64(rep.HardenedRSS)/1024, float64(rep.PlainRSS)/1024)
	if rep.PlainWarning != "" {
		fmt.Fprintf(&b, "note: %s\n", rep.PlainWarning)
	}
	fmt.Print(b.String())
	return strictErr(*strict, append(rep.Inactive, rep.Deployment.problems()...))
}

func strictErr(strict bool, inactive []string) error {
	if !strict || len(inactive) == 0 {
		return nil
	}
	return fmt.Errorf("%d sandbox layer(s) not fully active on this host: %s", len(inactive), strings.Join(inactive, "; "))
}

type startStats struct {
	medianMs   float64
	rssKiB     int64
	kernelSide []string
	workerSide []string
	verified   []string
}

// timeStart starts the worker once, until its Ready, and returns the time
// that took in ms; with keep, it records the worker's layers and idle memory.
func timeStart(cfg launch.Config, st *startStats, keep bool) (float64, error) {
	t0 := time.Now()
	p, err := launch.Start(cfg)
	if err != nil {
		return 0, err
	}
	defer func() {
		p.Conn.Send(&rpc.Msg{Type: rpc.Shutdown})
		p.Conn.Close()
		select {
		case <-p.Exited():
		case <-time.After(2 * time.Second):
			p.Kill()
		}
		p.Wait()
	}()
	hello, err := awaitReady(p, 30*time.Second)
	d := time.Since(t0)
	if err != nil {
		p.Kill()
		return 0, err
	}
	if keep {
		time.Sleep(100 * time.Millisecond) // let start-up garbage settle
		st.rssKiB = rssKiB(p.Pid())
		st.kernelSide = p.Layers()
		st.workerSide = hello.Confinement
		st.verified, _ = p.Verify()
	}
	return float64(d.Microseconds()) / 1000, nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func awaitReady(p *launch.Process, timeout time.Duration) (*rpc.Hello, error) {
	type res struct {
		m   *rpc.Msg
		err error
	}
	ch := make(chan res, 1)
	go func() {
		for {
			m, err := p.Conn.Recv()
			if err != nil || m.Type == rpc.Ready {
				ch <- res{m, err}
				return
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("worker ended before it was ready: %v; its output: %s", r.err, strings.TrimSpace(p.Output()))
		}
		if r.m.Hello == nil {
			return &rpc.Hello{}, nil
		}
		return r.m.Hello, nil
	case <-time.After(timeout):
		return nil, errors.New("worker sent no Ready within " + timeout.String())
	}
}

// rssKiB reads VmRSS of pid from /proc; 0 if unknown.
func rssKiB(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				v, _ := strconv.ParseInt(f[0], 10, 64)
				return v
			}
		}
	}
	return 0
}

func hostLine() string {
	rel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	r := strings.TrimSpace(string(rel))
	if r == "" {
		r = "unknown kernel"
	}
	return fmt.Sprintf("Linux %s, uid %d", r, os.Geteuid())
}
