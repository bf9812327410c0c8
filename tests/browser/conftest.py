import os
import sys

import pytest

# The demo workspace and kernelspec are those of tests/notebooks (built once
# per test process when both directories run in one session).
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "notebooks"))
import notebook_demo  # noqa: E402


@pytest.fixture(scope="session")
def demo():
    return notebook_demo.demo()
