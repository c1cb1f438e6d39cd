"""Streams reused from earlier runs of the skeleton study: the trained streams of ``stream_runs``, or
the streams of the K fold runs of ``fold_runs`` cross-validated (out-of-fold validation scores,
fold-averaged test scores)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from workbench.errors import ConfigError, DataFormatError
from workbench.studies.skeleton_ensembles.config import Config
from workbench.studies.skeleton_ensembles.data import ClipSet, SkeletonData
from workbench.studies.skeleton_ensembles.results import load_checkpoint
from workbench.studies.skeleton_ensembles.training import StreamResult

SAME_DATA_OPTIONS = ("dataset", "data_path", "jhmdb_split", "layout", "num_classes", "synthetic_clips", "train_split",
                     "val_split", "test_split", "val_fraction", "val_folds", "val_fold", "max_per_class", "max_persons",
                     "clip_len", "test_clips", "view_align", "bone_order", "model", "seed")
"""Options a reused run must share with this one: they fix the clips, their order and the scores."""


def _differing_options(run_cfg: Config, cfg: Config, ignore: tuple[str, ...] = ()) -> list[str]:
    """``"<option> <run's value> (here <this value>)"`` for each of :data:`SAME_DATA_OPTIONS` (less
    ``ignore``) where an earlier run's configuration differs from this one."""
    return [f"{k} {getattr(run_cfg, k)!r} (here {getattr(cfg, k)!r})" for k in SAME_DATA_OPTIONS
            if k not in ignore and getattr(run_cfg, k) != getattr(cfg, k)]


def load_stream_run(folder: str | Path, cfg: Config, data: SkeletonData) -> dict[str, StreamResult]:
    """The models of ``cfg.model_names`` (streams and replicas) trained by the run in ``folder`` (its ``checkpoint.pt``,
    ``history.csv`` and ``scores.npz``). Raises :class:`ConfigError` when the run used other data
    options (:data:`SAME_DATA_OPTIONS`) and :class:`DataFormatError` when its scores are not for
    this run's validation and test clips, in the same order."""
    folder = Path(folder)
    run_cfg, models = load_checkpoint(folder / "checkpoint.pt")
    differ = _differing_options(run_cfg, cfg)
    if differ:
        raise ConfigError(f"{folder}: cannot reuse its streams, it was run with " + ", ".join(differ))
    scores = _load_scores(folder / "scores.npz", data)
    history = _read_history(folder)
    wanted = [s for s in cfg.model_names if s in models]
    missing = [f"{role}_{s}" for s in wanted for role in ("val", "test") if f"{role}_{s}" not in scores]
    if missing:
        raise DataFormatError(folder / "scores.npz", f"no scores {', '.join(missing)}")
    return {s: StreamResult(models[s], [row for row in history if row.get("stream") == s], scores[f"val_{s}"],
                            scores[f"test_{s}"], str(folder)) for s in wanted}


def _read_history(folder: Path) -> list[dict]:
    try:
        return pd.read_csv(folder / "history.csv").to_dict(orient="records")
    except (OSError, ValueError) as exc:
        raise DataFormatError(folder / "history.csv", f"cannot read the training history ({exc})") from None


def read_scores(path: Path, num_classes: int | None = None) -> dict[str, np.ndarray]:
    """A run's ``scores.npz`` (``{val,test}_names``, ``_labels`` and ``_<model>`` scores (N, K)), checked for clip
    names, labels and score shapes per split (K: ``num_classes``, or one count for all scores when None)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            scores = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError) as exc:
        raise DataFormatError(path, f"cannot read the scores ({exc})") from None
    for role in ("val", "test"):
        names, labels = scores.get(f"{role}_names"), scores.get(f"{role}_labels")
        if names is None or labels is None:
            raise DataFormatError(path, f"no {role}_names / {role}_labels (written by an older version)")
    widths = {value.shape[1] for value in scores.values() if value.ndim == 2}
    classes = num_classes if num_classes is not None else max(widths, default=0)
    for role in ("val", "test"):
        names = scores[f"{role}_names"]
        for key, value in scores.items():
            if key.startswith(f"{role}_") and value.ndim == 2 and value.shape != (len(names), classes):
                raise DataFormatError(path, f"{key} has shape {value.shape}, expected ({len(names)}, {classes})")
    return scores


def _check_same_clips(path: Path, scores: dict[str, np.ndarray], role: str, clips: ClipSet) -> None:
    if scores[f"{role}_names"].tolist() != clips.names or not np.array_equal(scores[f"{role}_labels"],
                                                                              clips.labels.numpy()):
        raise DataFormatError(path, f"its {role} clips or labels differ from this run's {role} split")


def _load_scores(path: Path, data: SkeletonData) -> dict[str, np.ndarray]:
    scores = read_scores(path, data.num_classes)
    for role in ("val", "test"):
        _check_same_clips(path, scores, role, data.sets[role])
    return scores


def load_fold_runs(cfg: Config, data: SkeletonData) -> dict[str, StreamResult]:
    """Cross-validated streams from the K runs of ``cfg.fold_runs``, one per ``val_fold`` 0 .. K-1,
    each with this run's data options otherwise. A stream's validation scores are out of fold: every
    clip of this run's validation split (all K folds) is scored by the fold model that did not train
    on it. Its test scores are the fold mean ``p = (1/K) sum_k p_k`` of the K models' softmax scores.
    Histories gain a ``fold`` column; models stay in the fold runs (``model`` None). Raises
    :class:`ConfigError` when the runs are not the K folds of this configuration or lack a stream,
    :class:`DataFormatError` when their scores are not for this run's clips."""
    val, test = data.sets["val"], data.sets["test"]
    row_of = {name: i for i, name in enumerate(val.names)}
    shape = (len(val.names), data.num_classes)
    oof = {s: np.full(shape, np.nan) for s in cfg.model_names}
    test_sum = {s: np.zeros((len(test.names), data.num_classes)) for s in cfg.model_names}
    histories: dict[str, list[dict]] = {s: [] for s in cfg.model_names}
    folds: dict[int, Path] = {}
    for folder in map(Path, cfg.fold_runs):
        run_cfg, _ = load_checkpoint(folder / "checkpoint.pt")
        differ = _differing_options(run_cfg, cfg, ignore=("val_fold",))
        if differ:
            raise ConfigError(f"{folder}: not a fold of this configuration, it was run with " + ", ".join(differ))
        if run_cfg.val_fold in folds:
            raise ConfigError(f"{folds[run_cfg.val_fold]} and {folder} both hold out fold {run_cfg.val_fold}")
        folds[run_cfg.val_fold] = folder
        path = folder / "scores.npz"
        scores = read_scores(path, data.num_classes)
        _check_same_clips(path, scores, "test", test)
        rows = [row_of.get(name, -1) for name in scores["val_names"].tolist()]
        if -1 in rows or not np.array_equal(scores["val_labels"], val.labels.numpy()[rows]):
            raise DataFormatError(path, "its validation clips or labels are not in this run's folds")
        missing = [s for s in cfg.model_names if f"val_{s}" not in scores or f"test_{s}" not in scores]
        if missing:
            raise ConfigError(f"{folder}: no scores for stream(s) {', '.join(missing)}; train them in every fold run")
        history = _read_history(folder)
        for s in cfg.model_names:
            oof[s][rows] = scores[f"val_{s}"]
            test_sum[s] += scores[f"test_{s}"]
            histories[s] += [{**row, "fold": run_cfg.val_fold} for row in history if row.get("stream") == s]
    uncovered = int(np.isnan(oof[cfg.model_names[0]][:, 0]).sum())
    if uncovered:
        raise ConfigError(f"fold_runs leave {uncovered} validation clips unscored; list one run per fold")
    source = ", ".join(cfg.fold_runs)
    return {s: StreamResult(None, histories[s], oof[s], test_sum[s] / len(folds), source) for s in cfg.model_names}


def reused_streams(cfg: Config, data: SkeletonData) -> dict[str, StreamResult]:
    """The models of ``cfg.model_names`` found in the runs of ``cfg.stream_runs`` (see
    :func:`load_stream_run`), or all of them cross-validated from ``cfg.fold_runs`` (see
    :func:`load_fold_runs`); a stream found in two runs is a :class:`ConfigError`."""
    if cfg.fold_runs:
        return load_fold_runs(cfg, data)
    reused: dict[str, StreamResult] = {}
    for folder in cfg.stream_runs:
        for stream, result in load_stream_run(folder, cfg, data).items():
            if stream in reused:
                raise ConfigError(f"stream {stream} is in both {reused[stream].source} and {folder}; "
                                  "list each stream's run once")
            reused[stream] = result
    return reused
