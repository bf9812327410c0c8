#!/usr/bin/env bash
# bench/omop.sh — OMOP data layer: import throughput (rows/s), tier build
# time, and a gender × condition crosstab of distinct persons through the
# Catalog compared with plain DuckDB SQL (the baseline) on the same file.
# Prints one JSON object per line.
#
# Env: OMOP_BENCH_PERSONS (default 100000; 1000000 takes ~4-5 min on 2 cores),
#      OMOP_BENCH_DIR (scratch, default ${TMPDIR:-/tmp}/enclave-bench-omop),
#      ENCLAVE (enclave binary with `synth`, default bin/enclave, built if absent).
set -euo pipefail
cd "$(dirname "$0")/.."
persons=${OMOP_BENCH_PERSONS:-100000}
dir=${OMOP_BENCH_DIR:-${TMPDIR:-/tmp}/enclave-bench-omop}
enclave=${ENCLAVE:-bin/enclave}
mkdir -p "$dir"

if [[ ! -x $enclave ]]; then
	go build -o "$dir/enclave" ./cmd/enclave
	enclave=$dir/enclave
fi
if ! "$enclave" help 2>&1 | grep -q 'synth --persons'; then
	echo '{"bench":"omop","skipped":"enclave synth not available yet"}'
	exit 0
fi

folder=$dir/synth_${persons}
if [[ ! -f $folder/.complete ]]; then
	rm -rf "$folder"
	start=$(date +%s.%N)
	"$enclave" synth --persons "$persons" --seed 1 --out "$folder" >&2
	end=$(date +%s.%N)
	touch "$folder/.complete"
	printf '{"bench":"omop_synth_input","persons":%d,"seconds":%.2f}\n' "$persons" "$(echo "$end - $start" | bc)"
fi

go test -c -o "$dir/omop.test" ./datasets/omop
mkdir -p "$dir/ws"
ENCLAVE_BENCH_OMOP_FOLDER=$folder ENCLAVE_BENCH_OMOP_DIR=$dir/ws \
	/usr/bin/time -f '{"bench":"omop_peak_rss","max_rss_kib":%M,"wall_s":%e}' \
	"$dir/omop.test" -test.run '^TestBenchOMOP$' 2>"$dir/omop_bench.log" | grep '^{' || {
	echo '{"bench":"omop","error":"see '"$dir"'/omop_bench.log"}'
	exit 1
}
grep '^{"bench":"omop_peak_rss"' "$dir/omop_bench.log" || true
rm -rf "$dir/ws"
