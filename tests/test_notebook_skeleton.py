"""End to end: the skeleton notebook under papermill (ci parameters), its outputs, and the
``workbench evaluate/predict skeleton`` commands on the checkpoint it wrote."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from notebook_checks import error_outputs

from workbench.cli import main


@pytest.fixture(scope="module")
def finished_run(ci_run: Callable[[str], Path]) -> Path:
    run = ci_run("skeleton_ensembles")
    assert run.name.endswith("_stgcn")
    return run


def test_run_holds_every_stream_and_ensemble(finished_run: Path) -> None:
    names = {p.name for p in finished_run.iterdir()}
    assert {"skeleton_ensembles.ipynb", "skeleton_ensembles.html", "metrics.json", "history.csv", "checkpoint.pt",
            "config.yaml", "status.json", "scores.npz"} <= names
    summary = json.loads((finished_run / "metrics.json").read_text())
    rows = summary["rows"]
    # the ci set trains j and b twice (replicas j#2, b#2) besides the six streams
    assert [r["model"].split(" ")[0] for r in rows[:8]] == ["j", "b", "k", "jm", "bm", "km", "j#2", "b#2"]
    ensembles = {(r["model"], r["fusion"], r["boosting"]) for r in rows[8:]}
    assert {name for name, _, kind in ensembles if kind == "complementary"} == {
        "2-stream (j+b)", "4-stream (j+b+jm+bm)", "6-stream"}
    assert {name for name, _, kind in ensembles if kind == "stochastic"} == {"j x 2", "b x 2", "best x 2", "{j, b} x 2"}
    assert {fusion for _, fusion, _ in ensembles} == {"fixed", "val-searched"}
    assert all(0 <= r["top-1 (%)"] <= r["top-5 (%)"] <= 100 for r in rows)
    history = (finished_run / "history.csv").read_text().strip().splitlines()
    assert len(history) == 1 + 8 and history[0].startswith("stream,epoch,lr,train_loss")
    scores = np.load(finished_run / "scores.npz")
    assert scores["test_j"].shape == (len(scores["test_labels"]), 10)


def test_report_is_self_contained_without_errors(finished_run: Path) -> None:
    html = (finished_run / "skeleton_ensembles.html").read_text()
    assert not re.search(r"<script[^>]+src=\"https?://", html)
    assert html.count("plotly.js v") == 1 and "Confusion matrix" in html
    assert not error_outputs(finished_run / "skeleton_ensembles.ipynb")


def test_evaluate_reproduces_the_notebook_scores(finished_run: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["evaluate", "skeleton", "--checkpoint", str(finished_run / "checkpoint.pt"), "--streams", "j", "b",
                 "--weights", "j=1,b=3", "--json"])
    result = json.loads(capsys.readouterr().out)
    scores = np.load(finished_run / "scores.npz")
    labels = scores["test_labels"]
    assert code == 0 and result["clips"] == len(labels) and result["fused"]["weights"] == {"j": 1.0, "b": 3.0}
    expected = 100.0 * np.mean(scores["test_j"].argmax(1) == labels)
    assert result["streams"]["j"]["top1"] == pytest.approx(expected)
    fused = (scores["test_j"] + 3 * scores["test_b"]).argmax(1)
    assert result["fused"]["top1"] == pytest.approx(100.0 * np.mean(fused == labels))


def test_predict_writes_scores(finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "scores.npz"
    assert main(["predict", "skeleton", "--checkpoint", str(finished_run / "checkpoint.pt"), "--split", "val",
                 "--streams", "km", "--out", str(out)]) == 0
    written = np.load(out)
    np.testing.assert_allclose(written["km"], np.load(finished_run / "scores.npz")["val_km"], rtol=1e-5)
    assert len(written["names"]) == len(written["labels"])


def test_cli_errors_are_one_line(finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", "skeleton", "--checkpoint", str(tmp_path / "none.pt")]) == 2
    assert "none.pt: checkpoint file not found" in capsys.readouterr().err
    assert main(["evaluate", "skeleton", "--checkpoint", str(finished_run / "checkpoint.pt"), "--streams", "x"]) == 2
    assert "no model for stream(s) x" in capsys.readouterr().err
    assert main(["evaluate", "skeleton", "--checkpoint", str(finished_run / "checkpoint.pt"), "--dataset", "pyskl",
                 "--data", str(tmp_path / "missing.pkl"), "--layout", "ntu25"]) == 2
    assert "missing.pkl: file not found" in capsys.readouterr().err


def test_params_json(capsys: pytest.CaptureFixture) -> None:
    assert main(["params", "skeleton", "-p", "num_classes", "15", "-p", "base_channels", "8", "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["total"] == sum(counts["modules"].values()) and counts["modules"]["fc"] == 8 * 4 * 15 + 15
