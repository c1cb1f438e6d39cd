"""The skeleton study's tables: accuracy of every stream and ensemble, the streams' error correlation
and the learning curves of all streams."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import torch

from workbench import metrics
from workbench.studies.skeleton_ensembles import ensembles
from workbench.studies.skeleton_ensembles.config import STREAM_NAMES, Config
from workbench.studies.skeleton_ensembles.data import SkeletonData
from workbench.studies.skeleton_ensembles.training import StreamResult

log = logging.getLogger(__name__)

def _row(name: str, streams: list[str], fusion: str, weights: dict[str, float] | None, val: np.ndarray,
         val_labels: torch.Tensor, test: np.ndarray, test_labels: torch.Tensor) -> dict[str, Any]:
    m = metrics.classification_metrics(test, test_labels)
    used = sum(1 for s in streams if weights[s] != 0) if weights else len(streams)
    return {"model": name, "streams": len(streams), "streams used": used, "fusion": fusion,
            "weights": ", ".join(f"{s}:{weights[s]:g}" for s in streams) if weights else "",
            "val top-1 (%)": metrics.top_k_accuracy(val, val_labels, 1), "top-1 (%)": m["top1"],
            "top-5 (%)": m["top5"], "mean class (%)": m["mean_class"]}


def results_table(results: dict[str, StreamResult], data: SkeletonData, cfg: Config) -> tuple[pd.DataFrame, dict]:
    """One row per single stream and per ensemble of ``cfg.ensembles`` (fixed ``cfg.fusion_weights``
    and weights searched on the validation split), with test top-1 / top-5 / mean class accuracy (%),
    validation top-1 (%), and the ensemble's stream count and how many of them have a non-zero weight
    (``streams used``: a searched ensemble may keep fewer when validation cannot separate them).
    Returns the table and the searched weights per ensemble. Ensembles naming an untrained stream are
    skipped with a log line."""
    val_labels, test_labels = data.sets["val"].labels, data.sets["test"].labels
    val = {s: r.val_scores for s, r in results.items()}
    test = {s: r.test_scores for s, r in results.items()}
    rows = [_row(f"{s} ({STREAM_NAMES[s]})", [s], "single", None, val[s], val_labels, test[s], test_labels)
            for s in results]
    searched: dict[str, dict[str, float]] = {}
    for name, members in cfg.ensembles.items():
        members = list(members)
        missing = [s for s in members if s not in results]
        if missing:
            log.warning("ensemble %s skipped: stream(s) %s not trained", name, ", ".join(missing))
            continue
        fixed = {s: float(cfg.fusion_weights.get(s, 1.0)) for s in members}
        rows.append(_row(name, members, "fixed", fixed, ensembles.fuse(val, fixed, members), val_labels,
                         ensembles.fuse(test, fixed, members), test_labels))
        searched[name] = ensembles.search_weights(val, val_labels.numpy(), members, cfg.weight_grid)
        rows.append(_row(name, members, "val-searched", searched[name], ensembles.fuse(val, searched[name], members),
                         val_labels, ensembles.fuse(test, searched[name], members), test_labels))
    return pd.DataFrame(rows), searched


def largest_ensemble_scores(results: dict[str, StreamResult], cfg: Config) -> tuple[str, np.ndarray]:
    """Name and fixed-weight fused test scores of the ensemble with the most streams (or the single
    stream when no ensemble applies)."""
    usable = {n: list(m) for n, m in cfg.ensembles.items() if all(s in results for s in m)}
    if not usable:
        stream = next(iter(results))
        return stream, results[stream].test_scores
    name = max(usable, key=lambda n: len(usable[n]))
    fixed = {s: float(cfg.fusion_weights.get(s, 1.0)) for s in usable[name]}
    return name, ensembles.fuse({s: r.test_scores for s, r in results.items()}, fixed, usable[name])


def error_correlation_table(results: dict[str, StreamResult], data: SkeletonData) -> pd.DataFrame:
    """Pairwise correlation of the single streams' test errors (:func:`metrics.error_correlation`),
    streams as rows and columns, and each stream's test error rate (%) as the last column."""
    streams = list(results)
    labels = data.sets["test"].labels
    corr = metrics.error_correlation([results[s].test_scores for s in streams], labels).numpy()
    table = pd.DataFrame(corr, index=streams, columns=streams)
    table["test error (%)"] = [100.0 - metrics.top_k_accuracy(results[s].test_scores, labels, 1) for s in streams]
    return table


def history_frame(results: dict[str, StreamResult]) -> pd.DataFrame:
    """One row per epoch: ``epoch`` and ``<stream> <column>`` for every history column of every stream
    (train_loss, val_loss, val_top1 (%), lr, ...; the mean over folds for cross-validated streams), for
    :func:`workbench.viz.curves.learning_curves`."""
    frames = [pd.DataFrame(r.history).drop(columns=["stream", "fold"], errors="ignore").groupby("epoch").mean()
              .add_prefix(f"{s} ") for s, r in results.items() if r.history]
    if not frames:
        return pd.DataFrame({"epoch": []})
    return pd.concat(frames, axis=1).reset_index()
