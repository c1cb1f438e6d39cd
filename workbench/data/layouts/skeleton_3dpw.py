"""The 13-joint skeleton of the SoMoF 3DPW benchmark."""

from __future__ import annotations

JOINT_NAMES: tuple[str, ...] = (
    "L-hip", "R-hip", "L-knee", "R-knee", "L-ankle", "R-ankle", "head",
    "L-shoulder", "R-shoulder", "L-elbow", "R-elbow", "L-wrist", "R-wrist",
)
NUM_JOINTS = len(JOINT_NAMES)
COORDS_PER_FRAME = 3 * NUM_JOINTS
BONES: tuple[tuple[int, int], ...] = (
    (0, 1), (0, 2), (2, 4), (1, 3), (3, 5), (7, 0), (8, 1), (7, 8),
    (6, 7), (6, 8), (7, 9), (9, 11), (8, 10), (10, 12),
)
HIPS: tuple[int, int] = (0, 1)
OBS_FRAMES = 16
PRED_FRAMES = 14
FRAME_STEP_MS = 1000.0 / 30.0 * 2
"""Frames are every 2nd frame of 30 fps video: 66.7 ms apart."""
