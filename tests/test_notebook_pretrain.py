"""End to end: the pretraining notebook on real Penn Action labels (ci parameter set) through ``workbench run``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from notebook_checks import error_outputs

from workbench.cli import main
from workbench.studies import pretrain


@pytest.fixture(scope="module")
def finished_run(ci_run: Callable[[str], Path], shared: Path) -> Path:
    run = ci_run("pretrain")
    assert run.name.endswith("_3dconv")
    return run


def test_run_folder_holds_every_output(finished_run: Path) -> None:
    names = {p.name for p in finished_run.iterdir()}
    assert {"pretrain.ipynb", "pretrain.html", "metrics.json", "history.csv", "checkpoint.pt", "config.yaml",
            "status.json"} <= names
    metrics = json.loads((finished_run / "metrics.json").read_text())
    assert metrics["data"]["source"].endswith("penn_action/labels") and metrics["data"]["files"] == 12
    assert set(metrics["test"]) == {"identity", "3dconv"} and metrics["epochs_trained"] == 1
    assert set(metrics["test"]["identity"]["pck"]) == {"0.05", "0.1", "0.2"}
    swept = {(r["model"], r["experiment"], r["shift_scalar"]) for r in metrics["sweep"]}
    assert swept == {(m, 1, 1.0) for m in ("identity", *pretrain.MODELS)}
    history = (finished_run / "history.csv").read_text().splitlines()
    assert len(history) == 2 and "val_pck_0.2" in history[0]


def test_report_is_self_contained_with_tables_and_a_heatmap_slider(finished_run: Path) -> None:
    html = (finished_run / "pretrain.html").read_text()
    assert not re.search(r"<script[^>]+src=\"https?://", html)
    assert html.count("plotly.js v") == 1 and '"sliders"' in html and "Plotly.addFrames" in html
    for text in ("Mean threshold distance (px)", "PCK@0.2 (%)", "3dconv total (%)", "experiment 1"):
        assert text in html
    assert not error_outputs(finished_run / "pretrain.ipynb")


def test_bad_data_folder_fails_with_the_file_named(outputs: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["run", "pretrain", "--preset", "ci", "--quiet", "-p", "data_dir", str(outputs / "nowhere"),
                 "-p", "sweep", "false"])
    err = capsys.readouterr().err
    assert code == 2 and "DataFormatError" in err and "no Penn Action .mat label files found" in err
