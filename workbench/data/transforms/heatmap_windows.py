"""From pose sequences to the pretraining study's 5-frame windows in 56 x 56 heatmap coordinates.

Per frame, the bounding box of the visible keypoints is expanded by ``margin`` (10%) of its
width and height on each side and mapped onto the heatmap grid:
u = (x - x0) / (x1 - x0) * (size - 1), v = (y - y0) / (y1 - y0) * (size - 1), so the crop's
edges fall on the outer pixel centres. A frame is unusable when fewer than two keypoints are
visible or its box has zero width or height. Windows are cut from runs of consecutive usable
frames with stride equal to their length, so no two windows share a frame, and the windows are
shuffled and split 60/20/20 (train/val/test) with every window in exactly one split.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from workbench.data.layouts.keypoints25 import NUM_KEYPOINTS, PoseSequence
from workbench.errors import ConfigError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


@dataclass
class WindowSet:
    """Windows of ``T`` frames: ``keypoints`` float32 (N, T, 25, 2) heatmap px (0 where invisible),
    ``visible`` bool (N, T, 25), ``annotated`` bool (N, 25), ``origin`` (sequence name, first frame
    index in the source sequence, frame step) per window."""

    keypoints: torch.Tensor
    visible: torch.Tensor
    annotated: torch.Tensor
    origin: list[tuple[str, int, int]]

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    def subset(self, index: Sequence[int] | np.ndarray) -> WindowSet:
        """The windows at ``index``, in that order."""
        idx = torch.as_tensor(np.asarray(index, dtype=np.int64))
        return WindowSet(self.keypoints[idx], self.visible[idx], self.annotated[idx],
                         [self.origin[int(i)] for i in idx])


def crop_frames(keypoints: np.ndarray, visible: np.ndarray, size: int = 56, margin: float = 0.1
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keypoints (T, K, 2) px and visibility (T, K) -> heatmap coordinates (T, K, 2) (0 where not
    visible), visibility (T, K) (False also for non-finite coordinates) and usable frames (T,). Computed in
    float64, so that the boxes of float32 keypoints far apart cannot overflow."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    visible = visible & np.isfinite(keypoints).all(-1)
    count = visible.sum(-1)
    lo = np.where(visible[..., None], keypoints, np.inf).min(axis=1)
    hi = np.where(visible[..., None], keypoints, -np.inf).max(axis=1)
    lo = np.where(count[:, None] > 0, lo, 0.0)
    hi = np.where(count[:, None] > 0, hi, 0.0)
    extent = hi - lo
    usable = (count >= 2) & (extent > 0).all(-1)
    lo = lo - margin * extent
    span = np.where(usable[:, None], extent * (1 + 2 * margin), 1.0)
    coords = (np.where(visible[..., None], keypoints, 0.0) - lo[:, None, :]) / span[:, None, :] * (size - 1)
    visible = visible & usable[:, None]
    return np.where(visible[..., None], coords, 0.0).astype(np.float32), visible, usable


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in a 1D bool array."""
    padded = np.r_[False, flags, False].astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def make_windows(sequences: Sequence[PoseSequence], window: int = 5, frame_step: int = 1, size: int = 56,
                 margin: float = 0.1) -> tuple[WindowSet, dict[str, int]]:
    """Non-overlapping windows of ``window`` consecutive usable frames from every sequence, taking every
    ``frame_step``-th frame (2 halves the frame rate). Returns the windows and counts: ``sequences``,
    ``too_short`` (sequences with fewer than ``window`` usable consecutive frames: skipped and logged),
    ``unusable_frames`` and ``windows``."""
    if window < 1 or frame_step < 1:
        raise ConfigError(f"window and frame_step must be positive, got {window} and {frame_step}")
    kps, vis, ann, origin = [], [], [], []
    too_short = unusable = 0
    for seq in sequences:
        coords, visible, usable = crop_frames(seq.keypoints[::frame_step], seq.visible[::frame_step], size, margin)
        unusable += int((~usable).sum())
        made = 0
        for start, stop in _runs(usable):
            for first in range(start, stop - window + 1, window):
                kps.append(coords[first:first + window])
                vis.append(visible[first:first + window])
                ann.append(seq.annotated)
                origin.append((seq.name, first * frame_step, frame_step))
                made += 1
        too_short += made == 0
    if too_short:
        log.warning("skipped %d of %d sequences with fewer than %d usable consecutive frames",
                    too_short, len(sequences), window)
    stats = {"sequences": len(sequences), "too_short": too_short, "unusable_frames": unusable, "windows": len(kps)}
    if not kps:
        shape = (0, window, NUM_KEYPOINTS)
        return WindowSet(torch.zeros(*shape, 2), torch.zeros(shape, dtype=torch.bool),
                         torch.zeros(0, NUM_KEYPOINTS, dtype=torch.bool), []), stats
    windows = WindowSet(torch.from_numpy(np.stack(kps)), torch.from_numpy(np.stack(vis)),
                        torch.from_numpy(np.stack(ann)), origin)
    return windows, stats


def split_indices(count: int, seed: int, fractions: Sequence[float] = (0.6, 0.2, 0.2)) -> dict[str, np.ndarray]:
    """A seeded shuffle of ``range(count)`` cut into train/val/test by ``fractions`` (summing to 1):
    each index is in exactly one split; val and test get round(fraction x count), train the rest."""
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ConfigError(f"split fractions must be three non-negative numbers summing to 1, got {list(fractions)}")
    order = np.random.default_rng(seed).permutation(count)
    n_val, n_test = round(fractions[1] * count), round(fractions[2] * count)
    n_train = count - n_val - n_test
    return {"train": order[:n_train], "val": order[n_train:n_train + n_val], "test": order[n_train + n_val:]}
