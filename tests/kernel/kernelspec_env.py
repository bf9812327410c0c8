"""Install the enclave kernelspec into a temporary Jupyter path for the tests.

Importing this module builds nothing: it uses $ENCLAVE (bin/enclave) and
$ENCLAVE_WORKER (bin/enclave-worker), runs `enclave install --prefix TMP`,
and points JUPYTER_PATH at TMP/share/jupyter, so nothing global is touched.
"""
import atexit
import os
import shutil
import subprocess
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ENCLAVE = os.environ.get("ENCLAVE", os.path.join(ROOT, "bin", "enclave"))
WORKER = os.environ.get("ENCLAVE_WORKER", os.path.join(os.path.dirname(ENCLAVE), "enclave-worker"))
KERNEL_NAME = "enclave-test"

_prefix = tempfile.mkdtemp(prefix="enclave-kernelspec-")
atexit.register(shutil.rmtree, _prefix, True)


def install(name=KERNEL_NAME, extra=()):
    subprocess.run(
        [ENCLAVE, "install", "--prefix", _prefix, "--name", name, "--worker", WORKER, *extra],
        check=True, capture_output=True, text=True,
    )
    return os.path.join(_prefix, "share", "jupyter", "kernels", name)


SPEC_DIR = install()
os.environ["JUPYTER_PATH"] = os.path.join(_prefix, "share", "jupyter") + (
    os.pathsep + os.environ["JUPYTER_PATH"] if os.environ.get("JUPYTER_PATH") else "")
# Kernels must not open a workspace unless a test asks.
os.environ.pop("ENCLAVE_WORKSPACE", None)
