"""Loader of BRACE segment keypoints (``year/video_id/video_id_start-end_movement.json``).

Each file is one dancer's segment: a JSON object keyed by frame id
(``video_id/img-000123.png``; the frame number is the last run of digits of the key)
whose values hold ``keypoints``: 17 COCO keypoints as [x, y, score] in pixels of the
1920 x 1080 frame (and ``box``: x, y, w, h, score, not used here). The eyes are dropped
and the other 15 keypoints placed in the 25-keypoint layout; a keypoint is visible when
its score is positive. Frames are ordered by number and split where numbers jump, so a
sequence never spans missing frames.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from workbench.data.layouts.keypoints25 import COCO17_TO_25, PoseSequence, annotated_mask, scatter
from workbench.data.many_files import find_files, load_skipping
from workbench.data.number_checks import numbers
from workbench.errors import DataFormatError

log = logging.getLogger(__name__)

COCO_KEYPOINTS = 17
_FRAME_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def _frame_number(path: Path, key: str) -> int:
    match = _FRAME_NUMBER.search(key)
    if match is None:
        raise DataFormatError(path, f"frame key {key!r} holds no frame number")
    return int(match.group(1))


def _null_as_nan(value: object) -> object:
    """JSON ``null`` (Python None) -> NaN, in nested lists: a null coordinate is a missing keypoint."""
    if isinstance(value, list):
        return [_null_as_nan(v) for v in value]
    return math.nan if value is None else value


def _frame_keypoints(path: Path, key: str, entry: object) -> np.ndarray:
    """(17, 3) float64 x, y, score of one frame entry, validated."""
    if not isinstance(entry, dict) or "keypoints" not in entry:
        raise DataFormatError(path, f"frame {key!r} has no 'keypoints' field")
    values = numbers(_null_as_nan(entry["keypoints"]), path, f"frame {key!r}: 'keypoints'", finite=False)
    if values.size == COCO_KEYPOINTS * 3:
        values = values.reshape(COCO_KEYPOINTS, 3)
    if values.shape != (COCO_KEYPOINTS, 3):
        raise DataFormatError(path, f"frame {key!r}: 'keypoints' has shape {values.shape}, expected (17, 3) "
                                    "COCO keypoints as x, y, score")
    return values


def load_segment(path: str | Path) -> list[PoseSequence]:
    """The pose sequences of one segment file: one per run of consecutive frame numbers.

    Raises :class:`DataFormatError` naming the file when it is unreadable, not a JSON
    object of frames, a frame lacks 17 x 3 keypoints, or they are not numbers (text,
    true/false) or beyond +-1e6 px; null or non-finite coordinates make the keypoint
    invisible (counted in a log line), never a crash.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(path, f"malformed JSON ({exc})") from None
    if not isinstance(content, dict) or not content:
        raise DataFormatError(path, "expected a non-empty JSON object keyed by frame id")
    frames = sorted((_frame_number(path, key), key) for key in content)
    numbers = np.array([n for n, _ in frames])
    if len(np.unique(numbers)) != len(numbers):
        raise DataFormatError(path, "two frame ids have the same frame number")
    raw = np.stack([_frame_keypoints(path, key, content[key]) for _, key in frames])
    finite = np.isfinite(raw[..., :2]).all(-1)
    if not finite.all():
        log.warning("%s: %d keypoints with non-finite coordinates treated as missing", path, int((~finite).sum()))
    visible = finite & (np.nan_to_num(raw[..., 2]) > 0)
    coords = np.where(finite[..., None], raw[..., :2], np.nan).astype(np.float32)
    sources = list(COCO17_TO_25)
    keypoints, vis = scatter(coords[:, sources], visible[:, sources], [COCO17_TO_25[i] for i in sources])
    breaks = np.flatnonzero(np.diff(numbers) != 1) + 1
    sequences = []
    for start, stop in zip(np.r_[0, breaks], np.r_[breaks, len(numbers)], strict=True):
        name = f"{path.stem}@{numbers[start]}"
        sequences.append(PoseSequence(name, keypoints[start:stop], vis[start:stop],
                                      annotated_mask(list(COCO17_TO_25.values())), str(path)))
    return sequences


def segment_files(folder: str | Path) -> list[Path]:
    """Every ``*.json`` under ``folder`` (recursively), sorted; raises if there is none."""
    return find_files(folder, "*.json", "BRACE segment .json files", recursive=True)


def load_segments(paths: Iterable[str | Path]) -> tuple[list[PoseSequence], list[tuple[str, str]]]:
    """Load many segment files, skipping bad ones: returns (sequences, skipped (file, problem) pairs);
    every skip is logged."""
    per_file, skipped = load_skipping(paths, load_segment)
    return [sequence for sequences in per_file for sequence in sequences], skipped
