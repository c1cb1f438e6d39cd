"""Runs made by papermill directly (no ``workbench run``) are the same runs: staged while they run, renamed
into ``outputs/<study>/<time>_<model>/`` when complete with ``status.json``, ``metrics.json``, ``history.csv``,
``config.yaml`` and the checkpoint; on the leaderboard; epoch lines on papermill's terminal and none in the
notebook; a killed one leaves nothing that looks like a run and ``--resume`` continues it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import torch

from workbench.leaderboard import scan
from workbench.report import WIDGET_MIME, is_progress_text
from workbench.settings import REPO_ROOT
from workbench.studies import declared

PAPERMILL = [sys.executable, "-m", "papermill"]


def _papermill(outputs: Path, study: str, *args: str, output: str | None = "out.ipynb",
               **kwargs) -> subprocess.Popen:
    command = [*PAPERMILL, str(REPO_ROOT / "notebooks" / f"{study}.ipynb"), *([output] if output else []),
               "-f", str(REPO_ROOT / "parameters" / study / "ci.yaml"), *args]
    # without pytest's variable, as from a shell: ipykernel then captures the kernel's stderr into the notebook
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"} | {"WORKBENCH_OUTPUTS": str(outputs)}
    return subprocess.Popen(command, cwd=outputs.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)


def _runs(outputs: Path, study: str) -> list[Path]:
    """Everything under the study's folder that looks like a run (not hidden)."""
    folder = outputs / study
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


def _notebook_text(notebook: nbformat.NotebookNode) -> list[str]:
    return ["".join(o.get("text", "")) for c in notebook.cells for o in c.get("outputs", [])
            if o.get("output_type") == "stream"]


@pytest.mark.parametrize("study", list(declared()))
def test_a_papermill_ci_run_is_a_complete_run_on_the_leaderboard(tmp_path: Path, study: str) -> None:
    outputs = tmp_path / "outputs"
    process = _papermill(outputs, study)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    [run] = _runs(outputs, study)
    assert not list((outputs / study).glob(".*")), "nothing staged or reserved is left"
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "complete" and status["executor"] == "papermill"
    assert status["notebook"] == str(tmp_path / "out.ipynb") and status["wall_time_s"] > 0
    for name in ("metrics.json", "history.csv", "config.yaml"):
        assert (run / name).is_file(), name
    assert list(run.glob("*.pt")), "the checkpoint"
    assert not list(run.glob("*.prev.pt")) and not list(run.glob(".*")), "no backups, locks or progress files"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["machine"]["precision"] in ("fp32", "bf16") and metrics["machine"]["torch"] == torch.__version__

    board = scan(outputs)
    [row] = board.tables[study].to_dict(orient="records")
    assert row["run"] == run.name and row["device"].startswith(metrics["machine"]["device"])
    assert not board.skipped

    # the terminal: the run's start, a speed estimate and epoch lines for every fit, and where it went
    assert f"{study}: run {run.name} started by papermill" in err
    assert "for the whole fit" in err and " epoch 1/" in err
    assert f"{study}: complete in " in err and str(run) in err
    assert "Traceback" not in err

    notebook = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    texts = _notebook_text(notebook)
    assert not [t for t in texts if is_progress_text(t) or "for the whole fit" in t], "no progress in the notebook"
    assert not [o for c in notebook.cells for o in c.get("outputs", []) if WIDGET_MIME in o.get("data", {})
                and is_progress_text(str(o["data"].get("text/plain", "")))]
    summary = next(c for c in notebook.cells if "summary" in c.metadata.get("tags", []))
    shown = summary.outputs[0]["data"]["text/plain"]
    assert "(complete)" in shown and str(run) in shown
    assert str(run) in texts[-1]  # the last cell names the final folder, not the staging one


def test_workbench_report_gives_a_papermill_run_its_notebook_and_html(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    process = _papermill(outputs, "hand_forecasting", output=None)  # no output path: the notebook goes to stdout
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    assert nbformat.reads(out, as_version=4).cells  # papermill wrote the executed notebook to stdout
    [run] = _runs(outputs, "hand_forecasting")
    assert "notebook" not in json.loads((run / "status.json").read_text())
    assert "HTML report: workbench report" in err
    env = {**os.environ, "WORKBENCH_OUTPUTS": str(outputs)}
    report = [sys.executable, "-m", "workbench.cli", "report", str(run)]
    done = subprocess.run(report, env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "--notebook" in done.stderr  # which notebook is not known
    saved = tmp_path / "saved.ipynb"
    saved.write_text(out)
    done = subprocess.run([*report, "--notebook", str(saved)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    html = (run / "hand_forecasting.html").read_text()
    assert "Run summary" in html and run.name in html
    assert (run / "hand_forecasting.ipynb").is_file()
    assert scan(outputs).tables["hand_forecasting"]["report"].tolist() == [f"hand_forecasting/{run.name}/"
                                                                           "hand_forecasting.html"]


STUDY = "decoupled_3dpw"
LONG = ["-p", "epochs", "12", "-p", "batch_size", "4", "-p", "viewer_scenes", "1",
        "-y", "synthetic_scenes: {train: 60, valid: 16, test: 8}"]
"""A ci run that trains long enough to be killed mid-training (as in test_crash_safe_runs)."""


def _staged(outputs: Path, timeout: float = 240) -> Path:
    """The staging folder once its run has saved a checkpoint."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in (outputs / STUDY).glob(".*.partial/checkpoint.pt"):
            try:
                torch.load(path, weights_only=True)
            except Exception:  # being replaced at this instant: read again
                continue
            return path.parent
        time.sleep(0.05)
    raise AssertionError("the run never saved a checkpoint")


def test_a_killed_papermill_run_leaves_no_run_and_resumes(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    process = _papermill(outputs, STUDY, *LONG, start_new_session=True)
    stage = _staged(outputs)
    kernel = json.loads((stage / "status.json").read_text())["pid"]
    os.killpg(process.pid, signal.SIGKILL)
    os.kill(kernel, signal.SIGKILL)  # the kernel runs in a session of its own
    process.wait()
    deadline = time.monotonic() + 30
    while Path(f"/proc/{kernel}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _runs(outputs, STUDY) == [], "nothing that looks like a run"
    status = json.loads((stage / "status.json").read_text())
    assert status["status"] == "running" and status["executor"] == "papermill"

    env = {**os.environ, "WORKBENCH_OUTPUTS": str(outputs)}
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "run", STUDY, "--resume", "--quiet"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    [run] = _runs(outputs, STUDY)
    assert run.name == status["final"]
    resumed = json.loads((run / "status.json").read_text())
    assert resumed["status"] == "complete" and resumed["parameters"]["epochs"] == 12
    assert len((run / "history.csv").read_text().splitlines()) == 13  # header and 12 epochs
    assert (run / f"{STUDY}.html").is_file()
