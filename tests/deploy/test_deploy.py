"""A protected deployment end to end: `enclave serve` as its own system user,
researchers as their own Unix users, kernels through `enclave launch`.

As root, the test creates throwaway users (the service user through
`enclave serve --install`, researchers A and B, and C whom nobody mapped),
gives them homes under a temporary directory, lets the service user import
a small synthetic cohort into two workspaces (wa for A, wb for B) with
umask 077, starts the service as that user, and drives kernels with
jupyter_client from a process running as the researcher
(researcher_driver.py under setpriv). Everything — users, groups, homes,
service state — is removed at the end.
"""
import json
import os
import queue
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ENCLAVE = os.environ.get("ENCLAVE", os.path.join(ROOT, "bin", "enclave"))
WORKER = os.environ.get("ENCLAVE_WORKER", os.path.join(os.path.dirname(ENCLAVE), "enclave-worker"))
DRIVER = os.path.join(os.path.dirname(__file__), "researcher_driver.py")
PY = "/usr/bin/python3"
IN_CI = os.environ.get("CI") == "true"
TOOLS = ("useradd", "userdel", "setpriv")

if os.geteuid() != 0:
    pytest.skip("the deployment test creates Unix users: it needs root", allow_module_level=True)
if not all(shutil.which(t) for t in TOOLS) and not IN_CI:
    pytest.skip(f"the deployment test needs {', '.join(TOOLS)}", allow_module_level=True)


class Log:
    """The service's log, read line by line as it is written; tests wait
    for lines instead of sleeping."""

    def __init__(self, stream):
        self.lines, self.cond = [], threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_for(self, pattern, timeout=30, start=0):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[start:]:
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no log line matching {pattern!r}; log:\n" + "\n".join(self.lines[-40:]))
                self.cond.wait(left)

    def mark(self):
        with self.cond:
            return len(self.lines)


def run(*args, check=True, **kw):
    p = subprocess.run(list(args), capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{args} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def as_user(user, *argv, env=None):
    """argv as Unix user (uid, gid and groups), with only env."""
    e = [f"{k}={v}" for k, v in (env or {}).items()]
    return ["setpriv", "--reuid", user, "--regid", user, "--init-groups", "env", "-i", *e, *argv]


def uid_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d))
    return out


def wait_exit(pids, timeout):
    """Waits (pidfd) until every pid has ended; returns those still alive."""
    fds = {}
    for p in pids:
        try:
            fds[p] = os.pidfd_open(p)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    try:
        while fds:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select(list(fds.values()), [], [], left)
            for p, fd in list(fds.items()):
                if fd in ready:
                    os.close(fd)
                    del fds[p]
        return sorted(fds)
    finally:
        for fd in fds.values():
            os.close(fd)


class Deployment:
    pass


def read_unit(path):
    """The [Service] keys of a systemd unit: key -> values in order."""
    keys, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line.strip("[]")
            elif section == "Service":
                k, v = line.split("=", 1)
                keys.setdefault(k, []).append(v)
    return keys


@pytest.fixture(scope="module")
def dep():
    if not all(shutil.which(t) for t in TOOLS):
        pytest.fail(f"CI runs the deployment test as root: {', '.join(TOOLS)} must be installed")
    d = Deployment()
    tag = "enc" + uuid.uuid4().hex[:6]
    d.svc, d.a, d.b, d.c = tag + "-svc", tag + "-a", tag + "-b", tag + "-c"
    d.base = tempfile.mkdtemp(prefix="enclave-deploy-")
    os.chmod(d.base, 0o755)
    users, procs = [], []
    try:
        # Binaries where every user can run them.
        d.bin = os.path.join(d.base, "bin")
        os.mkdir(d.bin)
        for b in (ENCLAVE, WORKER, DRIVER):
            shutil.copy(b, d.bin)
        os.chmod(d.bin, 0o755)
        d.enclave = os.path.join(d.bin, "enclave")
        d.driver = os.path.join(d.bin, os.path.basename(DRIVER))
        d.home = os.path.join(d.base, "state")
        d.socket = os.path.join(d.base, "run", "sock")

        # The service user, its home and socket directory, its unit.
        users.append(d.svc)
        out = run(d.enclave, "serve", "--install", "--user", d.svc, "--home", d.home, "--socket", d.socket,
                  "--unit-dir", os.path.join(d.base, "unit"), "--no-systemctl").stdout
        assert "created system user" in out, out
        for u in (d.a, d.b, d.c):
            home = os.path.join(d.base, "home-" + u)
            users.append(u)
            run("useradd", "--no-create-home", "--home-dir", home, "--user-group", "--shell", "/bin/sh", u)
            os.mkdir(home, 0o700)
            shutil.chown(home, u, u)
        d.uid = {u: int(run("id", "-u", u).stdout) for u in users}

        # The steward's work, as the service user with umask 077.
        omop = os.path.join(d.base, "omop")
        run(d.enclave, "synth", "--persons", "1000", "--seed", "1", "--out", omop)
        run("chmod", "-R", "a+rX", omop)
        steward_env = {"PATH": "/usr/bin:/bin", "ENCLAVE_HOME": d.home}

        def steward(*args):
            return run(*as_user(d.svc, "sh", "-c", 'umask 077 && exec "$@"', "steward", d.enclave, *args, env=steward_env))

        today = time.strftime("%Y-%m-%d")
        for r in ("a", "b"):
            steward("researcher", "add", r, "--identity", "login.gov", "--rcr-training", today, "--code-of-conduct",
                    "--institution", "Test University", "--dura", "controlled", "--ct-training", today)
        steward("map-user", d.a, "a")
        steward("map-user", d.b, "b")
        d.ws = {}
        for name, who in (("wa", "a"), ("wb", "b")):
            d.ws[name] = os.path.join(d.home, "workspaces", name)
            steward("workspace", "create", d.ws[name], "--tier", "registered", "--name", name.upper(),
                    "--purpose", "deployment test", "--researcher", who)
            steward("workspace", "import", d.ws[name], omop)
        assert "permissions ok" in steward("serve", "--check", "--home", d.home).stdout

        # The service, as the unit --install wrote says: its User, UMask,
        # Environment and ExecStart (systemd itself does not run here).
        unit = read_unit(os.path.join(d.base, "unit", "enclave.service"))
        assert unit["User"] == [d.svc] and unit["Group"] == [d.svc] and unit["UMask"] == ["0077"], unit
        exec_start = unit["ExecStart"][0].split()
        assert exec_start == [d.enclave, "serve", "--home", d.home, "--socket", d.socket], exec_start
        env = dict(e.split("=", 1) for e in unit["Environment"])
        d.proc = subprocess.Popen(as_user(unit["User"][0], "sh", "-c", 'umask "$0" && exec "$@"', unit["UMask"][0],
                                          *exec_start, env={"PATH": "/usr/bin:/bin", **env}),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        procs.append(d.proc)
        d.log = Log(d.proc.stderr)
        d.log.wait_for(r"listening on ")

        # One kernelspec per workspace, installed by the steward for all.
        d.jupyter = os.path.join(d.base, "jupyter")
        for name in d.ws:
            run(d.enclave, "install", "--prefix", d.jupyter, "--service", "--socket", d.socket, "--workspace", name)
        # and one without a workspace (kernel "enclave"); and, for
        # contrast, a single-user kernelspec (enclave kernel, no service).
        run(d.enclave, "install", "--prefix", d.jupyter, "--service", "--socket", d.socket)
        run(d.enclave, "install", "--prefix", d.jupyter, "--name", "enclave-single")
        run("chmod", "-R", "a+rX", d.jupyter)
        d.jupyter_path = os.path.join(d.jupyter, "share", "jupyter")
        yield d
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        # Whatever the test users still run was started by this test.
        uids = {int(run("id", "-u", u, check=False).stdout or -1) for u in users}
        for pid in [int(x) for x in os.listdir("/proc") if x.isdigit()]:
            try:
                if uid_of(pid)[0] in uids:
                    os.kill(pid, signal.SIGKILL)
            except (OSError, TypeError):
                pass
        for u in users:
            run("userdel", u, check=False)
            run("groupdel", u, check=False)
        shutil.rmtree(d.base, ignore_errors=True)


class Researcher:
    """A researcher's Jupyter (researcher_driver.py) running as their Unix user."""

    def __init__(self, dep, user, env=None):
        self.home = os.path.join(dep.base, "home-" + user)
        e = {"HOME": self.home, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "JUPYTER_PATH": dep.jupyter_path}
        e.update(env or {})
        self.err = tempfile.TemporaryFile(mode="w+")
        self.p = subprocess.Popen(as_user(user, PY, dep.driver, env=e), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.replies = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.replies.put(line)
        self.replies.put(None)

    def call(self, cmd, timeout=120, **kw):
        self.p.stdin.write(json.dumps({"cmd": cmd, **kw}) + "\n")
        self.p.stdin.flush()
        try:
            line = self.replies.get(timeout=timeout)
        except queue.Empty:
            line = None
        if line is None:
            self.err.seek(0)
            raise AssertionError(f"the researcher's Jupyter gave no answer to {cmd}:\n{self.err.read()[-3000:]}")
        r = json.loads(line)
        if not r.pop("ok"):
            self.err.seek(0)
            raise AssertionError(f"{cmd} {kw}: {r['error']}\n{self.err.read()[-3000:]}")
        return r

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write(json.dumps({"cmd": "exit"}) + "\n")
                self.p.stdin.close()
                self.p.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()
        self.err.close()


@pytest.fixture
def researcher(dep):
    opened = []

    def make(user, env=None):
        r = Researcher(dep, user, env)
        opened.append(r)
        return r

    yield make
    for r in opened:
        r.close()


def kernel_of(dep, launcher_pid, since=0):
    """(kernel id, kernel pid) the service started for this launcher."""
    m = dep.log.wait_for(rf"(k\d+) pid (\d+): Unix user \S+ \(uid \d+, launcher pid {launcher_pid}\)", start=since)
    return m.group(1), int(m.group(2))


COUNT = "%sql SELECT COUNT(*) AS persons FROM person"


def persons(reply):
    assert reply["status"] == "ok", reply
    m = re.search(r"persons\s+persons\s*\n[-\s]+\n\s*([\d,]+)", reply["text"])
    assert m, reply["text"]
    return int(m.group(1).replace(",", ""))


def test_service_runs_as_its_user(dep):
    assert set(uid_of(dep.proc.pid)) == {dep.uid[dep.svc]}
    spares = children(dep.proc.pid)
    assert spares, "the service keeps a spare kernel"
    for pid in spares:
        assert set(uid_of(pid)) == {dep.uid[dep.svc]}


def test_service_refuses_root_and_open_files(dep):
    p = run(dep.enclave, "serve", "--home", dep.home, "--socket", os.path.join(dep.base, "other.sock"), check=False)
    assert p.returncode == 1 and "refusing to serve as root" in p.stderr, p.stderr
    bad = os.path.join(dep.base, "bad-home")
    os.mkdir(bad, 0o700)
    with open(os.path.join(bad, "researchers.yaml"), "w") as f:
        f.write("researchers: {}\n")
    os.chmod(os.path.join(bad, "researchers.yaml"), 0o644)
    run("chown", "-R", f"{dep.svc}:{dep.svc}", bad)
    p = run(*as_user(dep.svc, dep.enclave, "serve", "--home", bad, "--socket", os.path.join(dep.base, "bad.sock"),
                     env={"PATH": "/usr/bin:/bin"}), check=False)
    assert p.returncode == 1, p.stderr
    assert "refusing to serve" in p.stderr and "researchers.yaml: is mode 0644, open to group or others" in p.stderr, p.stderr


@pytest.mark.parametrize("claim", [{"ENCLAVE_RESEARCHER": "b"}, {"JUPYTERHUB_USER": "b"}])
def test_kernel_runs_as_service_user_for_the_socket_peer(dep, researcher, claim):
    """A's kernel answers with data from A's workspace; the environment's
    claim to be B changes nothing, and the kernel runs as the service user."""
    env = dict(claim, ENCLAVE_WORKSPACE=dep.ws["wb"], ENCLAVE_HOME=os.path.join(dep.base, "home-" + dep.a))
    a = researcher(dep.a, env)
    since = dep.log.mark()
    launcher = a.call("start", kernel="enclave-wa")["launcher_pid"]
    assert uid_of(launcher)[0] == dep.uid[dep.a]
    _, kpid = kernel_of(dep, launcher, since)
    assert set(uid_of(kpid)) == {dep.uid[dep.svc]}
    w = a.call("run", code="%workspace")
    assert w["status"] == "ok" and "workspace:  WA" in w["text"] and "researcher: a" in w["text"], w
    assert f"identity:   Unix user {dep.a} (uid {dep.uid[dep.a]}), from the enclave service's socket" in w["text"], w
    assert "ENCLAVE_" not in w["text"] and "JUPYTERHUB_USER" not in w["text"], w
    assert 0 < persons(a.call("run", code=COUNT)) <= 1000
    s = a.call("run", code="%sandbox")["text"]
    assert "mode         service (protected deployment)" in s, s
    assert f"kernel user  {dep.svc}" in s and f"Unix user {dep.a}" in s, s
    assert "files        protected: " in s, s


def test_kernel_without_workspace_says_so_in_service_terms(dep, researcher):
    a = researcher(dep.a)
    a.call("start", kernel="enclave")
    w = a.call("run", code="%workspace")
    assert w["status"] == "ok" and "this kernel's kernelspec names no workspace" in w["text"], w
    assert "ENCLAVE_WORKSPACE" not in w["text"], w
    r = a.call("run", code=COUNT)
    assert r["status"] == "error" and "kernelspec names no workspace" in r["evalue"], r
    s = a.call("run", code="%sandbox")["text"]
    assert "mode         service (protected deployment)" in s and "researcher   a," in s, s
    assert "files        protected: 2 entries checked" in s, s


def test_researcher_cannot_read_the_service_files(dep, researcher):
    a = researcher(dep.a)
    a.call("start", kernel="enclave-wa")
    persons(a.call("run", code=COUNT))  # a release: history and audit exist
    a.call("shutdown")
    ws = dep.ws["wa"]
    files = {
        "base database": os.path.join(ws, "data", "cdm.duckdb"),
        "tier database": os.path.join(ws, "data", "tier_registered.duckdb"),
        "registry": os.path.join(dep.home, "researchers.yaml"),
        "release history": os.path.join(ws, "release", "history.jsonl"),
        "audit log": os.path.join(ws, "audit", "audit.jsonl"),
        "other workspace": os.path.join(dep.ws["wb"], "data", "tier_registered.duckdb"),
    }
    for what, path in files.items():
        assert os.path.exists(path), what
        got = a.call("read", path=path)
        assert got["errno"] == 13, f"{what} {path}: {got}"


@pytest.mark.parametrize("named", ["wb", "../workspaces/wb"])
def test_edited_kernelspec_naming_another_workspace_is_refused(dep, researcher, named):
    a = researcher(dep.a)
    a.call("edit_spec", src="enclave-wa", dst="mine", workspace=named,
           env={"ENCLAVE_WORKSPACE": dep.ws["wb"], "ENCLAVE_RESEARCHER": "b", "JUPYTERHUB_USER": "b"})
    since = dep.log.mark()
    a.call("start", kernel="mine")
    dep.log.wait_for(r"as researcher \"a\", workspace .*refused", start=since)
    r = a.call("run", code=COUNT)
    assert r["status"] == "error", r
    if named == "wb":
        assert 'researcher a is not a member of workspace "WB"' in r["evalue"], r
    else:
        assert "is not a workspace" in r["evalue"] or "use letters, digits" in r["evalue"], r
    assert "WB" not in a.call("run", code="%workspace")["text"].replace('"WB"', "")


def test_unmapped_user_is_refused_with_the_reason(dep, researcher):
    c = researcher(dep.c)
    c.call("start", kernel="enclave-wa")
    r = c.call("run", code=COUNT)
    assert r["status"] == "error"
    assert f"Unix user {dep.c} (uid {dep.uid[dep.c]}) is not mapped to a researcher" in r["evalue"], r


@pytest.mark.parametrize("how", ["message", "signal"])
def test_interrupt_through_the_launcher(dep, researcher, how):
    a = researcher(dep.a)
    a.call("start", kernel="enclave-wa")
    a.call("run", code="kept := 7")
    msg = a.call("send", code='println("spinning")\nfor {}', until="spinning")["msg_id"]
    a.call("interrupt", how=how)
    r = a.call("reply", msg_id=msg, busy_seen=True, timeout=30)
    assert r["status"] == "error", r
    r = a.call("run", code="kept + 1")
    assert r["status"] == "ok" and "8" in r["text"], r
    assert persons(a.call("run", code=COUNT)) > 0


@pytest.mark.parametrize("now", [False, True])
def test_restart_through_the_launcher(dep, researcher, now):
    a = researcher(dep.a)
    first = a.call("start", kernel="enclave-wa")["launcher_pid"]
    since = dep.log.mark()
    _, kpid = kernel_of(dep, first)
    a.call("run", code="lost := 1")
    second = a.call("restart", now=now)["launcher_pid"]
    assert second != first
    assert wait_exit([first, kpid], 5) == []
    _, kpid2 = kernel_of(dep, second, since)
    assert kpid2 != kpid
    r = a.call("run", code="lost")
    assert r["status"] == "error" and "undefined" in r["evalue"], r
    assert persons(a.call("run", code=COUNT)) > 0


def test_killing_the_launcher_ends_kernel_and_worker(dep, researcher):
    a = researcher(dep.a)
    launcher = a.call("start", kernel="enclave-wa")["launcher_pid"]
    a.call("run", code="x := 1")  # the worker runs
    kid, kpid = kernel_of(dep, launcher)
    workers = children(kpid)
    assert workers, "the kernel has a worker"
    since = dep.log.mark()
    t0 = time.monotonic()
    os.kill(launcher, signal.SIGKILL)
    alive = wait_exit([kpid, *workers], 2)
    took = time.monotonic() - t0
    assert alive == [], f"still running {took:.2f}s after kill -9 of the launcher: {alive}"
    dep.log.wait_for(rf"{kid} pid {kpid}: ended", start=since)


def test_killing_the_kernel_ends_the_launcher(dep, researcher):
    a = researcher(dep.a)
    launcher = a.call("start", kernel="enclave-wa")["launcher_pid"]
    _, kpid = kernel_of(dep, launcher)
    os.kill(kpid, signal.SIGKILL)
    assert wait_exit([launcher], 2) == []
    assert a.call("alive")["alive"] is False


def test_two_researchers_at_once_each_in_their_workspace(dep, researcher):
    a, b = researcher(dep.a), researcher(dep.b)
    la = a.call("start", kernel="enclave-wa")["launcher_pid"]
    lb = b.call("start", kernel="enclave-wb")["launcher_pid"]
    _, ka = kernel_of(dep, la)
    _, kb = kernel_of(dep, lb)
    assert ka != kb and wait_exit([ka, kb], 0) == [ka, kb], "both kernels run at once"
    wa, wb = a.call("run", code="%workspace")["text"], b.call("run", code="%workspace")["text"]
    assert "workspace:  WA" in wa and "researcher: a" in wa, wa
    assert "workspace:  WB" in wb and "researcher: b" in wb, wb
    assert persons(a.call("run", code=COUNT)) > 0 and persons(b.call("run", code=COUNT)) > 0
    r = b.call("edit_spec", src="enclave-wa", dst="theirs")
    assert r["argv"]
    b2 = researcher(dep.b)
    b2.call("start", kernel="theirs")
    r = b2.call("run", code=COUNT)
    assert r["status"] == "error" and 'researcher b is not a member of workspace "WA"' in r["evalue"], r


def test_single_user_kernel_says_it_is_not_protected(dep, researcher):
    """The same researcher through a single-user kernelspec: the kernel
    runs as them, and says so."""
    a = researcher(dep.a)
    launcher = a.call("start", kernel="enclave-single")["launcher_pid"]
    assert uid_of(launcher)[0] == dep.uid[dep.a]
    s = a.call("run", code="%sandbox")["text"]
    assert "mode         single-user: NOT a protected deployment" in s, s
    assert f"kernel user  {dep.a} (uid {dep.uid[dep.a]})" in s and "files        " not in s, s
    w = a.call("run", code="%workspace")["text"]
    assert "started without ENCLAVE_WORKSPACE" in w, w


def test_doctor_reports_service_mode_and_permissions(dep, researcher):
    def doctor(*prefix, env=None):
        out = run(*prefix, dep.enclave, "doctor", "--socket", dep.socket, "--starts", "1", "--json", env=env).stdout
        return json.loads(out)["deployment"]

    d = doctor()
    assert d["mode"] == "service" and d["service_user"] == dep.svc and d["permissions"] == "ok", d
    d = doctor(*as_user(dep.a, env={"PATH": "/usr/bin:/bin", "HOME": os.path.join(dep.base, "home-" + dep.a),
                                    "JUPYTER_PATH": dep.jupyter_path}))
    assert d["mode"] == "service" and "is researcher a" in d["you"], d
    assert {k["name"]: k["mode"] for k in d["kernelspecs"]}.get("enclave-wa") == "service", d
    assert doctor(env=dict(os.environ, HOME=dep.base))  # runs
    d = run(dep.enclave, "doctor", "--socket", os.path.join(dep.base, "nothing.sock"), "--starts", "1").stdout
    assert "deployment: single-user" in d and "NOT a protected deployment" in d

    # A database file opened to others: doctor says so, and the service
    # refuses to open that workspace until it is fixed.
    db = os.path.join(dep.ws["wa"], "data", "cdm.duckdb")
    running = researcher(dep.a)
    running.call("start", kernel="enclave-wa")
    persons(running.call("run", code=COUNT))
    assert "files        protected: " in running.call("run", code="%sandbox")["text"]
    os.chmod(db, 0o644)
    try:
        # A kernel already running sees it in %sandbox, without the path.
        s = running.call("run", code="%sandbox")["text"]
        assert "files        NOT protected: 1 problem(s)" in s and "cdm.duckdb" not in s, s
        d = doctor()
        assert d["permissions"].startswith("1 entries open") and any("cdm.duckdb" in p for p in d["problems"]), d
        a = researcher(dep.a)
        a.call("start", kernel="enclave-wa")
        r = a.call("run", code=COUNT)
        assert r["status"] == "error" and 'workspace "wa" is not protected on disk' in r["evalue"], r
    finally:
        os.chmod(db, 0o600)
    assert doctor()["permissions"] == "ok"
