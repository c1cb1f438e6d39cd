"""The embedded default data of the pretraining study: 2D keypoint sequences in the 25-keypoint
layout, projected from the procedural motion generator.

:func:`workbench.data.generators.motion_generator.simulate` gives named 3D joints (metres, y up); the
keypoints it lacks are derived from them with the body's own axes (left = L-hip - R-hip,
up = +y, forward = left x up) and its size s = hip width / 0.18 m:
ears = head +- 0.07 s left - 0.02 s forward; thumb = wrist + 0.04 s hand-direction + 0.03 s
forward; index = hand + 0.02 s hand-direction + 0.015 s forward; pinky = hand - 0.015 s
forward (mirrored per side along ``left``); heel = ankle - 0.05 s forward - 0.05 s up;
foot index = toe. A pinhole camera (focal ``FOCAL_PX`` px, 640 x 480 image) at a random
azimuth 5-7 m from the person, 1.2 m high, projects them to pixels (x right, y down).
Every keypoint is annotated and visible.
"""

from __future__ import annotations

import numpy as np

from workbench.data.generators.motion_generator import sample_params, simulate
from workbench.data.layouts.keypoints25 import NAMES, NUM_KEYPOINTS, PoseSequence

FPS = 30.0
FOCAL_PX = 500.0
IMAGE_SIZE = (640, 480)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def keypoints_3d(joints: dict[str, np.ndarray]) -> np.ndarray:
    """The 25 keypoints (T, 25, 3) in metres from the generator's named joints (see the module docstring)."""
    left = joints["L-hip"] - joints["R-hip"]
    size = np.linalg.norm(left, axis=-1, keepdims=True) / 0.18
    left = _unit(left)
    up = np.broadcast_to(np.array([0.0, 1.0, 0.0]), left.shape)
    forward = _unit(np.cross(left, up))
    points = {"nose": joints["nose"]}
    for side, sign in (("L", 1.0), ("R", -1.0)):
        hand_dir = _unit(joints[f"{side}-hand"] - joints[f"{side}-wrist"])
        points[f"{side}-ear"] = joints["head"] + size * (0.07 * sign * left - 0.02 * forward)
        for name in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
            points[f"{side}-{name}"] = joints[f"{side}-{name}"]
        points[f"{side}-thumb"] = joints[f"{side}-wrist"] + size * (0.04 * hand_dir + 0.03 * forward)
        points[f"{side}-index"] = joints[f"{side}-hand"] + size * (0.02 * hand_dir + 0.015 * forward)
        points[f"{side}-pinky"] = joints[f"{side}-hand"] + size * (-0.015 * forward + 0.01 * sign * left)
        points[f"{side}-heel"] = joints[f"{side}-ankle"] - size * (0.05 * forward + 0.05 * up)
        points[f"{side}-foot-index"] = joints[f"{side}-toe"]
    return np.stack([points[name] for name in NAMES], axis=1)


def project(points: np.ndarray, azimuth: float, distance: float, height: float = 1.2) -> np.ndarray:
    """Pinhole projection of (..., 3) metres (y up) to (..., 2) pixels (x right, y down): the scene is
    turned by ``azimuth`` rad about the vertical axis and viewed from ``distance`` m along +z."""
    c, s = np.cos(azimuth), np.sin(azimuth)
    x = c * points[..., 0] + s * points[..., 2]
    z = -s * points[..., 0] + c * points[..., 2] + distance
    y = points[..., 1] - height
    u = FOCAL_PX * x / z + IMAGE_SIZE[0] / 2
    v = -FOCAL_PX * y / z + IMAGE_SIZE[1] / 2
    return np.stack([u, v], axis=-1)


def generate(num_sequences: int, num_frames: int, seed: int, fps: float = FPS) -> list[PoseSequence]:
    """``num_sequences`` people of ``num_frames`` frames at ``fps``, each a :class:`PoseSequence` with
    keypoints (T, 25, 2) px, all visible and annotated; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    sequences = []
    for n in range(num_sequences):
        params = sample_params(rng)
        points = keypoints_3d(simulate(params, num_frames, fps))
        centre = points[0].mean(axis=0)
        points[..., 0] -= centre[0]
        points[..., 2] -= centre[2]
        pixels = project(points, float(rng.uniform(-np.pi, np.pi)), float(rng.uniform(5.0, 7.0)))
        sequences.append(PoseSequence(
            name=f"synthetic_{n:05d}", keypoints=pixels.astype(np.float32),
            visible=np.ones((num_frames, NUM_KEYPOINTS), dtype=bool),
            annotated=np.ones(NUM_KEYPOINTS, dtype=bool), source=f"motion_generator(seed={seed})",
        ))
    return sequences
