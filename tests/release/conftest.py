import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import workspace_fixture as wf  # noqa: E402


@pytest.fixture(scope="session")
def demo():
    base = tempfile.mkdtemp(prefix="enclave-demo-")
    yield wf.build_demo(base)
    shutil.rmtree(base, ignore_errors=True)
