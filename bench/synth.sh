#!/usr/bin/env bash
# Synthetic cohort benchmark: `enclave synth` at 100k and 1M persons (Parquet,
# the default) and 100k persons as CSV. Prints one JSON line per run with wall
# seconds, peak RSS (/usr/bin/time -v), rows and bytes written, and a
# baseline line per run: writing the same number of bytes with dd (the
# floor any generator of that output pays on this disk). The target is
# 1M persons in under 120 s and 4 GiB of RAM on 2 cores.
#
# Environment: ENCLAVE (binary, default bin/enclave, built here from
# ./cmd/enclave when it is the default), SYNTH_SIZES (default "100000
# 1000000"), SYNTH_CSV_SIZES (default "100000"), THREADS (default: all
# CPUs), BENCH_DIR (work directory, default a temporary one, removed at the
# end).
set -euo pipefail
cd "$(dirname "$0")/.."

ENCLAVE=${ENCLAVE:-bin/enclave}
SIZES=${SYNTH_SIZES:-100000 1000000}
CSV_SIZES=${SYNTH_CSV_SIZES:-100000}
THREADS=${THREADS:-0}
TIME=/usr/bin/time
PY=/usr/bin/python3

if [[ "$ENCLAVE" == bin/enclave ]]; then
  go build -o bin/enclave ./cmd/enclave
fi
for tool in "$ENCLAVE" "$TIME" "$PY"; do
  command -v "$tool" >/dev/null || { echo "{\"bench\":\"synth\",\"error\":\"$tool not found\"}"; exit 1; }
done

WORK=${BENCH_DIR:-$(mktemp -d)}
cleanup() { [[ -n "${BENCH_DIR:-}" ]] || rm -rf "$WORK"; }
trap cleanup EXIT

run() { # persons format
  local n=$1 fmt=$2 out="$WORK/synth-$1-$2"
  rm -rf "$out"
  "$TIME" -v "$ENCLAVE" synth --persons "$n" --seed 1 --out "$out" --format "$fmt" --threads "$THREADS" --json \
    >"$WORK/summary.json" 2>"$WORK/time.txt" || { cat "$WORK/time.txt" >&2; echo "{\"bench\":\"synth\",\"persons\":$n,\"format\":\"$fmt\",\"error\":\"synth failed\"}"; return; }
  local bytes
  bytes=$(du -sb "$out" | cut -f1)
  "$PY" - "$n" "$fmt" "$bytes" "$WORK/summary.json" "$WORK/time.txt" <<'PYEOF'
import json, re, sys
n, fmt, nbytes, summary, timing = sys.argv[1:6]
s = json.load(open(summary))
t = open(timing).read()
rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t).group(1)
secs = 0.0
for part in wall.split(":"):
    secs = secs * 60 + float(part)
print(json.dumps({"bench": "synth", "tool": "enclave synth", "persons": int(n), "format": fmt,
                  "seconds": round(secs, 2), "peak_rss_mb": round(rss_kb / 1024, 1), "rows": s["rows"],
                  "bytes": int(nbytes), "rows_per_second": round(s["rows"] / secs),
                  "target_seconds": 120 if int(n) == 1000000 else None,
                  "target_rss_mb": 4096 if int(n) == 1000000 else None}))
PYEOF
  # Baseline: the same bytes written by dd and synced.
  local mb=$(( (bytes + 1048575) / 1048576 )) start end
  start=$(date +%s.%N)
  dd if=/dev/zero of="$WORK/dd.bin" bs=1M count="$mb" conv=fdatasync status=none
  end=$(date +%s.%N)
  rm -f "$WORK/dd.bin"
  "$PY" -c "import json,sys; print(json.dumps({'bench':'synth','tool':'dd (same bytes, baseline)','persons':$n,'format':'$fmt','bytes':$bytes,'seconds':round($end-$start,2)}))"
  rm -rf "$out"
}

for n in $SIZES; do run "$n" parquet; done
for n in $CSV_SIZES; do run "$n" csv; done
