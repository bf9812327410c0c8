"""A real browser runs an example notebook in Jupyter Notebook on the
enclave kernel, and sees what a researcher sees: the Table 1 rendered as an
HTML table with its suppressed cells marked ≤20, and a plot.

The test starts /usr/bin/jupyter notebook on a free port (with only this
test's kernelspec and a private Jupyter config, data and runtime dir),
drives Debian's headless chromium through selenium 4 and chromedriver, and
saves a screenshot to build/browser/notebook.png. Every wait polls a
condition with a deadline; none sleeps for a fixed time to synchronise.

When chromium, chromedriver or selenium is missing the test is skipped on a
developer machine and fails in CI (CI=true): `make deps` installs them.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

import notebook_demo

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
JUPYTER = "/usr/bin/jupyter"
NOTEBOOK = "03-t2d-table1.ipynb"
SCREENSHOT = os.path.join(notebook_demo.ROOT, "build", "browser", "notebook.png")


def _missing(what):
    msg = f"{what} is missing (apt-get install chromium chromium-driver python3-selenium, or make deps)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def _selenium():
    for path in (CHROMIUM, CHROMEDRIVER, JUPYTER):
        if not os.access(path, os.X_OK):
            _missing(path)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("python3-selenium")
    return webdriver, Options, Service


def poll(what, check, timeout, interval=0.2):
    """Calls check until it returns something true; fails after timeout s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as e:  # not ready yet (connection refused, JS not loaded…)
            last = e
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(demo):
    """Jupyter Notebook serving a copy of the example notebook, with the demo
    kernelspec only, on a workspace with no release history."""
    _selenium()
    demo.fresh_history()
    tmp = tempfile.mkdtemp(prefix="enclave-browser-")
    nbdir = os.path.join(tmp, "notebooks")
    os.makedirs(nbdir)
    shutil.copy(os.path.join(notebook_demo.EXAMPLES, NOTEBOOK), nbdir)
    port = free_port()
    env = dict(os.environ,
               JUPYTER_PATH=demo.jupyter_path,  # the "enclave" kernelspec on the test workspace
               JUPYTER_DATA_DIR=os.path.join(tmp, "data"),  # hides the user's own kernelspecs
               JUPYTER_CONFIG_DIR=os.path.join(tmp, "config"),
               JUPYTER_RUNTIME_DIR=os.path.join(tmp, "runtime"),
               HOME=tmp)
    for k in ("ENCLAVE_WORKSPACE", "ENCLAVE_RESEARCHER", "JUPYTERHUB_USER"):
        env.pop(k, None)
    log = open(os.path.join(tmp, "server.log"), "w+")
    proc = subprocess.Popen(
        [JUPYTER, "notebook", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
         "--NotebookApp.token=", "--NotebookApp.password=", "--allow-root", f"--notebook-dir={nbdir}"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def up():
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"jupyter notebook exited ({proc.returncode}):\n{log.read()[-3000:]}")
        with urllib.request.urlopen(url + "/api/status", timeout=2) as r:
            return r.status == 200

    try:
        poll("the notebook server to answer", up, 60)
        yield url
    finally:
        # SIGTERM: the server shuts its kernels down before it exits.
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.seek(0)
        server_log = log.read()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if "Traceback" in server_log and os.environ.get("ENCLAVE_TEST_VERBOSE"):
            print(server_log)


@pytest.fixture
def browser():
    webdriver, Options, Service = _selenium()
    opts = Options()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1400,2600", "--hide-scrollbars"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        yield drv
    finally:
        drv.quit()


# JavaScript run in the page (Notebook 6's Jupyter.notebook API).
KERNEL_READY = """
const nb = window.Jupyter && Jupyter.notebook;
return !!(nb && nb._fully_loaded && nb.kernel && nb.kernel.is_connected()
          && nb.kernel.name === arguments[0]
          && document.querySelector('#kernel_indicator_icon.kernel_idle_icon'));
"""

RUN_STATE = """
const cells = Jupyter.notebook.get_cells().filter(c => c.cell_type === 'code');
return {
  idle: !!document.querySelector('#kernel_indicator_icon.kernel_idle_icon'),
  prompts: cells.map(c => c.input_prompt_number),
  outputs: cells.map(c => c.output_area.outputs.length),
  sources: cells.map(c => c.get_text()),
  errors: cells.flatMap(c => c.output_area.outputs.filter(o => o.output_type === 'error')
                                 .map(o => o.ename + ': ' + o.evalue)),
};
"""


def _silent(source):
    """A cell of imports only shows nothing."""
    s = source.strip()
    return s.startswith("import (") and s.endswith(")") and "\n\n" not in s and ":=" not in s


def test_notebook_runs_in_browser(demo, server, browser):
    browser.get(f"{server}/notebooks/{NOTEBOOK}")
    poll("the notebook to load with the enclave kernel connected and idle",
         lambda: browser.execute_script(KERNEL_READY, notebook_demo.KERNEL_NAME), 90)

    browser.execute_script("Jupyter.notebook.execute_all_cells();")

    def finished():
        st = browser.execute_script(RUN_STATE)
        if st["errors"]:
            pytest.fail(f"cells failed in the browser: {st['errors']}")
        done = (st["idle"]
                and all(isinstance(p, int) for p in st["prompts"])
                and all(n > 0 or _silent(src) for n, src in zip(st["outputs"], st["sources"])))
        return st if done else None

    state = poll("all cells to run and show their outputs, with the kernel idle", finished, 180)
    assert state["prompts"] == sorted(state["prompts"]), "cells ran out of order"

    # The output areas as rendered.
    from selenium.webdriver.common.by import By
    areas = browser.find_elements(By.CSS_SELECTOR, ".output_area")
    assert areas, "no output areas"
    tables = browser.find_elements(By.CSS_SELECTOR, ".output_area .output_html table")
    table1 = [t for t in tables if "N (persons)" in t.text and "type 2 diabetes" in t.text]
    assert table1, "the Table 1 is not rendered as an HTML table"
    t1 = table1[0]
    assert t1.find_elements(By.TAG_NAME, "th") and len(t1.find_elements(By.TAG_NAME, "tr")) > 8
    # Its small cells: the kernel's marker, styled as suppressed, with the rule in the title.
    small = [td for td in t1.find_elements(By.CSS_SELECTOR, "td.enclave-suppressed") if td.text == "≤20"]
    assert small, "no ≤20 cell in the rendered Table 1"
    assert small[0].get_attribute("title"), "a suppressed cell has no explanation"
    assert any("≤20" in a.text for a in areas)
    # A plot: Notebook 6 prefers the SVG of a PNG+SVG bundle and shows it inline;
    # the PNG shows as an <img> where the SVG is not shown. Either must be a
    # drawn figure of real size.
    figures = (browser.find_elements(By.CSS_SELECTOR, ".output_area .output_png img")
               + browser.find_elements(By.CSS_SELECTOR, ".output_area .output_svg svg"))
    assert figures, "no plot rendered"
    size = figures[0].size
    assert size["width"] > 200 and size["height"] > 100, size
    assert not browser.find_elements(By.CSS_SELECTOR, ".output_area .output_error")

    # A screenshot of the Table 1 and the plot.
    os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", t1)
    browser.save_screenshot(SCREENSHOT)
    with open(SCREENSHOT, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
