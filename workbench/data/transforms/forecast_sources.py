"""Training windows of the 3DPW forecasting study from several motion sources, mixed by weight.

A source is ``generated`` (the procedural motion of :mod:`workbench.data.generators.synthetic_3dpw`), ``cmu``
(CMU mocap windows, :func:`workbench.data.formats.cmu_mocap.cmu_windows`, once per source frame rate in
``cmu_speeds``: reading 120 Hz trials as if recorded at 105, 135 or 150 Hz plays them 12.5% slower
or 12.5-25% faster) or a folder in the SoMoF layout, of which only ``3dpw_train_in.json`` /
``3dpw_train_out.json`` are read, so a benchmark's validation and test files are never trained on.
Every window is one person: observed (16, 39) and future (14, 39), metres.

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
from workbench.errors import ConfigError
from workbench.settings import resolve_data_path


@dataclass
class TrainingWindows:
    """``observed`` (N, 16, 39), ``future`` (N, 14, 39) float32, and per source its window count
    before and after weighting (``{name: {"windows": n, "used": m}}``)."""

    observed: torch.Tensor
    future: torch.Tensor
    sources: dict[str, dict[str, int]]


def _source_windows(name: str, seed: int, generated_scenes: int, cmu_stride: int,
                    cmu_speeds: list[int]) -> np.ndarray:
    """All windows (n, 30, 39) of one source."""
    if name == "generated":
        folder = synthetic_3dpw.default_dataset(seed, {"train": generated_scenes})
        split = somof.load_split(folder, "train")
    elif name == "cmu":
        if not cmu_speeds:
            raise ConfigError("cmu_speeds must name at least one source frame rate (120 is the recorded one)")
        return np.concatenate([cmu_mocap.cmu_windows(stride=cmu_stride, source_fps=int(fps)).flat
                               for fps in cmu_speeds])
    else:
        split = somof.load_split(resolve_data_path(name), "train")
    if split.outputs is None:
        raise ConfigError(f"{split.source}: the train split has no future frames (3dpw_train_out.json) to learn")
    both = np.concatenate([split.inputs, split.outputs], axis=2)
    return both.reshape(-1, OBS_FRAMES + PRED_FRAMES, COORDS_PER_FRAME)


def training_windows(sources: dict[str, float], seed: int = 0, generated_scenes: int = 600, cmu_stride: int = 1,
                     cmu_speeds: list[int] | tuple[int, ...] = (120,)) -> TrainingWindows:
    """The mixed training windows of ``sources`` (name -> weight; see the module docstring)."""
    if not sources or any(float(w) <= 0 for w in sources.values()):
        raise ConfigError(f"train_sources must map at least one source to a positive weight, got {sources!r}")
    windows = {str(n): _source_windows(str(n), seed, generated_scenes, cmu_stride, list(cmu_speeds))
               for n in sources}
    total = sum(len(w) for w in windows.values())
    weight_sum = sum(float(w) for w in sources.values())
    rng = np.random.default_rng(seed)
    parts, counts = [], {}
    for name, data in windows.items():
        if len(sources) == 1:
            used, order = len(data), np.arange(len(data))
        else:
            used = int(round(float(sources[name]) / weight_sum * total))
            order = np.concatenate([rng.permutation(len(data)) for _ in range(-(-used // len(data)))])[:used]
        parts.append(data[order])
        counts[name] = {"windows": len(data), "used": used}
    stacked = torch.from_numpy(np.concatenate(parts).astype(np.float32))
    return TrainingWindows(stacked[:, :OBS_FRAMES].contiguous(), stacked[:, OBS_FRAMES:].contiguous(), counts)
