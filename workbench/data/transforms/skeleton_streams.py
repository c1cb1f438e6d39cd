"""Clip sampling, normalisation and the input streams of the skeleton study.

Arrays are ``(..., M persons, T frames, V joints, C coordinates)``. Streams (InfoGCN's notation):
``j`` joints; ``b`` bones ``(I - A) x`` (a joint minus its parent; the root keeps its coordinates);
``k`` the k-th order bone ``(I - A^k) x`` with ``A`` the layout's parent matrix (a joint minus its
k-th ancestor; joints with fewer than k ancestors keep their coordinates, so k = 1 gives bones and
k > tree depth gives joints); ``jm``, ``bm``, ``km`` the frame differences ``x[t + 1] - x[t]`` of the
static streams (zero at the last frame).
"""

from __future__ import annotations

import numpy as np
import torch

from workbench.data.layouts.skeleton_layouts import Layout
from workbench.errors import ConfigError

STREAMS: tuple[str, ...] = ("j", "b", "k", "jm", "bm", "km")


def sample_indices(total: int, length: int, clip: int = 0, num_clips: int = 1) -> np.ndarray:
    """Frame indices (length,) of clip ``clip`` of ``num_clips``: the ``total`` frames are cut into
    ``length`` equal segments and the frame at fraction ``(clip + 0.5) / num_clips`` of each segment
    is taken (frames repeat when ``total < length``)."""
    if total < 1 or length < 1:
        raise ConfigError(f"cannot sample {length} frames from {total}")
    if not 0 <= clip < num_clips:
        raise ConfigError(f"clip {clip} is not one of {num_clips} clips")
    position = (np.arange(length) + (clip + 0.5) / num_clips) * total / length
    return np.minimum(position.astype(np.int64), total - 1)


def random_sample_indices(total: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """A random temporal crop, frame indices (length,): the ``total`` frames are cut into ``length``
    equal segments and a uniformly random frame of each is taken,
    ``index_i = floor((i + u_i) * total / length)`` with ``u_i ~ U[0, 1)`` (non-decreasing; frames
    repeat when ``total < length``)."""
    if total < 1 or length < 1:
        raise ConfigError(f"cannot sample {length} frames from {total}")
    position = (np.arange(length) + rng.random(length)) * total / length
    return np.minimum(position.astype(np.int64), total - 1)


def normalise(keypoint: np.ndarray, layout: Layout, img_shape: tuple[int, int] = (0, 0),
              view_align: bool = False) -> np.ndarray:
    """Centre a record's keypoints (M, T, V, C) on the body centre (mean of ``layout.center``) of the
    first person's first frame with any joint; 2D coordinates are divided by half the image's larger
    side when ``img_shape`` is known; with ``view_align`` (3D) rotate about the vertical y axis so
    that that frame's right-to-left hip vector points along +x. Absent (all-zero) persons and
    frames stay zero."""
    x = np.asarray(keypoint, dtype=np.float32).copy()
    present = np.abs(x).sum(axis=(-1, -2)) > 0
    if not present.any():
        return x
    m, t = np.argwhere(present)[0]
    centre = x[m, t, list(layout.center)].mean(axis=0)
    x -= centre
    if x.shape[-1] == 2 and max(img_shape) > 0:
        x /= max(img_shape) / 2.0
    if view_align and x.shape[-1] == 3:
        hips = x[m, t, layout.joints.index("L-hip")] - x[m, t, layout.joints.index("R-hip")]
        angle = np.arctan2(hips[2], hips[0])
        c, s = np.cos(angle), np.sin(angle)
        x = x @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=np.float32).T
    x[~present] = 0.0
    return x


def bone_operator(layout: Layout, order: int) -> torch.Tensor:
    """``I - A^order`` (V, V) float32; ``order`` >= 1."""
    if order < 1:
        raise ConfigError(f"bone order k must be >= 1, got {order}")
    a = torch.from_numpy(layout.parent_matrix())
    return torch.eye(layout.num_joints) - torch.linalg.matrix_power(a, order)


def motion(x: torch.Tensor) -> torch.Tensor:
    """Frame differences along T (axis -3): ``out[t] = x[t + 1] - x[t]``, ``out[T - 1] = 0``."""
    out = torch.zeros_like(x)
    out[..., :-1, :, :] = x[..., 1:, :, :] - x[..., :-1, :, :]
    return out


def make_stream(x: torch.Tensor, stream: str, layout: Layout, bone_order: int = 2) -> torch.Tensor:
    """Stream ``stream`` (one of :data:`STREAMS`) of joints ``x`` (..., T, V, C)."""
    if stream not in STREAMS:
        raise ConfigError(f"unknown stream {stream!r}; choose from {', '.join(STREAMS)}")
    static = stream.rstrip("m") if stream != "jm" else "j"
    if static == "j":
        out = x
    else:
        op = bone_operator(layout, 1 if static == "b" else bone_order).to(x)
        out = torch.einsum("uv,...vc->...uc", op, x)
    return motion(out) if stream.endswith("m") else out
