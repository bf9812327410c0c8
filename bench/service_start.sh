#!/usr/bin/env bash
# Kernel start through the enclave service against today's direct start, in
# one run, measured by ../shared/bench/kernel_latency.py as a frontend sees
# them: `enclave launch` asking `enclave serve` (as its own user) for a kernel,
# and `enclave kernel` started by Jupyter itself. Both kernels open no
# workspace, as in bench/kernel.sh. Runs alternate (ROUNDS each) so that load
# from elsewhere on the host hits both alike; medians are compared.
#
# As root (with useradd) the service runs as a throwaway system user, removed
# at the end; otherwise it runs as the current user. Prints one JSON line per
# run and a summary: {"bench":"service_start", ..., "delta_ms": …, "target": "<= 20"}.
#
# Env: ENCLAVE (default bin/enclave), ENCLAVE_WORKER (default next to it),
#      KERNEL_LATENCY (default ../shared/bench/kernel_latency.py),
#      ROUNDS (default 5), N (cells per run, default 50).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
enclave=${ENCLAVE:-$root/bin/enclave}
worker=${ENCLAVE_WORKER:-$(dirname "$enclave")/enclave-worker}
script=${KERNEL_LATENCY:-$root/../shared/bench/kernel_latency.py}
rounds=${ROUNDS:-5}
n=${N:-50}
py=/usr/bin/python3

for f in "$enclave" "$worker" "$script"; do
  [ -e "$f" ] || { echo "bench/service_start.sh: $f is missing (run make build)" >&2; exit 1; }
done

tmp=$(mktemp -d)
chmod 755 "$tmp"
svc_user=""
svc_pid=""
cleanup() {
  if [ -n "$svc_pid" ]; then kill "$svc_pid" 2>/dev/null || true; wait "$svc_pid" 2>/dev/null || true; fi
  if [ -n "$svc_user" ]; then userdel "$svc_user" 2>/dev/null || true; groupdel "$svc_user" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# Binaries where the service user can run them.
mkdir "$tmp/bin"
cp "$enclave" "$worker" "$tmp/bin/"
chmod 755 "$tmp/bin"
E=$tmp/bin/enclave
home=$tmp/state
sock=$tmp/run/sock

run_as_svc() { "$@"; }
if [ "$(id -u)" -eq 0 ] && command -v useradd >/dev/null; then
  svc_user=encb$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
  "$E" serve --install --user "$svc_user" --home "$home" --socket "$sock" --unit-dir "$tmp/unit" --no-systemctl >/dev/null
  run_as_svc() { setpriv --reuid "$svc_user" --regid "$svc_user" --init-groups env -i PATH=/usr/bin:/bin "$@"; }
else
  mkdir -m 700 "$home"
fi

# The steward maps this user to a researcher; the service runs as its user.
me=$(id -un)
today=$(date +%F)
run_as_svc sh -c 'umask 077 && exec "$@"' steward env ENCLAVE_HOME="$home" "$E" researcher add bench \
  --identity login.gov --rcr-training "$today" --code-of-conduct --institution Bench --dura controlled >/dev/null
run_as_svc sh -c 'umask 077 && exec "$@"' steward env ENCLAVE_HOME="$home" "$E" map-user "$me" bench >/dev/null
# In the background without a subshell, so that $! is the service itself.
# Its log comes through a fifo, read until "listening on" (no polling), then
# copied on to serve.log in the background.
mkfifo "$tmp/serve.fifo"
if [ -n "$svc_user" ]; then
  setpriv --reuid "$svc_user" --regid "$svc_user" --init-groups env -i PATH=/usr/bin:/bin \
    "$E" serve --home "$home" --socket "$sock" >/dev/null 2>"$tmp/serve.fifo" &
else
  "$E" serve --home "$home" --socket "$sock" >/dev/null 2>"$tmp/serve.fifo" &
fi
svc_pid=$!
exec 3<"$tmp/serve.fifo"
listening=""
while IFS= read -r -t 60 line <&3; do
  echo "$line" >>"$tmp/serve.log"
  if [[ $line == *"listening on"* ]]; then listening=1; break; fi
done
[ -n "$listening" ] || { echo "bench/service_start.sh: enclave serve failed:" >&2; cat "$tmp/serve.log" >&2; exit 1; }
cat <&3 >>"$tmp/serve.log" &
exec 3<&-

"$E" install --prefix "$tmp/jupyter" --name enclave-direct --worker "$tmp/bin/enclave-worker" >/dev/null
"$E" install --prefix "$tmp/jupyter" --name enclave-service --service --socket "$sock" >/dev/null
export JUPYTER_PATH="$tmp/jupyter/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"

results=()
for _ in $(seq "$rounds"); do
  for k in enclave-direct enclave-service; do
    r=$("$py" "$script" "$k" --n "$n" 2>"$tmp/$k.err" | tail -1) || {
      echo "bench/service_start.sh: $k run failed:" >&2; tail -20 "$tmp/$k.err" >&2; tail -20 "$tmp/serve.log" >&2; exit 1; }
    echo "$r"
    results+=("$r")
  done
done

"$py" - "${results[@]}" <<'PY'
import json, statistics, sys
runs = [json.loads(a) for a in sys.argv[1:]]
def med(kernel, key):
    return round(statistics.median(r[key] for r in runs if r["kernel"] == kernel), 1)
d, s = med("enclave-direct", "ready_ms"), med("enclave-service", "ready_ms")
print(json.dumps({
    "bench": "service_start", "rounds": len(runs) // 2,
    "direct_ready_ms": d, "service_ready_ms": s, "delta_ms": round(s - d, 1), "target": "<= 20",
    "within_target": s - d <= 20,
    "direct_exec_p50_ms": med("enclave-direct", "exec_p50_ms"), "service_exec_p50_ms": med("enclave-service", "exec_p50_ms"),
}))
PY
