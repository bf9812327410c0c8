"""`enclave doctor` through the built binaries: it starts the real worker,
reports every layer, and on a host like CI's (root, Landlock ABI ≥ 6) all of
them are active."""
import json
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ENCLAVE = os.environ.get("ENCLAVE", os.path.join(ROOT, "bin", "enclave"))
WORKER = os.environ.get("ENCLAVE_WORKER", os.path.join(os.path.dirname(ENCLAVE), "enclave-worker"))


def doctor(*args):
    out = subprocess.run([ENCLAVE, "doctor", "--worker", WORKER, "--starts", "2", *args],
                         check=True, capture_output=True, text=True, timeout=120)
    return out.stdout


def test_doctor_json_reports_every_layer():
    d = json.loads(doctor("--json"))
    names = [l.split(":")[0] for l in d["kernel_side"] + d["worker_side"]]
    for want in ("userns", "netns", "env", "fds", "session", "rlimits", "no_new_privs", "landlock", "seccomp"):
        assert want in names, f"doctor does not report {want}: {names}"
    assert d["startup_hardened_ms"] > 0 and d["startup_plain_ms"] > 0
    assert d["idle_rss_hardened_kib"] > 0
    assert "plain_warning" not in d, d.get("plain_warning")
    if os.geteuid() == 0 and d["landlock_abi"] >= 6:
        assert d["inactive"] == [], f"layers not active on this host: {d['inactive']}"


def test_doctor_text_names_the_worker_and_the_verdict():
    text = doctor()
    assert WORKER in text
    assert "layers active" in text or "NOT fully active" in text
    assert "worker startup" in text and "idle worker memory" in text


def test_doctor_strict_fails_on_a_weaker_worker(tmp_path):
    """--strict is a deployment check: a worker that cannot run in the empty
    root (here: a shell wrapper around the real one) makes it fail."""
    wrapper = tmp_path / "worker.sh"
    wrapper.write_text(f"#!/bin/sh\nexec {WORKER} \"$@\"\n")
    wrapper.chmod(0o755)
    os.chmod(tmp_path, 0o755)
    out = subprocess.run([ENCLAVE, "doctor", "--worker", str(wrapper), "--starts", "1", "--strict"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "fsroot: unavailable" in out.stderr
    subprocess.run([ENCLAVE, "doctor", "--worker", WORKER, "--starts", "1", "--strict"],
                   check=True, capture_output=True, text=True, timeout=120)
