"""Cross-validated skeleton streams: ``val_folds`` / ``val_fold`` hold out one fold of a stratified
K-way split, and ``fold_runs`` fuses the K fold runs into out-of-fold validation scores (for the
weight search) and fold-averaged test scores."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tolerances import rounding_tolerance

from workbench.cli import main
from workbench.errors import CheckpointError, ConfigError, DataFormatError
from workbench.studies import skeleton_ensembles as study


def _names(counts: dict[int, int]) -> tuple[list[str], list[int]]:
    names, labels = [], []
    for label, count in counts.items():
        names += [f"c{label}_{i}" for i in range(count)]
        labels += [label] * count
    return names, labels


@pytest.mark.parametrize("folds", [2, 3, 5])
def test_fold_holdout_partitions_every_clip_once_stratified(folds: int) -> None:
    names, labels = _names({0: 7, 1: 4, 2: 11, 3: 1})
    label_of = dict(zip(names, labels, strict=True))
    held = []
    for fold in range(folds):
        kept, out = study.fold_holdout(names, labels, folds, fold, seed=3)
        assert set(kept) | set(out) == set(names) and not set(kept) & set(out)
        assert kept == [n for n in names if n in set(kept)] and out == [n for n in names if n in set(out)]
        held.append(out)
    assert sorted(n for out in held for n in out) == sorted(names)
    sizes = [len(out) for out in held]
    assert max(sizes) - min(sizes) <= 1
    for label in set(labels):
        per_fold = [Counter(label_of[n] for n in out)[label] for out in held]
        assert max(per_fold) - min(per_fold) <= 1


def test_fold_holdout_is_seeded() -> None:
    names, labels = _names({0: 10, 1: 10})
    assert study.fold_holdout(names, labels, 2, 0, 1) == study.fold_holdout(names, labels, 2, 0, 1)
    assert study.fold_holdout(names, labels, 2, 0, 1) != study.fold_holdout(names, labels, 2, 0, 2)


@pytest.mark.parametrize("values", [{"val_folds": 1}, {"val_folds": 2, "val_fold": 2}, {"val_folds": -2},
                                    {"val_folds": 3, "fold_runs": ["a", "b"]},
                                    {"val_folds": 2, "fold_runs": ["a", "b"], "stream_runs": ["c"]}])
def test_bad_fold_options_are_config_errors(values: dict) -> None:
    with pytest.raises(ConfigError):
        study.Config.from_mapping(values)


def _ci(**values: object) -> study.Config:
    cfg = study.Config.from_mapping({"synthetic_clips": {"train": 3, "val": 2, "test": 2}, "clip_len": 8, **values})
    return cfg


def test_fold_runs_split_the_pooled_training_and_validation_clips() -> None:
    folds = [study.load_data(_ci(val_folds=2, val_fold=k)) for k in range(2)]
    pooled = study.load_data(_ci(val_folds=2, val_fold=0, fold_runs=["a", "b"]))
    pool = pooled.sets["val"].names
    assert len(pool) == 10 * (3 + 2) and pooled.sets["train"].names == pool
    assert sorted(folds[0].sets["val"].names + folds[1].sets["val"].names) == sorted(pool)
    for data in folds:
        assert not set(data.sets["train"].names) & set(data.sets["val"].names)
        assert data.sets["test"].names == pooled.sets["test"].names


@pytest.fixture(scope="module")
def fold_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path]:
    """Two ``ci`` fold runs and the run that cross-validates them."""
    outputs = tmp_path_factory.mktemp("folds")
    runs = []
    with pytest.MonkeyPatch.context() as mp:
        for fold in range(2):
            mp.setenv("WORKBENCH_OUTPUTS", str(outputs / f"fold{fold}"))
            assert main(["run", "skeleton_ensembles", "--preset", "ci", "--quiet", "-p", "val_folds", "2",
                         "-p", "val_fold", str(fold)]) == 0
            (folder,) = (outputs / f"fold{fold}" / "skeleton_ensembles").iterdir()
            runs.append(folder)
        mp.setenv("WORKBENCH_OUTPUTS", str(outputs / "cv"))
        assert main(["run", "skeleton_ensembles", "--preset", "ci", "--quiet", "-p", "val_folds", "2",
                     "-p", "fold_runs", f"[{runs[0]}, {runs[1]}]"]) == 0
    (fused,) = (outputs / "cv" / "skeleton_ensembles").iterdir()
    return runs, fused


def test_cross_validated_scores_are_out_of_fold_and_fold_averaged(fold_runs: tuple[list[Path], Path]) -> None:
    runs, fused = fold_runs
    cv = np.load(fused / "scores.npz")
    folds = [np.load(run / "scores.npz") for run in runs]
    row_of = {n: i for i, n in enumerate(cv["val_names"].tolist())}
    assert sorted(row_of) == sorted(folds[0]["val_names"].tolist() + folds[1]["val_names"].tolist())
    for stream in ("j", "b", "k", "jm", "bm", "km"):
        for fold in folds:
            rows = [row_of[n] for n in fold["val_names"].tolist()]
            np.testing.assert_array_equal(cv[f"val_{stream}"][rows], fold[f"val_{stream}"])
            np.testing.assert_array_equal(cv["val_labels"][rows], fold["val_labels"])
        np.testing.assert_allclose(cv[f"test_{stream}"], (folds[0][f"test_{stream}"] + folds[1][f"test_{stream}"]) / 2)
    rows = json.loads((fused / "metrics.json").read_text())["rows"]
    j = next(r for r in rows if r["model"].startswith("j "))
    assert j["val top-1 (%)"] == pytest.approx(100.0 * np.mean(cv["val_j"].argmax(1) == cv["val_labels"]))
    assert j["top-1 (%)"] == pytest.approx(100.0 * np.mean(cv["test_j"].argmax(1) == cv["test_labels"]))
    history = pd.read_csv(fused / "history.csv")
    assert sorted(history["fold"].unique()) == [0, 1] and not list(fused.glob("train_*.pt"))


def test_a_cross_validated_checkpoint_points_to_its_fold_runs(fold_runs: tuple[list[Path], Path]) -> None:
    runs, fused = fold_runs
    with pytest.raises(CheckpointError, match=str(runs[1])):
        study.load_checkpoint(fused / "checkpoint.pt")


def _fold_setup(runs: list[Path]) -> tuple[study.Config, study.SkeletonData]:
    cfg, _ = study.load_checkpoint(runs[0] / "checkpoint.pt")
    cfg = replace(cfg, fold_runs=[str(r) for r in runs], progress=False)
    return cfg, study.load_data(cfg)


def test_fold_runs_must_be_distinct_folds_of_the_same_configuration(fold_runs: tuple[list[Path], Path],
                                                                    tmp_path: Path) -> None:
    runs, _ = fold_runs
    cfg, data = _fold_setup(runs)
    with pytest.raises(ConfigError, match="both hold out fold 0"):
        study.load_fold_runs(replace(cfg, fold_runs=[str(runs[0]), str(runs[0])]), data)
    with pytest.raises(ConfigError, match="bone_order"):
        study.load_fold_runs(replace(cfg, bone_order=3), data)


def test_a_fold_run_without_a_stream_is_refused(fold_runs: tuple[list[Path], Path], tmp_path: Path) -> None:
    runs, _ = fold_runs
    partial = tmp_path / "partial"
    shutil.copytree(runs[1], partial)
    kept = {k: v for k, v in np.load(partial / "scores.npz").items() if not k.endswith("_km")}
    np.savez(partial / "scores.npz", **kept)
    cfg, data = _fold_setup([runs[0], partial])
    with pytest.raises(ConfigError, match="km"):
        study.load_fold_runs(cfg, data)


def test_fold_scores_for_other_clips_are_refused(fold_runs: tuple[list[Path], Path], tmp_path: Path) -> None:
    runs, _ = fold_runs
    other = tmp_path / "other"
    shutil.copytree(runs[1], other)
    arrays = dict(np.load(other / "scores.npz").items())
    arrays["val_names"] = np.array([f"x{n}" for n in arrays["val_names"]])
    np.savez(other / "scores.npz", **arrays)
    cfg, data = _fold_setup([runs[0], other])
    with pytest.raises(DataFormatError, match="scores.npz"):
        study.load_fold_runs(cfg, data)


@pytest.mark.numerics
def test_every_fold_in_one_run_equals_the_fused_fold_runs(fold_runs: tuple[list[Path], Path],
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, fused = fold_runs
    monkeypatch.setenv("WORKBENCH_OUTPUTS", str(tmp_path))
    assert main(["run", "skeleton_ensembles", "--preset", "ci", "--quiet", "-p", "val_folds", "2",
                 "-p", "val_fold", "-1"]) == 0
    (run,) = (tmp_path / "skeleton_ensembles").iterdir()
    one, cv = np.load(run / "scores.npz"), np.load(fused / "scores.npz")
    assert one["val_names"].tolist() == cv["val_names"].tolist()
    history = pd.read_csv(run / "history.csv")
    assert sorted(history["fold"].unique()) == [0, 1]
    cfg, models = study.load_checkpoint(run / "checkpoint.pt")
    assert cfg.cross_validated and len(models["j"].members) == 2
    data = study.load_data(replace(cfg, progress=False))
    # the same training in other batches and passes: probabilities (at most 1) apart by the rounding of the
    # training samples' terms
    atol = rounding_tolerance(len(data.sets["val"].names) * cfg.epochs)
    for stream in ("j", "b", "k", "jm", "bm", "km"):
        np.testing.assert_allclose(one[f"val_{stream}"], cv[f"val_{stream}"], rtol=0, atol=atol)
        np.testing.assert_allclose(one[f"test_{stream}"], cv[f"test_{stream}"], rtol=0, atol=atol)
    scores = study.predict_scores(models["j"], data.sets["test"], "j", data.layout, cfg.bone_order)
    np.testing.assert_allclose(scores, one["test_j"], rtol=0, atol=atol)


def test_every_fold_in_one_run_cannot_also_fuse_fold_runs() -> None:
    with pytest.raises(ConfigError, match="val_fold -1"):
        study.Config.from_mapping({"val_folds": 2, "val_fold": -1, "fold_runs": ["a", "b"]})
    with pytest.raises(ConfigError, match="or -1"):
        study.Config.from_mapping({"val_folds": 0, "val_fold": -1})
