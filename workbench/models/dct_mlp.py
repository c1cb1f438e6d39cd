"""A DCT-space MLP forecaster in the manner of siMLPe (Guo et al., WACV 2023), sized for SoMoF 3DPW.

For B people with observed poses (B, 16, 39):

1. canonical coordinates (:func:`workbench.data.transforms.pose3d_transforms.canonical_frame`): the last hip
   centre at the origin, the last hip line along +x, so the network never has to learn where a
   person stands or which way they face;
2. ``Y = D X``: the orthonormal DCT-II ``D`` (16 x 16) along time;
3. a linear layer across the 39 coordinates, ``blocks`` residual blocks
   ``Y <- Y + LayerNorm_c(Y W_t + b_t)`` mixing the 16 temporal coefficients (the LayerNorm across the
   39 coordinates), another linear layer across coordinates;
4. ``X' = D^T Y``; the forecast of frame t = 1..14 is the last observed pose plus ``X'[t - 1]``,
   mapped back to the original coordinates.

With ``two_person``, the forward pass also takes the other person of the scene, ``other`` (B, 16, 39): their
observed poses in *this* person's canonical coordinates go through the same DCT and a linear layer across
coordinates (started at zero), added to step 3's first linear layer; so the forecast moves and turns with the
whole scene, and an untrained two-person model forecasts as the one-person one.

The last layer starts at zero, so an untrained model forecasts zero velocity. The training objective
(:func:`dct_mlp_loss`) is the mean per-joint position error plus the mean per-joint error of the
frame-to-frame velocities (the first one taken from the last observed frame).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from workbench.data.layouts.skeleton_3dpw import COORDS_PER_FRAME, NUM_JOINTS, OBS_FRAMES, PRED_FRAMES
from workbench.data.transforms.pose3d_transforms import canonical_frame, from_canonical, to_canonical
from workbench.models.derpof import Forecast, split_velocities


@dataclass(frozen=True)
class DctMlpConfig:
    """Sizes: residual ``blocks``, observed and predicted frames; ``two_person``: the forward pass takes the
    other person's observed motion."""

    blocks: int = 8
    two_person: bool = False
    obs_frames: int = OBS_FRAMES
    pred_frames: int = PRED_FRAMES


def dct_matrix(n: int) -> torch.Tensor:
    """Orthonormal DCT-II matrix (n, n): ``D[k, i] = sqrt(2 / n) cos(pi (i + 1/2) k / n)``, row 0
    divided by sqrt(2), so ``D^T D = I``."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None]
    d = torch.cos(math.pi * (i + 0.5) * k / n) * math.sqrt(2.0 / n)
    d[0] /= math.sqrt(2.0)
    return d.float()


class TemporalBlock(nn.Module):
    """``Y + LayerNorm(Y W + b)`` with W (T, T) acting on the temporal axis of Y (B, C, T) and the
    LayerNorm over the C coordinates; W starts near zero so the block starts as the identity."""

    def __init__(self, frames: int, channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(frames, frames)
        self.norm = nn.LayerNorm(channels)
        nn.init.xavier_uniform_(self.fc.weight, gain=1e-8)
        nn.init.zeros_(self.fc.bias)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return y + self.norm(self.fc(y).transpose(1, 2)).transpose(1, 2)


class DctMlp(nn.Module):
    """See the module docstring. ``forward(observed (B, 16, 39), other=None) -> Forecast`` (positions (B, 14, 39));
    ``other`` (B, 16, 39), the other person's observed poses, is required with ``two_person`` and refused
    without."""

    def __init__(self, cfg: DctMlpConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or DctMlpConfig()
        if self.cfg.pred_frames > self.cfg.obs_frames:
            raise ValueError("the DCT MLP predicts at most as many frames as it observes")
        d = dct_matrix(self.cfg.obs_frames)
        self.register_buffer("dct", d, persistent=False)
        self.mix_in = nn.Linear(COORDS_PER_FRAME, COORDS_PER_FRAME)
        if self.cfg.two_person:
            self.mix_other = nn.Linear(COORDS_PER_FRAME, COORDS_PER_FRAME)
            nn.init.zeros_(self.mix_other.weight)
            nn.init.zeros_(self.mix_other.bias)
        self.blocks = nn.Sequential(*[TemporalBlock(self.cfg.obs_frames, COORDS_PER_FRAME)
                                      for _ in range(self.cfg.blocks)])
        self.mix_out = nn.Linear(COORDS_PER_FRAME, COORDS_PER_FRAME)
        nn.init.zeros_(self.mix_out.weight)
        nn.init.zeros_(self.mix_out.bias)

    def loss(self, out: Forecast, observed: torch.Tensor,
             future: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The model's training objective: :func:`dct_mlp_loss` of its forecast ``out``."""
        return dct_mlp_loss(out, observed, future)

    def config_dict(self) -> dict:
        return asdict(self.cfg)

    def forward(self, observed: torch.Tensor, deterministic: bool = True,
                other: torch.Tensor | None = None) -> Forecast:
        if (other is None) == self.cfg.two_person:
            raise ValueError("a two-person DCT MLP needs the other person's observed poses (other=...)"
                             if self.cfg.two_person else "other= is for a DCT MLP built with two_person")
        origin, rotation = canonical_frame(observed)
        x = to_canonical(observed, origin, rotation)
        y = self.mix_in(torch.einsum("kt,btc->bkc", self.dct, x))
        if other is not None:
            y = y + self.mix_other(torch.einsum("kt,btc->bkc", self.dct, to_canonical(other, origin, rotation)))
        y = y.transpose(1, 2)
        y = self.mix_out(self.blocks(y).transpose(1, 2))
        offsets = torch.einsum("kt,bkc->btc", self.dct, y)[:, : self.cfg.pred_frames]
        positions = from_canonical(x[:, -1:] + offsets, origin, rotation)
        global_vel, local_vel = split_velocities(torch.cat([observed[:, -1:], positions], dim=1))
        return Forecast(positions, global_vel, local_vel)


def dct_mlp_loss(out: Forecast, observed: torch.Tensor, future: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """The DCT MLP's objective: mean per-joint position error (m) of ``out.positions`` (B, 14, 39)
    against ``future`` (B, 14, 39) plus the mean per-joint error of their frame-to-frame velocities
    (m/frame), the first one taken from the last observed frame of ``observed`` (B, 16, 39)."""
    last = observed[:, -1:]
    position = (out.positions - future).unflatten(-1, (NUM_JOINTS, 3)).norm(dim=-1).mean()
    velocity = torch.diff(out.positions, dim=1, prepend=last) - torch.diff(future, dim=1, prepend=last)
    velocity = velocity.unflatten(-1, (NUM_JOINTS, 3)).norm(dim=-1).mean()
    return position + velocity, {"position_m": float(position.detach()), "velocity_m": float(velocity.detach())}
