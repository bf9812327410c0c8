#!/usr/bin/env bash
# bench/release.sh — costs of the release layer, as JSON lines:
#
#   release.gate   exec p50 of a trivial cell (kernel_latency.py, as a
#                  frontend sees it) on the enclave kernel with a workspace
#                  open (the workspace's release session: policy, history,
#                  audit log, egress counter) against the same kernel started
#                  without ENCLAVE_WORKSPACE (the default gate), alternated
#                  ROUNDS times in one run; target: within 0.1 ms.
#   release.gate.paired
#                  the same, both kernels up at once and cells alternated
#                  between them (median of paired differences): robust to
#                  load drift on a shared machine.
#   release.file_costs
#                  what a workspace kernel adds per cell on the reply path:
#                  two audit appends (flock, last line, write; fsync for the second) and the
#                  egress counter update, timed on the workspace's filesystem.
#   release.differencing
#                  the Go benchmarks BenchmarkDifferencing{10k,100k} of
#                  release/bench_test.go (one judged cell against 10,000 and
#                  100,000 prior releases, -benchtime 200x): p50 and p99 per
#                  cell and the history's open time; target p50 < 1 ms. The
#                  "/new" cases record the cell (append + fsync), so
#                  BenchmarkHistoryAppend (append + fsync alone) runs too,
#                  and everything runs twice: on the workspace's disk and on
#                  tmpfs (/dev/shm; fsync free: the judging alone).
#   release.row_partitions
#                  BenchmarkRowPartitions: a mean (a row-level statistic
#                  with a Source) judged against 10,000 and 100,000 prior
#                  means of its quantity (the partition rule's size index,
#                  release/rowpairs.go); target p50 < 1 ms.
#
# The workspace is the cached synthetic one bench/analysis.sh uses
# (BENCH_PERSONS, default 1,000,000; its size does not matter to a trivial
# cell). Env: BENCH_PERSONS, N (cells per kernel run, 300), ROUNDS (3),
# BENCHTIME (200x), ENCLAVE, ENCLAVE_WORKER, KERNEL_LATENCY, GO.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
enclave=${ENCLAVE:-$root/bin/enclave}
worker=${ENCLAVE_WORKER:-$(dirname "$enclave")/enclave-worker}
script=${KERNEL_LATENCY:-$root/../shared/bench/kernel_latency.py}
persons=${BENCH_PERSONS:-1000000}
n=${N:-300}
rounds=${ROUNDS:-3}
py=/usr/bin/python3
go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
export ENCLAVE=$enclave

for f in "$enclave" "$worker" "$script" "$go"; do
  [ -e "$f" ] || { echo "bench/release.sh: $f is missing (run make build)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. Gate overhead on a trivial cell.
# shellcheck source=analysisbench/workspace.sh
source "$root/bench/analysisbench/workspace.sh"
ws=$(bench_workspace "$persons")
home=$(dirname "$ws")/home
"$enclave" install --prefix "$tmp" --name enclave-bench-ws --worker "$worker" \
  --workspace "$ws" --researcher demo --env ENCLAVE_HOME="$home" >/dev/null
"$enclave" install --prefix "$tmp" --name enclave-bench-nows --worker "$worker" >/dev/null
export JUPYTER_PATH="$tmp/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
: >"$tmp/ws" ; : >"$tmp/nows"
for ((r = 0; r < rounds; r++)); do
  for k in nows ws; do
    "$py" "$script" "enclave-bench-$k" --n "$n" 2>"$tmp/k.err" | tail -1 >>"$tmp/$k" || {
      echo "bench/release.sh: kernel enclave-bench-$k failed:" >&2; tail -20 "$tmp/k.err" >&2; exit 1; }
  done
done
rm -rf "$ws/release" "$ws/airlock" "$ws/audit" "$ws/exports"
"$py" - "$tmp/ws" "$tmp/nows" "$n" <<'PY'
import json, statistics, sys
ws = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
no = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
for name, runs in (("workspace", ws), ("no_workspace", no)):
    print(json.dumps({"bench": "release.gate.kernel", "gate": name, "runs": runs}))
w = statistics.median(r["exec_p50_ms"] for r in ws)
d = statistics.median(r["exec_p50_ms"] for r in no)
w99 = statistics.median(r["exec_p99_ms"] for r in ws)
d99 = statistics.median(r["exec_p99_ms"] for r in no)
print(json.dumps({"bench": "release.gate", "rounds": len(ws), "cells_per_run": int(sys.argv[3]),
                  "workspace_p50_ms": w, "no_workspace_p50_ms": d, "overhead_p50_ms": round(w - d, 3),
                  "workspace_p99_ms": w99, "no_workspace_p99_ms": d99,
                  "target": "overhead <= 0.1 ms", "pass": w - d <= 0.1}))
PY
# The same comparison paired cell by cell: both kernels up at once, cells
# alternated between them (kernel_latency.py's own run_cell), so load
# drift on a shared machine hits both alike; median of the differences.
"$py" - "$script" "$n" 2>"$tmp/paired.err" <<'PY' || { echo "paired run failed:" >&2; tail -20 "$tmp/paired.err" >&2; exit 1; }
import json, os, statistics, sys
import zmq
from jupyter_client.manager import KernelManager
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[1])))
from kernel_latency import run_cell
n = int(sys.argv[2])
kms, kcs = [], []
for name in ("enclave-bench-ws", "enclave-bench-nows"):
    km = KernelManager(kernel_name=name)
    km.context.setsockopt(zmq.RECONNECT_IVL, 5)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    kms.append(km)
    kcs.append(kc)
try:
    for _ in range(20):
        for kc in kcs:
            run_cell(kc, "1+1")
    ws, no, diff = [], [], []
    for i in range(n):
        order = (0, 1) if i % 2 == 0 else (1, 0)
        t = {}
        for k in order:
            dt, _, status = run_cell(kcs[k], "1+1")
            if status != "ok":
                sys.exit("cell failed: " + status)
            t[k] = dt * 1000
        ws.append(t[0])
        no.append(t[1])
        diff.append(t[0] - t[1])
    d = statistics.median(diff)
    print(json.dumps({"bench": "release.gate.paired", "cells": n, "workspace_p50_ms": round(statistics.median(ws), 3),
                      "no_workspace_p50_ms": round(statistics.median(no), 3), "overhead_median_of_differences_ms": round(d, 3),
                      "target": "overhead <= 0.1 ms", "pass": d <= 0.1}))
finally:
    for kc, km in zip(kcs, kms):
        kc.stop_channels()
        km.shutdown_kernel(now=True)
PY
rm -rf "$ws/release" "$ws/airlock" "$ws/audit" "$ws/exports"

# Where the difference goes: the per-cell file work of a workspace kernel
# (2 fsynced audit appends + the egress counter), timed on the workspace's
# filesystem.
"$go" build -o "$tmp/analysisbench" ./bench/analysisbench
BENCH_TMP=$(dirname "$ws") "$tmp/analysisbench" -costs

# 2. Differencing against 10,000 and 100,000 prior releases: on the
# workspace's filesystem (as the real history), then on tmpfs, where the
# append's fsync costs nothing: the judging alone.
stores=("disk:$(dirname "$ws")")
[[ -d /dev/shm && -w /dev/shm ]] && stores+=("tmpfs:/dev/shm")
for st in "${stores[@]}"; do
  TMPDIR=${st#*:} "$go" test -run XXX -bench 'Differencing|HistoryAppend|RowPartitions' -benchtime "${BENCHTIME:-200x}" ./release/ >"$tmp/diff.txt" 2>&1 || {
    echo "bench/release.sh: go test -bench failed:" >&2; tail -20 "$tmp/diff.txt" >&2; exit 1; }
  "$py" - "$tmp/diff.txt" "${st%%:*}" <<'PY'
import json, re, sys
lines = open(sys.argv[1]).read().splitlines()
storage = sys.argv[2]
for line in lines:
    m = re.match(r"BenchmarkHistoryAppend(-\d+)?\s+(\d+)\s+([\d.]+) ns/op", line)
    if m:
        print(json.dumps({"bench": "release.history_append_fsync", "storage": storage, "iterations": int(m.group(2)),
                          "mean_ms": round(float(m.group(3)) / 1e6, 3),
                          "note": "append + fsync alone: every new (recorded) cell pays it"}))
for line in lines:
    m = re.match(r"BenchmarkDifferencing(\w+)/(\S+?)(-\d+)?\s+(\d+)\s+(.*)", line)
    if not m:
        continue
    metrics = {unit: float(v) for v, unit in re.findall(r"([\d.]+) (\S+)", m.group(5))}
    p50 = metrics.get("p50-ns/cell", 0) / 1e6
    print(json.dumps({"bench": "release.differencing", "storage": storage, "prior_releases": m.group(1), "case": m.group(2),
                      "iterations": int(m.group(4)), "p50_ms": round(p50, 3),
                      "p99_ms": round(metrics.get("p99-ns/cell", 0) / 1e6, 3),
                      "mean_ms": round(metrics.get("ns/op", 0) / 1e6, 3),
                      "history_open_ms": metrics.get("open-ms"),
                      "includes_fsync": m.group(2).endswith("/new"),
                      "target": "p50 < 1 ms", "pass": p50 < 1}))
for line in lines:
    m = re.match(r"BenchmarkRowPartitions/(\d+)(-\d+)?\s+(\d+)\s+(.*)", line)
    if not m:
        continue
    metrics = {unit: float(v) for v, unit in re.findall(r"([\d.]+) (\S+)", m.group(4))}
    p50 = metrics.get("p50-ns/result", 0) / 1e6
    print(json.dumps({"bench": "release.row_partitions", "storage": storage, "prior_row_statistics": int(m.group(1)),
                      "iterations": int(m.group(3)), "p50_ms": round(p50, 3),
                      "p99_ms": round(metrics.get("p99-ns/result", 0) / 1e6, 3),
                      "note": "a mean judged against a history flooded with means of its quantity",
                      "target": "p50 < 1 ms", "pass": p50 < 1}))
PY
done
