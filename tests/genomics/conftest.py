"""A small controlled demo workspace with genotypes, built once per test
session: 2,000 persons, all genotyped, 4,000 variants (scripts/demo-workspace.sh,
about 50 s)."""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(HERE, "..", "release"))
import workspace_fixture as wf  # noqa: E402

PERSONS = 2000
VARIANTS = 4000


@pytest.fixture(scope="session")
def gdemo():
    base = tempfile.mkdtemp(prefix="enclave-gdemo-")
    env = dict(os.environ, DEMO=base, PERSONS=str(PERSONS), ENCLAVE=wf.ENCLAVE,
               SYNTH_FLAGS=f"--variants {VARIANTS} --genotyped {PERSONS}")
    for k in ("ENCLAVE_WORKSPACE", "ENCLAVE_RESEARCHER", "JUPYTERHUB_USER"):
        env.pop(k, None)
    subprocess.run(["bash", os.path.join(wf.ROOT, "scripts", "demo-workspace.sh")], env=env, check=True,
                   capture_output=True, text=True)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def kernel(gdemo):
    """A kernel on a fresh copy of the controlled workspace (no release
    history), shared by the tests of a module, in order."""
    k = wf.Kernel(gdemo, wf.fresh_workspace(gdemo, "controlled"))
    yield k
    k.close()
