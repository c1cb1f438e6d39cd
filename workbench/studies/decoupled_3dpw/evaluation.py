"""Scoring and forecasting a split, as ``workbench evaluate 3dpw`` and ``workbench predict 3dpw`` do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.data.formats import somof
from workbench.engine.runtime import resolve_device
from workbench.errors import ConfigError
from workbench.studies import decoupled_3dpw as study

SIZE_OPTIONS = ("hidden", "latent", "embedding", "dropout", "blocks", "two_person")


def configured_model(data_dir: str, model: str | None = None, checkpoint: str = "", checkpoint_g: str = "",
                     checkpoint_l: str = "", decay: float = study.DEFAULT_DECAY, deterministic: bool = False,
                     device: str = "auto", seed: int = 0) -> tuple[study.Config, torch.nn.Module]:
    """(options, model) for scoring: the model named by a run's ``checkpoint`` (with its sizes and
    weights), or ``model`` (default ``derpof``) with the published DeRPoF state dicts ``checkpoint_g`` and
    ``checkpoint_l``, or a baseline (``decay``: damped velocity's d). ``deterministic``: z = posterior mean.
    A checkpoint of a blended run (``blend_damped``) gives the blend it was scored as."""
    if checkpoint and (checkpoint_g or checkpoint_l):
        raise ConfigError("give either --checkpoint or --checkpoint-g/--checkpoint-l, not both")
    sizes = study.checkpoint_options(checkpoint) if checkpoint else {"model": model or "derpof"}
    name = sizes.pop("model")
    if model and model != name:
        raise ConfigError(f"{checkpoint} holds a {name} model, not {model}; leave out --model")
    cfg = study.Config(model=name, data_dir=data_dir, epochs=0, device=device, seed=seed, pretrained_g=checkpoint_g,
                       pretrained_l=checkpoint_l, checkpoint=checkpoint, deterministic_eval=deterministic,
                       progress=False, **{k: v for k, v in sizes.items() if k in SIZE_OPTIONS})
    net = study.make_model(cfg, decay=decay)
    net = (study.with_checkpoint_blend(net, checkpoint) if checkpoint else net).to(resolve_device(cfg.device))
    torch.manual_seed(seed)
    return cfg, net


def evaluate_split(split: str, **model_options: Any) -> tuple[str, dict[str, Any]]:
    """(model name, forecast metrics) on ``split`` of ``model_options["data_dir"]`` (see
    :func:`configured_model` for the options and :func:`workbench.metrics.forecast_metrics` for the metrics)."""
    cfg, net = configured_model(**model_options)
    return cfg.model, study.evaluate(net, somof.load_split(cfg.data_dir, split), cfg.deterministic_eval)


def predict_split(split: str, out: str | Path, **model_options: Any) -> tuple[int, int]:
    """Forecast ``split`` and write it in the SoMoF submission layout (scenes x people x 14 x 39) to
    ``out``; returns (scenes, people per scene)."""
    cfg, net = configured_model(**model_options)
    data = somof.load_split(cfg.data_dir, split)
    pred = study.forecast(net, data, cfg.deterministic_eval).numpy()
    somof.write_predictions(out, np.asarray(pred).reshape(*data.inputs.shape[:2], *pred.shape[1:]))
    return data.num_scenes, int(data.inputs.shape[1])
