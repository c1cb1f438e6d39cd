"""A skeleton study run's files: its folder, the results written there and its checkpoint read back."""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from workbench.engine.checkpoint import load_state_dict_checked, load_torch_file, save_atomic
from workbench.engine.machine import machine_record
from workbench.engine.runtime import resolve_device
from workbench.errors import CheckpointError
from workbench.models.fold_ensemble import FoldEnsemble
from workbench.models.registry import build_model, parameter_counts
from workbench.notebook_run import open_run
from workbench.run_folders import write_history_csv, write_json, write_yaml
from workbench.studies.skeleton_ensembles.config import CHECKPOINT_FORMAT, STUDY, Config
from workbench.studies.skeleton_ensembles.data import SkeletonData
from workbench.studies.skeleton_ensembles.training import StreamResult, make_model


def output_dir(cfg: Config) -> Path:
    """Where this run writes its files: ``cfg.output_dir`` (``workbench run``'s staging folder), else the
    staging folder of a run the notebook kernel keeps (:func:`workbench.notebook_run.open_run`)."""
    return open_run(STUDY, cfg)


def save_results(folder: Path, cfg: Config, data: SkeletonData, results: dict[str, StreamResult],
                 table: pd.DataFrame, searched: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Write ``metrics.json`` (every table row, searched weights, training time per stream),
    ``history.csv`` (all streams, a ``stream`` column), ``config.yaml``, ``checkpoint.pt`` (every
    stream's weights with the model and study configuration) and ``scores.npz`` (softmax scores
    ``val_<stream>``, ``test_<stream>``, the labels ``val_labels``, ``test_labels`` and the clip names
    ``val_names``, ``test_names``, in the same order)."""
    history = [row for r in results.values() for row in r.history]
    blank_model = make_model(cfg, data)
    summary: dict[str, Any] = {
        "study": STUDY, "model": cfg.model, "dataset": cfg.dataset, "source": data.source,
        "layout": data.layout.name, "classes": data.class_names, "device": str(resolve_device(cfg.device)),
        "machine": machine_record(cfg.device, cfg.precision),
        "clips": {role: len(s.names) for role, s in data.sets.items()}, "scores": "softmax probabilities",
        "rows": table.to_dict(orient="records"), "searched_weights": searched,
        "train_time_s": {s: float(sum(row["epoch_time_s"] for row in r.history)) for s, r in results.items()},
        "reused_from": {s: r.source for s, r in results.items() if r.source},
        "parameters_per_stream": parameter_counts(blank_model)["total"],
    }
    save_atomic({"format": CHECKPOINT_FORMAT,
                 "models": {s: r.model.state_dict() for s, r in results.items() if r.model is not None},
                 "model_config": blank_model.config_dict(),
                 "study_config": asdict(cfg), "class_names": data.class_names}, folder / "checkpoint.pt")
    arrays = {f"{role}_{s}": getattr(r, f"{role}_scores") for s, r in results.items() for role in ("val", "test")}
    names = {f"{role}_names": np.array(data.sets[role].names, dtype=str) for role in ("val", "test")}
    np.savez_compressed(folder / "scores.npz", val_labels=data.sets["val"].labels.numpy(),
                        test_labels=data.sets["test"].labels.numpy(), **names, **arrays)
    write_json(folder / "metrics.json", summary)
    write_history_csv(folder / "history.csv", history)
    write_yaml(folder / "config.yaml", {"study": STUDY, **asdict(cfg)})
    return summary


def load_checkpoint(path: str | Path) -> tuple[Config, dict[str, torch.nn.Module]]:
    """The study configuration and every stream's model of a run's ``checkpoint.pt``."""
    state = load_torch_file(path)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(path, f"not a skeleton_ensembles checkpoint (format {CHECKPOINT_FORMAT} expected)")
    for key in ("study_config", "model_config", "models"):
        if not isinstance(state.get(key), dict):
            raise CheckpointError(path, f"the checkpoint has no {key!r} mapping")
    names = {f.name for f in fields(Config)}
    try:
        cfg = Config(**{k: v for k, v in state["study_config"].items() if k in names})
    except (TypeError, ValueError) as exc:
        raise CheckpointError(path, f"its study_config is not valid ({exc})") from None
    if not state["models"] and state["study_config"].get("fold_runs"):
        raise CheckpointError(path, "a cross-validated run keeps no models; use its fold runs' checkpoints: "
                              + ", ".join(map(str, state["study_config"]["fold_runs"])))
    options = dict(state["model_config"])
    models = {}
    for stream, weights in state["models"].items():
        model = build_model(STUDY, cfg.model, **options)
        if cfg.cross_validated:
            model = FoldEnsemble([model] + [build_model(STUDY, cfg.model, **options) for _ in range(cfg.val_folds - 1)])
        models[stream] = load_state_dict_checked(model, weights, path)
    return cfg, models
