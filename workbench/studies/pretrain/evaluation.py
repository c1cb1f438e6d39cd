"""Scoring a pretraining model on a split, as ``workbench evaluate pretrain`` does."""

from __future__ import annotations

from typing import Any

from workbench.engine.runtime import resolve_device
from workbench.errors import ConfigError
from workbench.studies import pretrain as study


def evaluate_split(model: str, checkpoint: str = "", split: str = "test", **options: Any) -> dict[str, Any]:
    """PCK (%) torso-relative and at fixed pixel thresholds (``pck_px``), mean threshold distances (px),
    scored keypoints and the decoder of ``model`` on ``split``, rebuilt from the data options (dataset,
    data_dir, max_videos, experiment, shift_scalar, seed, device, decode, pck_px). A trained
    model needs its run's ``checkpoint`` (whose model name and sizes are used); ``identity`` needs none."""
    if model != study.BASELINE and not checkpoint:
        raise ConfigError(f"--model {model} needs --checkpoint (a run's checkpoint.pt); identity needs none")
    sizes = study.checkpoint_options(checkpoint) if checkpoint else {}
    if sizes and sizes["model"] != model:
        raise ConfigError(f"{checkpoint} holds a {sizes['model']} model, not {model}")
    sizes.pop("model", None)
    cfg = study.Config(model=model, checkpoint=checkpoint, epochs=0, progress=False, **options, **sizes)
    data = study.load_data(cfg)
    net = study.make_model(cfg).to(resolve_device(cfg.device))
    result = study.evaluate(net, data.splits[split], cfg, split)
    return {k: result[k] for k in ("pck", "threshold_px", "pck_px", "n_keypoints")} | {"decode": cfg.decode}
