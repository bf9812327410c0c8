"""jupyter-console uses the kernel's is_complete_reply to decide when Enter runs the cell."""
import os
import re
import shutil

import pytest

import kernelspec_env

pexpect = pytest.importorskip("pexpect")
JUPYTER = shutil.which("jupyter", path="/usr/bin") or "/usr/bin/jupyter"


ESC = r"(?:\x1b\[[0-9;?]*[A-Za-z])*"


def shown(text):
    """A pattern for text as the terminal shows it, colour codes anywhere."""
    return ESC.join(re.escape(c) for c in text)


def test_console_multiline_by_is_complete(tmp_path):
    env = dict(os.environ, TERM="xterm", JUPYTER_RUNTIME_DIR=str(tmp_path), JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"),
               IPYTHONDIR=str(tmp_path / "ipy"))
    env.pop("JUPYTER_CONSOLE_TEST", None)
    child = pexpect.spawn(JUPYTER, ["console", "--kernel", kernelspec_env.KERNEL_NAME, "--ZMQTerminalInteractiveShell.kernel_is_complete_timeout=10"],
                          env=env, encoding="utf-8", timeout=30, dimensions=(40, 120))
    try:
        child.expect(shown("In [1]"))
        # A complete line runs on Enter (the console's own fallback would
        # wait for an empty line).
        child.send("answer := 41 + 1\r")
        child.expect(shown("In [2]"))
        # An open block is incomplete: Enter continues the cell.
        child.send("for i := 0; i < 3; i++ {\r")
        # The console indents the next line with the kernel's indent and
        # does not run the cell.
        child.expect(shown("...:"))
        assert child.expect([shown("In [3]"), pexpect.TIMEOUT], timeout=1) == 1, "an incomplete cell ran"
        child.send("answer++\r")
        child.send("}\r")
        child.expect(shown("In [3]"))
        child.send("answer\r")
        child.expect(shown("Out[3]") + r".{0,200}?" + shown("45"))
    finally:
        # The console's kernel notices its parent is gone (JPY_PARENT_PID)
        # and stops with its worker.
        child.close(force=True)
