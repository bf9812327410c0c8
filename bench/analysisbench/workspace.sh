#!/usr/bin/env bash
# Sourced by bench/analysis.sh and bench/release.sh (not run by `make bench`
# itself: it is not bench/*.sh). bench_workspace PERSONS prints the
# directory of a cached synthetic registered-tier workspace of PERSONS
# persons (seed 1), building it on first use the way
# scripts/demo-workspace.sh does (synth, researcher "demo" in a private
# ENCLAVE_HOME, workspace create + import; only the registered tier):
#
#   $BENCH_CACHE/omop         the synthetic OMOP folder
#   $BENCH_CACHE/home         ENCLAVE_HOME with researcher demo
#   $BENCH_CACHE/registered   the workspace
#
# BENCH_CACHE defaults to build/bench-1m for 1,000,000 persons and
# build/bench-N otherwise (build/ is gitignored). Building 1M persons takes
# several minutes; later runs reuse it. Each call clears the workspace's
# release history, audit log, airlock and exports so runs start alike.
bench_workspace() {
  local persons=$1 root enclave cache
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  enclave=${ENCLAVE:-$root/bin/enclave}
  if [[ $persons == 1000000 ]]; then cache=$root/build/bench-1m; else cache=$root/build/bench-$persons; fi
  cache=${BENCH_CACHE:-$cache}
  mkdir -p "$cache"
  cache=$(cd "$cache" && pwd)
  local ws=$cache/registered
  (
    set -euo pipefail
    export ENCLAVE_HOME=$cache/home
    unset ENCLAVE_WORKSPACE ENCLAVE_RESEARCHER JUPYTERHUB_USER
    mkdir -p "$ENCLAVE_HOME"
    # Once the workspace is imported the OMOP folder is not needed (it may
    # be deleted to save disk: 3.2 GB at 1M).
    if [[ ! -f $ws/.complete && ! -f $cache/omop/.complete ]]; then
      echo "bench: synthesising $persons persons into $cache/omop (minutes at 1M)" >&2
      rm -rf "$cache/omop" "$ws"
      "$enclave" synth --persons "$persons" --seed 1 --out "$cache/omop" >&2
      touch "$cache/omop/.complete"
    fi
    today=$(date +%F)
    "$enclave" researcher add demo --replace --name "Bench Researcher" \
      --identity login.gov --rcr-training "$today" --code-of-conduct \
      --institution "Bench University" --dura controlled --ct-training "$today" >/dev/null
    if [[ ! -f $ws/.complete ]]; then
      rm -rf "$ws"
      "$enclave" workspace create "$ws" --tier registered --name "bench $persons" \
        --purpose "Benchmark the analysis API on a synthetic cohort." --researcher demo >/dev/null
      echo "bench: importing $cache/omop into $ws" >&2
      "$enclave" workspace import "$ws" "$cache/omop" >&2
      touch "$ws/.complete"
    fi
    rm -rf "$ws/release" "$ws/airlock" "$ws/audit" "$ws/exports"
  ) || return 1
  echo "$ws"
}
