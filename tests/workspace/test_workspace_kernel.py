"""The kernel opens its workspace as the researcher: admitted researchers see
the workspace in %workspace, with what its tier left out; one whose training expired gets a kernel that
answers every cell with the exact reason.

Uses the kernelspec helper of tests/kernel (bin/enclave and bin/enclave-worker)
and a workspace built with the CLI from a tiny OMOP folder.
"""
import datetime
import json
import os
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "kernel"))

from test_workspace_cli import CONTROLLED, ENCLAVE, REGISTERED_ONLY, days_ago, one_year_after, run, tiny_folder  # noqa: E402

WORKER = os.environ.get("ENCLAVE_WORKER", str(pathlib.Path(ENCLAVE).parent / "enclave-worker"))
pytestmark = pytest.mark.skipif(not os.path.exists(WORKER), reason=f"{WORKER} not built")
TIMEOUT = 30


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import kernelspec_env  # installs the test kernelspec, sets JUPYTER_PATH
    home = tmp_path_factory.mktemp("kernel-home")
    ws = tmp_path_factory.mktemp("kernel-ws") / "w"
    run(home, "researcher", "add", "kim", "--identity", "id.me", "--rcr-training", days_ago(10),
        "--code-of-conduct", *REGISTERED_ONLY)
    run(home, "researcher", "add", "lee", "--identity", "id.me", "--rcr-training", days_ago(10),
        "--code-of-conduct", *REGISTERED_ONLY)
    run(home, "workspace", "create", ws, "--name", "Steps and sleep", "--purpose",
        "How daily steps relate to sleep duration", "--tier", "registered", "--researcher", "kim",
        "--researcher", "lee")
    folder = tiny_folder(tmp_path_factory.mktemp("omop"))
    # One observation period of a person not in person: kept in the base,
    # left out of the tier, and the researcher is told so.
    with open(folder / "observation_period.csv", "a") as f:
        f.write("4,9,2012-01-01,2020-01-01,44814724\n")
    run(home, "workspace", "import", ws, folder)
    # lee's training record turns out to be 400 days old.
    taken = days_ago(400)
    run(home, "researcher", "add", "lee", "--replace", "--identity", "id.me", "--rcr-training", taken,
        "--code-of-conduct", *REGISTERED_ONLY)
    return home, ws, kernelspec_env.KERNEL_NAME, taken


def start(setup, researcher):
    from jupyter_client.manager import KernelManager
    home, ws, name, _ = setup
    env = {k: v for k, v in os.environ.items() if k != "JUPYTERHUB_USER"}
    env.update(ENCLAVE_HOME=str(home), ENCLAVE_WORKSPACE=str(ws), ENCLAVE_RESEARCHER=researcher)
    km = KernelManager(kernel_name=name)
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)
    return km, kc


def execute(kc, code):
    out = []
    reply = kc.execute_interactive(code, timeout=TIMEOUT, output_hook=lambda m: out.append(m))
    return reply["content"], out


def shown(out):
    parts = []
    for m in out:
        c = m["content"]
        if m["msg_type"] == "stream":
            parts.append(c["text"])
        elif m["msg_type"] in ("display_data", "execute_result"):
            parts.extend(str(v) for v in c["data"].values())
    return "\n".join(parts)


def test_admitted_researcher_sees_workspace(setup):
    km, kc = start(setup, "kim")
    try:
        r, out = execute(kc, "%workspace")
        assert r["status"] == "ok", r
        s = shown(out)
        assert "Steps and sleep" in s and "How daily steps relate to sleep duration" in s
        assert "registered" in s and "omop" in s
        # What the tier left out, with the count rounded (1 row shows as ≤20).
        assert "left out of the registered tier" in s
        assert "≤20" in s and "not in person" in s
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_expired_training_refused_in_notebook(setup):
    *_, taken = setup
    km, kc = start(setup, "lee")
    try:
        for code in ("1 + 1", "%workspace"):
            r, _ = execute(kc, code)
            assert r["status"] == "error", r
            assert (f"Responsible Conduct of Research training expired on {one_year_after(taken)}"
                    in r["evalue"] + "\n".join(r.get("traceback", []))), r
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
