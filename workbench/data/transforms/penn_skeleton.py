"""Penn Action label files as a PYSKL data set (2D, 13 joints, 15 actions, official split).

Uses :mod:`workbench.data.formats.penn_action` to read the ``.mat`` files; the ``train`` field gives the
official split (1,258 train / 1,068 test videos). Visibility becomes ``keypoint_score`` (0 or 1).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from workbench.data.formats import penn_action

log = logging.getLogger(__name__)


def video_record(video: penn_action.PennVideo) -> dict:
    """One video as a PYSKL record: keypoint (1, T, 13, 2) pixels, keypoint_score (1, T, 13)."""
    height, width = (video.dimensions[0], video.dimensions[1]) if video.dimensions else (0, 0)
    return {"frame_dir": video.video_id, "label": video.label, "total_frames": video.num_frames,
            "img_shape": (height, width), "keypoint": video.keypoints[None].astype(np.float32),
            "keypoint_score": video.visibility[None].astype(np.float32)}


def penn_dataset(labels_dir: str | Path, limit: int | None = None) -> dict:
    """The PYSKL data set of a Penn Action ``labels`` folder, splits ``train`` and ``test``;
    ``limit`` reads only the first files (for quick runs). Unreadable files are skipped with a log
    line each and a count."""
    files = penn_action.label_files(labels_dir)[:limit]
    videos, skipped = penn_action.load_videos(files)
    if skipped:
        log.warning("%s: skipped %d of %d label files", labels_dir, len(skipped), len(files))
    split = {"train": [v.video_id for v in videos if v.train], "test": [v.video_id for v in videos if not v.train]}
    return {"split": split, "annotations": [video_record(v) for v in videos]}
