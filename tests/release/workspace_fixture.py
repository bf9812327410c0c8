"""A synthetic demo workspace for tests that need data, built once per
test session (5,000 persons, seed 1, about 20 s), and a kernel driver.

Tests that change the workspace's shared state (release history, audit
log, airlock) get their own copy with fresh_workspace(), so results do not
depend on test order.
"""
import atexit
import os
import shutil
import subprocess
import tempfile

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ENCLAVE = os.environ.get("ENCLAVE", os.path.join(ROOT, "bin", "enclave"))
WORKER = os.environ.get("ENCLAVE_WORKER", os.path.join(os.path.dirname(ENCLAVE), "enclave-worker"))
PERSONS = 5000


def build_demo(base):
    """Run scripts/demo-workspace.sh into base; returns base."""
    env = dict(os.environ, DEMO=base, PERSONS=str(PERSONS), ENCLAVE=ENCLAVE)
    for k in ("ENCLAVE_WORKSPACE", "ENCLAVE_RESEARCHER", "JUPYTERHUB_USER"):
        env.pop(k, None)
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "demo-workspace.sh")], env=env, check=True,
                   capture_output=True, text=True)
    return base


def fresh_workspace(demo, tier="registered", beside=None):
    """A copy of the demo workspace of tier with no release history, audit
    log or airlock yet, beside a copy of the demo's home (the researcher
    registry) without the researcher's own release history, which every
    workspace over the same data shares. With beside (a fresh workspace),
    the copy is another workspace of the same home."""
    dst = os.path.dirname(beside) if beside else tempfile.mkdtemp(prefix="enclave-ws-")
    if not beside:
        # Each copy is ~70 MB: removed when the test run ends, or repeated
        # runs fill the disk (1,577 of them had, one full /tmp).
        atexit.register(shutil.rmtree, dst, True)
    ws = os.path.join(dst, tier)
    while os.path.exists(ws):
        ws += "-2"
    shutil.copytree(os.path.join(demo, tier), ws)
    for d in ("release", "airlock", "audit", "exports"):
        shutil.rmtree(os.path.join(ws, d), ignore_errors=True)
    if not beside:
        shutil.copytree(os.path.join(demo, "home"), home_of(demo, ws), ignore=shutil.ignore_patterns("history"))
    return ws


def home_of(demo, ws):
    """The ENCLAVE_HOME of a kernel on ws: the one beside a fresh
    workspace, else the demo's."""
    if os.path.dirname(ws) != os.path.abspath(demo):
        return os.path.join(os.path.dirname(ws), "home")
    return os.path.join(demo, "home")


class Kernel:
    """A real enclave kernel on a workspace, driven as a frontend drives it."""

    def __init__(self, demo, ws, env=None):
        self.prefix = tempfile.mkdtemp(prefix="enclave-spec-")
        subprocess.run([ENCLAVE, "install", "--prefix", self.prefix, "--name", "enclave-rel", "--worker", WORKER,
                        "--workspace", ws, "--researcher", "demo", "--env", "ENCLAVE_HOME=" + home_of(demo, ws)]
                       + [a for k, v in (env or {}).items() for a in ("--env", f"{k}={v}")],
                       check=True, capture_output=True)
        # Only this kernel's spec directory, without changing the
        # environment other test modules rely on.
        ksm = KernelSpecManager(kernel_dirs=[os.path.join(self.prefix, "share", "jupyter", "kernels")])
        self.km = KernelManager(kernel_name="enclave-rel", kernel_spec_manager=ksm)
        self.km.start_kernel()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code, timeout=120, **kw):
        """Runs a cell; returns (reply content, [iopub messages of the cell])."""
        msg_id = self.kc.execute(code, **kw)
        msgs = []
        while True:
            m = self.kc.get_iopub_msg(timeout=timeout)
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                break
            msgs.append(m)
        while True:
            r = self.kc.get_shell_msg(timeout=timeout)
            if r["parent_header"].get("msg_id") == msg_id:
                return r["content"], msgs

    def restart(self):
        self.km.restart_kernel(now=True)
        self.kc.wait_for_ready(timeout=60)

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
        shutil.rmtree(self.prefix, ignore_errors=True)


def texts(msgs):
    """Everything the frontend received for a cell, as one string."""
    import json
    return "\n".join(json.dumps(m["content"], ensure_ascii=False) for m in msgs)


def html_of(msgs):
    for m in msgs:
        if m["msg_type"] in ("execute_result", "display_data"):
            h = m["content"]["data"].get("text/html")
            if h:
                return h
    return ""


def plain_of(msgs):
    for m in msgs:
        if m["msg_type"] in ("execute_result", "display_data"):
            p = m["content"]["data"].get("text/plain")
            if p:
                return p
    return ""


def enclave(*args, check=True, env=None):
    e = dict(os.environ, **(env or {}))
    return subprocess.run([ENCLAVE, *args], capture_output=True, text=True, check=check, env=e)
