"""Many data files: listing a folder's files, and loading them where a bad file is skipped (logged and
listed) instead of stopping the run."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from workbench.errors import DataFormatError

log = logging.getLogger(__name__)
S = TypeVar("S")
T = TypeVar("T")


def find_files(folder: str | Path, pattern: str, description: str, recursive: bool = False) -> list[Path]:
    """The files of ``folder`` matching ``pattern`` (in subfolders too when ``recursive``), sorted;
    raises :class:`DataFormatError` "no <description> found" when there is none."""
    folder = Path(folder)
    files = sorted(folder.rglob(pattern) if recursive else folder.glob(pattern))
    if not files:
        raise DataFormatError(folder, f"no {description} found")
    return files


def load_skipping(items: Iterable[S], load_one: Callable[[S], T]) -> tuple[list[T], list[tuple[str, str]]]:
    """``load_one`` each item (a file path, or whatever names a file to ``load_one``); a
    :class:`DataFormatError` skips that file. Returns (the loaded results in order, the skipped
    (file, problem) pairs); every skip is logged as a warning."""
    loaded: list[T] = []
    skipped: list[tuple[str, str]] = []
    for item in items:
        try:
            loaded.append(load_one(item))
        except DataFormatError as exc:
            log.warning("skipping %s", exc)
            skipped.append((exc.path, exc.problem))
    return loaded, skipped
