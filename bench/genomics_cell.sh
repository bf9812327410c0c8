#!/usr/bin/env bash
# Genomics from a notebook cell vs plink: a logistic association scan of
# 100,000 variants × 20,000 persons with 3 covariates (age, sex,
# hypertension) + 10 PCs, run from a Go cell through the real kernel
# (genomics.GLM … .Covariates("age", "sex", htn, pcs)), against plink2 --glm
# and plink1.9 --logistic on the same .bed/.bim/.fam with the same
# phenotype and covariates.
#
# The workspace is the synthetic controlled demo (scripts/demo-workspace.sh
# with PERSONS persons, all genotyped, VARIANTS variants). The cell times
# are wall seconds from execute_request to execute_reply as a frontend sees
# them (the scan cell includes the SQL for the phenotype and covariates,
# the scan, the release rules over every row, the audit entry and the
# rendering). The same scan run by the steward through the analysis API
# (go test -run TestGenomicsBenchInputs) writes the phenotype and
# covariates for plink (the kernel standardises covariates, as plink2
# --covar-variance-standardize) and the released rows, which are compared
# with plink2's (max relative difference of OR and SE over non-Firth rows).
#
# Prints one JSON line per (case, tool) and a summary line.
#
# Environment: ENCLAVE (default bin/enclave), ENCLAVE_WORKER, THREADS (2; the
# kernel uses GOMAXPROCS=THREADS), BENCH_DIR (work directory, kept; default
# a temporary one, removed), PERSONS (20000), VARIANTS (100000),
# BENCH_SMALL=1 (2000 × 10000), SKIP_PLINK19=1 (plink1.9 --logistic with
# 13 covariates takes long), ENCLAVE_CPUPROFILE (a file: the kernel process
# writes its CPU profile there, for go tool pprof bin/enclave FILE).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
ENCLAVE=${ENCLAVE:-$root/bin/enclave}
export ENCLAVE_WORKER=${ENCLAVE_WORKER:-$(dirname "$ENCLAVE")/enclave-worker}
THREADS=${THREADS:-2}
PLINK2=${PLINK2:-plink2}
PLINK19=${PLINK19:-plink1.9}
PY=/usr/bin/python3
PERSONS=${PERSONS:-20000}
VARIANTS=${VARIANTS:-100000}
if [[ "${BENCH_SMALL:-0}" == 1 ]]; then PERSONS=2000 VARIANTS=10000; fi

for tool in "$ENCLAVE" "$PLINK2" "$PLINK19" /usr/bin/time "$PY" go; do
  command -v "$tool" >/dev/null || { echo "{\"bench\":\"genomics_cell\",\"error\":\"$tool not found\"}"; exit 1; }
done

if [[ -n "${BENCH_DIR:-}" ]]; then
  WORK=$BENCH_DIR; mkdir -p "$WORK"
else
  WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
fi
WORK=$(cd "$WORK" && pwd)
DEMO=$WORK/demo-$PERSONS-$VARIANTS

# The workspace (kept across runs in BENCH_DIR).
start=$(date +%s.%N)
DEMO=$DEMO ENCLAVE=$ENCLAVE PERSONS=$PERSONS SYNTH_FLAGS="--variants $VARIANTS --genotyped $PERSONS" \
  bash "$root/scripts/demo-workspace.sh" >/dev/null 2>"$WORK/demo.log"
echo "{\"bench\":\"genomics_cell\",\"case\":\"workspace\",\"persons\":$PERSONS,\"variants\":$VARIANTS,\"seconds\":$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}')}"
BFILE=$DEMO/controlled/data/genomics/cohort

# The cells, through a real kernel.
{ GOMAXPROCS=$THREADS ROOT=$root DEMO=$DEMO ENCLAVE=$ENCLAVE THREADS=$THREADS PERSONS=$PERSONS VARIANTS=$VARIANTS "$PY" - <<'EOF'
import json, os, shutil, sys, time
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests", "release"))
import workspace_fixture as wf

demo = os.environ["DEMO"]
kenv = {"GOMAXPROCS": os.environ["THREADS"], "ENCLAVE_CELL_TIMEOUT": "60m"}
if os.environ.get("ENCLAVE_CPUPROFILE"):
    kenv["ENCLAVE_CPUPROFILE"] = os.environ["ENCLAVE_CPUPROFILE"]
k = wf.Kernel(demo, wf.fresh_workspace(demo, "controlled"), env=kenv)
def pid_rss():
    try:
        pid = k.km.provisioner.process.pid
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except Exception:
        return None
def cpu_seconds():
    """CPU seconds (user + system) of the kernel and its live children
    (the worker): on a shared machine wall time also counts waiting."""
    try:
        pid = k.km.provisioner.process.pid
        pids = [pid]
        for t in os.listdir(f"/proc/{pid}/task"):
            pids += [int(c) for c in open(f"/proc/{pid}/task/{t}/children").read().split()]
        total = 0
        for p in pids:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += int(f[11]) + int(f[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")
    except Exception:
        return None
cells = [
    ("setup", '''import (
	"fmt"
	"enclave/genomics"
	"enclave/omop"
	"enclave/plot"
)
#
all := omop.Persons()
known := all.Female().Or(all.Male())
t2d := omop.Persons().WithCondition(omop.Concepts(201826).Descendants()...)
htn := omop.Persons().WithCondition(omop.Concepts(316866).Descendants()...)
g := genomics.Variants()
fmt.Println(g)'''),
    ("pca10", 'pcs := genomics.PCA(10).Of(known)\npcs'),
    ("logistic_scan", '''r := genomics.GLM(g, genomics.Binary(t2d)).Covariates("age", "sex", htn, pcs).Of(known)
fmt.Println(r.Tested(), r.Released(), r.Dropped())
r'''),
    ("manhattan", "plot.Manhattan(r)"),
    ("qq", "plot.QQ(r)"),
]
for name, code in cells:
    parts = code.split("\n#\n")
    t0, c0 = time.time(), cpu_seconds()
    for p in parts:
        rep, msgs = k.run(p, timeout=3600)
        if rep["status"] != "ok":
            print(json.dumps({"bench": "genomics_cell", "case": name, "tool": "enclave_cell", "error": rep.get("evalue")}))
            k.close(); sys.exit(1)
    secs, c1 = time.time() - t0, cpu_seconds()
    out = {"bench": "genomics_cell", "case": name, "tool": "enclave_cell", "n": int(os.environ["PERSONS"]),
           "m": int(os.environ["VARIANTS"]), "threads": int(os.environ["THREADS"]), "seconds": round(secs, 2),
           "cpu_seconds": round(c1 - c0, 2) if c0 is not None and c1 is not None else None}
    if name == "logistic_scan":
        text = "".join(m["content"].get("text", "") for m in msgs if m["msg_type"] == "stream").split()
        out["tested"], out["released"], out["dropped"] = map(int, text[:3])
        res = [m for m in msgs if m["msg_type"] == "execute_result"][-1]["content"]["data"]["text/plain"]
        out["lambda_line"] = next((l.strip() for l in res.splitlines() if "λ_GC" in l), "")
    out["kernel_peak_rss_kb"] = pid_rss()
    print(json.dumps(out, ensure_ascii=False), flush=True)
# A shutdown request, waited for, so that the kernel ends its CPU profile
# (Kernel.close kills it).
k.kc.stop_channels()
k.km.shutdown_kernel(now=False)
shutil.rmtree(k.prefix, ignore_errors=True)
EOF
} | tee "$WORK/cells.jsonl"

# The same scan's inputs for plink (the steward's side), built as bin/enclave
# is (GOEXPERIMENT=simd), so server_call times the code the kernel runs.
OUT=$WORK/plink-inputs
(cd "$root" && GOEXPERIMENT=simd GOMAXPROCS=$THREADS ENCLAVE_GENO_BENCH_WS=$DEMO/controlled ENCLAVE_GENO_BENCH_OUT=$OUT \
  go test -count=1 -run '^TestGenomicsBenchInputs$' ./analysis/ >"$WORK/inputs.log" 2>&1) || { echo "{\"bench\":\"genomics_cell\",\"error\":\"TestGenomicsBenchInputs: $(tail -1 "$WORK/inputs.log")\"}"; exit 1; }
sed 's/^{/{"tool":"enclave_api",/' "$OUT/server.json"; echo

# run CASE TOOL cmd...: one timed run, JSON line, seconds in SECS[TOOL].
declare -A SECS CPU
run() {
  local case=$1 tool=$2; shift 2
  if ! /usr/bin/time -v -o "$WORK/time.txt" "$@" >"$WORK/run.log" 2>&1; then
    echo "{\"bench\":\"genomics_cell\",\"case\":\"$case\",\"tool\":\"$tool\",\"error\":\"$(tail -1 "$WORK/run.log" | tr -d '"')\"}"
    return
  fi
  local wall rss cpu
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$WORK/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$WORK/time.txt")
  cpu=$(awk -F': ' '/(User|System) time \(seconds\)/{s+=$2} END{printf "%.2f", s}' "$WORK/time.txt")
  SECS[$tool]=$wall
  CPU[$tool]=$cpu
  echo "{\"bench\":\"genomics_cell\",\"case\":\"$case\",\"tool\":\"$tool\",\"n\":$PERSONS,\"m\":$VARIANTS,\"threads\":$THREADS,\"seconds\":$wall,\"cpu_seconds\":$cpu,\"peak_rss_kb\":$rss}"
}
cd "$WORK"
run logistic_scan plink2 "$PLINK2" --bfile "$BFILE" --pheno "$OUT/pheno.txt" --covar "$OUT/covar.txt" \
  --glm hide-covar firth-fallback --threads "$THREADS" --out p2
# The same scan by the steward's command line (the engine alone: no SQL,
# release rules, worker or protocol).
run logistic_scan enclave_cli "$ENCLAVE" genomics glm --bfile "$BFILE" --pheno "$OUT/pheno.txt" --covar "$OUT/covar.txt" \
  --hide-covar --threads "$THREADS" --out e
if [[ "${SKIP_PLINK19:-0}" != 1 ]]; then
  run logistic_scan plink1.9 "$PLINK19" --bfile "$BFILE" --pheno "$OUT/pheno.txt" --covar "$OUT/covar.txt" \
    --logistic hide-covar --allow-no-sex --threads "$THREADS" --out p1
fi

# Agreement of the released rows with plink2 (non-Firth ADD rows).
agree=$(awk -F'\t' 'FNR==1 { f++; for (i=1;i<=NF;i++) c[f,$i]=i; next }
  f==1 { or[$1]=$2; se[$1]=$3; next }
  $c[2,"TEST"]=="ADD" && ($1 in or) && $c[2,"FIRTH?"]=="N" {
    d=($c[2,"OR"]-or[$1])/or[$1]; if (d<0) d=-d; if (d>mx) mx=d
    d=($c[2,"LOG(OR)_SE"]-se[$1])/se[$1]; if (d<0) d=-d; if (d>mx) mx=d; n++ }
  END { printf "{\"rows_compared\":%d,\"max_rel_diff\":%.3g}", n, mx }' \
  "$OUT/released.tsv" <(sed 's/^#//' p2.T2D.glm.logistic.hybrid | awk -F'\t' 'NR==1 { for (i=1;i<=NF;i++) if ($i=="ID") id=i } { t=$id; $id=$1; $1=t; print }' OFS='\t'))
# Summary: the cell against plink1.9 (target <= 0.5x) and the cell's
# overhead over the same scan called in the kernel process without the
# worker and the protocol (server_call, target < 5%), in wall seconds
# and in CPU seconds (user + system: the kernel and the worker for the
# cell, the process for server_call and plink), which a machine shared
# with other work distorts less.
CELL=$(awk -F'"seconds": ' '/"case": "logistic_scan"/ { split($2, a, /[,}]/); print a[1] }' "$WORK/cells.jsonl")
CELLCPU=$(awk -F'"cpu_seconds": ' '/"case": "logistic_scan"/ { split($2, a, /[,}]/); print a[1] }' "$WORK/cells.jsonl")
SERVER=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["scan_seconds"])' "$OUT/server.json")
SERVERCPU=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["scan_cpu_seconds"])' "$OUT/server.json")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || a == "null" || b == "" || b == 0) print "null"; else printf "%.3f", a / b }'; }
R19=$(ratio "$CELL" "${SECS[plink1.9]:-}")
R2=$(ratio "$CELL" "${SECS[plink2]:-}")
R19CPU=$(ratio "$CELLCPU" "${CPU[plink1.9]:-}")
R2CPU=$(ratio "$CELLCPU" "${CPU[plink2]:-}")
OVER=$(awk -v c="$CELL" -v s="$SERVER" 'BEGIN { printf "%.3f", (c - s) / s }')
OVERCPU=$(awk -v c="$CELLCPU" -v s="$SERVERCPU" 'BEGIN { if (c == "null" || c == "") print "null"; else printf "%.3f", (c - s) / s }')
pass19=null; [[ "$R19" != null ]] && pass19=$(awk -v r="$R19" 'BEGIN { print (r <= 0.5) ? "true" : "false" }')
passOver=$(awk -v o="$OVER" 'BEGIN { print (o < 0.05) ? "true" : "false" }')
echo "{\"bench\":\"genomics_cell\",\"case\":\"logistic_scan\",\"summary\":true,\"cell_seconds\":$CELL,\"server_call_seconds\":$SERVER,\"enclave_cli_seconds\":${SECS[enclave_cli]:-null},\"plink2_seconds\":${SECS[plink2]:-null},\"plink19_seconds\":${SECS[plink1.9]:-null},\"cell_vs_plink19\":$R19,\"target_vs_plink19\":0.5,\"pass_vs_plink19\":$pass19,\"cell_vs_plink2\":$R2,\"cell_overhead\":$OVER,\"target_overhead\":0.05,\"pass_overhead\":$passOver,\"cell_cpu_seconds\":${CELLCPU:-null},\"server_call_cpu_seconds\":$SERVERCPU,\"plink19_cpu_seconds\":${CPU[plink1.9]:-null},\"plink2_cpu_seconds\":${CPU[plink2]:-null},\"cell_vs_plink19_cpu\":$R19CPU,\"cell_vs_plink2_cpu\":$R2CPU,\"cell_overhead_cpu\":$OVERCPU,\"agreement_with_plink2\":$agree}"
