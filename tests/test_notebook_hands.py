"""End to end: the hand-forecasting notebook with the ci parameters through ``workbench run``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from notebook_checks import error_outputs


@pytest.fixture(scope="module")
def finished_run(ci_run: Callable[[str], Path]) -> Path:
    run = ci_run("hand_forecasting")
    assert run.name.endswith("_bilstm")
    return run


def test_run_folder_holds_every_output(finished_run: Path) -> None:
    names = {p.name for p in finished_run.iterdir()}
    assert {"hand_forecasting.ipynb", "hand_forecasting.html", "metrics.json", "history.csv", "checkpoint.pt",
            "weights.pt", "config.yaml", "status.json", "results_bilstm.md", "learning_curves_bilstm.png"} <= names
    metrics = json.loads((finished_run / "metrics.json").read_text())
    assert set(metrics["splits"]["test"]) == {"bilstm", "zero_velocity", "constant_velocity"}
    assert metrics["epochs_trained"] == 2 and len(metrics["ablation"]) == 3
    assert [r["inputs"] for r in metrics["ablation"]] == ["hands", "hands + gaze + boxes", "hands"]
    text = (finished_run / "results_bilstm.md").read_text()
    assert text.startswith("# BILSTM Performance") and text.count("\n| 2 | ") == 1


def test_report_is_self_contained_and_uses_the_real_clips(finished_run: Path, shared: Path) -> None:
    html = (finished_run / "hand_forecasting.html").read_text()
    assert not re.search(r"<script[^>]+src=\"https?://", html) and html.count("plotly.js v") == 1
    assert "Plotly.addFrames" in html and '"sliders"' in html
    assert not error_outputs(finished_run / "hand_forecasting.ipynb")
    real = json.loads((finished_run / "metrics.json").read_text())["real_clips"]
    assert {r["model"] for r in real} >= {"bilstm (published weights)", "bigru (published weights)", "zero_velocity"}
    assert all(r["clips"] == 4 for r in real)
