#!/usr/bin/env bash
# enclave against the floor: a do-nothing Go kernel (bench/floorkernel) on the
# same wire and sockets, and ipykernel, measured in one run by
# ../shared/bench/kernel_latency.py. Prints one JSON line per kernel and one
# comparing enclave with the floor next to the targets of issue 13: exec p50
# within 0.2 ms of the floor's, 8 MB stream at >= 0.8x the floor's rate.
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
  [ -e "$f" ] || { echo "bench/kernel_floor.sh: $f is missing (run make build)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$root" && go build -o "$tmp/floorkernel" ./bench/floorkernel)
"$enclave" install --prefix "$tmp" --name enclave-bench --worker "$worker" >/dev/null
mkdir -p "$tmp/share/jupyter/kernels/floor-bench"
cat >"$tmp/share/jupyter/kernels/floor-bench/kernel.json" <<JSON
{"argv": ["$tmp/floorkernel", "{connection_file}"], "display_name": "floor", "language": "go", "interrupt_mode": "message"}
JSON
export JUPYTER_PATH="$tmp/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"

# The same 8 MB print loop as bench/kernel.sh; the floor kernel sends 8 MB of
# prebuilt text for any cell whose code mentions "stream".
go_stream='import ("fmt"; "strings")
chunk := strings.Repeat(strings.Repeat("x", 127) + "\n", 64)
for i := 0; i < 1000; i++ { fmt.Print(chunk) } // stream'
py_stream='chunk = ("x" * 127 + "\n") * 64
for i in range(1000): print(chunk, end="")'

measure() { # name kernel stream-code
  "$py" "$script" "$2" --n "$n" --stream-code "$3" 2>"$tmp/$1.err" | tail -1 || {
    echo "bench/kernel_floor.sh: $1 run failed:" >&2; tail -20 "$tmp/$1.err" >&2; exit 1; }
}
flo=$(measure floor floor-bench "$go_stream")
enc=$(measure enclave enclave-bench "$go_stream")
ipy=$(measure python3 python3 "$py_stream")
echo "$flo"
echo "$enc"
echo "$ipy"
"$py" - "$enc" "$flo" "$ipy" <<'PY'
import json, sys
e, f, p = (json.loads(a) for a in sys.argv[1:4])
def get(d, k):
    return d.get(k) or None
out = {
    "bench": "kernel_floor",
    "exec_p50_ms": {"enclave": get(e, "exec_p50_ms"), "floor": get(f, "exec_p50_ms"), "ipykernel": get(p, "exec_p50_ms")},
    "exec_p50_above_floor_ms": round(e["exec_p50_ms"] - f["exec_p50_ms"], 3), "exec_p50_target": "<= 0.2",
    "stream_mb_s": {"enclave": get(e, "stream_mb_s"), "floor": get(f, "stream_mb_s"), "ipykernel": get(p, "stream_mb_s")},
    "stream_vs_floor": round(e["stream_mb_s"] / f["stream_mb_s"], 3) if get(f, "stream_mb_s") else None,
    "stream_target": ">= 0.8",
}
print(json.dumps(out))
PY
