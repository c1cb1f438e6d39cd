"""A learned forecaster blended frame by frame with the damped-velocity baseline.

For observed poses (B, 16, 39), the learned forecast ``a`` (B, 14, 39) and the damped-velocity forecast ``b``
(B, 14, 39), the blend forecasts ``w_t a_t + (1 - w_t) b_t`` for t = 1..14 with one weight ``w_t`` in [0, 1]
per future frame. A forecaster trained on another domain (CMU mocap for SoMoF 3DPW) can lose to the
extrapolation of the last velocity in the first frames and win from the middle on; the blend keeps the better
of the two, frame by frame.

:func:`fit_blend_weights` picks each ``w_t`` from a grid on [0, 1] that holds 0 and 1, minimising the mean over
people of the SoMoF per-frame error ``|| pose_t - truth_t ||_2`` (the 39 coordinates together, as VIM), on
training windows: on those windows the blend is never worse than either part at any frame.
"""

from __future__ import annotations

import torch
from torch import nn

from workbench.metrics import frame_distances
from workbench.models.derpof import Forecast, split_velocities
from workbench.models.pose_baselines import DampedVelocity


def fit_blend_weights(learned: torch.Tensor, damped: torch.Tensor, truth: torch.Tensor,
                      grid: int = 101) -> torch.Tensor:
    """Per future frame t, the weight ``w_t`` in ``linspace(0, 1, grid)`` minimising the mean of
    :func:`workbench.metrics.frame_distances` of ``w_t learned + (1 - w_t) damped`` against ``truth``; all
    (N, T, 39); returns (T,) float32. Ties go to the smaller weight."""
    if not learned.shape == damped.shape == truth.shape or learned.ndim != 3:
        raise ValueError(f"expected three (N, T, 39) tensors of one shape, got {tuple(learned.shape)}, "
                         f"{tuple(damped.shape)}, {tuple(truth.shape)}")
    if grid < 2:
        raise ValueError(f"the grid needs at least the two ends 0 and 1, got {grid} points")
    weights = torch.linspace(0.0, 1.0, grid, dtype=torch.float64)
    a, b, y = learned.double(), damped.double(), truth.double()
    # (grid, N, T): every candidate weight at once; the mean over people per frame picks the weight
    errors = torch.stack([frame_distances(w * a + (1 - w) * b, y).mean(0) for w in weights])
    return weights[errors.argmin(0)].float()


class HorizonBlend(nn.Module):
    """``forward(observed (B, 16, 39)) -> Forecast``: ``w_t learned_t + (1 - w_t) damped_t`` (module docstring);
    ``weights`` (T,) in [0, 1], ``decay`` the damped-velocity baseline's d. Extra keyword arguments of
    ``forward`` (e.g. the other person's motion) go to the learned model."""

    def __init__(self, learned: nn.Module, decay: float, weights: torch.Tensor) -> None:
        super().__init__()
        weights = torch.as_tensor(weights, dtype=torch.float32).flatten()
        if not bool(((weights >= 0) & (weights <= 1)).all()):  # NaN fails both
            raise ValueError(f"blend weights must lie in [0, 1], got {weights.tolist()}")
        if not 0.0 <= float(decay) <= 1.0:
            raise ValueError(f"the damped-velocity decay must lie in [0, 1], got {decay}")
        self.learned = learned
        self.damped = DampedVelocity(decay, len(weights))
        self.register_buffer("weights", weights)

    @property
    def decay(self) -> float:
        return self.damped.decay

    def forward(self, observed: torch.Tensor, deterministic: bool = True, **context: torch.Tensor) -> Forecast:
        learned = self.learned(observed, deterministic=deterministic, **context).positions
        damped = self.damped(observed).positions
        w = self.weights.to(learned)[None, :, None]
        positions = w * learned + (1 - w) * damped
        global_vel, local_vel = split_velocities(torch.cat([observed[:, -1:], positions], dim=1))
        return Forecast(positions, global_vel, local_vel)
