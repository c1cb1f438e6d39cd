"""Training windows of the 3DPW forecasting study from several motion sources, mixed by weight.

A source is ``generated`` (the procedural motion of :mod:`workbench.data.generators.synthetic_3dpw`), ``cmu``
(CMU mocap windows, :func:`workbench.data.formats.cmu_mocap.cmu_windows`, once per source frame rate in
``cmu_speeds``: reading 120 Hz trials as if recorded at 105, 135 or 150 Hz plays them 12.5% slower
or 12.5-25% faster; with ``cmu_retarget`` each window's segments are set to SoMoF 3DPW's lengths,
:func:`workbench.data.transforms.retarget.retarget`) or a folder in the SoMoF layout, of which only
``3dpw_train_in.json`` / ``3dpw_train_out.json`` are read, so a
benchmark's validation and test files are never trained on.
Every window is one person: observed (16, 39) and future (14, 39), metres, with the observed poses of the other
person of its scene (16, 39) for forecasters that see both.

Weights: with one source every window is used once, in file order. With several, the weights are normalised to
shares ``w_s / sum(w)`` of an epoch of ``sum of the sources' window counts`` windows, and source s
contributes ``round(share_s x total)`` of its windows, drawn (seeded) without repetition until all
are used, then again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from workbench.data.formats import cmu_mocap, somof
from workbench.data.generators import synthetic_3dpw
from workbench.data.layouts.skeleton_3dpw import COORDS_PER_FRAME, OBS_FRAMES, PRED_FRAMES
from workbench.data.transforms.retarget import retarget
from workbench.errors import ConfigError
from workbench.settings import resolve_data_path


@dataclass
class TrainingWindows:
    """``observed`` (N, 16, 39), ``future`` (N, 14, 39) float32, per source its window count before and after
    weighting (``{name: {"windows": n, "used": m}}``), and ``other`` (N, 30, 39) the same frames of each window's
    other person (:func:`scene_windows`; CMU: :func:`cmu_source`), world coordinates: a forecaster sees its 16
    observed frames; the future ones let time reversal turn the pair as a whole."""

    observed: torch.Tensor
    future: torch.Tensor
    sources: dict[str, dict[str, int]]
    other: torch.Tensor


SourceWindows = tuple[np.ndarray, np.ndarray]
"""One source: windows (n, 30, 39) and their other person's windows (n, 30, 39)."""


def partner_index(people: int) -> list[int]:
    """The other person of each person of a scene of ``people``: the next one, cyclically (two people swap;
    alone, a person is their own partner)."""
    return [(p + 1) % people for p in range(people)]


def scene_windows(inputs: np.ndarray, outputs: np.ndarray) -> SourceWindows:
    """Per-person windows (S x P, 30, 39) of SoMoF scenes ``inputs`` (S, P, 16, 39) and ``outputs``
    (S, P, 14, 39), and each one's partner's window (S x P, 30, 39) (:func:`partner_index`)."""
    both = np.concatenate([inputs, outputs], axis=2)
    other = both[:, partner_index(inputs.shape[1])]
    return (both.reshape(-1, OBS_FRAMES + PRED_FRAMES, COORDS_PER_FRAME),
            other.reshape(-1, OBS_FRAMES + PRED_FRAMES, COORDS_PER_FRAME))


def cmu_source(poses: np.ndarray) -> SourceWindows:
    """CMU windows (n, 30, 13, 3) as a source: each window's partner is window ``(k + n // 2) mod n``, an unrelated
    recording at its own world position, as :func:`workbench.data.formats.cmu_mocap.pair_people` pairs them."""
    flat = poses.reshape(len(poses), OBS_FRAMES + PRED_FRAMES, COORDS_PER_FRAME)
    return flat, np.roll(flat, -(len(flat) // 2), axis=0)


def source_windows(name: str, seed: int = 0, generated_scenes: int = 600, cmu_stride: int = 1,
                   cmu_speeds: list[int] | tuple[int, ...] = (120,), cmu_retarget: bool = False) -> SourceWindows:
    """All windows of one source, with their partners (see the module docstring)."""
    if name == "generated":
        folder = synthetic_3dpw.default_dataset(seed, {"train": generated_scenes})
        split = somof.load_split(folder, "train")
    elif name == "cmu":
        if not cmu_speeds:
            raise ConfigError("cmu_speeds must name at least one source frame rate (120 is the recorded one)")
        poses = np.concatenate([cmu_mocap.cmu_windows(stride=cmu_stride, source_fps=int(fps)).poses
                                for fps in cmu_speeds])
        return cmu_source(retarget(poses) if cmu_retarget else poses)
    else:
        split = somof.load_split(resolve_data_path(name), "train")
    if split.outputs is None:
        raise ConfigError(f"{split.source}: the train split has no future frames (3dpw_train_out.json) to learn")
    return scene_windows(split.inputs, split.outputs)


def mix(windows: dict[str, SourceWindows], weights: dict[str, float], seed: int = 0) -> TrainingWindows:
    """The mixed training windows of the sources ``windows`` by ``weights`` (name -> weight; see the module
    docstring)."""
    if not weights or any(float(w) <= 0 for w in weights.values()):
        raise ConfigError(f"train_sources must map at least one source to a positive weight, got {weights!r}")
    total = sum(len(windows[n][0]) for n in weights)
    weight_sum = sum(float(w) for w in weights.values())
    rng = np.random.default_rng(seed)
    parts, partners, counts = [], [], {}
    for name, weight in weights.items():
        data, other = windows[name]
        if len(weights) == 1:
            used, order = len(data), np.arange(len(data))
        else:
            used = int(round(float(weight) / weight_sum * total))
            order = np.concatenate([rng.permutation(len(data)) for _ in range(-(-used // len(data)))])[:used]
        parts.append(data[order])
        partners.append(other[order])
        counts[name] = {"windows": len(data), "used": used}
    stacked = torch.from_numpy(np.concatenate(parts).astype(np.float32))
    other = torch.from_numpy(np.concatenate(partners).astype(np.float32))
    return TrainingWindows(stacked[:, :OBS_FRAMES].contiguous(), stacked[:, OBS_FRAMES:].contiguous(), counts, other)


def training_windows(sources: dict[str, float], seed: int = 0, generated_scenes: int = 600, cmu_stride: int = 1,
                     cmu_speeds: list[int] | tuple[int, ...] = (120,), cmu_retarget: bool = False
                     ) -> TrainingWindows:
    """The mixed training windows of ``sources`` (name -> weight; see the module docstring)."""
    if not sources or any(float(w) <= 0 for w in sources.values()):
        raise ConfigError(f"train_sources must map at least one source to a positive weight, got {sources!r}")
    windows = {str(n): source_windows(str(n), seed, generated_scenes, cmu_stride, list(cmu_speeds), cmu_retarget)
               for n in sources}
    return mix(windows, {str(n): float(w) for n, w in sources.items()}, seed)
