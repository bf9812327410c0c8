"""A demo workspace and kernelspec of its own for the tests that run the
example notebooks (tests/notebooks, tests/browser).

The workspace is built from scratch by scripts/demo-workspace.sh (5,000
synthetic persons, seed 1, about 10 s), once per test process, in a
temporary directory: CI starts clean, and the developer's demo/ is never
read or written. The kernelspec, named "enclave" like the one the example
notebooks name, is installed into a temporary prefix; nothing global is
touched.

The workspace keeps a history of its releases (release/history.jsonl)
that every kernel on it shares, and the differencing rule compares each
new result with it. Tests call fresh_history() before each notebook so that
every notebook starts from a workspace that has released nothing, and its
results do not depend on test order.
"""
import atexit
import copy
import os
import shutil
import subprocess
import tempfile

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLES = os.path.join(ROOT, "examples")
ENCLAVE = os.environ.get("ENCLAVE", os.path.join(ROOT, "bin", "enclave"))
WORKER = os.environ.get("ENCLAVE_WORKER", os.path.join(os.path.dirname(ENCLAVE), "enclave-worker"))
PERSONS = 5000
KERNEL_NAME = "enclave"  # the name the example notebooks' metadata gives

# The example notebooks that need the registered demo workspace.
DATA_NOTEBOOKS = ["03-t2d-table1.ipynb", "04-hba1c-by-sex-age.ipynb",
                  "05-diabetes-logistic.ipynb", "06-fitbit-hypertension.ipynb"]


class Demo:
    """The built demo: base directory, registered workspace, kernelspec."""

    def __init__(self, base, prefix):
        self.base = base
        self.home = os.path.join(base, "home")
        self.workspace = os.path.join(base, "registered")
        self.prefix = prefix
        self.jupyter_path = os.path.join(prefix, "share", "jupyter")
        self.kernel_dirs = [os.path.join(self.jupyter_path, "kernels")]
        self._executed = {}

    def fresh_history(self):
        """Forget everything the workspace has released: the differencing
        history (the workspace's and the researcher's across workspaces)
        and the egress volume. The data and the audit log stay."""
        for name in ("history.jsonl", "egress"):
            try:
                os.remove(os.path.join(self.workspace, "release", name))
            except FileNotFoundError:
                pass
        shutil.rmtree(os.path.join(self.home, "history"), ignore_errors=True)

    def kernel_manager(self):
        ksm = KernelSpecManager(kernel_dirs=self.kernel_dirs)
        return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=ksm)

    def run_notebook(self, name, timeout=120):
        """Runs examples/NAME top to bottom on a workspace with no release
        history; returns the executed notebook. Cell errors raise."""
        self.fresh_history()
        nb = nbformat.read(os.path.join(EXAMPLES, name), as_version=4)
        NotebookClient(nb, km=self.kernel_manager(), timeout=timeout, startup_timeout=60,
                       allow_errors=False).execute()
        return nb

    def executed(self, name):
        """examples/NAME as run_notebook ran it, once per test process: the
        tests that read its outputs share one run."""
        if name not in self._executed:
            self._executed[name] = self.run_notebook(name)
        return copy.deepcopy(self._executed[name])


_demo = None


def demo():
    """The demo of this test process, built on first use."""
    global _demo
    if _demo is not None:
        return _demo
    for exe in (ENCLAVE, WORKER):
        if not os.access(exe, os.X_OK):
            raise RuntimeError(f"{exe} is missing: run make build first")
    base = tempfile.mkdtemp(prefix="enclave-nbdemo-")
    prefix = tempfile.mkdtemp(prefix="enclave-nbspec-")
    atexit.register(shutil.rmtree, base, True)
    atexit.register(shutil.rmtree, prefix, True)
    env = dict(os.environ, DEMO=base, PERSONS=str(PERSONS), ENCLAVE=ENCLAVE)
    for k in ("ENCLAVE_WORKSPACE", "ENCLAVE_RESEARCHER", "JUPYTERHUB_USER", "ENCLAVE_HOME"):
        env.pop(k, None)
    r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "demo-workspace.sh")], env=env,
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"demo-workspace.sh failed ({r.returncode}):\n{r.stderr[-4000:]}")
    subprocess.run([ENCLAVE, "install", "--prefix", prefix, "--name", KERNEL_NAME, "--worker", WORKER,
                    "--workspace", os.path.join(base, "registered"), "--researcher", "demo",
                    "--env", "ENCLAVE_HOME=" + os.path.join(base, "home")],
                   check=True, capture_output=True, text=True)
    _demo = Demo(base, prefix)
    return _demo


# Reading outputs of an executed notebook.

def code_cell(nb, needle):
    """The one code cell whose source contains needle."""
    found = [c for c in nb.cells if c.cell_type == "code" and needle in c.source]
    assert len(found) == 1, f"{len(found)} code cells contain {needle!r}"
    return found[0]


def results(cell):
    """The cell's rich outputs (execute_result, display_data) as data dicts,
    without the progress display a long call shows while it runs."""
    return [o.data for o in cell.outputs
            if o.output_type in ("execute_result", "display_data")
            and not (set(o.data) <= {"text/html", "text/plain"} and "finished in" in o.data.get("text/plain", ""))]


def result(cell, mime):
    """The one rich output of the cell that has mime."""
    found = [d for d in results(cell) if mime in d]
    assert len(found) == 1, f"{len(found)} outputs with {mime} in cell:\n{cell.source}\n{cell.outputs}"
    return found[0]


def stdout(cell):
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def rows(table):
    """The rows of a dataresource table, keyed by the first field's value."""
    first = table["schema"]["fields"][0]["name"]
    return {str(r[first]).strip(): r for r in table["data"]}


def all_text(nb):
    """Every text output of the notebook, as one string."""
    out = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            if o.output_type == "stream":
                out.append(o.text)
            elif o.output_type == "error":
                out.append(o.ename + ": " + o.evalue)
            elif "data" in o:
                out.append(o.data.get("text/plain", ""))
    return "\n".join(out)
