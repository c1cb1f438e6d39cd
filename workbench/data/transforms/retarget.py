"""Joint geometry of 13-joint SoMoF skeletons, and retargeting one skeleton's motion to another's proportions.

Sequences are arrays (..., 13, 3) in metres (``skeleton_3dpw.JOINT_NAMES`` order). The geometry is measured on
a kinematic tree rooted at the pelvis ``P`` (the hip centre) with the shoulder centre ``S``:

    P -> L-hip, P -> R-hip            half the hip width each
    hip -> knee -> ankle              thigh, shin
    P -> S                            trunk
    S -> L-shoulder, S -> R-shoulder  half the shoulder width each
    S -> head                         neck
    shoulder -> elbow -> wrist        upper arm, forearm

:func:`retarget` keeps every segment's direction, frame by frame, and sets its length to the target's, walking the
tree from the pelvis outwards: ``child' = parent' + L_target (child - parent) / |child - parent|``. Pelvis
positions (so the global trajectory) and all joint angles are kept; only the proportions change.

:data:`SOMOF_SEGMENTS_M`: the medians over the observed frames of SoMoF 3DPW valid (36 scenes x 2 people x 16
frames), measured by :func:`median_segments` (test inputs give the same to 0.15 cm except the trunk, 0.9 cm; the
hip width varies by 0.03 cm between people, the other segments by 0.8-4.4 cm). CMU's three subjects, by contrast,
have hips 15.1 cm apart (SoMoF 12.0), shoulders 36.7 (31.2), thighs 42.0 (37.9) and forearms 19.4 (25.4): their
wrist is the end of CMU's ``radius`` bone.
"""

from __future__ import annotations

import numpy as np

from workbench.data.layouts.skeleton_3dpw import JOINT_NAMES, NUM_JOINTS
from workbench.errors import ConfigError

PELVIS, SHOULDER_CENTRE = "pelvis", "shoulder centre"
SEGMENTS: tuple[tuple[str, str, str], ...] = (
    ("half hip width", PELVIS, "L-hip"), ("half hip width", PELVIS, "R-hip"),
    ("thigh", "L-hip", "L-knee"), ("thigh", "R-hip", "R-knee"),
    ("shin", "L-knee", "L-ankle"), ("shin", "R-knee", "R-ankle"),
    ("trunk", PELVIS, SHOULDER_CENTRE),
    ("half shoulder width", SHOULDER_CENTRE, "L-shoulder"), ("half shoulder width", SHOULDER_CENTRE, "R-shoulder"),
    ("neck", SHOULDER_CENTRE, "head"),
    ("upper arm", "L-shoulder", "L-elbow"), ("upper arm", "R-shoulder", "R-elbow"),
    ("forearm", "L-elbow", "L-wrist"), ("forearm", "R-elbow", "R-wrist"),
)
"""(segment, parent, child) in the order :func:`retarget` places them: every parent is placed before its children;
left and right segments share one length."""
SEGMENT_NAMES: tuple[str, ...] = tuple(dict.fromkeys(name for name, _, _ in SEGMENTS))
SOMOF_SEGMENTS_M: dict[str, float] = {
    "half hip width": 0.0599, "thigh": 0.3785, "shin": 0.4006, "trunk": 0.4896,
    "half shoulder width": 0.1560, "neck": 0.0725, "upper arm": 0.2533, "forearm": 0.2541,
}
"""Median segment lengths (m) of SoMoF 3DPW valid's observed frames (see the module docstring)."""


def _points(poses: np.ndarray) -> dict[str, np.ndarray]:
    """The joints of ``poses`` (..., 13, 3) by name, with the pelvis and the shoulder centre."""
    named = {name: poses[..., i, :] for i, name in enumerate(JOINT_NAMES)}
    named[PELVIS] = (named["L-hip"] + named["R-hip"]) / 2
    named[SHOULDER_CENTRE] = (named["L-shoulder"] + named["R-shoulder"]) / 2
    return named


def _check(poses: np.ndarray) -> np.ndarray:
    poses = np.asarray(poses)
    if poses.ndim < 2 or poses.shape[-2:] != (NUM_JOINTS, 3):
        raise ConfigError(f"expected poses (..., {NUM_JOINTS}, 3), got shape {poses.shape}")
    return poses


def segment_lengths(poses: np.ndarray) -> dict[str, np.ndarray]:
    """Per segment of :data:`SEGMENT_NAMES`, its lengths (m) in every pose of ``poses`` (..., 13, 3), left and right
    stacked along a new first axis where a segment has both: ``{name: (sides, ...)}``."""
    points = _points(_check(poses))
    lengths: dict[str, list[np.ndarray]] = {}
    for name, parent, child in SEGMENTS:
        lengths.setdefault(name, []).append(np.linalg.norm(points[child] - points[parent], axis=-1))
    return {name: np.stack(parts) for name, parts in lengths.items()}


def median_segments(poses: np.ndarray) -> dict[str, float]:
    """The median of each segment's lengths over every pose and side of ``poses`` (..., 13, 3), metres."""
    return {name: float(np.median(v)) for name, v in segment_lengths(poses).items()}


def retarget(poses: np.ndarray, targets: dict[str, float] | None = None) -> np.ndarray:
    """``poses`` (..., 13, 3) with every segment set to its ``targets`` length (m; default
    :data:`SOMOF_SEGMENTS_M`), directions and pelvis positions kept (see the module docstring); same shape and
    dtype. A segment of zero length keeps its child on its parent."""
    poses = _check(poses)
    targets = dict(SOMOF_SEGMENTS_M if targets is None else targets)
    missing = [name for name in SEGMENT_NAMES if name not in targets]
    if missing or any(not np.isfinite(targets[n]) or targets[n] < 0 for n in SEGMENT_NAMES):
        raise ConfigError(f"retarget needs a finite length >= 0 (m) for each of {', '.join(SEGMENT_NAMES)}; "
                          f"got {targets}")
    old = _points(poses.astype(np.float64))
    new = {PELVIS: old[PELVIS]}
    for name, parent, child in SEGMENTS:
        offset = old[child] - old[parent]
        norm = np.linalg.norm(offset, axis=-1, keepdims=True)
        scale = np.divide(targets[name], norm, out=np.zeros_like(norm), where=norm > 0)
        new[child] = new[parent] + offset * scale
    return np.stack([new[name] for name in JOINT_NAMES], axis=-2).astype(poses.dtype)
