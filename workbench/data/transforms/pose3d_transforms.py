"""Transforms of 3D pose sequences in the SoMoF layout: arrays (N, T, 39), 13 joints x xyz in metres,
the second coordinate vertical (up).

* :func:`canonical_frame` / :func:`to_canonical` / :func:`from_canonical`: per sequence, the rigid
  motion that puts the last observed hip centre at the origin and turns the body about the vertical
  axis so that its last left-minus-right hip vector points along +x (a forecaster then sees every
  person from the same side);
* training augmentations (:func:`augment`): a random rotation about the vertical axis, left/right
  mirroring (x negated, left and right joints swapped), time reversal, and scaling of the body
  about its hip centre at the last observed frame.
"""

from __future__ import annotations

import torch

from workbench.data.layouts.skeleton_3dpw import HIPS, JOINT_NAMES, NUM_JOINTS
from workbench.errors import ConfigError

AUGMENTATIONS = ("rotate", "mirror", "reverse", "scale")
MIRROR = tuple(JOINT_NAMES.index(n.replace("L-", "R-") if n.startswith("L-") else n.replace("R-", "L-"))
               for n in JOINT_NAMES)
"""Joint index permutation swapping each left joint with its right counterpart."""


def _joints(x: torch.Tensor) -> torch.Tensor:
    return x.unflatten(-1, (-1, 3))


def yaw_matrix(angle: torch.Tensor) -> torch.Tensor:
    """Rotations (N, 3, 3) by ``angle`` (N,) radians about the vertical (second) axis:
    ``[[c, 0, s], [0, 1, 0], [-s, 0, c]]``."""
    c, s = angle.cos(), angle.sin()
    zero, one = torch.zeros_like(c), torch.ones_like(c)
    return torch.stack([torch.stack([c, zero, s], -1), torch.stack([zero, one, zero], -1),
                        torch.stack([-s, zero, c], -1)], -2)


def canonical_frame(observed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sequence (N, T, 39): the last frame's hip centre ``o`` (N, 3) and the rotation ``R``
    (N, 3, 3) about the vertical axis taking its left-minus-right hip vector onto the +x half of
    the x-y plane; canonical coordinates are ``R (p - o)``."""
    last = _joints(observed[:, -1])
    hips = last[:, list(HIPS)]
    across = hips[:, 0] - hips[:, 1]
    # R(a) maps (cos b, ., sin b) to (cos(b - a), ., sin(b - a)) for this matrix form, so a = b.
    return hips.mean(1), yaw_matrix(torch.atan2(across[:, 2], across[:, 0]))


def to_canonical(x: torch.Tensor, origin: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """``R (p - o)`` for every joint of ``x`` (N, T, 39)."""
    return torch.einsum("nij,ntkj->ntki", rotation, _joints(x) - origin[:, None, None]).flatten(-2)


def from_canonical(x: torch.Tensor, origin: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`to_canonical`: ``R^T p + o``."""
    return (torch.einsum("nji,ntkj->ntki", rotation, _joints(x)) + origin[:, None, None]).flatten(-2)


def mirror(x: torch.Tensor) -> torch.Tensor:
    """Left/right mirror image of sequences (N, T, 39 m) of m people: x negated, each person's left and right
    joints swapped."""
    people = x.shape[-1] // (3 * NUM_JOINTS)
    order = [NUM_JOINTS * p + j for p in range(people) for j in MIRROR]
    joints = _joints(x)[..., order, :].clone()
    joints[..., 0] = -joints[..., 0]
    return joints.flatten(-2)


def augment(x: torch.Tensor, kinds: tuple[str, ...] | list[str], generator: torch.Generator | None = None,
            scale_range: tuple[float, float] = (0.85, 1.1), split: int = 16) -> torch.Tensor:
    """Augmented copies of whole windows ``x`` (N, T, 39 m) (observed and future frames together; m people, each
    window's people transformed as one scene): ``rotate`` turns each about the vertical axis through its first
    person's hip centre at frame ``split - 1`` by a uniform angle; ``mirror`` mirrors half of them
    (:func:`mirror`); ``reverse`` plays half of them backwards; ``scale`` multiplies every joint's offset from
    that hip centre by a factor uniform in ``scale_range``. The draws do not depend on m, so a window is
    augmented alike with or without its other person. Draws come from ``generator`` (seeded runs)."""
    unknown = [k for k in kinds if k not in AUGMENTATIONS]
    if unknown:
        raise ConfigError(f"unknown augmentation(s) {unknown}; choose from {', '.join(AUGMENTATIONS)}")
    n = len(x)

    def coin() -> torch.Tensor:
        return (torch.rand(n, generator=generator) < 0.5)[:, None, None]

    if "reverse" in kinds:
        x = torch.where(coin(), x.flip(1), x)
    if "mirror" in kinds:
        x = torch.where(coin(), mirror(x), x)
    centre = _joints(x[:, split - 1])[:, list(HIPS)].mean(1)[:, None, None]
    joints = _joints(x) - centre
    if "rotate" in kinds:
        angle = torch.rand(n, generator=generator) * 2 * torch.pi
        joints = torch.einsum("nij,ntkj->ntki", yaw_matrix(angle).to(x), joints)
    if "scale" in kinds:
        low, high = scale_range
        joints = joints * (low + (high - low) * torch.rand(n, generator=generator)).to(x)[:, None, None, None]
    return (joints + centre).flatten(-2)
