"""One check shared by the data loaders: values read from a file (JSON lists, ``.mat`` fields, HDF5
datasets, pickled arrays, text) as an array of real numbers.

:func:`numbers` accepts integer and floating values only: not text, true/false, null, nested objects,
ragged lists, compound records, or integers too large for a float. Unless told otherwise it also refuses
NaN/inf and magnitudes above :data:`MAX_ABS` = 1e6: no pixel, metre or image-normalised coordinate is that
large, and sums, differences and scalings of such values stay finite in float32 (whose largest value,
3.4e38, a float64 1e300 would overflow silently).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import DataFormatError

MAX_ABS = 1e6
_FOUND = {"U": "text", "S": "text", "b": "true/false values", "V": "compound records", "c": "complex numbers",
          "M": "dates", "m": "time spans"}


def _found(array: np.ndarray) -> str:
    """What a non-numeric array holds, in words (for an object array: its first non-number)."""
    if array.dtype.kind != "O":
        return _FOUND.get(array.dtype.kind, str(array.dtype))
    for value in array.ravel():
        if value is None:
            return "null"
        if isinstance(value, str | bytes):
            return "text"
        if isinstance(value, bool):
            return "true/false values"
        if isinstance(value, int):
            return "an integer too large for a float"
        if isinstance(value, np.ndarray | list | tuple | dict):
            return "nested arrays, lists or objects"
        if not isinstance(value, float):
            return f"a {type(value).__name__}"
    return "objects"


def numbers(values: Any, path: str | Path, what: str, finite: bool = True, limit: float | None = MAX_ABS
            ) -> np.ndarray:
    """``values`` as a float64 array of the same shape.

    Raises :class:`DataFormatError` naming ``path`` and ``what`` when the values are not a regular array
    of integers or floats, when ``finite`` and one is NaN/inf, or when a finite one exceeds ``limit`` in
    magnitude (no limit when None). With ``finite=False`` NaN/inf pass through for the caller to handle.
    """
    try:
        array = np.asarray(values)
    except (ValueError, TypeError, OverflowError):
        raise DataFormatError(path, f"{what} must be numbers, found nested lists of different lengths") from None
    if array.dtype.kind not in "iuf":
        raise DataFormatError(path, f"{what} must be numbers, found {_found(array)}")
    if isinstance(values, list) and any(isinstance(v, bool) for v in np.asarray(values, dtype=object).ravel()):
        raise DataFormatError(path, f"{what} must be numbers, found true/false values")  # NumPy casts them silently
    array = array.astype(np.float64)
    bad = ~np.isfinite(array)
    if finite and bad.any():
        raise DataFormatError(path, f"{what}: {int(bad.sum())} NaN/inf value(s)")
    if limit is not None:
        large = np.abs(np.where(bad, 0.0, array)) > limit
        if large.any():
            biggest = float(np.abs(array[large]).max())
            raise DataFormatError(path, f"{what}: {int(large.sum())} value(s) beyond +-{limit:g} "
                                        f"(largest {biggest:.3g})")
    return array
