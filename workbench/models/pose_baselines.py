"""Parameter-free pose-forecasting baselines shown in every results table."""

from __future__ import annotations

import torch
from torch import nn

from workbench.data.layouts.skeleton_3dpw import PRED_FRAMES
from workbench.models.derpof import Forecast, split_velocities


def _forecast(observed: torch.Tensor, positions: torch.Tensor) -> Forecast:
    global_vel, local_vel = split_velocities(torch.cat([observed[:, -1:], positions], dim=1))
    return Forecast(positions, global_vel, local_vel)


class ZeroVelocity(nn.Module):
    """Repeat the last observed pose: pred[t] = obs[-1] for t = 1..T. (B, 16, 39) -> (B, T, 39)."""

    def __init__(self, pred_frames: int = PRED_FRAMES) -> None:
        super().__init__()
        self.pred_frames = pred_frames

    def forward(self, observed: torch.Tensor, deterministic: bool = True) -> Forecast:
        return _forecast(observed, observed[:, -1:].expand(-1, self.pred_frames, -1).clone())


class ConstantVelocity(nn.Module):
    """Extrapolate the last observed velocity: pred[t] = obs[-1] + t (obs[-1] - obs[-2]), t = 1..T."""

    def __init__(self, pred_frames: int = PRED_FRAMES) -> None:
        super().__init__()
        self.pred_frames = pred_frames

    def forward(self, observed: torch.Tensor, deterministic: bool = True) -> Forecast:
        steps = torch.arange(1, self.pred_frames + 1, dtype=observed.dtype, device=observed.device)
        velocity = observed[:, -1:] - observed[:, -2:-1]
        return _forecast(observed, observed[:, -1:] + steps[None, :, None] * velocity)


class DampedVelocity(nn.Module):
    """Extrapolate the last observed velocity with geometric decay ``d``:
    pred[t] = obs[-1] + (d + d^2 + ... + d^t) (obs[-1] - obs[-2]), t = 1..T (d = 1 is constant velocity,
    d = 0 zero velocity)."""

    def __init__(self, decay: float = 0.85, pred_frames: int = PRED_FRAMES) -> None:
        super().__init__()
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"decay must lie in [0, 1], got {decay}")
        self.decay = float(decay)
        self.pred_frames = pred_frames

    def forward(self, observed: torch.Tensor, deterministic: bool = True) -> Forecast:
        powers = self.decay ** torch.arange(1, self.pred_frames + 1, dtype=observed.dtype, device=observed.device)
        velocity = observed[:, -1:] - observed[:, -2:-1]
        return _forecast(observed, observed[:, -1:] + powers.cumsum(0)[None, :, None] * velocity)


def fit_decay(observed: torch.Tensor, future: torch.Tensor, grid: int = 101) -> float:
    """The decay in ``linspace(0, 1, grid)`` whose :class:`DampedVelocity` forecast of ``observed``
    (N, 16, 39) has the smallest mean per-joint error against ``future`` (N, 14, 39): fitted on
    training data only."""
    def error(decay: float) -> float:
        pred = DampedVelocity(decay, future.shape[1])(observed).positions
        return float((pred - future).unflatten(-1, (-1, 3)).norm(dim=-1).mean())

    return min((float(d) for d in torch.linspace(0.0, 1.0, grid)), key=error)
