"""Crash-safe ``workbench run``: SIGKILL mid-epoch then ``--resume``, Ctrl-C (SIGINT) then
``--resume``, both ending with the metrics and history of an uninterrupted run.

Equal to the last bit: each run is a ``workbench run`` process with the same environment (so the same
thread count and kernels) doing the same operations on the same shapes, and resuming restores the exact
state (weights, optimiser, random generators, the partial epoch's sums)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

STUDY = "decoupled_3dpw"
# 12 short epochs: the run is still training when the test, polling for its first checkpoint, gets the CPU
# again, even on a machine busy enough to starve the test process for several epochs.
PARAMS = ["--preset", "ci", "--quiet", "-p", "epochs", "12", "-p", "batch_size", "4",
          "-p", "synthetic_scenes", "{train: 60, valid: 16, test: 8}", "-p", "viewer_scenes", "1"]


def _default_ctrl_c() -> None:
    """In the child: Ctrl-C handled as in a terminal, even when the test runner ignores SIGINT (CI
    runs it as a background job, and ignored signals are inherited)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _workbench(outputs: Path, *args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "WORKBENCH_OUTPUTS": str(outputs)}
    return subprocess.Popen([sys.executable, "-m", "workbench.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_ctrl_c, **kwargs)


def _finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out + err


def _staged_checkpoint(outputs: Path, min_epoch: int, timeout: float = 240) -> dict:
    """Wait until the running (staging) run has saved epoch ``min_epoch`` (0-based); its state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in (outputs / STUDY).glob(".*.partial/checkpoint.pt"):
            try:
                state = torch.load(path, weights_only=True)
            except Exception:  # being replaced at this instant: read again
                continue
            if state["epoch"] >= min_epoch:
                return state
        time.sleep(0.02)
    raise AssertionError("the run never saved a checkpoint")


def _without_times(tree: object) -> object:
    if isinstance(tree, dict):
        return {k: _without_times(v) for k, v in tree.items() if "time" not in k}
    return tree


def _results(run: Path) -> tuple[object, list[dict]]:
    """metrics.json and history.csv without wall-clock times."""
    metrics = _without_times(json.loads((run / "metrics.json").read_text()))
    with open(run / "history.csv", newline="") as handle:
        history = [{k: float(v) for k, v in row.items() if "time" not in k} for row in csv.DictReader(handle)]
    return metrics, history


def _single_run(outputs: Path) -> Path:
    runs = [p for p in (outputs / STUDY).iterdir() if not p.name.startswith(".") and p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[dict, list[dict]]:
    outputs = tmp_path_factory.mktemp("reference") / "outputs"
    code, log = _finish(_workbench(outputs, "run", STUDY, *PARAMS))
    assert code == 0, log
    return _results(_single_run(outputs))


@pytest.mark.numerics
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path: Path, reference) -> None:
    outputs = tmp_path / "outputs"
    process = _workbench(outputs, "run", STUDY, *PARAMS, start_new_session=True)
    state = _staged_checkpoint(outputs, min_epoch=0)
    time.sleep(state["history"][-1]["epoch_time_s"] / 2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    staged = list((outputs / STUDY).glob(".*.partial"))
    assert len(staged) == 1 and json.loads((staged[0] / "status.json").read_text())["status"] == "running"
    assert not [p for p in (outputs / STUDY).iterdir() if not p.name.startswith(".")]

    code, log = _finish(_workbench(outputs, "run", STUDY, "--resume", "--quiet"))
    assert code == 0, log
    run = _single_run(outputs)
    assert json.loads((run / "status.json").read_text())["status"] == "complete"
    assert _results(run) == reference


@pytest.mark.numerics
def test_ctrl_c_saves_state_then_resume_matches_uninterrupted(tmp_path: Path, reference) -> None:
    outputs = tmp_path / "outputs"
    process = _workbench(outputs, "run", STUDY, *PARAMS, start_new_session=True)
    _staged_checkpoint(outputs, min_epoch=0)
    process.send_signal(signal.SIGINT)
    code, log = _finish(process)
    assert code == 130, log
    assert "TrainingInterrupted" in log and "--resume" in log
    stage = next((outputs / STUDY).glob(".*.partial"))
    status = json.loads((stage / "status.json").read_text())
    assert status["status"] == "interrupted"
    state = torch.load(stage / "checkpoint.pt", weights_only=True)
    assert state["partial"] is not None or state["epoch"] < 3

    code, log = _finish(_workbench(outputs, "run", STUDY, "--resume", stage.name, "--quiet"))
    assert code == 0, log
    assert _results(_single_run(outputs)) == reference


# fp32 pinned: pretraining's default precision, auto, would train bf16 on some CPUs
PRETRAIN = ["--quiet", "-p", "model", "3dconv", "-p", "dataset", "synthetic", "-p", "synthetic_sequences", "12",
            "-p", "synthetic_frames", "30", "-p", "viewer_windows", "1", "-p", "precision", "fp32"]


def _pretrain_runs(outputs: Path) -> list[Path]:
    return sorted(p for p in (outputs / "pretrain").iterdir() if not p.name.startswith(".") and p.is_dir())


@pytest.mark.numerics
def test_extending_a_complete_run_matches_one_trained_that_long(tmp_path: Path) -> None:
    longer = tmp_path / "longer"
    code, log = _finish(_workbench(longer, "run", "pretrain", *PRETRAIN, "-p", "epochs", "4"))
    assert code == 0, log
    outputs = tmp_path / "outputs"
    code, log = _finish(_workbench(outputs, "run", "pretrain", *PRETRAIN, "-p", "epochs", "2"))
    assert code == 0, log
    [first] = _pretrain_runs(outputs)
    before = _results(first)
    assert len(before[1]) == 2

    code, log = _finish(_workbench(outputs, "run", "pretrain", "--quiet", "--extend", first.name, "-p", "epochs", "4"))
    assert code == 0, log
    [extended] = [run for run in _pretrain_runs(outputs) if run != first]
    assert _results(extended) == _results(_pretrain_runs(longer)[0])
    assert json.loads((extended / "status.json").read_text())["extends"] == first.name
    assert _results(first) == before  # the finished run is left as it was

    code, log = _finish(_workbench(outputs, "run", "pretrain", "--extend", "no_such_run"))
    assert code == 2 and "no_such_run: no such run folder" in log
    code, log = _finish(_workbench(outputs, "run", "pretrain", "--extend", first.name, "--resume"))
    assert code == 2 and "give one of them" in log


def test_resume_without_a_resumable_run_is_a_clear_error(tmp_path: Path) -> None:
    code, log = _finish(_workbench(tmp_path / "outputs", "run", STUDY, "--resume"))
    assert code == 2
    assert "no interrupted or killed decoupled_3dpw run to resume" in log


def test_runs_started_in_the_same_second_get_different_folders(outputs: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from workbench.run_folders import release_run_name, reserve_run_folder

    (outputs / "pretrain" / "20261201-120000_3dconv").mkdir(parents=True)  # a finished run of that name
    with ThreadPoolExecutor(8) as pool:
        folders = list(pool.map(lambda _: reserve_run_folder("pretrain", "20261201-120000_3dconv"), range(8)))
    names = sorted(f.name for f in folders)
    assert len(set(names)) == 8 and "20261201-120000_3dconv" not in names
    assert "20261201-120000_3dconv-2" in names and "20261201-120000_3dconv-9" in names
    release_run_name(folders[0])
    assert reserve_run_folder("pretrain", "20261201-120000_3dconv") == folders[0]
