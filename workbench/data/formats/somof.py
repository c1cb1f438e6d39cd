"""Loader and writer of the SoMoF 3DPW JSON layout.

A split ``S`` (``train``, ``valid`` or ``test``) of a data folder holds

* ``3dpw_S_in.json``: list of scenes, each ``2 people x 16 frames x 39``
  numbers (13 joints x xyz, metres);
* ``3dpw_S_out.json``: ``2 x 14 x 39`` future frames per scene (absent for test);
* ``3dpw_S_frames_in.json`` (optional): the 16 image paths of each scene.

The same loader serves the real benchmark files and the procedurally generated
default data, which is written in this layout.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.data.layouts.skeleton_3dpw import COORDS_PER_FRAME, OBS_FRAMES, PRED_FRAMES
from workbench.data.number_checks import numbers
from workbench.errors import DataFormatError

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class SomofSplit:
    """One split of SoMoF data.

    ``inputs``: float32 array (scenes, people, 16, 39), metres;
    ``outputs``: (scenes, people, 14, 39) or None when the split has no ground truth;
    ``frames``: the image paths of the observed frames, one list per scene, or None.
    """

    name: str
    inputs: np.ndarray
    outputs: np.ndarray | None
    frames: list[list[str]] | None
    source: str

    @property
    def num_scenes(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def num_people(self) -> int:
        return int(self.inputs.shape[0] * self.inputs.shape[1])


def split_path(data_dir: str | Path, split: str, kind: str) -> Path:
    """Path of ``3dpw_{split}_{kind}.json`` in ``data_dir`` (kind: in, out, frames_in)."""
    return Path(data_dir) / f"3dpw_{split}_{kind}.json"


def available_splits(data_dir: str | Path) -> list[str]:
    """The splits of ``data_dir`` that have an input file."""
    return [s for s in SPLITS if split_path(data_dir, s, "in").is_file()]


def _read_json(path: Path) -> object:
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    try:
        with path.open("r", encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, f"malformed JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except UnicodeDecodeError:
        raise DataFormatError(path, "not a UTF-8 text file") from None


def _as_pose_array(path: Path, raw: object, frames: int) -> np.ndarray:
    """Check ``raw`` is a (scenes, people, frames, 39) list of finite numbers."""
    if not isinstance(raw, list) or not raw:
        raise DataFormatError(path, "expected a non-empty list of scenes")
    for s, scene in enumerate(raw):
        if not isinstance(scene, list) or not scene:
            raise DataFormatError(path, f"scene {s}: expected a non-empty list of people")
        for p, person in enumerate(scene):
            if not isinstance(person, list) or len(person) != frames:
                got = len(person) if isinstance(person, list) else type(person).__name__
                raise DataFormatError(path, f"scene {s}, person {p}: expected {frames} frames, got {got}")
            for f, frame in enumerate(person):
                if not isinstance(frame, list) or len(frame) != COORDS_PER_FRAME:
                    got = len(frame) if isinstance(frame, list) else type(frame).__name__
                    raise DataFormatError(
                        path,
                        f"scene {s}, person {p}, frame {f}: expected {COORDS_PER_FRAME} numbers "
                        f"(13 joints x xyz), got {got}",
                    )
    people = {len(scene) for scene in raw}
    if len(people) != 1:
        raise DataFormatError(path, f"scenes have different numbers of people: {sorted(people)}")
    array = numbers(raw, path, "coordinates", finite=False)
    bad = ~np.isfinite(array)
    if bad.any():
        s, p, f, c = (int(i) for i in np.argwhere(bad)[0])
        raise DataFormatError(
            path,
            f"{int(bad.sum())} non-finite coordinate(s) (NaN/inf), first at scene {s}, person {p}, "
            f"frame {f}, joint {c // 3}",
        )
    return array.astype(np.float32)


def load_split(data_dir: str | Path, split: str) -> SomofSplit:
    """Load one split of a SoMoF-layout folder, validating every file.

    Raises :class:`DataFormatError` naming the file for a missing input file,
    malformed JSON, a wrong shape, coordinates that are not numbers, non-finite or beyond
    +-1e6 m, image paths that are not 16 texts per scene, or an output file that does not
    match its input file.
    """
    if split not in SPLITS:
        raise DataFormatError(data_dir, f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    in_path = split_path(data_dir, split, "in")
    inputs = _as_pose_array(in_path, _read_json(in_path), OBS_FRAMES)
    out_path = split_path(data_dir, split, "out")
    outputs = None
    if out_path.is_file():
        outputs = _as_pose_array(out_path, _read_json(out_path), PRED_FRAMES)
        if outputs.shape[:2] != inputs.shape[:2]:
            raise DataFormatError(
                out_path,
                f"{outputs.shape[0]} scenes x {outputs.shape[1]} people, but {in_path.name} has "
                f"{inputs.shape[0]} x {inputs.shape[1]}",
            )
    frames_path = split_path(data_dir, split, "frames_in")
    frames = None
    if frames_path.is_file():
        raw = _read_json(frames_path)
        if not isinstance(raw, list) or len(raw) != inputs.shape[0]:
            raise DataFormatError(frames_path, f"expected a list of {inputs.shape[0]} scenes of image paths")
        for s, scene in enumerate(raw):
            if not isinstance(scene, list) or len(scene) != OBS_FRAMES or not all(isinstance(x, str) for x in scene):
                raise DataFormatError(frames_path, f"scene {s}: expected a list of {OBS_FRAMES} image paths (text)")
        frames = [list(scene) for scene in raw]
    return SomofSplit(split, inputs, outputs, frames, str(Path(data_dir)))


def _write_json_atomic(path: Path, payload: object) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _rounded(array: np.ndarray) -> list:
    return np.round(array.astype(np.float64), 6).tolist()


def write_split(
    data_dir: str | Path,
    split: str,
    inputs: np.ndarray,
    outputs: np.ndarray | None = None,
    frames: list[list[str]] | None = None,
) -> None:
    """Write one split in the SoMoF layout (each file written atomically).

    ``inputs``: (scenes, people, 16, 39); ``outputs``: (scenes, people, 14, 39).
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    if inputs.ndim != 4 or inputs.shape[2:] != (OBS_FRAMES, COORDS_PER_FRAME):
        raise DataFormatError(split_path(data_dir, split, "in"), f"refusing to write shape {inputs.shape}")
    _write_json_atomic(split_path(data_dir, split, "in"), _rounded(inputs))
    if outputs is not None:
        if outputs.shape != inputs.shape[:2] + (PRED_FRAMES, COORDS_PER_FRAME):
            raise DataFormatError(split_path(data_dir, split, "out"), f"refusing to write shape {outputs.shape}")
        _write_json_atomic(split_path(data_dir, split, "out"), _rounded(outputs))
    if frames is not None:
        _write_json_atomic(split_path(data_dir, split, "frames_in"), frames)


def write_predictions(path: str | Path, predictions: np.ndarray) -> None:
    """Write predictions in the SoMoF submission layout: scenes x people x 14 x 39."""
    path = Path(path)
    if predictions.ndim != 4 or predictions.shape[2:] != (PRED_FRAMES, COORDS_PER_FRAME):
        raise DataFormatError(path, f"predictions must be (scenes, people, 14, 39), got {predictions.shape}")
    if not np.isfinite(predictions).all():
        raise DataFormatError(path, "predictions contain NaN/inf")
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_json_atomic(path, _rounded(predictions))
