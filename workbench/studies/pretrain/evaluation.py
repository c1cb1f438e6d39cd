"""Scoring a pretraining model on a split, as ``workbench evaluate pretrain`` does."""

from __future__ import annotations

from typing import Any

from workbench.engine.precision import resolve_precision
from workbench.engine.runtime import resolve_device
from workbench.errors import ConfigError
from workbench.studies import pretrain as study


def evaluate_split(model: str, checkpoint: str = "", split: str = "test", **options: Any) -> dict[str, Any]:
    """PCK (%) torso-relative and at fixed pixel thresholds (``pck_px``), mean threshold distances (px),
    scored keypoints, the decoder and the precision of ``model`` on ``split``, rebuilt from the data options
    (dataset, data_dir, max_videos, max_windows, experiment, shift_scalar, seed, device, precision, decode,
    pck_px); with ``compare_decode``, ``by_decode`` {decoder: PCK} of the same pass read off by ``decode`` and
    each of them. A trained model needs its run's ``checkpoint`` (whose model name and sizes are used);
    ``identity`` needs none."""
    if model != study.BASELINE and not checkpoint:
        raise ConfigError(f"--model {model} needs --checkpoint (a run's checkpoint.pt); identity needs none")
    sizes = study.checkpoint_options(checkpoint) if checkpoint else {}
    if sizes and sizes["model"] != model:
        raise ConfigError(f"{checkpoint} holds a {sizes['model']} model, not {model}")
    sizes.pop("model", None)
    cfg = study.Config(model=model, checkpoint=checkpoint, epochs=0, progress=False, **options, **sizes)
    data = study.load_data(cfg)
    net = study.make_model(cfg).to(resolve_device(cfg.device))
    out = study.predict(net, data.splits[split], cfg, split, compare=True)
    keys = ("pck", "threshold_px", "pck_px", "n_keypoints")
    result = {k: v for k, v in study.summarize(out, tuple(cfg.pck_px)).items() if k in keys}
    result |= {"decode": cfg.decode, "precision": resolve_precision(cfg.precision, resolve_device(cfg.device))}
    if cfg.compare_decode:
        result["by_decode"] = {decoder: {k: v for k, v in found[model].items() if k in keys}
                               for decoder, found in study.decoder_results({model: out}, tuple(cfg.pck_px)).items()}
    return result
