"""Training augmentations of skeleton clips, applied to a batch of joints ``x`` (N, M, T, V, C).

Each takes an optional ``torch.Generator``; without one the global torch generator is used, whose
state the training engine saves in its checkpoints (so a resumed run draws the same augmentations).
Labels are soft (N, K): rows of class probabilities, each summing to one. A probability outside
[0, 1] (or NaN) and a negative or non-finite mixup ``alpha`` raise :class:`ConfigError`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from workbench.data.layouts.skeleton_layouts import Layout
from workbench.errors import ConfigError


def _chosen(n: int, prob: float, gen: torch.Generator | None) -> torch.Tensor:
    if not 0.0 <= prob <= 1.0:
        raise ConfigError(f"an augmentation probability must lie in [0, 1], got {prob}")
    return torch.rand(n, generator=gen) < prob


def pick_sampling(x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """One of S temporal samplings per clip, chosen uniformly: ``x`` (N, S, M, T, V, C) ->
    (N, M, T, V, C) with ``out[n] = x[n, s_n]``, ``s_n ~ U{0, ..., S - 1}``."""
    choice = torch.randint(x.shape[1], (x.shape[0],), generator=gen).to(x.device)
    return x[torch.arange(x.shape[0], device=x.device), choice]


def flip(x: torch.Tensor, layout: Layout, prob: float, gen: torch.Generator | None = None) -> torch.Tensor:
    """With probability ``prob`` per clip: swap every left/right joint pair and mirror x (x -> -x)."""
    pick = _chosen(x.shape[0], prob, gen).to(x.device)
    if not pick.any():
        return x
    perm = torch.from_numpy(layout.flip_permutation()).to(x.device)
    mirrored = x[:, :, :, perm].clone()
    mirrored[..., 0] = -mirrored[..., 0]
    return torch.where(pick.view(-1, 1, 1, 1, 1), mirrored, x)


def part_drop(x: torch.Tensor, layout: Layout, prob: float, gen: torch.Generator | None = None) -> torch.Tensor:
    """With probability ``prob`` per clip: zero the joints of one of the layout's four limbs
    (chosen uniformly) in every frame and person."""
    pick = _chosen(x.shape[0], prob, gen)
    if not pick.any():
        return x
    limb = torch.randint(len(layout.limbs), (x.shape[0],), generator=gen)
    keep = torch.ones(x.shape[0], layout.num_joints, dtype=x.dtype)
    for i in torch.nonzero(pick).flatten().tolist():
        keep[i, list(layout.limbs[limb[i]])] = 0.0
    return x * keep.to(x.device).view(x.shape[0], 1, 1, -1, 1)


def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float, prob: float,
          gen: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Blend clip i with clip ``perm[i]`` (a random permutation of the batch) for a ``prob``
    fraction of clips: ``x' = lam x + (1 - lam) x[perm]``, ``y' = lam y + (1 - lam) y[perm]``,
    ``lam ~ Beta(alpha, alpha)`` per clip (lam = 1 for clips not chosen)."""
    if not (math.isfinite(alpha) and alpha >= 0):
        raise ConfigError(f"mixup alpha must be a finite number >= 0, got {alpha}")
    n = x.shape[0]
    perm = torch.randperm(n, generator=gen)
    seed = int(torch.randint(2**31 - 1, (1,), generator=gen))
    draws = np.random.default_rng(seed).beta(alpha, alpha, n) if alpha > 0 else np.full(n, 0.5)
    lam = torch.from_numpy(draws).float()
    lam = torch.where(_chosen(n, prob, gen), lam, torch.ones(n)).to(x)
    mixed = lam.view(-1, 1, 1, 1, 1) * x + (1 - lam.view(-1, 1, 1, 1, 1)) * x[perm.to(x.device)]
    return mixed, lam.view(-1, 1) * y + (1 - lam.view(-1, 1)) * y[perm.to(y.device)]


def segment_swap(x: torch.Tensor, y: torch.Tensor, layout: Layout, prob: float,
                 gen: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """For a ``prob`` fraction of clips, replace one limb over a random time segment (a quarter
    to three quarters of the clip) with the same cells of clip ``perm[i]``; the label becomes
    ``(1 - lam) y + lam y[perm]`` with ``lam`` = swapped (frame, joint) cells / all cells."""
    n, _, t, v, _ = x.shape
    perm = torch.randperm(n, generator=gen)
    mask = torch.zeros(n, t, v)
    for i in torch.nonzero(_chosen(n, prob, gen)).flatten().tolist():
        length = int(torch.randint(max(t // 4, 1), max(3 * t // 4, 1) + 1, (1,), generator=gen))
        start = int(torch.randint(0, t - length + 1, (1,), generator=gen))
        limb = list(layout.limbs[int(torch.randint(len(layout.limbs), (1,), generator=gen))])
        mask[i, start:start + length, limb] = 1.0
    lam = mask.mean(dim=(1, 2)).to(y).view(-1, 1)
    cells = mask.to(x).view(n, 1, t, v, 1)
    swapped = x * (1 - cells) + x[perm.to(x.device)] * cells
    return swapped, (1 - lam) * y + lam * y[perm.to(y.device)]
