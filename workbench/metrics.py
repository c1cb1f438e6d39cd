"""Evaluation metrics, one place for every study.

Pose-forecasting metrics take ``pred`` and ``target`` of shape
``(..., T, J * 3)`` (flattened xyz per frame, metres) and reduce over every
leading axis (people) and the frames.
"""

from __future__ import annotations

import torch

VIM_FRAMES: tuple[int, ...] = (1, 3, 7, 9, 13)
VIM_LABELS_MS: tuple[int, ...] = (100, 240, 500, 640, 900)


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pred = torch.as_tensor(pred, dtype=torch.float64)
    target = torch.as_tensor(target, dtype=torch.float64)
    if pred.shape != target.shape:
        raise ValueError(f"prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
    if pred.shape[-1] % 3:
        raise ValueError(f"last axis must hold xyz per joint, got {pred.shape[-1]} numbers")
    return pred, target


def _rms_joint_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per frame sqrt(sum_c (pred_c - target_c)^2 / J): shape (..., T)."""
    joints = pred.shape[-1] // 3
    return ((pred - target) ** 2).sum(-1).div(joints).sqrt()


def ade(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Average displacement error in metres.

    ADE = mean over people p and predicted frames t of
    sqrt( sum_{c=1..3J} (pred[p,t,c] - target[p,t,c])^2 / J ),
    i.e. the root-mean-square joint distance per frame, averaged.
    """
    pred, target = _check_pair(pred, target)
    return float(_rms_joint_error(pred, target).mean())


def fde(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Final displacement error in metres: the ADE term at the last frame only,
    averaged over people."""
    pred, target = _check_pair(pred, target)
    return float(_rms_joint_error(pred[..., -1:, :], target[..., -1:, :]).mean())


def vim(pred: torch.Tensor, target: torch.Tensor, frames: tuple[int, ...] = VIM_FRAMES) -> list[float]:
    """SoMoF Visibility-Ignored Metric in centimetres at the given frame indices.

    VIM[t] = mean over people p of 100 * sqrt( sum_c (pred[p,t,c] - target[p,t,c])^2 ),
    reported at frames 1, 3, 7, 9, 13 (100, 240, 500, 640, 900 ms ahead).
    """
    pred, target = _check_pair(pred, target)
    if max(frames) >= pred.shape[-2]:
        raise ValueError(f"VIM frame {max(frames)} is beyond the {pred.shape[-2]} predicted frames")
    per_frame = ((pred - target) ** 2).sum(-1).sqrt().mul(100.0)
    per_frame = per_frame.reshape(-1, pred.shape[-2]).mean(0)
    return [float(per_frame[t]) for t in frames]


def mpjpe_mm(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean per-joint position error in millimetres.

    MPJPE = 1000 * mean over people, frames and joints j of || pred_j - target_j ||_2.
    """
    pred, target = _check_pair(pred, target)
    diff = (pred - target).reshape(*pred.shape[:-1], -1, 3)
    return float(diff.norm(dim=-1).mean() * 1000.0)


def forecast_metrics(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float | list[float]]:
    """All pose-forecasting metrics: ``ade`` and ``fde`` (m), ``vim_cm`` (cm, 5 horizons),
    ``mpjpe_mm`` (mm) and ``n_people``."""
    pred, target = _check_pair(pred, target)
    return {
        "vim_cm": vim(pred, target),
        "ade": ade(pred, target),
        "fde": fde(pred, target),
        "mpjpe_mm": mpjpe_mm(pred, target),
        "n_people": int(pred.reshape(-1, *pred.shape[-2:]).shape[0]),
    }
