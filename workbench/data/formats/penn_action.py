"""Loader of Penn Action label files (``NNNN.mat``), shared by every study that uses them.

Each file holds one video: ``x``, ``y`` (nframes x 13, pixels; some files store
integers), ``visibility`` (nframes x 13, 0/1), ``bbox`` (nframes x 4, x1 y1 x2 y2),
``action`` (one of 15 names), ``pose`` (camera view), ``train`` (+1 train, -1 test),
``nframes`` and ``dimensions`` (height, width, frames).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

from workbench.data.many_files import find_files, load_skipping
from workbench.data.number_checks import numbers
from workbench.errors import DataFormatError

JOINTS: tuple[str, ...] = (
    "head", "L-shoulder", "R-shoulder", "L-elbow", "R-elbow", "L-wrist", "R-wrist",
    "L-hip", "R-hip", "L-knee", "R-knee", "L-ankle", "R-ankle",
)
BONES: tuple[tuple[int, int], ...] = (
    (0, 1), (0, 2), (1, 3), (3, 5), (2, 4), (4, 6), (1, 7), (2, 8), (7, 8), (7, 9), (9, 11), (8, 10), (10, 12),
)
ACTIONS: tuple[str, ...] = (
    "baseball_pitch", "baseball_swing", "bench_press", "bowl", "clean_and_jerk", "golf_swing", "jump_rope",
    "jumping_jacks", "pullup", "pushup", "situp", "squat", "strum_guitar", "tennis_forehand", "tennis_serve",
)
REQUIRED = ("x", "y", "visibility", "action", "train", "nframes")


@dataclass(frozen=True)
class PennVideo:
    """One Penn Action video's labels.

    ``keypoints``: float32 (T, 13, 2) pixel x, y; ``visibility``: bool (T, 13);
    ``bbox``: float32 (T, 4) x1, y1, x2, y2 in pixels, or None when absent;
    ``action``: name; ``label``: index into :data:`ACTIONS`; ``train``: official split.
    """

    video_id: str
    keypoints: np.ndarray
    visibility: np.ndarray
    bbox: np.ndarray | None
    action: str
    label: int
    train: bool
    dimensions: tuple[int, int, int] | None
    path: str

    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])


def _scalar(path: Path, mat: dict, key: str) -> object:
    value = np.asarray(mat[key]).ravel()
    if value.size != 1:
        raise DataFormatError(path, f"field '{key}' should hold one value, has {value.size}")
    return value[0]


def _whole_number(path: Path, mat: dict, key: str) -> int:
    value = numbers(_scalar(path, mat, key), path, f"field '{key}'")
    if not float(value).is_integer():
        raise DataFormatError(path, f"field '{key}' should be a whole number, is {float(value):g}")
    return int(value)


def load_video(path: str | Path) -> PennVideo:
    """Read and validate one label file.

    Raises :class:`DataFormatError` naming the file for an unreadable file, a missing field,
    a field that is not numbers (text, cells) where numbers belong, joint counts other than 13,
    frame counts that disagree with ``nframes``, non-finite coordinates or ones beyond +-1e6 px,
    or an unknown action.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises several unrelated types for corrupt files
        raise DataFormatError(path, f"not a readable .mat file ({type(exc).__name__}: {exc})") from None
    missing = [k for k in REQUIRED if k not in mat]
    if missing:
        raise DataFormatError(path, f"missing field(s) {', '.join(missing)}")
    x = numbers(mat["x"], path, "field 'x'", finite=False)
    y = numbers(mat["y"], path, "field 'y'", finite=False)
    vis = numbers(mat["visibility"], path, "field 'visibility'")
    frames = _whole_number(path, mat, "nframes")
    for key, arr in (("x", x), ("y", y), ("visibility", vis)):
        if arr.ndim != 2 or arr.shape[1] != len(JOINTS):
            raise DataFormatError(path, f"field '{key}' has shape {arr.shape}, expected (nframes, {len(JOINTS)})")
        if arr.shape[0] != frames:
            raise DataFormatError(path, f"field '{key}' has {arr.shape[0]} frames but nframes is {frames}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise DataFormatError(path, "non-finite (NaN/inf) keypoint coordinates")
    action = str(_scalar(path, mat, "action")).strip()
    if action not in ACTIONS:
        raise DataFormatError(path, f"unknown action {action!r}")
    bbox = None
    if "bbox" in mat:
        raw = numbers(mat["bbox"], path, "field 'bbox'").astype(np.float32)
        if raw.ndim == 2 and raw.shape[1] == 4:
            bbox = raw
    dims = None
    if "dimensions" in mat and np.asarray(mat["dimensions"]).size == 3:
        dims = tuple(int(v) for v in numbers(mat["dimensions"], path, "field 'dimensions'").ravel())
    return PennVideo(
        video_id=path.stem,
        keypoints=np.stack([x, y], axis=-1).astype(np.float32),
        visibility=vis.astype(bool),
        bbox=bbox,
        action=action,
        label=ACTIONS.index(action),
        train=_whole_number(path, mat, "train") == 1,
        dimensions=dims,
        path=str(path),
    )


def label_files(folder: str | Path) -> list[Path]:
    """The ``*.mat`` files of a labels folder, sorted; raises if there are none."""
    return find_files(folder, "*.mat", "Penn Action .mat label files")


def load_videos(paths: Iterable[str | Path]) -> tuple[list[PennVideo], list[tuple[str, str]]]:
    """Load many label files, skipping bad ones: returns (videos, skipped) where ``skipped``
    lists (file, problem) pairs; each skip is logged and the count reported by the caller."""
    return load_skipping(paths, load_video)
