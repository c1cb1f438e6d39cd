"""End to end: the 3DPW notebook under papermill through ``workbench run``, and its report."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from notebook_checks import error_outputs

from workbench.cli import main


@pytest.fixture(scope="module")
def finished_run(ci_run: Callable[[str], Path]) -> Path:
    run = ci_run("decoupled_3dpw")
    assert run.name.endswith("_derpof")
    assert not [p for p in run.parent.iterdir() if p.name.startswith(".")]
    return run


def test_run_folder_holds_every_output(finished_run: Path) -> None:
    names = {p.name for p in finished_run.iterdir()}
    assert {"decoupled_3dpw.ipynb", "decoupled_3dpw.html", "metrics.json", "history.csv", "checkpoint.pt",
            "config.yaml", "status.json"} <= names
    assert json.loads((finished_run / "status.json").read_text())["status"] == "complete"
    history = (finished_run / "history.csv").read_text().strip().splitlines()
    assert len(history) == 1 + 3 and history[0].startswith("epoch,lr,train_loss")
    metrics = json.loads((finished_run / "metrics.json").read_text())
    assert set(metrics["splits"]["valid"]) == {"derpof", "zero_velocity", "constant_velocity", "damped_velocity"}
    assert metrics["epochs_trained"] == 3
    (source,) = metrics["training"]["sources"].values()  # the generated data's train split, every window once
    assert source["used"] == source["windows"] == 2 * 60
    assert 0.0 <= metrics["training"]["damped_decay"] <= 1.0 and metrics["training"]["augment"] == []
    assert not (finished_run / "checkpoint.prev.pt").exists()  # the final weights replace the training state


def test_report_is_self_contained_with_a_scrubbable_animation(finished_run: Path) -> None:
    html = (finished_run / "decoupled_3dpw.html").read_text()
    assert not re.search(r"<script[^>]+src=\"https?://", html), "a script is loaded from the network"
    assert html.count("plotly.js v") == 1  # the library is inlined once
    assert "Plotly.addFrames" in html and '"sliders"' in html
    assert not error_outputs(finished_run / "decoupled_3dpw.ipynb")


def test_failed_cell_keeps_the_notebook_and_exits_non_zero(outputs: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["run", "decoupled_3dpw", "--preset", "ci", "--quiet", "-p", "data_dir", str(outputs / "nowhere"),
                 "-p", "epochs", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "DataFormatError" in err and "3dpw_valid_in.json: file not found" in err
    (failed,) = (outputs / "decoupled_3dpw").iterdir()
    assert failed.name.endswith("_derpof_failed")
    assert json.loads((failed / "status.json").read_text())["status"] == "failed"
    assert error_outputs(failed / "decoupled_3dpw.ipynb")
