"""enclave driven end to end by jupyter_client, as Jupyter's server drives it."""
import json
import os
import signal
import subprocess
import tempfile
import time

import pytest
from jupyter_client.manager import KernelManager

import kernelspec_env

TIMEOUT = 30


@pytest.fixture
def kernel():
    km = KernelManager(kernel_name=kernelspec_env.KERNEL_NAME)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)
    yield km, kc
    kc.stop_channels()
    if km.is_alive():
        km.shutdown_kernel(now=True)


def run(kc, code, timeout=TIMEOUT, **kw):
    """Execute code; return (reply content, [(msg_type, content)] of its iopub messages)."""
    out = []
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda m: out.append((m["msg_type"], m["content"])), **kw)
    return reply["content"], out


def text(out, name="stdout"):
    return "".join(c["text"] for t, c in out if t == "stream" and c["name"] == name)


def result(out):
    for t, c in out:
        if t == "execute_result":
            return c["data"]["text/plain"]
    return None


STARTED = "enclave-test: cell running"


def start_running(kc, code):
    """Send code behind a statement printing STARTED; return its msg_id once
    that marker reached iopub, so the cell is running past it."""
    msg_id = kc.execute('println("%s")\n%s' % (STARTED, code))
    while True:
        m = kc.get_iopub_msg(timeout=TIMEOUT)
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        if m["msg_type"] == "stream" and STARTED in m["content"]["text"]:
            return msg_id
        assert m["msg_type"] in ("status", "execute_input", "stream"), m


def test_execute_state_and_counter(kernel):
    _, kc = kernel
    r1, _ = run(kc, "x := 20")
    r2, out = run(kc, "x + 22")
    assert r1["status"] == r2["status"] == "ok"
    assert r2["execution_count"] == r1["execution_count"] + 1
    assert result(out) == "42"


def test_interrupt_infinite_loop(kernel):
    km, kc = kernel
    run(kc, "kept := 7")
    msg_id = start_running(kc, "for {}")
    t0 = time.time()
    km.interrupt_kernel()  # interrupt_mode message: interrupt_request on control
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "error"
    assert time.time() - t0 < 5, "the interrupt took too long"
    r, out = run(kc, "kept + 1")
    assert r["status"] == "ok", r
    assert result(out) == "8", "a cooperative interrupt must keep the worker's state"


def test_sigint_interrupts(kernel):
    km, kc = kernel
    msg_id = start_running(kc, "for {}")
    os.kill(km.provisioner.process.pid, signal.SIGINT)
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "error"
    r, _ = run(kc, "1 + 1")
    assert r["status"] == "ok"


def test_worker_crash_by_unbounded_recursion(kernel):
    _, kc = kernel
    run(kc, "lost := 1")
    r, out = run(kc, "func down(n int) int { return down(n+1) + 1 }\ndown(0)", timeout=120)
    assert r["status"] == "error"
    assert "the Go worker stopped" in r["evalue"], r["evalue"]
    assert "variables were lost" in r["evalue"], r["evalue"]
    assert any(t == "error" for t, _ in out)
    r, out = run(kc, 'import "fmt"\nfmt.Println("alive")')
    assert r["status"] == "ok", r
    assert text(out) == "alive\n"
    r, _ = run(kc, "lost")
    assert r["status"] == "error", "variables must be gone after a worker crash"


def test_restart(kernel):
    km, kc = kernel
    run(kc, "before := 1")
    km.restart_kernel()
    kc.wait_for_ready(timeout=TIMEOUT)
    r, out = run(kc, "3 * 3")
    assert r["status"] == "ok" and r["execution_count"] == 1
    assert result(out) == "9"
    r, _ = run(kc, "before")
    assert r["status"] == "error"


def test_shutdown_is_clean_and_quick(kernel):
    km, kc = kernel
    t0 = time.time()
    km.shutdown_kernel(now=False)
    assert not km.is_alive()
    assert time.time() - t0 < 5


def test_stdin_input(kernel):
    _, kc = kernel
    msg_id = kc.execute('import "fmt"\nvar name string\nfmt.Scanln(&name)\nfmt.Println("hello,", name)', allow_stdin=True)
    req = kc.get_stdin_msg(timeout=TIMEOUT)
    assert req["msg_type"] == "input_request"
    assert req["parent_header"]["msg_id"] == msg_id
    kc.input("Ada")
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    assert reply["content"]["status"] == "ok", reply["content"]
    out = []
    while True:
        m = kc.get_iopub_msg(timeout=TIMEOUT)
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        if m["msg_type"] == "stream":
            out.append(m["content"]["text"])
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            break
    assert "hello, Ada" in "".join(out)


def test_stop_on_error_aborts_queued_cells(kernel):
    _, kc = kernel
    # The failing cell takes a moment, as real ones do, so the next request
    # is on the wire before the failure is answered. (A cell that fails in
    # well under a millisecond can be answered before a Python client has
    # even sent its next request; the kernel cannot tell that request from
    # one sent after the failure was seen, and runs it.)
    bad = kc.execute('import "time"\ntime.Sleep(100 * time.Millisecond)\npanic("first")')
    queued = kc.execute("1 + 1")
    replies = {}
    while len(replies) < 2:
        m = kc.get_shell_msg(timeout=TIMEOUT)
        replies[m["parent_header"]["msg_id"]] = m["content"]
    assert replies[bad]["status"] == "error"
    assert replies[queued]["status"] == "aborted"
    r, _ = run(kc, "2 + 2")
    assert r["status"] == "ok"
    bad = kc.execute('panic("again")', stop_on_error=False)
    after = kc.execute("3 + 3")
    replies = {}
    while len(replies) < 2:
        m = kc.get_shell_msg(timeout=TIMEOUT)
        replies[m["parent_header"]["msg_id"]] = m["content"]
    assert replies[after]["status"] == "ok"


def test_output_streams_while_the_cell_runs(kernel):
    _, kc = kernel
    msg_id = kc.execute('import (\n\t"fmt"\n\t"time"\n)\nfor i := 0; i < 3; i++ {\n\tfmt.Println("tick", i)\n\ttime.Sleep(300 * time.Millisecond)\n}')
    first = None
    while True:
        m = kc.get_iopub_msg(timeout=TIMEOUT)
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        if m["msg_type"] == "stream" and first is None:
            first = time.time()
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            done = time.time()
            break
    assert first is not None
    assert done - first > 0.4, "stream output arrived only at the end of the cell"


def test_user_expressions(kernel):
    _, kc = kernel
    r, _ = run(kc, "v := 5", user_expressions={"double": "v * 2", "broken": 'panic("no")'})
    ue = r["user_expressions"]
    assert ue["double"]["status"] == "ok" and ue["double"]["data"]["text/plain"] == "10"
    assert ue["broken"]["status"] == "error"


def test_comm_open_gets_comm_close(kernel):
    _, kc = kernel
    msg = kc.session.msg("comm_open", {"comm_id": "c-1", "target_name": "jupyter.widget", "data": {}})
    kc.shell_channel.send(msg)
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        m = kc.get_iopub_msg(timeout=TIMEOUT)
        if m["msg_type"] == "comm_close":
            assert m["content"]["comm_id"] == "c-1"
            break
    else:
        pytest.fail("no comm_close")
    kc.comm_info()
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    assert reply["content"] == {"status": "ok", "comms": {}}


def test_workspace_magic_without_workspace(kernel):
    _, kc = kernel
    r, out = run(kc, "%workspace")
    assert r["status"] == "ok"
    assert "No workspace is open" in text(out)


def test_refused_workspace_still_starts_and_says_why(tmp_path):
    env = dict(os.environ, ENCLAVE_WORKSPACE=str(tmp_path / "nowhere"), ENCLAVE_RESEARCHER="r1",
               ENCLAVE_HOME=str(tmp_path / "home"))
    km = KernelManager(kernel_name=kernelspec_env.KERNEL_NAME)
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=TIMEOUT)
        info = kc.kernel_info(reply=True, timeout=TIMEOUT)["content"]
        assert info["status"] == "ok"
        for code in ("1 + 1", "%workspace"):
            r, out = run(kc, code)
            assert r["status"] == "error"
            assert r["ename"] == "WorkspaceRefused"
            assert "nowhere" in r["evalue"] or r["evalue"], r
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


# Bad input to `enclave kernel`: a clear message and a non-zero exit, never a hang.

def conn_file(tmp_path, **over):
    info = {"transport": "tcp", "ip": "127.0.0.1", "shell_port": 0, "control_port": 0, "iopub_port": 0,
            "stdin_port": 0, "hb_port": 0, "signature_scheme": "hmac-sha256", "key": "k"}
    import socket
    for k in [k for k in info if k.endswith("_port")]:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        info[k] = s.getsockname()[1]
        s.close()
    info.update(over)
    p = tmp_path / "kernel.json"
    p.write_text(json.dumps(info))
    return p, info


def enclave_kernel(*args, env=None):
    return subprocess.run([kernelspec_env.ENCLAVE, "kernel", "--worker", kernelspec_env.WORKER, *args],
                          capture_output=True, text=True, timeout=20, env=env)


def test_malformed_connection_file(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"ip": "127.0.0.1",\n "shell_port": ,}')
    r = enclave_kernel("--connection-file", str(p))
    assert r.returncode != 0
    assert str(p) in r.stderr and "line 2" in r.stderr, r.stderr


def test_missing_connection_file(tmp_path):
    r = enclave_kernel(str(tmp_path / "none.json"))
    assert r.returncode != 0 and "none.json" in r.stderr


def test_port_in_use(tmp_path):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        p, _ = conn_file(tmp_path, shell_port=s.getsockname()[1])
        r = enclave_kernel(str(p))
        assert r.returncode != 0
        assert "shell socket" in r.stderr, r.stderr
    finally:
        s.close()


def test_unreachable_address(tmp_path):
    p, _ = conn_file(tmp_path, ip="192.0.2.1")  # TEST-NET-1: not on this host
    r = enclave_kernel(str(p))
    assert r.returncode != 0 and "cannot listen" in r.stderr, r.stderr


def test_missing_worker_binary(tmp_path):
    p, _ = conn_file(tmp_path)
    r = subprocess.run([kernelspec_env.ENCLAVE, "kernel", "--worker", str(tmp_path / "no-worker"), str(p)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "worker binary" in r.stderr and "missing" in r.stderr, r.stderr


def test_install_and_uninstall(tmp_path):
    r = subprocess.run([kernelspec_env.ENCLAVE, "install", "--prefix", str(tmp_path), "--name", "go-x",
                        "--display-name", "Go X", "--worker", kernelspec_env.WORKER], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    d = tmp_path / "share" / "jupyter" / "kernels" / "go-x"
    spec = json.loads((d / "kernel.json").read_text())
    assert os.path.isabs(spec["argv"][0]) and "{connection_file}" in spec["argv"]
    assert spec["language"] == "go" and spec["interrupt_mode"] == "message" and spec["display_name"] == "Go X"
    for logo in ("logo-32x32.png", "logo-64x64.png", "logo-svg.svg"):
        assert (d / logo).stat().st_size > 0
    assert (d / "logo-64x64.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    listed = subprocess.run(["/usr/bin/python3", "-m", "jupyter_client.kernelspecapp", "list", "--json"],
                            capture_output=True, text=True,
                            env=dict(os.environ, JUPYTER_PATH=str(tmp_path / "share" / "jupyter")))
    assert "go-x" in json.loads(listed.stdout)["kernelspecs"]
    r = subprocess.run([kernelspec_env.ENCLAVE, "uninstall", "--prefix", str(tmp_path), "--name", "go-x"], capture_output=True, text=True)
    assert r.returncode == 0 and not d.exists()
    r = subprocess.run([kernelspec_env.ENCLAVE, "uninstall", "--prefix", str(tmp_path), "--name", "go-x"], capture_output=True, text=True)
    assert r.returncode != 0 and "not installed" in r.stderr


def test_ipc_transport(tmp_path):
    km = KernelManager(kernel_name=kernelspec_env.KERNEL_NAME, transport="ipc", ip=str(tmp_path / "k"))
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=TIMEOUT)
        r, out = run(kc, "2 * 21")
        assert r["status"] == "ok" and result(out) == "42"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.mark.parametrize("scheme,key", [("hmac-sha512", b"k" * 32), ("hmac-sha1", b"secret"), ("hmac-sha256", b"")])
def test_signature_schemes(scheme, key):
    from jupyter_client.session import Session
    km = KernelManager(kernel_name=kernelspec_env.KERNEL_NAME, session=Session(key=key, signature_scheme=scheme))
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=TIMEOUT)
        r, out = run(kc, "6 * 7")
        assert r["status"] == "ok" and result(out) == "42"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
