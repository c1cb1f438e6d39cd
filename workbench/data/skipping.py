"""Loading many files where a bad file is skipped (logged and listed) instead of stopping the run."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from workbench.errors import DataFormatError

log = logging.getLogger(__name__)
T = TypeVar("T")


def load_skipping(paths: Iterable[str | Path], load_one: Callable[[Path], T]) -> tuple[list[T], list[tuple[str, str]]]:
    """``load_one`` each path; a :class:`DataFormatError` skips that file. Returns (the loaded
    results in order, the skipped (file, problem) pairs); every skip is logged as a warning."""
    loaded: list[T] = []
    skipped: list[tuple[str, str]] = []
    for path in paths:
        try:
            loaded.append(load_one(Path(path)))
        except DataFormatError as exc:
            log.warning("skipping %s", exc)
            skipped.append((exc.path, exc.problem))
    return loaded, skipped
