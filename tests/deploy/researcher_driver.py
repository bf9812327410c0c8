#!/usr/bin/python3
"""A researcher's Jupyter, run as the researcher's Unix user by test_deploy.py.

It drives one kernel with jupyter_client exactly as a notebook server does,
taking JSON-line commands on stdin and answering one JSON line each on
stdout, so that the test (root) can act as the researcher without giving
jupyter_client root's connection files.

Commands: start(kernel) · run(code) · send(code) · reply(msg_id) ·
interrupt(how=message|signal) · restart(now) · shutdown · alive ·
read(path) · edit_spec(src, dst, workspace, env) · exit
"""
import errno
import json
import os
import shutil
import signal
import sys

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

TIMEOUT = 60


class Driver:
    def __init__(self):
        self.km = None
        self.kc = None

    def start(self, kernel):
        self.km = KernelManager(kernel_name=kernel)
        self.km.start_kernel()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=TIMEOUT)
        return {"launcher_pid": self.km.provisioner.process.pid}

    def send(self, code, until=None, timeout=TIMEOUT):
        """Executes code; with until, returns once the cell has printed it
        (the cell is then running: call reply with busy_seen)."""
        msg_id = self.kc.execute(code)
        while until is not None:
            m = self.kc.get_iopub_msg(timeout=timeout)
            if m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "stream" and until in m["content"]["text"]:
                break
        return {"msg_id": msg_id}

    def reply(self, msg_id, busy_seen=False, timeout=TIMEOUT):
        """The shell reply to msg_id and everything its cell sent on iopub."""
        out = []
        while True:
            m = self.kc.get_iopub_msg(timeout=timeout)
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            t, c = m["msg_type"], m["content"]
            if t == "status":
                if c["execution_state"] == "busy":
                    busy_seen = True
                elif c["execution_state"] == "idle" and busy_seen:
                    break
            elif t == "stream":
                out.append(c["text"])
            elif t in ("execute_result", "display_data"):
                out.append(c["data"].get("text/plain", ""))
            elif t == "error":
                out.append(c["ename"] + ": " + c["evalue"])
        while True:
            r = self.kc.get_shell_msg(timeout=timeout)
            if r["parent_header"].get("msg_id") == msg_id:
                c = r["content"]
                return {"status": c["status"], "text": "".join(out), "evalue": c.get("evalue", "")}

    def run(self, code, timeout=TIMEOUT):
        return self.reply(self.kc.execute(code), timeout)

    def interrupt(self, how):
        if how == "signal":
            os.kill(self.km.provisioner.process.pid, signal.SIGINT)
        else:
            self.km.interrupt_kernel()
        return {}

    def restart(self, now):
        self.km.restart_kernel(now=now)
        self.kc.wait_for_ready(timeout=TIMEOUT)
        return {"launcher_pid": self.km.provisioner.process.pid}

    def shutdown(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)
        return {}

    def alive(self):
        return {"alive": self.km.is_alive()}

    def read(self, path):
        try:
            with open(path, "rb") as f:
                f.read(1)
            return {"errno": 0}
        except OSError as e:
            return {"errno": e.errno, "error": errno.errorcode.get(e.errno, str(e.errno))}

    def edit_spec(self, src, dst, workspace=None, env=None):
        """Copy kernelspec src into the user's own kernels as dst, naming
        another workspace and setting environment, as a researcher could."""
        spec = KernelSpecManager().get_kernel_spec(src)
        user_dir = os.path.join(os.environ["HOME"], ".local", "share", "jupyter", "kernels", dst)
        shutil.copytree(spec.resource_dir, user_dir, dirs_exist_ok=True)
        path = os.path.join(user_dir, "kernel.json")
        with open(path) as f:
            k = json.load(f)
        if workspace is not None:
            k["argv"][k["argv"].index("--workspace") + 1] = workspace
        if env:
            k["env"] = env
        with open(path, "w") as f:
            json.dump(k, f)
        return {"argv": k["argv"]}


def main():
    d = Driver()
    for line in sys.stdin:
        req = json.loads(line)
        cmd = req.pop("cmd")
        if cmd == "exit":
            break
        try:
            res = {"ok": True, **getattr(d, cmd)(**req)}
        except Exception as e:  # reported to the test, which fails with it
            res = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(res), flush=True)
    if d.km is not None and d.km.has_kernel:
        try:
            d.kc.stop_channels()
            d.km.shutdown_kernel(now=True)
        except Exception:
            pass


if __name__ == "__main__":
    main()
