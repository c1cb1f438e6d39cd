"""Score-level fusion of per-stream classifiers.

``scores`` maps a stream name to (N, K) class probabilities (softmax outputs, averaged over test
clips) of the same N samples in the same order. The fused score is the weighted sum
``s = sum_i w_i p_i`` (weights need not sum to one; only the argmax and ranking matter). Weights
are either fixed or searched on the validation split only: :func:`search_weights` never sees
test data, and the study applies the weights it returns unchanged to the test scores.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from workbench import metrics
from workbench.errors import ConfigError

DEFAULT_WEIGHTS: dict[str, float] = {"j": 2.0, "b": 2.0, "k": 2.0, "jm": 1.0, "bm": 1.0, "km": 1.0}
DEFAULT_ENSEMBLES: dict[str, list[str]] = {
    "2-stream (j+b)": ["j", "b"],
    "4-stream (j+b+jm+bm)": ["j", "b", "jm", "bm"],
    "6-stream": ["j", "b", "k", "jm", "bm", "km"],
}
DEFAULT_GRID: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)


def fuse(scores: Mapping[str, np.ndarray], weights: Mapping[str, float], streams: Sequence[str]) -> np.ndarray:
    """``sum_{s in streams} weights[s] * scores[s]``, shape (N, K)."""
    missing = [s for s in streams if s not in scores]
    if missing or not streams:
        raise ConfigError(f"cannot fuse streams {list(streams)}: no scores for {missing or 'any stream'}")
    shapes = {np.shape(scores[s]) for s in streams}
    if len(shapes) != 1:
        raise ConfigError(f"streams have different score shapes {sorted(shapes)}")
    return sum(float(weights.get(s, 1.0)) * np.asarray(scores[s], dtype=np.float64) for s in streams)


OBJECTIVES = ("top1", "log_loss")


def log_loss(fused: np.ndarray, labels: np.ndarray) -> float:
    """Mean natural-log loss ``-(1/N) sum_n log(s_{n,y_n} / sum_k s_{n,k})`` of fused scores (N, K)."""
    probabilities = fused / np.maximum(fused.sum(axis=1, keepdims=True), 1e-12)
    return float(-np.log(np.maximum(probabilities[np.arange(len(labels)), labels], 1e-12)).mean())


def _key(fused: np.ndarray, labels: np.ndarray, objective: str) -> tuple[float, ...]:
    """What the search maximises: top-1, then mean class accuracy, then minus the log loss (``top1``), or
    minus the log loss, then top-1 (``log_loss``)."""
    top1, loss = metrics.top_k_accuracy(fused, labels, 1), log_loss(fused, labels)
    if objective == "log_loss":
        return (-loss, top1)
    return (top1, metrics.mean_class_accuracy(fused, labels), -loss)


def search_weights(val_scores: Mapping[str, np.ndarray], val_labels: np.ndarray, streams: Sequence[str],
                   grid: Sequence[float] = DEFAULT_GRID, objective: str = "top1") -> dict[str, float]:
    """The weights (one value of ``grid`` per stream, not all zero) that score best on the validation
    scores given. ``objective`` ``top1``: the best validation top-1 accuracy; ties (common when
    validation accuracy saturates) go to the higher mean class accuracy, then to the lower validation
    log loss of the fused probabilities ``s / sum_k s_k`` (:func:`log_loss`). ``log_loss``: the lowest
    log loss, a proper scoring rule that uses every clip's confidence rather than N right-or-wrong
    outcomes, then top-1. Remaining ties go to the first combination in grid order. Uses only the
    validation scores and labels given."""
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown weight search objective {objective!r}; use {' or '.join(OBJECTIVES)}")
    labels = np.asarray(val_labels, dtype=np.int64)
    best, best_key = None, None
    for combo in itertools.product(grid, repeat=len(streams)):
        if not any(combo):
            continue
        weights = dict(zip(streams, combo, strict=True))
        key = _key(fuse(val_scores, weights, streams), labels, objective)
        if best_key is None or key > best_key:
            best, best_key = weights, key
    if best is None:
        raise ConfigError(f"the weight grid {list(grid)} has no non-zero value")
    return {s: float(w) for s, w in best.items()}


def shrink(searched: Mapping[str, float], fixed: Mapping[str, float], amount: float) -> dict[str, float]:
    """Searched weights pulled towards the fixed ones: with both normalised to sum one,
    ``w = amount * f / sum(f) + (1 - amount) * s / sum(s)``, rescaled to the fixed weights' sum (so that
    they read like them); ``amount`` 0 keeps the search, 1 gives the fixed weights."""
    if not 0.0 <= amount <= 1.0:
        raise ConfigError(f"weight_shrinkage must be in [0, 1], got {amount}")
    f_total, s_total = sum(fixed.values()), sum(searched.values())
    if amount == 0.0 or f_total <= 0 or s_total <= 0:
        return dict(searched)
    return {k: round(f_total * (amount * fixed[k] / f_total + (1 - amount) * searched[k] / s_total), 4)
            for k in searched}


def fitted_weights(val_scores: Mapping[str, np.ndarray], val_labels: np.ndarray, streams: Sequence[str],
                   fixed: Mapping[str, float], grid: Sequence[float] = DEFAULT_GRID, objective: str = "top1",
                   shrinkage: float = 0.0) -> dict[str, float]:
    """:func:`search_weights` on the validation scores given, then :func:`shrink` towards ``fixed``."""
    return shrink(search_weights(val_scores, val_labels, streams, grid, objective), fixed, shrinkage)


def checked_search(val_scores: Mapping[str, np.ndarray], val_labels: np.ndarray, streams: Sequence[str],
                   fixed: Mapping[str, float], folds: Sequence[np.ndarray], grid: Sequence[float] = DEFAULT_GRID,
                   objective: str = "top1", shrinkage: float = 0.0) -> tuple[dict[str, float], dict[str, float | bool]]:
    """A weight search that must beat the fixed weights out of fold before it is trusted.

    ``folds`` partition the validation clips (row indices). For each fold the weights are fitted
    (:func:`fitted_weights`: searched, then shrunk by ``shrinkage``) on the other folds and applied to
    it, giving out-of-fold fused scores of the search; the fixed weights need no fitting and are scored
    on every clip. The weights fitted on all validation clips are returned when the search's
    out-of-fold (top-1 %, minus log loss) beats the fixed weights', else ``fixed``: a search that does
    not generalise from part of the validation clips to the rest is not applied to test. Returns the
    weights and the check (``oof searched top-1 (%)``, ``oof fixed top-1 (%)``, ``searched kept``)."""
    labels = np.asarray(val_labels, dtype=np.int64)
    fixed_fused = fuse(val_scores, fixed, streams)
    oof = np.zeros_like(fixed_fused)
    for held in folds:
        rest = np.setdiff1d(np.arange(len(labels)), held)
        weights = fitted_weights({s: np.asarray(val_scores[s])[rest] for s in streams}, labels[rest], streams, fixed,
                                 grid, objective, shrinkage)
        oof[held] = fuse({s: np.asarray(val_scores[s])[held] for s in streams}, weights, streams)
    searched_key = (metrics.top_k_accuracy(oof, labels, 1), -log_loss(oof, labels))
    fixed_key = (metrics.top_k_accuracy(fixed_fused, labels, 1), -log_loss(fixed_fused, labels))
    kept = searched_key > fixed_key
    weights = fitted_weights(val_scores, labels, streams, fixed, grid, objective, shrinkage) if kept else dict(fixed)
    return ({s: float(w) for s, w in weights.items()},
            {"oof searched top-1 (%)": searched_key[0], "oof fixed top-1 (%)": fixed_key[0], "searched kept": kept})
