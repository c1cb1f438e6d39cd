"""The skeleton study's tables: accuracy of every stream and ensemble, the streams' error correlation
and the learning curves of all streams."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import torch

from workbench import metrics
from workbench.studies.skeleton_ensembles import ensembles, replicas
from workbench.studies.skeleton_ensembles.config import STREAM_NAMES, Config
from workbench.studies.skeleton_ensembles.data import ClipSet, SkeletonData, fold_holdout
from workbench.studies.skeleton_ensembles.training import StreamResult

log = logging.getLogger(__name__)


def boosting_kind(members: list[str]) -> str:
    """``single`` for one model, ``stochastic`` when an ensemble holds replicas (two seeds of one stream),
    ``complementary`` when it holds only different streams."""
    if len(members) == 1:
        return "single"
    return "stochastic" if len(set(map(replicas.base_stream, members))) < len(members) else "complementary"


def stream_label(name: str) -> str:
    """``"j (joint)"``, ``"j#2 (joint, seed 2)"``: a model's table label."""
    stream, index = replicas.base_stream(name), replicas.replica_index(name)
    return f"{name} ({STREAM_NAMES[stream]}{f', seed {index}' if index > 1 else ''})"


def fixed_weights(cfg: Config, members: list[str]) -> dict[str, float]:
    """``cfg.fusion_weights`` of ``members`` (a replica weighs as its stream)."""
    return {s: replicas.fixed_weight(cfg.fusion_weights, s) for s in members}


def check_folds(clips: ClipSet, cfg: Config) -> list[np.ndarray]:
    """Row indices of the ``weight_check_folds`` stratified folds of the validation clips
    (:func:`fold_holdout`, seeded by the run); empty when the check is off (fewer than 2 folds)."""
    if cfg.weight_check_folds < 2:
        return []
    row_of = {n: i for i, n in enumerate(clips.names)}
    labels = clips.labels.tolist()
    return [np.array([row_of[n] for n in fold_holdout(clips.names, labels, cfg.weight_check_folds, k, cfg.seed)[1]])
            for k in range(cfg.weight_check_folds)]


def search(val: dict[str, np.ndarray], labels: np.ndarray, members: list[str], fixed: dict[str, float],
           folds: list[np.ndarray], cfg: Config) -> tuple[dict[str, float], dict[str, str]]:
    """Weights for ``members`` searched on the validation scores ``val`` (labels ``labels``) and shrunk
    towards ``fixed`` by ``weight_shrinkage`` (:func:`ensembles.fitted_weights`), and the search check
    column: with ``folds`` (:func:`check_folds`) the search is cross-validated over them and replaced by
    ``fixed`` unless it wins out of fold (:func:`ensembles.checked_search`)."""
    if not folds:
        return ensembles.fitted_weights(val, labels, members, fixed, cfg.weight_grid, cfg.weight_objective,
                                        cfg.weight_shrinkage), {}
    weights, check = ensembles.checked_search(val, labels, members, fixed, folds, cfg.weight_grid,
                                              cfg.weight_objective, cfg.weight_shrinkage)
    verdict = "searched" if check["searched kept"] else "fixed kept"
    return weights, {"search check": f"{verdict} (out of fold {check['oof searched top-1 (%)']:.1f} % searched, "
                                     f"{check['oof fixed top-1 (%)']:.1f} % fixed)"}


def run_ensembles(results: dict[str, StreamResult], data: SkeletonData, cfg: Config) -> dict[str, list[str]]:
    """The configured (complementary) ensembles, then the stochastic ones the run's replicas allow
    (:func:`replicas.replica_ensembles`, the best stream chosen on validation top-1)."""
    val_labels = data.sets["val"].labels
    val_top1 = {s: metrics.top_k_accuracy(r.val_scores, val_labels, 1) for s, r in results.items()}
    return {**{n: list(m) for n, m in cfg.ensembles.items()}, **replicas.replica_ensembles(list(results), val_top1)}


def _row(name: str, streams: list[str], fusion: str, weights: dict[str, float] | None, val: np.ndarray,
         val_labels: torch.Tensor, test: np.ndarray, test_labels: torch.Tensor) -> dict[str, Any]:
    m = metrics.classification_metrics(test, test_labels)
    used = sum(1 for s in streams if weights[s] != 0) if weights else len(streams)
    return {"model": name, "streams": len(streams), "streams used": used, "fusion": fusion,
            "boosting": boosting_kind(streams), "search check": "",
            "weights": ", ".join(f"{s}:{weights[s]:g}" for s in streams) if weights else "",
            "val top-1 (%)": metrics.top_k_accuracy(val, val_labels, 1), "top-1 (%)": m["top1"],
            "top-5 (%)": m["top5"], "mean class (%)": m["mean_class"]}


def results_table(results: dict[str, StreamResult], data: SkeletonData, cfg: Config) -> tuple[pd.DataFrame, dict]:
    """One row per model (streams and replicas) and per ensemble of :func:`run_ensembles` (fixed
    ``cfg.fusion_weights`` and weights searched on the validation split, :func:`search`), with test
    top-1 / top-5 / mean class accuracy (%), validation top-1 (%), the ensemble's model count and how
    many of them have a non-zero weight (``streams used``: a searched ensemble may keep fewer when
    validation cannot separate them), its ``boosting`` kind (:func:`boosting_kind`) and ``search check``.
    Returns the table and the searched weights per ensemble. Ensembles naming an untrained stream are
    skipped with a log line."""
    val_labels, test_labels = data.sets["val"].labels, data.sets["test"].labels
    val = {s: r.val_scores for s, r in results.items()}
    test = {s: r.test_scores for s, r in results.items()}
    rows = [_row(stream_label(s), [s], "single", None, val[s], val_labels, test[s], test_labels) for s in results]
    searched: dict[str, dict[str, float]] = {}
    folds = check_folds(data.sets["val"], cfg)  # the same folds check every ensemble's search
    for name, members in run_ensembles(results, data, cfg).items():
        missing = [s for s in members if s not in results]
        if missing:
            log.warning("ensemble %s skipped: stream(s) %s not trained", name, ", ".join(missing))
            continue
        fixed = fixed_weights(cfg, members)
        rows.append(_row(name, members, "fixed", fixed, ensembles.fuse(val, fixed, members), val_labels,
                         ensembles.fuse(test, fixed, members), test_labels))
        searched[name], check = search(val, val_labels.numpy(), members, fixed, folds, cfg)
        rows.append({**_row(name, members, "val-searched", searched[name], ensembles.fuse(val, searched[name], members),
                            val_labels, ensembles.fuse(test, searched[name], members), test_labels), **check})
    return pd.DataFrame(rows), searched


def largest_ensemble_scores(results: dict[str, StreamResult], cfg: Config) -> tuple[str, np.ndarray]:
    """Name and fixed-weight fused test scores of the ensemble with the most streams (or the single
    stream when no ensemble applies)."""
    usable = {n: list(m) for n, m in cfg.ensembles.items() if all(s in results for s in m)}
    if not usable:
        stream = next(iter(results))
        return stream, results[stream].test_scores
    name = max(usable, key=lambda n: len(usable[n]))
    fixed = fixed_weights(cfg, usable[name])
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


def correlation_summary(correlations: pd.DataFrame) -> pd.DataFrame:
    """From :func:`error_correlation_table`: the mean and count of the error correlations between two
    seeds of one stream (``j`` and ``j#2``) and between two different streams (first models only), so
    that stochastic and complementary pairs can be compared (:func:`replicas.mean_by_pair_kind`)."""
    names = [c for c in correlations.columns if c in correlations.index]
    means = replicas.mean_by_pair_kind(names, correlations.loc[names, names].to_numpy())
    return pd.DataFrame([{"pairs": kind, "count": count, "mean error correlation": mean}
                         for kind, (mean, count) in means.items()])


def history_frame(results: dict[str, StreamResult]) -> pd.DataFrame:
    """One row per epoch: ``epoch`` and ``<stream> <column>`` for every history column of every stream
    (train_loss, val_loss, val_top1 (%), lr, ...; the mean over folds for cross-validated streams), for
    :func:`workbench.viz.curves.learning_curves`."""
    frames = [pd.DataFrame(r.history).drop(columns=["stream", "fold"], errors="ignore").groupby("epoch").mean()
              .add_prefix(f"{s} ") for s, r in results.items() if r.history]
    if not frames:
        return pd.DataFrame({"epoch": []})
    return pd.concat(frames, axis=1).reset_index()
