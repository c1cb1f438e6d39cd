"""NTU RGB+D skeletons into the PYSKL form: ``.skeleton`` text files and the (C, T, V, M) arrays.

A ``.skeleton`` file holds: the frame count; then per frame a body count and per body a line of 10
info values (the first is the body id), the joint count (25) and 25 lines of 12 numbers
``x y z depthX depthY colorX colorY orientationW X Y Z trackingState`` (x, y, z in metres, camera
coordinates). The action label comes from the file name ``SsssCcccPpppRrrrAaaa`` (A = action, 1-based).
Bodies are tracked by id; the ``max_bodies`` bodies that move most (sum of per-coordinate variance
over the frames they appear in) are kept. Frames with no body stay zero and are counted in the log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from workbench.data.number_checks import MAX_ABS, numbers
from workbench.errors import DataFormatError

log = logging.getLogger(__name__)

JOINTS = 25
VALUES_PER_JOINT = 12
_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


def label_from_name(path: str | Path) -> int | None:
    """0-based action label from an NTU file name (``...A023...`` -> 22), or None if absent."""
    match = _NAME.search(Path(path).name)
    return int(match.group(5)) - 1 if match else None


class _Lines:
    """Numbered, non-empty lines of a text file; errors name the file and the 1-based line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise DataFormatError(path, f"unreadable ({type(exc).__name__}: {exc})") from None
        self.pos = 0

    def next(self, what: str) -> tuple[int, list[str]]:
        while self.pos < len(self.lines) and not self.lines[self.pos].strip():
            self.pos += 1
        if self.pos >= len(self.lines):
            raise DataFormatError(self.path, f"line {self.pos + 1}: file ends where {what} was expected")
        self.pos += 1
        return self.pos, self.lines[self.pos - 1].split()

    def integer(self, what: str) -> int:
        number, fields = self.next(what)
        if len(fields) != 1 or not fields[0].lstrip("-").isdigit() or int(fields[0]) < 0:
            got = " ".join(fields)
            raise DataFormatError(self.path, f"line {number}: expected {what} (one whole number), got {got!r}")
        return int(fields[0])

    def numbers(self, count: int, what: str) -> np.ndarray:
        number, fields = self.next(what)
        if len(fields) != count:
            raise DataFormatError(self.path, f"line {number}: {what} needs {count} values, found {len(fields)}")
        try:
            values = np.array([float(f) for f in fields])
        except ValueError:
            got = " ".join(fields)
            raise DataFormatError(self.path, f"line {number}: {what} holds a non-number: {got!r}") from None
        if not np.isfinite(values).all():
            raise DataFormatError(self.path, f"line {number}: {what} holds NaN/inf")
        if np.abs(values).max() > MAX_ABS:
            raise DataFormatError(self.path, f"line {number}: {what} holds values beyond +-{MAX_ABS:g}")
        return values

    def rest(self) -> int | None:
        """The 1-based number of the next non-empty line, or None at the end of the file."""
        ahead = next((i for i in range(self.pos, len(self.lines)) if self.lines[i].strip()), None)
        return None if ahead is None else ahead + 1


def read_skeleton(path: str | Path, max_bodies: int = 2) -> np.ndarray:
    """The joints of a ``.skeleton`` file: float32 (max_bodies, T, 25, 3), metres, zero where a body
    is absent. Raises :class:`DataFormatError` naming the file and line for corrupt content: a frame
    count that is 0 or disagrees with the frames that follow, a body without 25 joints, a joint line
    without 12 numbers, NaN/inf or values beyond +-1e6, or no body in any frame."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    lines = _Lines(path)
    frames = lines.integer("the frame count")
    if frames == 0:
        raise DataFormatError(path, "line 1: the file holds 0 frames")
    if frames > len(lines.lines):
        raise DataFormatError(path, f"line 1: frame count {frames}, but the file has only {len(lines.lines)} lines")
    bodies: dict[str, np.ndarray] = {}
    empty = 0
    for t in range(frames):
        count = lines.integer(f"the body count of frame {t + 1}")
        empty += count == 0
        for _ in range(count):
            number, info = lines.next("a body info line")
            if len(info) != 10:
                raise DataFormatError(path, f"line {number}: body info needs 10 values, found {len(info)}")
            joint_number = lines.pos + 1
            joints = lines.integer("the joint count")
            if joints != JOINTS:
                raise DataFormatError(path, f"line {joint_number}: body has {joints} joints, expected {JOINTS}")
            xyz = np.stack([lines.numbers(VALUES_PER_JOINT, "a joint line")[:3] for _ in range(JOINTS)])
            bodies.setdefault(info[0], np.zeros((frames, JOINTS, 3)))[t] = xyz
    extra = lines.rest()
    if extra is not None:
        raise DataFormatError(path, f"line {extra}: data after the last of the {frames} frames the first line "
                                    "announces")
    if empty == frames:
        raise DataFormatError(path, f"no body in any of its {frames} frames")
    if empty:
        log.warning("%s: %d of %d frames have no body (left as zeros)", path, empty, frames)
    return _keep_most_active(list(bodies.values()), frames, max_bodies)


def _keep_most_active(bodies: Sequence[np.ndarray], frames: int, max_bodies: int) -> np.ndarray:
    def motion(body: np.ndarray) -> float:
        present = np.abs(body).sum(axis=(1, 2)) > 0
        return float(body[present].reshape(int(present.sum()), -1).var(axis=0).sum()) if present.sum() > 1 else 0.0

    ranked = sorted(bodies, key=motion, reverse=True)[:max_bodies]
    out = np.zeros((max_bodies, frames, JOINTS, 3), dtype=np.float32)
    for m, body in enumerate(ranked):
        out[m] = body
    return out


def skeleton_record(path: str | Path, label: int | None = None, max_bodies: int = 2) -> dict:
    """A PYSKL record of one ``.skeleton`` file; ``label`` defaults to the one in the file name."""
    path = Path(path)
    label = label_from_name(path) if label is None else label
    if label is None:
        raise DataFormatError(path, "no label given and the file name has no NTU action code (AXXX)")
    keypoint = read_skeleton(path, max_bodies)
    return {"frame_dir": path.stem, "label": int(label), "total_frames": keypoint.shape[1], "img_shape": (1080, 1920),
            "keypoint": keypoint}


def write_skeleton(path: str | Path, bodies: np.ndarray) -> Path:
    """Write joints (M, T, 25, 3) in the ``.skeleton`` layout (info, depth, colour and orientation
    fields zero, tracking state 2); a body whose joints are all zero in a frame is not written."""
    path = Path(path)
    bodies = np.asarray(bodies, dtype=np.float64)
    out = [str(bodies.shape[1])]
    for t in range(bodies.shape[1]):
        present = [m for m in range(bodies.shape[0]) if np.abs(bodies[m, t]).sum() > 0]
        out.append(str(len(present)))
        for m in present:
            out.append(" ".join([str(72057594037930000 + m)] + ["0"] * 9))
            out.append(str(JOINTS))
            out.extend(" ".join(f"{v:.7g}" for v in (*xyz, 0, 0, 0, 0, 0, 0, 0, 0, 2)) for xyz in bodies[m, t])
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def array_record(array: np.ndarray, frame_dir: str, label: int, source: str | Path = "array") -> dict:
    """A PYSKL record from an NTU array (C=3, T, V=25, M) as distributed by ST-GCN-style pipelines;
    trailing all-zero (padding) frames are dropped."""
    array = numbers(array, source, "array", finite=False).astype(np.float32)
    if array.ndim != 4 or array.shape[0] != 3 or array.shape[2] != JOINTS:
        raise DataFormatError(source, f"array has shape {array.shape}, expected (3, T, {JOINTS}, M)")
    if not np.isfinite(array).all():
        raise DataFormatError(source, "array holds NaN/inf")
    keypoint = array.transpose(3, 1, 2, 0)
    used = np.flatnonzero(np.abs(keypoint).sum(axis=(0, 2, 3)) > 0)
    frames = int(used[-1]) + 1 if used.size else keypoint.shape[1]
    keypoint = np.ascontiguousarray(keypoint[:, :frames])
    return {"frame_dir": frame_dir, "label": int(label), "total_frames": frames, "img_shape": (1080, 1920),
            "keypoint": keypoint}


def load_array(path: str | Path, label: int = 0) -> dict:
    """:func:`array_record` of a ``.npy`` file (the record is named after the file)."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise DataFormatError(path, f"not a NumPy array file ({exc})") from None
    return array_record(array, path.stem, label, path)
