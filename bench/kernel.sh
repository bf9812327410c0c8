#!/usr/bin/env bash
# Kernel latency and throughput: enclave against ipykernel (python3) in one run,
# measured by ../shared/bench/kernel_latency.py as a frontend sees them.
# Prints one JSON line per kernel and one with the ratios (enclave / ipykernel)
# next to the targets of issue 2: ready <= 0.05x, exec p50 <= 0.4x, stream >= 2x.
#
# Env: ENCLAVE (default bin/enclave), ENCLAVE_WORKER (default next to it),
#      KERNEL_LATENCY (default ../shared/bench/kernel_latency.py), N (cells, 300).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
enclave=${ENCLAVE:-$root/bin/enclave}
worker=${ENCLAVE_WORKER:-$(dirname "$enclave")/enclave-worker}
script=${KERNEL_LATENCY:-$root/../shared/bench/kernel_latency.py}
n=${N:-300}
py=/usr/bin/python3

for f in "$enclave" "$worker" "$script"; do
  [ -e "$f" ] || { echo "bench/kernel.sh: $f is missing (run make build)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$enclave" install --prefix "$tmp" --name enclave-bench --worker "$worker" >/dev/null
export JUPYTER_PATH="$tmp/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"

# 8 MB of printed text in 8 KB prints, the same loop in both languages: this
# measures the output path (worker pipe, coalescing, gate, zmq), not the
# interpreter's loop speed.
go_stream='import ("fmt"; "strings")
chunk := strings.Repeat(strings.Repeat("x", 127) + "\n", 64)
for i := 0; i < 1000; i++ { fmt.Print(chunk) }'
py_stream='chunk = ("x" * 127 + "\n") * 64
for i in range(1000): print(chunk, end="")'

enc=$("$py" "$script" enclave-bench --n "$n" --stream-code "$go_stream" 2>"$tmp/enclave.err" | tail -1) || {
  echo "bench/kernel.sh: enclave run failed:" >&2; tail -20 "$tmp/enclave.err" >&2; exit 1; }
ipy=$("$py" "$script" python3 --n "$n" --stream-code "$py_stream" 2>"$tmp/python3.err" | tail -1) || {
  echo "bench/kernel.sh: ipykernel run failed:" >&2; tail -20 "$tmp/python3.err" >&2; exit 1; }
echo "$enc"
echo "$ipy"
"$py" - "$enc" "$ipy" <<'PY'
import json, sys
e, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
def ratio(a, b):
    return round(e[a] / p[b], 3) if e.get(a) and p.get(b) else None
out = {
    "bench": "kernel",
    "ready_ratio": ratio("ready_ms", "ready_ms"), "ready_target": "<= 0.05",
    "exec_p50_ratio": ratio("exec_p50_ms", "exec_p50_ms"), "exec_p50_target": "<= 0.4",
    "exec_p99_ratio": ratio("exec_p99_ms", "exec_p99_ms"),
    "stream_ratio": ratio("stream_mb_s", "stream_mb_s"), "stream_target": ">= 2",
}
print(json.dumps(out))
PY
