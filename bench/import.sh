#!/usr/bin/env bash
# Import benchmark: `enclave workspace import` of the synthetic cohort (enclave
# synth, Parquet) into a registered tier workspace, as a steward runs it, at
# 100k and 1M persons. Prints one JSON line per size with the wall seconds of
# the whole import and of its phases (load = read every file into the base
# database, checks = the data-quality checks, tier = building the workspace's
# tier), the peak resident memory (/usr/bin/time -v), the rows imported, and
# the CPU seconds (user + system) and the share of the cores the import got
# (a wall time taken on a busy machine is read with it), and the targets:
# peak RSS <= 2 GiB at every size; at 1M persons load + checks <= 102 s (the
# import's time before the quality report, on 2 otherwise idle cores).
#
# Environment: ENCLAVE (binary, default bin/enclave, built when absent),
# IMPORT_SIZES (default "100000 1000000"), BENCH_DIR (work directory; the
# synthetic folders are kept there between runs; default a temporary one,
# removed at the end), ENCLAVE_MEMORY_LIMIT is not read: the import sets
# DuckDB's memory_limit from the machine's memory.
set -euo pipefail
cd "$(dirname "$0")/.."

ENCLAVE=${ENCLAVE:-bin/enclave}
SIZES=${IMPORT_SIZES:-100000 1000000}
TIME=/usr/bin/time
PY=/usr/bin/python3

if [[ ! -x $ENCLAVE ]]; then
  go build -o "$ENCLAVE" ./cmd/enclave
fi
for tool in "$ENCLAVE" "$TIME" "$PY"; do
  command -v "$tool" >/dev/null || { echo "{\"bench\":\"import\",\"error\":\"$tool not found\"}"; exit 1; }
done
ENCLAVE=$(cd "$(dirname "$ENCLAVE")" && pwd)/$(basename "$ENCLAVE")

if [[ -n "${BENCH_DIR:-}" ]]; then
  WORK=$BENCH_DIR; mkdir -p "$WORK"
else
  WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
fi
export ENCLAVE_HOME=$WORK/home
mkdir -p "$ENCLAVE_HOME"
today=$(date +%F)
"$ENCLAVE" researcher add bench --replace --identity login.gov --rcr-training "$today" --code-of-conduct \
  --institution "Bench University" --dura registered >/dev/null

for n in $SIZES; do
  folder=$WORK/synth_$n
  if [[ ! -f $folder/.complete ]]; then
    rm -rf "$folder"
    "$ENCLAVE" synth --persons "$n" --seed 1 --out "$folder" >/dev/null
    touch "$folder/.complete"
  fi
  ws=$WORK/ws_$n
  rm -rf "$ws"
  "$ENCLAVE" workspace create "$ws" --name "bench $n" --purpose "import benchmark" --tier registered \
    --researcher bench >/dev/null
  "$TIME" -v "$ENCLAVE" workspace import "$ws" "$folder" >"$WORK/import.out" 2>"$WORK/import.err" || {
    tail -20 "$WORK/import.err" >&2
    echo "{\"bench\":\"import\",\"persons\":$n,\"error\":\"import failed\"}"
    continue
  }
  "$PY" - "$n" "$WORK/import.err" "$ws" <<'PYEOF'
import json, re, sys
n, err, ws = int(sys.argv[1]), open(sys.argv[2]).read(), sys.argv[3]
rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1))
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", err).group(1)
secs = 0.0
for part in wall.split(":"):
    secs = secs * 60 + float(part)
rows = int(re.search(r": \d+ files, (\d+) rows", err).group(1))
# CPU seconds and share: on a machine shared with other work the wall time
# says as much about the neighbours as about the import; user + system time
# and the share of a core it got say how it was measured.
cpu_s = float(re.search(r"User time \(seconds\): ([\d.]+)", err).group(1)) + float(re.search(r"System time \(seconds\): ([\d.]+)", err).group(1))
cpu_pct = int(re.search(r"Percent of CPU this job got: (\d+)%", err).group(1))
def go_seconds(d):  # a Go duration: 1m42.5s, 980ms, 3.2s
    total = 0.0
    for v, unit in re.findall(r"([\d.]+)(h|ms|m|s|µs)", d):
        total += float(v) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "µs": 1e-6}[unit]
    return total
phases = {}
m = re.search(r"failed checks, [^(]*\((.*)\)\s*$", err, re.M)
if m:
    for part in m.group(1).split(", "):
        name, dur = part.rsplit(" ", 1)
        phases[name] = go_seconds(dur)
q = json.load(open(ws + "/data/quality.json"))
print(json.dumps({
    "bench": "import", "tool": "enclave workspace import (registered tier)", "persons": n, "rows": rows,
    "seconds": round(secs, 2), "cpu_s": round(cpu_s, 1), "cpu_pct": cpu_pct, "load_s": round(phases.get("load", 0), 2), "checks_s": round(phases.get("checks", 0), 2),
    "tier_s": round(phases.get("tier registered", 0), 2), "peak_rss_mb": round(rss_kb / 1024, 1),
    "checks": len(q["checks"]), "failed_checks": sum(c["status"] == "fail" for c in q["checks"]),
    "target_rss_mb": 2048, "target_load_checks_s": 102 if n == 1000000 else None,
    "rss_ok": rss_kb / 1024 <= 2048,
    "time_ok": (phases.get("load", 0) + phases.get("checks", 0) <= 102) if n == 1000000 else None,
}))
PYEOF
  rm -rf "$ws"
done
