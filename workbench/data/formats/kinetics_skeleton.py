"""Kinetics-Skeleton JSON (OpenPose-18, one file per clip) into the PYSKL form.

A file is ``{"data": [{"frame_index": i (1-based), "skeleton": [{"pose": [x0, y0, ..., x17, y17],
"score": [s0, ..., s17]}, ...]}, ...], "label": name, "label_index": int}``; coordinates are
normalised to [0, 1] by the image size. Per frame the people are ranked by their summed joint
score and the best ``max_persons`` kept (the ST-GCN convention).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from workbench.data.number_checks import numbers
from workbench.errors import DataFormatError

JOINTS = 18
MAX_FRAMES = 100_000
"""Largest accepted ``frame_index`` (55 minutes at 30 fps; Kinetics clips have about 300 frames)."""


def json_record(path: str | Path, max_persons: int = 2, label: int | None = None) -> dict:
    """A PYSKL record (keypoint (max_persons, T, 18, 2), keypoint_score (max_persons, T, 18),
    ``img_shape`` (1, 1) since coordinates are normalised) of one Kinetics-Skeleton JSON file.
    ``label`` defaults to the file's ``label_index``. Raises :class:`DataFormatError` naming the file
    for malformed JSON, a missing, repeated or implausible (> 100,000) ``frame_index``, people that are
    not objects, poses and scores that are not 36 and 18 numbers, NaN/inf or values beyond +-1e6."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFormatError(path, f"not valid JSON ({exc})") from None
    if not isinstance(content, dict) or not isinstance(content.get("data"), list):
        raise DataFormatError(path, "expected an object with a 'data' list of frames")
    label = content.get("label_index") if label is None else label
    if not isinstance(label, int) or isinstance(label, bool) or label < 0:
        raise DataFormatError(path, f"no whole-number 'label_index' >= 0 and no label given (found {label!r})")
    frames = content["data"]
    indices = [_frame_index(path, i, f) for i, f in enumerate(frames)]
    total = max(indices, default=0)
    if total == 0:
        raise DataFormatError(path, "no frames")
    if len(set(indices)) != len(indices):
        seen: set[int] = set()
        repeated = next(t for t in indices if t in seen or seen.add(t))
        raise DataFormatError(path, f"frame_index {repeated} appears more than once")
    keypoint = np.zeros((max_persons, total, JOINTS, 2), dtype=np.float32)
    score = np.zeros((max_persons, total, JOINTS), dtype=np.float32)
    for i, (frame, t) in enumerate(zip(frames, indices, strict=True)):
        people = []
        skeleton = frame.get("skeleton", [])
        if not isinstance(skeleton, list):
            raise DataFormatError(path, f"data[{i}].skeleton must be a list of people, found {type(skeleton).__name__}")
        for j, person in enumerate(skeleton):
            if not isinstance(person, dict):
                raise DataFormatError(path, f"data[{i}].skeleton[{j}] must be an object with pose and score, found "
                                            f"{type(person).__name__}")
            pose = numbers(person.get("pose", []), path, f"data[{i}].skeleton[{j}].pose", finite=False).ravel()
            conf = numbers(person.get("score", []), path, f"data[{i}].skeleton[{j}].score", finite=False).ravel()
            if pose.size != 2 * JOINTS or conf.size != JOINTS:
                raise DataFormatError(path, f"data[{i}].skeleton[{j}]: pose needs {2 * JOINTS} and score {JOINTS} "
                                            f"values, found {pose.size} and {conf.size}")
            if not (np.isfinite(pose).all() and np.isfinite(conf).all()):
                raise DataFormatError(path, f"data[{i}].skeleton[{j}]: NaN/inf in pose or score")
            people.append((conf.sum(), pose.reshape(JOINTS, 2), conf))
        people.sort(key=lambda p: -p[0])
        for m, (_, pose, conf) in enumerate(people[:max_persons]):
            keypoint[m, t - 1], score[m, t - 1] = pose, conf
    return {"frame_dir": path.stem, "label": int(label), "total_frames": total, "img_shape": (1, 1),
            "keypoint": keypoint, "keypoint_score": score}


def _frame_index(path: Path, i: int, frame: object) -> int:
    index = frame.get("frame_index") if isinstance(frame, dict) else None
    if not isinstance(index, int) or isinstance(index, bool) or index < 1:
        raise DataFormatError(path, f"data[{i}] needs a positive integer 'frame_index'")
    if index > MAX_FRAMES:
        raise DataFormatError(path, f"data[{i}]: frame_index {index} is beyond {MAX_FRAMES} frames")
    return index
