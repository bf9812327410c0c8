#!/usr/bin/env bash
# Genomics benchmark: enclave vs plink2 vs plink1.9 on the same filesets, in
# one run, 2 threads each. Prints one JSON line per (dataset, analysis, tool)
# with wall seconds and peak RSS, and one summary line per (dataset,
# analysis) with the ratio to the faster plink, the target, and whether
# enclave's table is byte-identical to plink2's.
#
# Datasets: plink1.9 --dummy 10000 100000 (plink's own synthetic set) and the
# synthetic cohort (enclave genomics simulate, 20000 persons × 100000
# variants: rare-variant spectrum, ancestry structure, LD).
#
# Environment: ENCLAVE (binary, default bin/enclave), THREADS (2),
# BENCH_REPS (best of N runs, default 3), BENCH_DIR (work directory,
# default a temporary one, removed at the end), BENCH_SMALL=1 (1/10 sizes,
# for a quick check).
#
# Adding an analysis (glm, pca ...): append a line to CASES below:
#   name|target ratio|enclave args|plink2 args|plink1.9 args|output to compare[|datasets[|reps]]
# {P} is replaced by the fileset prefix, {D} by the dataset's directory and
# {O} by the output prefix of the run. Leave a plink column empty when that
# tool has no equivalent; leave the compare column empty to skip the
# byte-for-byte check (it compares {O}<suffix> of enclave and plink2).
# datasets is a glob over dataset names (default: all; "synthetic*" for
# cases that need the synthetic cohort's VCF or phenotypes), reps overrides
# BENCH_REPS for slow cases. A target of 0 reports the ratio without a
# pass/fail verdict.
set -euo pipefail

ENCLAVE=${ENCLAVE:-bin/enclave}
THREADS=${THREADS:-2}
REPS=${BENCH_REPS:-3}
PLINK2=${PLINK2:-plink2}
PLINK19=${PLINK19:-plink1.9}
TIME=/usr/bin/time

CASES=(
  "freq|1.2|genomics freq --bfile {P} --out {O}|--bfile {P} --freq --out {O}|--bfile {P} --freq --out {O}|.afreq"
  "hardy|1.2|genomics hardy --bfile {P} --out {O}|--bfile {P} --hardy --out {O}|--bfile {P} --hardy --out {O}|.hardy"
  "missing|1.2|genomics missing --bfile {P} --out {O}|--bfile {P} --missing --out {O}|--bfile {P} --missing --out {O}|.vmiss"
  "vcf-to-bed|1.2|genomics convert --vcf {D}/cohort.vcf.gz --out {O}|--vcf {D}/cohort.vcf.gz --make-bed --out {O}||.bed|synthetic*|1"
)

# calc EXPR: floating-point arithmetic and comparisons (1/0) through awk.
calc() { awk "BEGIN { print ($1) }"; }

for tool in "$ENCLAVE" "$PLINK2" "$PLINK19" "$TIME"; do
  command -v "$tool" >/dev/null || { echo "{\"bench\":\"genomics\",\"error\":\"$tool not found\"}"; exit 1; }
done

if [[ -n "${BENCH_DIR:-}" ]]; then
  WORK=$BENCH_DIR
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
fi

N_DUMMY=10000 M_DUMMY=100000 N_SYN=20000 M_SYN=100000
if [[ "${BENCH_SMALL:-0}" == 1 ]]; then
  N_DUMMY=1000 M_DUMMY=10000 N_SYN=2000 M_SYN=10000
fi

# Datasets: name → fileset prefix.
declare -A PREFIX
make_data() {
  local d=$WORK/dummy
  if [[ ! -f $d/dummy.bed ]]; then
    mkdir -p "$d"
    "$PLINK19" --dummy "$N_DUMMY" "$M_DUMMY" --seed 1 --out "$d/dummy" >/dev/null
  fi
  PREFIX[dummy-${N_DUMMY}x${M_DUMMY}]=$d/dummy
  local s=$WORK/synthetic
  if [[ ! -f $s/cohort.bed ]]; then
    local t0 t1
    t0=$(date +%s.%N)
    "$ENCLAVE" genomics simulate --persons "$N_SYN" --variants "$M_SYN" --seed 1 --threads "$THREADS" --out "$s" >/dev/null
    t1=$(date +%s.%N)
    printf '{"bench":"genomics","dataset":"synthetic-%dx%d","analysis":"simulate","tool":"enclave","seconds":%.3f}\n' \
      "$N_SYN" "$M_SYN" "$(calc "$t1 - $t0")"
  fi
  PREFIX[synthetic-${N_SYN}x${M_SYN}]=$s/cohort
}

# measure OUT_VAR_SECONDS OUT_VAR_RSS_KB command... : best wall time of REPS
# runs and the peak RSS of that run.
measure() {
  local __s=$1 __r=$2
  shift 2
  local _best="" _best_rss="" _i _t0 _t1 _el _rss
  for ((_i = 0; _i < ${REPS_CASE:-$REPS}; _i++)); do
    _t0=$(date +%s.%N)
    if ! "$TIME" -f '%M' -o "$WORK/time.out" "$@" >"$WORK/cmd.out" 2>&1; then
      echo "{\"bench\":\"genomics\",\"error\":\"command failed: $*\"}" >&2
      cat "$WORK/cmd.out" >&2
      return 1
    fi
    _t1=$(date +%s.%N)
    _el=$(calc "$_t1 - $_t0")
    _rss=$(tail -1 "$WORK/time.out")
    if [[ -z "$_best" ]] || (($(calc "$_el < $_best"))); then
      _best=$_el _best_rss=$_rss
    fi
  done
  printf -v "$__s" '%.3f' "$_best"
  printf -v "$__r" '%s' "$_best_rss"
}

subst() { # template prefix dir out
  local s=$1
  s=${s//\{P\}/$2}
  s=${s//\{D\}/$3}
  s=${s//\{O\}/$4}
  echo "$s"
}

make_data
for ds in $(printf '%s\n' "${!PREFIX[@]}" | sort); do
  p=${PREFIX[$ds]}
  dir=$(dirname "$p")
  for c in "${CASES[@]}"; do
    IFS='|' read -r name target eargs p2args p19args cmpsuffix dsglob reps <<<"$c"
    # shellcheck disable=SC2053
    [[ $ds == ${dsglob:-*} ]] || continue
    REPS_CASE=${reps:-$REPS}
    declare -A SEC=() RSS=()
    for tool in enclave plink2 plink1.9; do
      out=$WORK/out-$tool-$name
      case $tool in
        enclave) tmpl=$eargs; cmd=("$ENCLAVE") ;;
        plink2) tmpl=$p2args; cmd=("$PLINK2" --threads "$THREADS") ;;
        plink1.9) tmpl=$p19args; cmd=("$PLINK19" --threads "$THREADS") ;;
      esac
      [[ -z "$tmpl" ]] && continue
      # shellcheck disable=SC2206
      args=($(subst "$tmpl" "$p" "$dir" "$out"))
      [[ $tool == enclave ]] && args+=(--threads "$THREADS")
      measure sec rss "${cmd[@]}" "${args[@]}"
      SEC[$tool]=$sec RSS[$tool]=$rss
      printf '{"bench":"genomics","dataset":"%s","analysis":"%s","tool":"%s","threads":%d,"seconds":%s,"peak_rss_mb":%.1f}\n' \
        "$ds" "$name" "$tool" "$THREADS" "$sec" "$(calc "$rss / 1024")"
    done
    fastest=""
    for tool in plink2 plink1.9; do
      [[ -z "${SEC[$tool]:-}" ]] && continue
      if [[ -z "$fastest" ]] || (($(calc "${SEC[$tool]} < $fastest"))); then fastest=${SEC[$tool]}; fi
    done
    identical=null
    if [[ -n "$cmpsuffix" ]]; then
      if cmp -s "$WORK/out-enclave-$name$cmpsuffix" "$WORK/out-plink2-$name$cmpsuffix"; then identical=true; else identical=false; fi
    fi
    ratio=$(calc "${SEC[enclave]} / $fastest")
    pass=$( (($(calc "$ratio <= $target"))) && echo true || echo false)
    [[ $target == 0 ]] && pass=null
    printf '{"bench":"genomics","dataset":"%s","analysis":"%s","summary":true,"enclave_s":%s,"plink2_s":%s,"plink19_s":%s,"ratio_vs_fastest_plink":%.2f,"target":%s,"pass":%s,"identical_to_plink2":%s,"enclave_rss_mb":%.1f,"plink2_rss_mb":%.1f,"plink19_rss_mb":%.1f}\n' \
      "$ds" "$name" "${SEC[enclave]}" "${SEC[plink2]:-null}" "${SEC[plink1.9]:-null}" "$ratio" "$target" "$pass" "$identical" \
      "$(calc "${RSS[enclave]} / 1024")" "$(calc "${RSS[plink2]:-0} / 1024")" "$(calc "${RSS[plink1.9]:-0} / 1024")"
    unset SEC RSS
  done
done
