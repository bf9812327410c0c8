#!/usr/bin/env bash
# Sandbox costs, as JSON lines:
#   1. worker startup (launch.Start → Ready), hardened vs plain (the baseline:
#      same binary, no namespaces/rlimits/uid drop/Landlock/seccomp), median
#      of STARTS starts each (and without each of netns, fsroot, userns), and
#      idle RSS — from `enclave doctor --json --breakdown`;
#   2. crash recovery through the real kernel: ms from the crashed cell's
#      error reply to the next cell's reply, for an out-of-memory crash and a
#      fatal "concurrent map writes", median of CRASHES each, against the same
#      next cell on a healthy worker.
# Usage: bench/sandbox.sh   (env: ENCLAVE=bin/enclave, STARTS=20, CRASHES=10)
set -euo pipefail
cd "$(dirname "$0")/.."
ENCLAVE=${ENCLAVE:-$PWD/bin/enclave}
ENCLAVE_WORKER=${ENCLAVE_WORKER:-$(dirname "$ENCLAVE")/enclave-worker}
STARTS=${STARTS:-20}
CRASHES=${CRASHES:-10}
export ENCLAVE ENCLAVE_WORKER CRASHES PYDEVD_DISABLE_FILE_VALIDATION=1

doc=$("$ENCLAVE" doctor --json --breakdown --starts "$STARTS" --worker "$ENCLAVE_WORKER")
/usr/bin/python3 - "$doc" <<'EOF'
import json, sys
d = json.loads(sys.argv[1])
print(json.dumps({"bench": "sandbox.startup", "starts": d["starts"],
                  "hardened_ms": d["startup_hardened_ms"], "plain_ms": d["startup_plain_ms"],
                  "overhead_ms": round(d["startup_hardened_ms"] - d["startup_plain_ms"], 2),
                  "without_layer_ms": d.get("startup_without_ms", {})}))
print(json.dumps({"bench": "sandbox.idle_rss", "hardened_kib": d["idle_rss_hardened_kib"],
                  "plain_kib": d["idle_rss_plain_kib"]}))
print(json.dumps({"bench": "sandbox.layers", "inactive": d["inactive"] or [],
                  "active": len(d["kernel_side"]) + len(d["worker_side"]) + len(d.get("verified") or []) - len(d["inactive"] or []),
                  "landlock_abi": d["landlock_abi"]}))
EOF

/usr/bin/python3 -Xfrozen_modules=off - <<'EOF'
import json, os, statistics, sys, time
sys.path.insert(0, os.path.join(os.getcwd(), "tests", "attacks"))
import attacks_harness as harness

n = int(os.environ.get("CRASHES", "10"))
crashes = {
    "oom": "b := make([]byte, 100<<30)\nb[len(b)-1] = 1",
    "fatal_concurrent_map_writes": 'import "time"\nm := map[int]int{}\nfor g := 0; g < 4; g++ {\n\tgo func() {\n\t\tfor j := 0; ; j++ {\n\t\t\tm[j%1000] = j\n\t\t}\n\t}()\n}\ntime.Sleep(1500 * time.Millisecond)',
}
k = harness.AttackKernel(name="enclave-bench-sandbox")
try:
    k.execute(harness.PROBE)  # first worker up
    healthy = [k.execute(harness.PROBE).seconds * 1000 for _ in range(n)]
    print(json.dumps({"bench": "sandbox.next_cell_healthy", "runs": n,
                      "median_ms": round(statistics.median(healthy), 2)}))
    for name, code in crashes.items():
        rec = []
        for _ in range(n):
            r = k.execute(code)
            assert r.status == "error", (name, r.text()[:200])
            p = k.execute(harness.PROBE)   # sent as soon as the crash was reported
            assert p.status == "ok", (name, p.text()[:200])
            rec.append(p.seconds * 1000)
        print(json.dumps({"bench": "sandbox.recover_after_crash", "crash": name, "runs": n,
                          "median_ms": round(statistics.median(rec), 2), "max_ms": round(max(rec), 2),
                          "baseline_healthy_ms": round(statistics.median(healthy), 2)}))
finally:
    k.close()
    k.cleanup()
EOF
