"""JHMDB 2D ground-truth joints in DD-Net's published form, as a PYSKL data set.

A folder holds ``GT_train_S.pkl`` and ``GT_test_S.pkl`` for the three official splits S = 1, 2, 3.
Each file is a pickled dict ``{"pose": [float array (T, 15, 2), ...], "label": [class name, ...]}``,
T = 15-40 frames, normalised image coordinates (y down), joints in JHMDB's order (the ``jhmdb15``
layout of :mod:`workbench.data.layouts.skeleton_layouts`). The files carry no clip names; every clip
appears in the training list of some splits and the test list of the others, so a clip is named by
its class and the first 12 hex digits of the SHA-1 of its float64 joints, which identifies it
across files. Files are read with the restricted unpickler of :mod:`workbench.data.formats.pyskl` (NumPy
arrays and plain containers only).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from workbench.data.formats import pyskl
from workbench.data.number_checks import numbers
from workbench.errors import DataFormatError

CLASSES: tuple[str, ...] = ("catch", "clap", "golf", "jump", "pick", "pour", "pullup", "push", "run", "sit",
                            "stand", "throw", "walk", "wave")
"""The 14 action classes; a clip's label is its index here."""
SPLITS = (1, 2, 3)
NUM_JOINTS = 15


def split_file(folder: str | Path, part: str, split: int) -> Path:
    """``folder/GT_{part}_{split}.pkl`` (part ``train`` or ``test``)."""
    return Path(folder) / f"GT_{part}_{split}.pkl"


def clip_name(pose: np.ndarray, label: str) -> str:
    """``<class>_<sha1[:12]>`` of the clip's float64 joints (C order)."""
    digest = hashlib.sha1(np.ascontiguousarray(pose, dtype=np.float64).tobytes()).hexdigest()
    return f"{label}_{digest[:12]}"


def validate_file(data: Any, path: str | Path) -> list[tuple[str, np.ndarray, int]]:
    """The clips of one unpickled split file as ``(name, joints (T, 15, 2) float64, label index)``.

    Raises :class:`DataFormatError` naming ``path`` (and the clip index) when the content is not a
    dict with lists ``pose`` and ``label`` of equal length, a pose is not numbers of shape (T, 15, 2)
    with T >= 1, holds NaN/inf or values beyond +-1e6, or a label is not one of :data:`CLASSES`."""
    if not isinstance(data, dict) or "pose" not in data or "label" not in data:
        found = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise DataFormatError(path, f"expected a dict with keys 'pose' and 'label', found {found}")
    poses, labels = data["pose"], data["label"]
    if not isinstance(poses, list | tuple) or not isinstance(labels, list | tuple):
        raise DataFormatError(path, "'pose' and 'label' must be lists")
    if len(poses) != len(labels):
        raise DataFormatError(path, f"'pose' holds {len(poses)} clips but 'label' {len(labels)} labels")
    if not poses:
        raise DataFormatError(path, "no clips")
    clips = []
    for i, (pose, label) in enumerate(zip(poses, labels, strict=True)):
        joints = numbers(pose, path, f"clip {i}: pose")
        if joints.ndim != 3 or joints.shape[0] < 1 or joints.shape[1:] != (NUM_JOINTS, 2):
            raise DataFormatError(path, f"clip {i}: pose has shape {joints.shape}, expected (T, {NUM_JOINTS}, 2)")
        if not isinstance(label, str) or label not in CLASSES:
            raise DataFormatError(path, f"clip {i}: unknown label {label!r}; JHMDB classes: {', '.join(CLASSES)}")
        clips.append((clip_name(joints, label), joints, CLASSES.index(label)))
    return clips


def read_split_file(path: str | Path) -> list[tuple[str, np.ndarray, int]]:
    """Read and check one ``GT_*.pkl`` (see :func:`validate_file`)."""
    return validate_file(pyskl.read_restricted_pickle(path, "JHMDB joint pickle"), path)


def record(name: str, joints: np.ndarray, label: int) -> dict:
    """One clip as a PYSKL record: keypoint (1, T, 15, 2) float32, image size unknown (0, 0) because
    the coordinates are already normalised."""
    return {"frame_dir": name, "label": label, "total_frames": int(joints.shape[0]), "img_shape": (0, 0),
            "keypoint": joints[None].astype(np.float32)}


def jhmdb_dataset(folder: str | Path) -> dict:
    """The PYSKL data set of a JHMDB folder: every distinct clip once, splits ``train1``, ``test1``,
    ``train2``, ``test2``, ``train3``, ``test3`` in file order. Raises :class:`DataFormatError` for a
    missing or malformed file, or when one clip carries two labels or sits in both lists of a split."""
    records: dict[str, dict] = {}  # by the joints' digest, so a relabelled clip is caught
    split: dict[str, list[str]] = {}
    for s in SPLITS:
        for part in ("train", "test"):
            path = split_file(folder, part, s)
            names = []
            for name, joints, label in read_split_file(path):
                digest = name.rsplit("_", 1)[1]
                seen = records.setdefault(digest, record(name, joints, label))
                if seen["label"] != label:
                    raise DataFormatError(path, f"clip {name} is labelled {CLASSES[label]} here and "
                                                f"{CLASSES[seen['label']]} in another file")
                names.append(name)
            split[f"{part}{s}"] = names
        both = set(split[f"train{s}"]) & set(split[f"test{s}"])
        if both:
            raise DataFormatError(split_file(folder, "test", s), f"{len(both)} clip(s) are also in the training "
                                                                 f"list of split {s}, e.g. {sorted(both)[0]}")
    return pyskl.make_dataset(records.values(), split)
