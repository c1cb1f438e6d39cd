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

from workbench.errors import DataFormatError

JOINTS = 18


def json_record(path: str | Path, max_persons: int = 2, label: int | None = None) -> dict:
    """A PYSKL record (keypoint (max_persons, T, 18, 2), keypoint_score (max_persons, T, 18),
    ``img_shape`` (1, 1) since coordinates are normalised) of one Kinetics-Skeleton JSON file.
    ``label`` defaults to the file's ``label_index``."""
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
    if not isinstance(label, int):
        raise DataFormatError(path, "no integer 'label_index' and no label given")
    frames = content["data"]
    indices = [_frame_index(path, i, f) for i, f in enumerate(frames)]
    total = max(indices, default=0)
    if total == 0:
        raise DataFormatError(path, "no frames")
    keypoint = np.zeros((max_persons, total, JOINTS, 2), dtype=np.float32)
    score = np.zeros((max_persons, total, JOINTS), dtype=np.float32)
    for i, (frame, t) in enumerate(zip(frames, indices, strict=True)):
        people = []
        for j, person in enumerate(frame.get("skeleton", [])):
            pose = np.asarray(person.get("pose", []), dtype=np.float64).ravel()
            conf = np.asarray(person.get("score", []), dtype=np.float64).ravel()
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
    if not isinstance(frame, dict) or not isinstance(frame.get("frame_index"), int) or frame["frame_index"] < 1:
        raise DataFormatError(path, f"data[{i}] needs a positive integer 'frame_index'")
    return int(frame["frame_index"])
