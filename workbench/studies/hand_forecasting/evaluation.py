"""Scoring a hand forecaster on a folder of clips, as ``workbench evaluate hands`` does."""

from __future__ import annotations

from typing import Any

from workbench.data.formats import qub_pheo
from workbench.engine.runtime import resolve_device
from workbench.errors import DataFormatError
from workbench.studies import hand_forecasting as study


def evaluate_folder(cfg: study.Config, weights: str | None = None, split: str = "all",
                    half: bool = False) -> tuple[dict[str, Any], dict[str, int]]:
    """(metrics, skipped clip counts) of ``cfg.model`` (with ``weights``: a published state dict or a
    run's ``weights.pt``) on the clips of ``cfg.data_dir`` (``cfg.clip_list``), of one participant
    ``split`` or ``all``. Windows: ``cfg.obs_len`` + ``cfg.pred_len`` every ``cfg.stride`` frames, or with
    ``half`` one window per clip of F frames (floor(F/2) observed, as many predicted). Metrics:
    ``mpjpe_qub``, ``mpjpe``, ``ade``, ``fde`` (u) and ``n_windows``; skipped: ``unreadable``,
    ``without a requested modality``, ``too short``. No window at all is a :class:`DataFormatError`."""
    clips, unreadable = qub_pheo.load_clips(qub_pheo.clip_list(cfg.data_dir, cfg.clip_list or None))
    if split != "all":
        clips = qub_pheo.split_by_participant(clips, {k: tuple(v) for k, v in cfg.split_ranges.items()})[split]
    usable, lacking = qub_pheo.usable_clips(clips, cfg.modalities)
    model = study.make_model(cfg)
    if weights:
        study.load_checkpoint(model, weights)
    model.to(resolve_device(cfg.device))
    if half:
        parts, short = qub_pheo.half_windows(usable, cfg.modalities, cfg.mask)
        result = study.evaluate_half(model, parts, cfg.mask)
    else:
        windows, short = qub_pheo.make_windows(usable, cfg.obs_len, cfg.pred_len, cfg.stride, cfg.modalities, cfg.mask)
        result = study.evaluate(model, windows, cfg.mask)
    skipped = {"unreadable": len(unreadable), "without a requested modality": len(lacking), "too short": len(short)}
    if result["n_windows"] == 0:
        raise DataFormatError(cfg.data_dir, f"no window to evaluate: {len(clips)} clip(s), "
                                            + ", ".join(f"{n} {what}" for what, n in skipped.items()))
    return {k: result[k] for k in ("mpjpe_qub", "mpjpe", "ade", "fde", "n_windows")}, skipped
