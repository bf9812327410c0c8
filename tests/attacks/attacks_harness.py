"""Drive the real enclave kernel with attack cells and watch for escapes.

Used by test_attacks.py and bench/sandbox.sh. Nothing here is specific to
pytest. The kernel runs from a temporary kernelspec (`$ENCLAVE install
--prefix TMP`) with a short cell timeout and output cap, and with canaries
around it that no cell may reach:

* a file (world-readable, so only the sandbox keeps it out) holding a token;
* an environment variable of the kernel process holding another token;
* the kernel's connection file (its HMAC key);
* a TCP listener on 127.0.0.1 that records every connection;
* a path a spawned process would create.
"""
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time

from jupyter_client.manager import KernelManager

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ENCLAVE = os.environ.get("ENCLAVE", os.path.join(ROOT, "bin", "enclave"))
WORKER = os.environ.get("ENCLAVE_WORKER", os.path.join(os.path.dirname(ENCLAVE), "enclave-worker"))
CASES_DIR = os.path.join(ROOT, "sandbox", "attacks")

CELL_TIMEOUT = "4s"     # ENCLAVE_CELL_TIMEOUT for the attack kernel (2 s was too tight on a loaded 2-core machine)
OUTPUT_CAP = 64 << 10   # ENCLAVE_OUTPUT_CAP (bytes per cell)
WAIT = 60               # seconds any one cell may take end to end
PROBE = 'import "fmt"\nfmt.Println("probe", 6*7)'

HEADER = re.compile(r"^//\s*(expect|match|output|shown|xfail|after|why|forbid):\s*(.*)$")


class Case:
    """One attack cell: a file sandbox/attacks/NAME.cell whose leading
    `// key: value` lines say what must happen."""

    def __init__(self, path, name=None, code=None):
        self.path = path
        self.name = name or os.path.basename(path)[: -len(".cell")]
        self.code = code if code is not None else open(path).read()
        self.meta = {}
        lines = self.code.splitlines()
        n = 0  # leading header lines, left out of the cell sent (a magic must come first)
        for line in lines:
            m = HEADER.match(line.strip())
            if not m:
                break
            self.meta.setdefault(m.group(1), []).append(m.group(2).strip())
            n += 1
        self.body = "\n".join(lines[n:]) + "\n"
        self.expect = self.first("expect")
        if self.expect not in ("error", "restart", "ok", "any"):
            raise ValueError(f"{path}: '// expect:' must be error, restart, ok or any, not {self.expect!r}")
        if not self.first("why"):
            raise ValueError(f"{path}: '// why:' missing (what the attacker hopes to reach)")

    def first(self, key, default=None):
        v = self.meta.get(key)
        return v[0] if v else default


def load_cases():
    """The .cell files, then one import case per line of blocked_imports.txt."""
    names = sorted(f for f in os.listdir(CASES_DIR) if f.endswith(".cell"))
    cases = [Case(os.path.join(CASES_DIR, n)) for n in names]
    path = os.path.join(CASES_DIR, "blocked_imports.txt")
    for line in open(path):
        pkg = line.strip()
        if not pkg or pkg.startswith("#"):
            continue
        code = (f"// expect: error\n// why: import {pkg}\n"
                f"// match: {re.escape(chr(34) + pkg + chr(34))}.*not available in this workspace\n"
                f'import "{pkg}"\n')
        slug = re.sub(r"[^A-Za-z0-9]+", "-", pkg).strip("-") or "dot"
        if pkg == ".":
            slug = "dot"
        elif pkg.startswith("."):
            slug = "relative-" + slug
        elif pkg.startswith("/"):
            slug = "absolute-" + slug
        cases.append(Case(path, name="import-" + slug, code=code))
    return cases


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop:
            try:
                c, addr = self.sock.accept()
            except OSError:
                return
            self.connections.append(addr)
            c.close()

    def close(self):
        self._stop = True
        self.sock.close()


class Result:
    def __init__(self):
        self.status = None
        self.msgs = []          # (msg_type, content) on iopub, execute_input left out
        self.stdout_bytes = 0
        self.seconds = 0.0

    def text(self):
        """Everything the frontend was shown, as one string."""
        return "\n".join(json.dumps(c, ensure_ascii=False) for _, c in self.msgs)

    def error(self):
        for t, c in self.msgs:
            if t == "error":
                return c
        return None

    def stdout(self):
        return "".join(c.get("text", "") for t, c in self.msgs if t == "stream" and c.get("name") == "stdout")


class AttackKernel:
    """The enclave kernel with canaries around it."""

    def __init__(self, name="enclave-attacks", extra_env=None):
        self.tmp = tempfile.mkdtemp(prefix="enclave-attacks-")
        os.chmod(self.tmp, 0o755)
        self.file_token = "canary-file-" + secrets.token_hex(8)
        self.env_token = "canary-env-" + secrets.token_hex(8)
        self.canary_file = os.path.join(self.tmp, "canary.txt")
        with open(self.canary_file, "w") as f:
            f.write(self.file_token + "\n")
        os.chmod(self.canary_file, 0o644)
        self.spawn_mark = os.path.join(self.tmp, "spawned")
        self.listener = Listener()
        self.log_path = os.path.join(self.tmp, "kernel.log")
        self.log = open(self.log_path, "w")

        prefix = os.path.join(self.tmp, "prefix")
        subprocess.run([ENCLAVE, "install", "--prefix", prefix, "--name", name, "--worker", WORKER],
                       check=True, capture_output=True, text=True)
        # Prepend, not replace: other suites in the same pytest process keep
        # finding their kernelspecs; restored in close().
        self._old_jupyter_path = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            p for p in (os.path.join(prefix, "share", "jupyter"), self._old_jupyter_path) if p)
        env = dict(os.environ)
        env.pop("ENCLAVE_WORKSPACE", None)
        env.update({"ENCLAVE_CELL_TIMEOUT": CELL_TIMEOUT, "ENCLAVE_OUTPUT_CAP": str(OUTPUT_CAP),
                    "ENCLAVE_CANARY": self.env_token})
        env.update(extra_env or {})
        self.km = KernelManager(kernel_name=name)
        self.km.start_kernel(env=env, stderr=self.log, stdout=self.log)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=WAIT)
        self.key = self.km.session.key.decode() if isinstance(self.km.session.key, bytes) else str(self.km.session.key)

    def placeholders(self, code):
        return (code.replace("{{CANARY_FILE}}", self.canary_file)
                    .replace("{{CONN_FILE}}", self.km.connection_file)
                    .replace("{{PORT}}", str(self.listener.port))
                    .replace("{{SPAWN_MARK}}", self.spawn_mark)
                    .replace("{{TMP}}", self.tmp)
                    .replace("{{KERNEL_PID}}", str(self.km.provisioner.process.pid if self.km.provisioner else 0)))

    def execute(self, code, timeout=WAIT):
        """Run one cell; return its Result (iopub messages, status, time)."""
        r = Result()
        kept = [0]

        def hook(msg):
            t = msg["msg_type"]
            if t in ("status", "execute_input"):
                return
            c = msg["content"]
            if t == "stream":
                r.stdout_bytes += len(c.get("text", ""))
                # keep the start of a flood, not all of it
                if kept[0] > 1 << 20:
                    return
                kept[0] += len(c.get("text", ""))
            r.msgs.append((t, c))

        t0 = time.monotonic()
        reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=hook, allow_stdin=False)
        r.seconds = time.monotonic() - t0
        r.status = reply["content"]["status"]
        if r.status == "error" and r.error() is None:
            r.msgs.append(("error", {"ename": reply["content"].get("ename", ""),
                                     "evalue": reply["content"].get("evalue", "")}))
        return r

    def kernel_info_ok(self, timeout=10):
        self.kc.kernel_info()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.kc.get_shell_msg(timeout=timeout)
            if msg["msg_type"] == "kernel_info_reply":
                return msg["content"]["status"] == "ok"
        return False

    def secrets(self):
        """Strings that must never appear in anything the frontend sees."""
        with open(self.km.connection_file) as f:
            conn = f.read()
        return {
            "canary file content": self.file_token,
            "kernel environment variable": self.env_token,
            "connection key": self.key,
            "connection file": '"signature_scheme"' if '"signature_scheme"' in conn else conn[:40],
            "/etc/passwd": "root:x:0:0:",
            "kernel's PATH": "/usr/local/sbin:",
        }

    def close(self):
        try:
            self.kc.stop_channels()
            self.km.shutdown_kernel(now=True)
        finally:
            self.listener.close()
            self.log.close()
            if self._old_jupyter_path is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = self._old_jupyter_path

    def cleanup(self):
        shutil.rmtree(self.tmp, True)


def main():
    """Print how each case ended: python3 tests/attacks/attacks_harness.py [NAME_SUBSTRING]"""
    import sys
    k = AttackKernel(name="enclave-attacks-summary")
    try:
        for c in load_cases():
            if len(sys.argv) > 1 and sys.argv[1] not in c.name:
                continue
            r = k.execute(k.placeholders(c.body))
            e = r.error() or {}
            said = (e.get("ename", "") + ": " + e.get("evalue", "")).replace("\n", " ")[:110]
            print(f"{c.name:38s} {c.expect:7s} {r.status:5s} {r.seconds:5.2f}s out={r.stdout_bytes:<8d} {said}", flush=True)
            p = k.execute(PROBE)
            if p.status != "ok":
                p = k.execute(PROBE)
                print(f"{'':38s} next cell needed a retry: {p.status}")
    finally:
        k.close()
        k.cleanup()


if __name__ == "__main__":
    main()
