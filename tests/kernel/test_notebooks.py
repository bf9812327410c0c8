"""The example notebooks run top to bottom (nbclient), and render to HTML (nbconvert)."""
import glob
import os

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

import kernelspec_env

# Notebooks that read data run on a demo workspace in tests/notebooks; this
# kernel has none.
EXAMPLES = [p for p in sorted(glob.glob(os.path.join(kernelspec_env.ROOT, "examples", "*.ipynb")))
            if 'enclave/omop' not in open(p).read()]


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_example_runs_top_to_bottom(path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name=kernelspec_env.KERNEL_NAME, timeout=60, allow_errors=False).execute()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if "raises-exception" in cell.metadata.get("tags", []):
            assert errors, f"cell expected to fail did not:\n{cell.source}"
        else:
            assert not errors, f"cell failed:\n{cell.source}\n{errors}"
    if os.path.basename(path) == "01-go-basics.ipynb":
        mimes = {m for c in nb.cells if c.cell_type == "code" for o in c.outputs if "data" in o for m in o.data}
        for mime in ("image/png", "image/svg+xml", "text/html", "text/markdown", "text/plain"):
            assert mime in mimes, f"no {mime} output"
    html, _ = HTMLExporter().from_notebook_node(nb)
    assert "<html" in html.lower()


def test_examples_exist():
    names = [os.path.basename(p) for p in EXAMPLES]
    assert "01-go-basics.ipynb" in names and "02-workspace.ipynb" in names
