"""Reusing trained streams of earlier skeleton runs (``stream_runs``): streams trained by separate
processes and fused in a later run give the table of one run that trained them all."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from tolerances import rounding_tolerance

from workbench.cli import main
from workbench.errors import CheckpointError, ConfigError, DataFormatError
from workbench.studies import skeleton_ensembles as study


@pytest.fixture(scope="module")
def finished_run(ci_run: Callable[[str], Path]) -> Path:
    return ci_run("skeleton_ensembles")


@pytest.fixture(scope="module")
def run_data(finished_run: Path) -> tuple[study.Config, study.SkeletonData]:
    cfg, _ = study.load_checkpoint(finished_run / "checkpoint.pt")
    cfg = replace(cfg, progress=False, resume=False, output_dir="")
    return cfg, study.load_data(cfg)


def _rows(folder: Path) -> list[dict]:
    return json.loads((folder / "metrics.json").read_text())["rows"]


def _keep_streams(source: Path, target: Path, streams: list[str]) -> Path:
    """A copy of run ``source`` whose checkpoint holds only ``streams``."""
    shutil.copytree(source, target)
    state = torch.load(target / "checkpoint.pt", weights_only=False)
    state["models"] = {s: w for s, w in state["models"].items() if s in streams}
    torch.save(state, target / "checkpoint.pt")
    return target


def test_reused_streams_rebuild_the_runs_table(finished_run: Path, run_data: tuple) -> None:
    cfg, data = run_data
    reused = study.reused_streams(replace(cfg, stream_runs=[str(finished_run)]), data)
    assert list(reused) == ["j", "b", "k", "jm", "bm", "km", "j#2", "b#2"]
    assert all(r.source == str(finished_run) and len(r.history) == cfg.epochs for r in reused.values())
    table, _ = study.results_table(reused, data, cfg)
    expected = pd.DataFrame(_rows(finished_run))
    pd.testing.assert_frame_equal(table.reset_index(drop=True), expected[table.columns], check_dtype=False)


@pytest.mark.numerics  # equal to the last bit: the reused streams' stored scores are fused
def test_streams_split_over_two_runs_give_the_single_runs_results(finished_run: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    static = _keep_streams(finished_run, tmp_path / "static", ["j", "b", "k", "j#2", "b#2"])
    motion = _keep_streams(finished_run, tmp_path / "motion", ["jm", "bm", "km"])
    monkeypatch.setenv("WORKBENCH_OUTPUTS", str(tmp_path / "outputs"))
    assert main(["run", "skeleton_ensembles", "--preset", "ci", "--quiet",
                 "-p", "stream_runs", f"[{static}, {motion}]"]) == 0
    (fused,) = (tmp_path / "outputs" / "skeleton_ensembles").iterdir()
    assert _rows(fused) == _rows(finished_run)
    summary = json.loads((fused / "metrics.json").read_text())
    assert summary["reused_from"] == ({s: str(static) for s in ("j", "b", "k", "j#2", "b#2")}
                                      | {s: str(motion) for s in ("jm", "bm", "km")})
    assert (fused / "history.csv").read_text() == (finished_run / "history.csv").read_text()
    assert not list(fused.glob("train_*.pt"))


@pytest.mark.numerics
def test_a_missing_stream_is_trained_and_matches_the_single_run(finished_run: Path, run_data: tuple, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    partial = _keep_streams(finished_run, tmp_path / "partial", ["j", "b", "k", "jm", "bm"])
    monkeypatch.setenv("WORKBENCH_OUTPUTS", str(tmp_path / "outputs"))
    assert main(["run", "skeleton_ensembles", "--preset", "ci", "--quiet", "-p", "stream_runs", f"[{partial}]"]) == 0
    (fused,) = (tmp_path / "outputs" / "skeleton_ensembles").iterdir()
    assert "km" not in json.loads((fused / "metrics.json").read_text())["reused_from"]
    before, after = np.load(finished_run / "scores.npz"), np.load(fused / "scores.npz")
    # km is trained again here, in this process (its thread count may differ from the ci run's): the two
    # differ by the rounding of the training samples' terms, on probabilities of at most 1
    cfg, data = run_data
    np.testing.assert_allclose(after["test_km"], before["test_km"], rtol=0,
                               atol=rounding_tolerance(data.sets["train"].clips.shape[1] * cfg.epochs))
    for new, old in zip(_rows(fused), _rows(finished_run), strict=True):
        assert new["model"] == old["model"] and new["top-1 (%)"] == pytest.approx(old["top-1 (%)"])


def test_a_run_with_other_data_options_is_refused(finished_run: Path, run_data: tuple) -> None:
    cfg, data = run_data
    other = replace(cfg, clip_len=cfg.clip_len + 8, stream_runs=[str(finished_run)])
    with pytest.raises(ConfigError, match=rf"{finished_run.name}: cannot reuse its streams, .*clip_len"):
        study.reused_streams(other, data)


def test_scores_of_other_clips_are_refused(finished_run: Path, run_data: tuple, tmp_path: Path) -> None:
    cfg, data = run_data
    copy = shutil.copytree(finished_run, tmp_path / "copy")
    arrays = dict(np.load(copy / "scores.npz"))
    arrays["test_names"] = arrays["test_names"][::-1]
    np.savez(copy / "scores.npz", **arrays)
    with pytest.raises(DataFormatError, match=r"scores.npz: its test clips or labels differ"):
        study.reused_streams(replace(cfg, stream_runs=[str(copy)]), data)
    del arrays["val_names"]
    np.savez(copy / "scores.npz", **arrays)
    with pytest.raises(DataFormatError, match=r"no val_names"):
        study.reused_streams(replace(cfg, stream_runs=[str(copy)]), data)


def test_a_stream_in_two_runs_or_a_missing_run_is_refused(finished_run: Path, run_data: tuple,
                                                          tmp_path: Path) -> None:
    cfg, data = run_data
    twice = replace(cfg, stream_runs=[str(finished_run), str(finished_run)])
    with pytest.raises(ConfigError, match="stream j is in both"):
        study.reused_streams(twice, data)
    with pytest.raises(CheckpointError, match="checkpoint file not found"):
        study.reused_streams(replace(cfg, stream_runs=[str(tmp_path / "nothing")]), data)
    with pytest.raises(ConfigError, match="stream_runs must be a list"):
        study.Config.from_mapping({"stream_runs": "outputs/run"})
