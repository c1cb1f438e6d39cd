"""What a researcher sees of each study's ``ci`` run (``workbench run <study> --preset ci``): the terminal shows
the training epoch by epoch and no kernel warnings; the executed notebook and its HTML report open with the run's
summary, carry no progress residue, name the final run folder (never the staging folder), round their tables, and
say what a live widget would show."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
import yaml

from workbench.report import WIDGET_MIME, is_progress_text
from workbench.settings import shared_data_dir
from workbench.studies import declared
from workbench.summary import SUMMARY_TAG

STUDIES = tuple(declared())
EPOCHS = {"decoupled_3dpw": 3, "pretrain": 1, "hand_forecasting": 2, "skeleton_ensembles": 1}
"""Epochs of the main model in each ``ci`` parameter set."""

RAW_FLOAT = re.compile(r">\s*-?\d+\.\d{5,}\s*<|\b\d+\.\d{6,}\b")
"""A table cell or printed number with more digits than anyone reads."""


@pytest.fixture(params=STUDIES)
def study(request: pytest.FixtureRequest) -> str:
    if request.param == "pretrain" and not shared_data_dir().is_dir():
        pytest.skip(f"shared data not found at {shared_data_dir()}")
    return request.param


def _text_outputs(notebook: nbformat.NotebookNode) -> list[str]:
    """Every output's text, figures (plotly's inlined library and JSON) left out."""
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if "application/vnd.plotly.v1+json" in output.get("data", {}):
                continue
            texts.append(output.get("text", ""))
            texts += [v for k, v in output.get("data", {}).items() if isinstance(v, str) and k.startswith("text/")]
    return texts


def test_terminal_shows_the_epochs_and_no_kernel_warnings(study: str, ci_terminal: Callable[[str], str]) -> None:
    text = ci_terminal(study)
    epochs = EPOCHS[study]
    assert re.search(rf"^{study}: training \S.*: {epochs} epochs?, monitoring \w+", text, re.M), text
    for epoch in range(1, epochs + 1):
        line = re.search(rf"^{study}: .+ epoch {epoch}/{epochs}  train_loss [-\d.e]+  .*$", text, re.M)
        assert line, f"no line for epoch {epoch}:\n{text}"
        assert re.search(r"elapsed \d+:\d\d  (left ~\d+:\d\d|done)$", line.group(0)), line.group(0)
    assert "Kernel is running over TCP" not in text and "[IPKernelApp] WARNING" not in text
    assert "Executing:" not in text  # papermill's cell bar is for terminals only
    assert re.search(rf"^{study}: complete -> .+$", text, re.M)


def test_notebook_opens_with_the_summary_and_has_no_residue(study: str, ci_run: Callable[[str], Path]) -> None:
    folder = ci_run(study)
    notebook = nbformat.read(folder / f"{study}.ipynb", as_version=4)
    first = next(c for c in notebook.cells if c.cell_type == "code" and c.get("outputs"))
    assert SUMMARY_TAG in first.metadata.get("tags", [])
    (summary,) = first.outputs
    html, text = summary.data["text/html"], summary.data["text/plain"]
    assert "Run summary" in html and f"Run folder: {folder}" in text
    for label in ("Result:", "Data:", "Model:", "Device:", "Wall time:", "Started:"):
        assert label in text, f"{label} missing from the summary:\n{text}"
    assert " on test: " in text
    outputs = _text_outputs(notebook)
    assert not [t for t in outputs if is_progress_text(t)]
    assert not [t for t in outputs if ".partial" in t]
    assert not [m.group(0) for t in outputs for m in RAW_FLOAT.finditer(t)]
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert config["output_dir"] == str(folder)


def test_report_has_no_residue_and_notes_live_widgets(study: str, ci_run: Callable[[str], Path]) -> None:
    folder = ci_run(study)
    html = (folder / f"{study}.html").read_text()
    body = re.sub(r"<script.*?</script>", "", html, flags=re.S)
    assert "Run summary" in body and body.index("Run summary") < body.index('class="plotly-graph-div"')
    assert not is_progress_text(body) and ".partial" not in body and WIDGET_MIME not in body
    assert "show_placeholder()" not in body  # the summary cell shows its output only
    if study == "decoupled_3dpw":
        assert "Live widget, not in this static report:" in body and "frame slider" in body
    status = json.loads((folder / "status.json").read_text())
    assert status["status"] == "complete"
