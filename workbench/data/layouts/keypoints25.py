"""The 25-keypoint 2D layout of the pretraining study and the mappings of each source into it.

Penn Action (13 joints) and BRACE (COCO-17) annotate only some of the 25 keypoints;
:class:`PoseSequence` carries an ``annotated`` mask so that keypoints a dataset never
labels are left out of the loss and of the metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.data.formats.penn_action import PennVideo

NAMES: tuple[str, ...] = (
    "nose", "L-ear", "R-ear", "L-shoulder", "R-shoulder", "L-elbow", "R-elbow", "L-wrist", "R-wrist",
    "L-pinky", "R-pinky", "L-index", "R-index", "L-thumb", "R-thumb", "L-hip", "R-hip", "L-knee", "R-knee",
    "L-ankle", "R-ankle", "L-heel", "R-heel", "L-foot-index", "R-foot-index",
)
NUM_KEYPOINTS = len(NAMES)
INDEX = {name: i for i, name in enumerate(NAMES)}
SHOULDERS = (INDEX["L-shoulder"], INDEX["R-shoulder"])
HIPS = (INDEX["L-hip"], INDEX["R-hip"])

BONES: tuple[tuple[int, int], ...] = tuple(
    (INDEX[a], INDEX[b]) for a, b in (
        ("nose", "L-ear"), ("nose", "R-ear"), ("L-shoulder", "R-shoulder"), ("L-shoulder", "L-elbow"),
        ("L-elbow", "L-wrist"), ("L-wrist", "L-pinky"), ("L-wrist", "L-index"), ("L-wrist", "L-thumb"),
        ("R-shoulder", "R-elbow"), ("R-elbow", "R-wrist"), ("R-wrist", "R-pinky"), ("R-wrist", "R-index"),
        ("R-wrist", "R-thumb"), ("L-shoulder", "L-hip"), ("R-shoulder", "R-hip"), ("L-hip", "R-hip"),
        ("L-hip", "L-knee"), ("L-knee", "L-ankle"), ("L-ankle", "L-heel"), ("L-ankle", "L-foot-index"),
        ("L-heel", "L-foot-index"), ("R-hip", "R-knee"), ("R-knee", "R-ankle"), ("R-ankle", "R-heel"),
        ("R-ankle", "R-foot-index"), ("R-heel", "R-foot-index"),
    )
)

GROUPS: dict[str, tuple[int, ...]] = {
    group: tuple(i for i, name in enumerate(NAMES) if name.split("-", 1)[-1] == group)
    for group in ("nose", "ear", "shoulder", "elbow", "wrist", "hip", "knee", "ankle")
}
"""Keypoint groups of the per-keypoint PCK table (left and right together)."""

PENN_TO_25: tuple[int, ...] = tuple(INDEX[n] for n in (
    "nose", "L-shoulder", "R-shoulder", "L-elbow", "R-elbow", "L-wrist", "R-wrist",
    "L-hip", "R-hip", "L-knee", "R-knee", "L-ankle", "R-ankle",
))
"""Target index of each Penn Action joint (head, L/R shoulder, elbow, wrist, hip, knee, ankle); head -> nose."""

COCO17_TO_25: dict[int, int] = {
    0: INDEX["nose"], 3: INDEX["L-ear"], 4: INDEX["R-ear"], 5: INDEX["L-shoulder"], 6: INDEX["R-shoulder"],
    7: INDEX["L-elbow"], 8: INDEX["R-elbow"], 9: INDEX["L-wrist"], 10: INDEX["R-wrist"], 11: INDEX["L-hip"],
    12: INDEX["R-hip"], 13: INDEX["L-knee"], 14: INDEX["R-knee"], 15: INDEX["L-ankle"], 16: INDEX["R-ankle"],
}
"""Target index of each kept COCO-17 keypoint; the eyes (1, 2) are dropped."""


@dataclass(frozen=True)
class PoseSequence:
    """One tracked person's 2D keypoints over consecutive frames, in the 25-keypoint layout.

    ``keypoints`` float32 (T, 25, 2) pixel x, y of the source image; ``visible`` bool (T, 25)
    (False for missing and never-annotated keypoints); ``annotated`` bool (25,): keypoints the
    source labels at all; ``name`` identifies the video or segment; ``source`` is its file.
    """

    name: str
    keypoints: np.ndarray
    visible: np.ndarray
    annotated: np.ndarray
    source: str

    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])


def annotated_mask(indices: list[int] | tuple[int, ...]) -> np.ndarray:
    """Bool (25,) that is True at ``indices``."""
    mask = np.zeros(NUM_KEYPOINTS, dtype=bool)
    mask[list(indices)] = True
    return mask


def scatter(keypoints: np.ndarray, visible: np.ndarray, targets: list[int] | tuple[int, ...]
            ) -> tuple[np.ndarray, np.ndarray]:
    """Place source keypoints (T, J, 2) and visibility (T, J) at 25-layout ``targets`` (J indices):
    returns (T, 25, 2) float32 (NaN elsewhere) and (T, 25) bool (False elsewhere)."""
    frames = keypoints.shape[0]
    out = np.full((frames, NUM_KEYPOINTS, 2), np.nan, dtype=np.float32)
    vis = np.zeros((frames, NUM_KEYPOINTS), dtype=bool)
    out[:, list(targets)] = keypoints
    vis[:, list(targets)] = visible
    return out, vis


def from_penn(video: PennVideo) -> PoseSequence:
    """A Penn Action video in the 25-keypoint layout: its 13 joints placed by :data:`PENN_TO_25`
    (head as nose); ears, fingers, heels and foot tips are never annotated."""
    keypoints, visible = scatter(video.keypoints, video.visibility, PENN_TO_25)
    return PoseSequence(video.video_id, keypoints, visible, annotated_mask(PENN_TO_25), video.path)
