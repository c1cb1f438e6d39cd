"""The pretraining grid fused from separate runs (one per model, experiment and shift scalar)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from workbench.errors import ConfigError, DataFormatError
from workbench.studies import pretrain

DATA = {"dataset": "penn_action", "seed": 0, "window": 5, "max_windows": {"val": 500}}


def _result(p05: float, p1: float, p2: float) -> dict:
    return {"pck": {"0.05": p05, "0.1": p1, "0.2": p2}, "threshold_px": {"0.05": 0.7, "0.1": 1.4, "0.2": 2.8},
            "n_keypoints": 100, "loss": 1.0}


def _run(root: Path, name: str, model: str, experiment: int, shift: float, pck: tuple, data: dict = DATA) -> str:
    folder = root / name
    folder.mkdir()
    payload = {"study": "pretrain", "model": model, "experiment": experiment, "shift_scalar": shift,
               "epochs_trained": 4, "train_time_s": 120.0, "data_options": data, "precision": "bf16",
               "machine": {"device": "cpu", "name": "AMD EPYC (family 25, model 17)", "instruction_sets": ["AVX2"],
                           "threads": 2, "precision": "bf16", "torch": "2.13.0+cpu"},
               "test": {"identity": _result(3.0, 16.0, 48.0), model: _result(*pck)},
               "per_keypoint_pck_0.1": {"identity total (%)": {"head": 10.0, "total": 16.0},
                                        f"{model} total (%)": {"head": 40.0, "total": 50.0}}}
    (folder / "metrics.json").write_text(json.dumps(payload))
    return str(folder)


def test_fused_runs_give_the_sweep_tables(tmp_path: Path) -> None:
    runs = [_run(tmp_path, "a", "3dconv", 1, 1.0, (5.0, 25.0, 66.0)),
            _run(tmp_path, "b", "bi_convlstm_c", 1, 1.0, (14.0, 48.0, 77.0)),
            _run(tmp_path, "c", "3dconv", 2, 1.0, (6.0, 30.0, 70.0))]
    long = pretrain.fuse_runs(runs)
    assert list(long["model"]) == ["identity", "3dconv", "bi_convlstm_c", "identity", "3dconv"]
    assert long.loc[long["model"] == "bi_convlstm_c", "train_time_s"].item() == 120.0
    assert set(long["precision"]) == {"bf16"}
    assert long["machine"].iloc[0] == "cpu: AMD EPYC (family 25, model 17), AVX2; 2 threads; bf16; torch 2.13.0+cpu"
    table = pretrain.sweep_tables(long)[1.0]
    assert table.loc["bi_convlstm_c", ("experiment 1", "PCK@0.1 (%)")] == 48.0
    assert pd.isna(table.loc["bi_convlstm_c", ("experiment 2", "PCK@0.2 (%)")])
    assert table.loc["identity", ("experiment 2", "PCK@0.2 (%)")] == 48.0
    assert table.loc[pretrain.THRESHOLD_ROW, ("experiment 1", "PCK@0.2 (%)")] == 2.8
    per_keypoint = pretrain.fused_per_keypoint(runs)
    assert per_keypoint.loc["head", "bi_convlstm_c, exp. 1, shift 1 (%)"] == 40.0
    assert per_keypoint.loc["total", "identity, exp. 2, shift 1 (%)"] == 16.0


def test_fusing_refuses_duplicates_other_data_and_foreign_folders(tmp_path: Path) -> None:
    a = _run(tmp_path, "a", "3dconv", 1, 1.0, (5.0, 25.0, 66.0))
    twice = _run(tmp_path, "b", "3dconv", 1, 1.0, (5.0, 25.0, 66.0))
    with pytest.raises(ConfigError, match="in both"):
        pretrain.fuse_runs([a, twice])
    other = _run(tmp_path, "c", "deciwatch", 1, 1.0, (9.0, 20.0, 50.0), {**DATA, "seed": 1})
    with pytest.raises(ConfigError, match="differs in seed"):
        pretrain.fuse_runs([a, other])
    with pytest.raises(DataFormatError, match="missing"):
        pretrain.fuse_runs([str(tmp_path / "nowhere")])
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "metrics.json").write_text('{"study": "skeleton_ensembles"}')
    with pytest.raises(DataFormatError, match="not the metrics of a pretrain run"):
        pretrain.fuse_runs([str(bad)])
    (bad / "metrics.json").write_text("{not json")
    with pytest.raises(DataFormatError, match="JSON"):
        pretrain.fuse_runs([str(bad)])
    with pytest.raises(ConfigError, match="sweep_runs"):
        pretrain.Config(sweep_runs="outputs/run")


def test_penn_action_root_or_labels_folder(tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    root = pretrain.Config(dataset="penn_action", data_dir=str(tmp_path))
    labels = pretrain.Config(dataset="penn_action", data_dir=str(tmp_path / "labels"))
    assert pretrain.data_folder(root) == pretrain.data_folder(labels) == tmp_path / "labels"
    assert pretrain.data_folder(pretrain.Config(dataset="penn_action")).name == "labels"
