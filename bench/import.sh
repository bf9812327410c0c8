#!/usr/bin/env bash
# Import benchmark: `enclave workspace import` of the synthetic cohort (enclave
# synth, Parquet) into a registered tier workspace, as a steward runs it, at
# 100k and 1M persons, against two baselines measured in the same run on the
# same files:
#  * the earlier importer: `enclave workspace import` built from the
#    revision before the data-quality report (IMPORT_BASELINE), which
#    refused failed checks instead of reporting them. It is the importer the
#    time target was set against (102 s at 1M persons on 2 otherwise idle
#    cores), and it also built the registered tier, so its whole import
#    compares with the whole import here;
#  * a floor: bench/importfloor, the plain DuckDB load of every file (one
#    CREATE TABLE AS SELECT * FROM read_parquet per file, same memory_limit
#    and temp_directory, then a checkpoint) with no schema, checks or tiers.
#
# Prints one JSON line per size with, for the import: wall seconds of the
# whole import and of its phases (load = read every file and append it to
# the base database, checks = the data-quality checks, base = store the
# report and write the base database out, tier = build the workspace's
# tier), peak resident memory (/usr/bin/time -v), CPU seconds (user +
# system) and the share of the cores it got; the same for each baseline;
# and the ratios import/baseline and import/floor of wall and CPU seconds,
# which survive a noisy shared machine better than either wall time.
# Targets: peak RSS <= 2 GiB at every size; time: the import takes no longer
# than the earlier importer plus the tier (time_ok: load + checks + base <=
# the earlier importer's whole import, tier included; time_ok_whole: the
# whole import, tier included, <= the earlier importer's), by wall and by
# CPU seconds.
#
# Environment: ENCLAVE (binary, default bin/enclave, built when absent),
# IMPORT_SIZES (default "100000 1000000"), IMPORT_BASELINE (git revision of
# the earlier importer, default 2dbe626; "" skips it), BENCH_DIR (work
# directory; the synthetic folders and the baseline binary are kept there
# between runs; default a temporary one, removed at the end), GO (go
# binary). The import sets DuckDB's memory_limit from the machine's memory.
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
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}

if [[ -n "${BENCH_DIR:-}" ]]; then
  WORK=$BENCH_DIR; mkdir -p "$WORK"
else
  WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
fi
"$GO" build -o "$WORK/importfloor" ./bench/importfloor
BASELINE_REV=${IMPORT_BASELINE-2dbe626}
BASELINE=
if [[ -n $BASELINE_REV ]] && ! rev=$(git rev-parse --short=12 "$BASELINE_REV^{commit}" 2>/dev/null); then
  # A shallow clone lacks the earlier revision: measure without it.
  echo "bench/import.sh: revision $BASELINE_REV not in this clone (shallow?): no earlier-importer baseline" >&2
  BASELINE_REV=
fi
if [[ -n $BASELINE_REV ]]; then
  BASELINE=$WORK/enclave-$rev
  if [[ ! -x $BASELINE ]]; then
    src=$WORK/baseline-src-$rev
    rm -rf "$src"; mkdir -p "$src"
    git archive "$rev" | tar -x -C "$src"
    (cd "$src" && "$GO" build -o "$BASELINE.tmp" ./cmd/enclave) && mv "$BASELINE.tmp" "$BASELINE"
    rm -rf "$src"
  fi
fi
today=$(date +%F)
researcher() { # $1: binary, $2: ENCLAVE_HOME
  mkdir -p "$2"
  ENCLAVE_HOME=$2 "$1" researcher add bench --replace --identity login.gov --rcr-training "$today" --code-of-conduct \
    --institution "Bench University" --dura registered >/dev/null
}
researcher "$ENCLAVE" "$WORK/home"
[[ -z $BASELINE ]] || researcher "$BASELINE" "$WORK/home-baseline"
# import BINARY HOME WS FOLDER OUT ERR: a registered tier workspace WS
# created afresh and FOLDER imported into it under /usr/bin/time -v.
import() {
  rm -rf "$3"
  ENCLAVE_HOME=$2 "$1" workspace create "$3" --name "bench" --purpose "import benchmark" --tier registered \
    --researcher bench >/dev/null
  ENCLAVE_HOME=$2 "$TIME" -v "$1" workspace import "$3" "$4" >"$5" 2>"$6"
}

for n in $SIZES; do
  folder=$WORK/synth_$n
  if [[ ! -f $folder/.complete ]]; then
    rm -rf "$folder"
    "$ENCLAVE" synth --persons "$n" --seed 1 --out "$folder" >/dev/null
    touch "$folder/.complete"
  fi
  rm -rf "$WORK/floor.duckdb" "$WORK/floor.duckdb.wal"
  "$TIME" -v "$WORK/importfloor" -folder "$folder" -db "$WORK/floor.duckdb" >"$WORK/floor.out" 2>"$WORK/floor.err" || {
    tail -20 "$WORK/floor.err" >&2
    echo "{\"bench\":\"import\",\"persons\":$n,\"error\":\"floor load failed\"}"
    continue
  }
  rm -rf "$WORK/floor.duckdb" "$WORK/floor.duckdb.wal"
  if [[ -n $BASELINE ]]; then
    import "$BASELINE" "$WORK/home-baseline" "$WORK/ws_baseline" "$folder" "$WORK/baseline.out" "$WORK/baseline.err" || {
      tail -20 "$WORK/baseline.err" >&2
      echo "{\"bench\":\"import\",\"persons\":$n,\"error\":\"baseline import failed\"}"
      continue
    }
    rm -rf "$WORK/ws_baseline"
  else
    : >"$WORK/baseline.err"
  fi
  ws=$WORK/ws_$n
  import "$ENCLAVE" "$WORK/home" "$ws" "$folder" "$WORK/import.out" "$WORK/import.err" || {
    tail -20 "$WORK/import.err" >&2
    echo "{\"bench\":\"import\",\"persons\":$n,\"error\":\"import failed\"}"
    continue
  }
  "$PY" - "$n" "$WORK/import.err" "$ws" "$WORK/floor.err" "$WORK/floor.out" "$WORK/baseline.err" "$BASELINE_REV" <<'PYEOF'
import json, re, sys
n, err, ws = int(sys.argv[1]), open(sys.argv[2]).read(), sys.argv[3]
ferr, fout = open(sys.argv[4]).read(), json.loads(open(sys.argv[5]).read())
berr, brev = open(sys.argv[6]).read(), sys.argv[7]
def timed(t):  # /usr/bin/time -v: wall s, cpu s (user + system), cpu %, peak RSS MB
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t).group(1)
    secs = 0.0
    for part in wall.split(":"):
        secs = secs * 60 + float(part)
    cpu = float(re.search(r"User time \(seconds\): ([\d.]+)", t).group(1)) + float(re.search(r"System time \(seconds\): ([\d.]+)", t).group(1))
    pct = int(re.search(r"Percent of CPU this job got: (\d+)%", t).group(1))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
    return secs, cpu, pct, rss
secs, cpu_s, cpu_pct, rss_mb = timed(err)
fsecs, fcpu, fpct, frss = timed(ferr)
rows = int(re.search(r": \d+ files, (\d+) rows", err).group(1))
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
        phases[name] = round(go_seconds(dur), 2)
q = json.load(open(ws + "/data/quality.json"))
before_tiers = sum(v for k, v in phases.items() if not k.startswith("tier "))
out = {
    "bench": "import", "tool": "enclave workspace import (registered tier)", "persons": n, "rows": rows,
    "seconds": round(secs, 2), "cpu_s": round(cpu_s, 1), "cpu_pct": cpu_pct, "phases_s": phases,
    "before_tiers_s": round(before_tiers, 2), "peak_rss_mb": round(rss_mb, 1),
    "checks": len(q["checks"]), "failed_checks": sum(c["status"] == "fail" for c in q["checks"]),
    "floor": {"tool": "plain DuckDB CREATE TABLE AS read_parquet per file + checkpoint (bench/importfloor)",
              "rows": fout["rows"], "seconds": round(fsecs, 2), "load_s": fout["load_s"], "checkpoint_s": fout["checkpoint_s"],
              "cpu_s": round(fcpu, 1), "cpu_pct": fpct, "peak_rss_mb": round(frss, 1)},
    "ratio_wall": round(secs / fsecs, 2), "ratio_cpu": round(cpu_s / fcpu, 2),
    "ratio_before_tiers_wall": round(before_tiers / fsecs, 2),
    "target_rss_mb": 2048, "rss_ok": rss_mb <= 2048,
}
if berr:
    bsecs, bcpu, bpct, brss = timed(berr)
    out["baseline"] = {"tool": "enclave workspace import at %s (before the quality report; registered tier included)" % brev,
                       "seconds": round(bsecs, 2), "cpu_s": round(bcpu, 1), "cpu_pct": bpct, "peak_rss_mb": round(brss, 1)}
    out.update({
        "ratio_baseline_wall": round(secs / bsecs, 2), "ratio_baseline_cpu": round(cpu_s / bcpu, 2),
        "ratio_baseline_before_tiers_wall": round(before_tiers / bsecs, 2),
        "time_ok": before_tiers <= bsecs, "time_ok_whole": secs <= bsecs, "time_ok_whole_cpu": cpu_s <= bcpu,
    })
if n == 1000000:  # the issue's absolute figure, meaningful on 2 otherwise idle cores only
    out["before_tiers_le_102s"] = before_tiers <= 102
print(json.dumps(out))
PYEOF
  rm -rf "$ws"
done
