"""The PYSKL skeleton-annotation format (``.pkl``): the study's internal form of every data set.

A data set is ``{"split": {name: [frame_dir, ...]}, "annotations": [record, ...]}``; a record is
``{"frame_dir": str, "label": int, "total_frames": int, "img_shape": (h, w), "keypoint": float32
(M persons, T frames, V joints, C coordinates), optional "keypoint_score": float32 (M, T, V)}``.
A file holding a single record (as PYSKL's per-video examples do) or a bare list of records loads
as a data set with an empty ``split``. Files are read with a restricted unpickler that accepts only
NumPy arrays and plain Python containers, never arbitrary objects.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from workbench.data.number_checks import numbers
from workbench.errors import DataFormatError

log = logging.getLogger(__name__)

REQUIRED_KEYS = ("frame_dir", "label", "keypoint")
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"),
    ("builtins", "tuple"), ("builtins", "list"), ("builtins", "dict"), ("builtins", "set"),
    ("builtins", "frozenset"), ("builtins", "slice"), ("builtins", "complex"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only NumPy arrays and builtins allowed)")


def read_restricted_pickle(path: str | Path, what: str = "PYSKL skeleton pickle") -> Any:
    """Unpickle ``path`` allowing only NumPy arrays and plain containers; any other object, a missing
    file or a corrupt pickle raises :class:`DataFormatError` saying it is not a ``what``."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    try:
        with path.open("rb") as handle:
            return _RestrictedUnpickler(handle).load()
    except Exception as exc:  # corrupt pickles raise nearly any type (IndexError, KeyError, MemoryError, ...)
        raise DataFormatError(path, f"not a {what} ({type(exc).__name__}: {exc})") from None


def validate_record(record: Any, source: str | Path, index: int, num_classes: int | None = None) -> dict:
    """Check one annotation record and return it normalised (float32 arrays, int label,
    ``total_frames`` and ``img_shape`` filled in). Raises :class:`DataFormatError` naming the file,
    the record index and its ``frame_dir`` for missing keys, arrays that are not numbers, wrong shapes,
    NaN/inf or values beyond +-1e6, a label that is not a whole number in ``[0, num_classes)``, a
    ``total_frames`` other than the keypoint's frame count or an ``img_shape`` that is not two whole numbers."""
    where = f"record {index}"
    if not isinstance(record, dict):
        raise DataFormatError(source, f"{where} is a {type(record).__name__}, not a dict")
    missing = [k for k in REQUIRED_KEYS if k not in record]
    if missing:
        raise DataFormatError(source, f"{where} is missing key(s) {', '.join(missing)}")
    where = f"record {index} ({record['frame_dir']})"
    keypoint = numbers(record["keypoint"], source, f"{where}: keypoint", finite=False).astype(np.float32)
    if keypoint.ndim != 4 or min(keypoint.shape) < 1 or keypoint.shape[-1] not in (2, 3):
        raise DataFormatError(source, f"{where}: keypoint has shape {keypoint.shape}, expected (M, T, V, 2 or 3)")
    if not np.isfinite(keypoint).all():
        raise DataFormatError(source, f"{where}: keypoint holds NaN/inf")
    out = dict(record)
    out["keypoint"] = keypoint
    if "keypoint_score" in record and record["keypoint_score"] is not None:
        score = numbers(record["keypoint_score"], source, f"{where}: keypoint_score", finite=False).astype(np.float32)
        if score.shape != keypoint.shape[:3]:
            raise DataFormatError(source, f"{where}: keypoint_score has shape {score.shape}, "
                                          f"expected {keypoint.shape[:3]}")
        if not np.isfinite(score).all():
            raise DataFormatError(source, f"{where}: keypoint_score holds NaN/inf")
        out["keypoint_score"] = score
    label = _whole_number(record["label"])
    if label is None:
        raise DataFormatError(source, f"{where}: label {record['label']!r} is not an integer")
    if label < 0 or (num_classes is not None and label >= num_classes):
        raise DataFormatError(source, f"{where}: label {label} out of range [0, {num_classes})")
    out["label"] = label
    out["frame_dir"] = str(record["frame_dir"])
    total = _whole_number(record.get("total_frames", keypoint.shape[1]))
    if total != keypoint.shape[1]:
        raise DataFormatError(source, f"{where}: total_frames {record['total_frames']!r} is not the keypoint's "
                                      f"{keypoint.shape[1]} frames")
    out["total_frames"] = total
    shape = record.get("img_shape", (0, 0))
    sizes = [_whole_number(v) for v in shape] if isinstance(shape, tuple | list) else []
    if len(sizes) != 2 or None in sizes or min(sizes) < 0:
        raise DataFormatError(source, f"{where}: img_shape {shape!r} is not (height, width) in whole pixels")
    out["img_shape"] = tuple(sizes)
    return out


def _whole_number(value: Any) -> int | None:
    """``value`` as an int when it is an integer (Python or NumPy, or a float without fraction), else None."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    return int(value) if math.isfinite(value) and float(value).is_integer() else None


def validate_dataset(data: Any, source: str | Path, num_classes: int | None = None) -> dict:
    """Check a whole data set (see the module docstring); every split must name existing records."""
    if isinstance(data, dict) and "keypoint" in data:
        data = {"split": {}, "annotations": [data]}
    elif isinstance(data, list):
        data = {"split": {}, "annotations": data}
    if not isinstance(data, dict) or "annotations" not in data:
        keys = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise DataFormatError(source, f"missing key 'annotations' (found {keys})")
    if not isinstance(data["annotations"], list):
        found = type(data["annotations"]).__name__
        raise DataFormatError(source, f"'annotations' must be a list of records, found {found}")
    records = [validate_record(r, source, i, num_classes) for i, r in enumerate(data["annotations"])]
    names: set[str] = set()
    for record in records:
        if record["frame_dir"] in names:
            raise DataFormatError(source, f"frame_dir {record['frame_dir']!r} names more than one record")
        names.add(record["frame_dir"])
    split = data.get("split") or {}
    if not isinstance(split, dict):
        raise DataFormatError(source, "'split' must map split names to lists of frame_dir")
    for name, members in split.items():
        if not isinstance(members, list | tuple) or not all(isinstance(m, str) for m in members):
            raise DataFormatError(source, f"split {name!r} must be a list of frame_dir names (text)")
        unknown = [m for m in members if m not in names]
        if unknown:
            raise DataFormatError(source, f"split {name!r} names {len(unknown)} unknown frame_dir, e.g. {unknown[0]!r}")
    return {"split": {str(k): [str(m) for m in v] for k, v in split.items()}, "annotations": records}


def load(path: str | Path, num_classes: int | None = None) -> dict:
    """Read and validate a PYSKL ``.pkl`` (see :func:`validate_dataset`)."""
    path = Path(path)
    return validate_dataset(read_restricted_pickle(path), path, num_classes)


def save(path: str | Path, data: dict) -> Path:
    """Validate ``data`` and write it atomically as a PYSKL ``.pkl`` (pickle protocol 4)."""
    path = Path(path)
    clean = validate_dataset(data, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(clean, handle, protocol=4)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def make_dataset(records: Iterable[dict], split: dict[str, list[str]]) -> dict:
    """A data set from records and a split mapping."""
    return {"split": {k: list(v) for k, v in split.items()}, "annotations": list(records)}


def select(data: dict, split: str, source: str | Path = "dataset") -> list[dict]:
    """The records of ``split`` in the split's order; raises naming the available splits."""
    if split not in data["split"]:
        raise DataFormatError(source, f"no split {split!r}; splits: {', '.join(data['split']) or 'none'}")
    by_name = {r["frame_dir"]: r for r in data["annotations"]}
    return [by_name[name] for name in data["split"][split]]
