"""The analysis API through the real kernel on a BigQuery workspace, served
by the goccy/bigquery-emulator binary that `make test-bigquery` builds and
names in ENCLAVE_BIGQUERY_EMULATOR. Without it these tests are skipped
(make test-e2e), unless ENCLAVE_BIGQUERY_REQUIRED=1 (make test-bigquery),
when a missing binary fails them."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "release"))
import workspace_fixture as wf  # noqa: E402

from bigquery_names import DATASET, PROJECT  # noqa: E402
PERSONS = int(os.environ.get("ENCLAVE_BIGQUERY_PERSONS", "300"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def emulator():
    binary = os.environ.get("ENCLAVE_BIGQUERY_EMULATOR", "")
    if not binary:
        if os.environ.get("ENCLAVE_BIGQUERY_REQUIRED") == "1":
            pytest.fail("ENCLAVE_BIGQUERY_EMULATOR is not set: run `make test-bigquery`")
        pytest.skip("no BigQuery emulator (ENCLAVE_BIGQUERY_EMULATOR unset; `make test-bigquery` builds and runs it)")
    port = free_port()
    proc = subprocess.Popen([binary, "--host=127.0.0.1", f"--project={PROJECT}", f"--dataset={DATASET}",
                             f"--port={port}", f"--grpc-port={free_port()}", "--log-level=error"])
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"emulator exited before answering: {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{endpoint}/bigquery/v2/projects/{PROJECT}/datasets", timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"emulator did not answer on {endpoint} within 60 s")
        time.sleep(0.1)  # polling the emulator's port until it listens
    yield endpoint
    proc.kill()
    proc.wait()


@pytest.fixture(scope="session")
def workspaces(emulator):
    """Two controlled-tier workspaces over the same synthetic import: one
    whose workspace.yaml names the emulator's dataset (the import loads the
    curated tier into it), and its copy without the bigquery block, served
    from the local DuckDB tier. Returns (base, bigquery ws, duckdb ws); the
    researcher registry is base/home, as workspace_fixture.Kernel wants it."""
    base = tempfile.mkdtemp(prefix="enclave-bq-")
    home = os.path.join(base, "home")
    env = {"ENCLAVE_HOME": home}
    omop = os.path.join(base, "omop")
    wf.enclave("synth", "--persons", str(PERSONS), "--seed", "1", "--out", omop, env=env)
    today = time.strftime("%Y-%m-%d")
    wf.enclave("researcher", "add", "demo", "--replace", "--name", "Demo Researcher", "--identity", "login.gov",
               "--rcr-training", today, "--code-of-conduct", "--institution", "Demo University", "--dura", "controlled",
               "--ct-training", today, env=env)
    bq = os.path.join(base, "bigquery")
    wf.enclave("workspace", "create", bq, "--tier", "controlled", "--name", "BigQuery conformance",
               "--purpose", "The same cells on a BigQuery dataset and on DuckDB.", "--researcher", "demo", env=env)
    conf = os.path.join(bq, "workspace.yaml")
    with open(conf) as f:
        w = yaml.safe_load(f)
    w["bigquery"] = {"project": PROJECT, "dataset": DATASET, "endpoint": emulator, "query_timeout": "2m"}
    with open(conf, "w") as f:
        yaml.safe_dump(w, f, sort_keys=False)
    r = wf.enclave("workspace", "import", bq, omop, env=env, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    duck = os.path.join(base, "duckdb")
    shutil.copytree(bq, duck)
    # The bigquery block removed as text: the import wrote timestamps a
    # YAML round trip would rewrite in another layout.
    conf = os.path.join(duck, "workspace.yaml")
    with open(conf) as f:
        lines = f.readlines()
    kept, inside = [], False
    for line in lines:
        if line.startswith("bigquery:"):
            inside = True
            continue
        if inside and (line.startswith((" ", "\t")) or not line.strip()):
            continue
        inside = False
        kept.append(line)
    assert len(kept) < len(lines), "no bigquery block in " + conf
    with open(conf, "w") as f:
        f.writelines(kept)
    yield base, bq, duck
    shutil.rmtree(base, ignore_errors=True)
