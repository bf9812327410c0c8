import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import notebook_demo  # noqa: E402


@pytest.fixture(scope="session")
def demo():
    """A 5,000-person demo workspace and an "enclave" kernelspec on it, built
    once per test session (shared with tests/browser)."""
    return notebook_demo.demo()
