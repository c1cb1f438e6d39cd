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


def search_weights(val_scores: Mapping[str, np.ndarray], val_labels: np.ndarray, streams: Sequence[str],
                   grid: Sequence[float] = DEFAULT_GRID) -> dict[str, float]:
    """The weights (one value of ``grid`` per stream, not all zero) with the best validation top-1
    accuracy; ties (common when validation accuracy saturates) go to the higher mean class accuracy,
    then to the lower validation log loss of the fused probabilities ``s / sum_k s_k`` (natural log,
    mean over samples), then to the first combination in grid order. Uses only the validation scores
    and labels given."""
    labels = np.asarray(val_labels, dtype=np.int64)
    best, best_key = None, (-np.inf, -np.inf, -np.inf)
    for combo in itertools.product(grid, repeat=len(streams)):
        if not any(combo):
            continue
        weights = dict(zip(streams, combo, strict=True))
        fused = fuse(val_scores, weights, streams)
        probabilities = fused / np.maximum(fused.sum(axis=1, keepdims=True), 1e-12)
        log_loss = -np.log(np.maximum(probabilities[np.arange(len(labels)), labels], 1e-12)).mean()
        key = (metrics.top_k_accuracy(fused, labels, 1), metrics.mean_class_accuracy(fused, labels), -log_loss)
        if key > best_key:
            best, best_key = weights, key
    if best is None:
        raise ConfigError(f"the weight grid {list(grid)} has no non-zero value")
    return {s: float(w) for s, w in best.items()}
