#!/usr/bin/python3
"""CPU a kernel spends per cell, as a frontend drives it.

Usage: kernel_cpu.py [--latency PATH] [--n N] [--streams S] KERNEL_NAME...

For each kernel: starts it with jupyter_client, warms it up, then reports
the CPU time (user + system, from /proc) of the kernel process and its
descendants (enclave's worker) per "1+1" cell (exec_cpu_ms) and per cell
printing 8 MB in 8 KB prints (stream_cpu_ms_per_8mb), with the wall-clock
figures of the same runs. Wall-clock latency on a shared 2-core machine moves
with the load other processes make; CPU per cell does much less, so it
shows what a change to the kernel's own path bought. Cells are driven by
run_cell of ../shared/bench/kernel_latency.py, as bench/kernel.sh's are.
One JSON object per kernel.
"""
import argparse, glob, importlib.util, json, os, sys, time

import zmq
from jupyter_client.manager import KernelManager

TICK = os.sysconf("SC_CLK_TCK")
STREAM = {
    "go": 'import ("fmt"; "strings")\nchunk := strings.Repeat(strings.Repeat("x", 127) + "\\n", 64)\n'
          'for i := 0; i < 1000; i++ { fmt.Print(chunk) } // stream',
    "python": 'chunk = ("x" * 127 + "\\n") * 64\nfor i in range(1000): print(chunk, end="")',
}


def descendants(pid):
    out = [pid]
    for f in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            kids = open(f).read().split()
        except OSError:
            continue
        for k in kids:
            out += descendants(int(k))
    return out


def cpu_ms(pids):
    total = 0
    for p in pids:
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(f[11]) + int(f[12])  # utime, stime
    return total * 1000 / TICK


def measure(run_cell, name, n, streams):
    km = KernelManager(kernel_name=name)
    km.context.setsockopt(zmq.RECONNECT_IVL, 5)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        lang = "python" if km.kernel_spec.language == "python" else "go"
        for _ in range(30):
            run_cell(kc, "1+1")
        run_cell(kc, STREAM[lang], timeout=300)
        pids = descendants(km.provisioner.process.pid)
        c0, t0 = cpu_ms(pids), time.perf_counter()
        lat = []
        for _ in range(n):
            dt, _, status = run_cell(kc, "1+1")
            if status != "ok":
                sys.exit(f"{name}: cell failed: {status}")
            lat.append(dt * 1000)
        c1, t1 = cpu_ms(pids), time.perf_counter()
        nbytes = 0
        for _ in range(streams):
            nbytes += run_cell(kc, STREAM[lang], timeout=300)[1]
        c2, t2 = cpu_ms(pids), time.perf_counter()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    lat.sort()
    return {"kernel": name, "processes": len(pids),
            "exec_cpu_ms": round((c1 - c0) / n, 3), "exec_p50_ms": round(lat[n // 2], 3),
            "stream_cpu_ms_per_8mb": round((c2 - c1) / streams / (nbytes / streams / 8e6), 1),
            "stream_mb_s": round(nbytes / (t2 - t1) / 1e6, 2)}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("kernels", nargs="+")
    ap.add_argument("--latency", default=os.path.join(here, "..", "..", "shared", "bench", "kernel_latency.py"))
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--streams", type=int, default=5)
    a = ap.parse_args()
    spec = importlib.util.spec_from_file_location("kernel_latency", a.latency)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for k in a.kernels:
        print(json.dumps(measure(mod.run_cell, k, a.n, a.streams)), flush=True)


if __name__ == "__main__":
    main()
