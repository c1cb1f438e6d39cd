"""Scoring a run's streams on a split, as ``workbench evaluate skeleton`` and ``predict skeleton`` do."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from workbench import metrics
from workbench.engine.runtime import resolve_device
from workbench.errors import ConfigError
from workbench.studies.skeleton_ensembles import ensembles
from workbench.studies.skeleton_ensembles.config import Config
from workbench.studies.skeleton_ensembles.data import ClipSet, load_data
from workbench.studies.skeleton_ensembles.replicas import base_stream, fixed_weight
from workbench.studies.skeleton_ensembles.results import load_checkpoint
from workbench.studies.skeleton_ensembles.training import predict_scores


def stream_scores(checkpoint: str | Path, split: str = "test", streams: list[str] | None = None,
                  **overrides: Any) -> tuple[Config, ClipSet, dict[str, np.ndarray]]:
    """(the run's options with ``overrides`` (dataset, data_path, layout, test_clips, device), the clips of
    ``split``, softmax scores (N, K) per stream) of the streams in a run's ``checkpoint`` (default all)."""
    cfg, models = load_checkpoint(checkpoint)
    cfg = replace(cfg, progress=False, **{k: v for k, v in overrides.items() if v is not None})
    cfg.check()
    streams = streams or list(models)
    unknown = [s for s in streams if s not in models]
    if unknown:
        raise ConfigError(f"{checkpoint}: no model for stream(s) {', '.join(unknown)}; it has {', '.join(models)}")
    data = load_data(cfg)
    device = resolve_device(cfg.device)
    scores = {s: predict_scores(models[s].to(device), data.sets[split], base_stream(s), data.layout, cfg.bone_order)
              for s in streams}
    return cfg, data.sets[split], scores


def evaluate_checkpoint(checkpoint: str | Path, split: str = "test", streams: list[str] | None = None,
                        weights: dict[str, float] | None = None, **overrides: Any) -> tuple[Config, dict[str, Any]]:
    """(options, result): top-1 / top-5 / mean class accuracy (%) per stream and, for several streams, of
    their fusion with the run's ``fusion_weights`` updated by ``weights``."""
    cfg, clips, scores = stream_scores(checkpoint, split, streams, **overrides)
    fusion = {**{s: fixed_weight(cfg.fusion_weights, s) for s in scores}, **(weights or {})}
    per_stream = {s: metrics.classification_metrics(v, clips.labels) for s, v in scores.items()}
    result: dict[str, Any] = {"split": split, "clips": int(len(clips.labels)), "scores": "softmax probabilities",
                              "streams": per_stream}
    if len(scores) > 1:
        fused = ensembles.fuse(scores, fusion, list(scores))
        result["fused"] = {"weights": {s: fusion[s] for s in scores},
                           **metrics.classification_metrics(fused, clips.labels)}
    return cfg, result
