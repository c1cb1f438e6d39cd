"""Checkpoint files: atomic writes, safe reads, and key/shape-checked loading."""

from __future__ import annotations

import os
import pickle
import struct
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from workbench.errors import CheckpointError


def previous_path(path: str | Path) -> Path:
    """Where :func:`save_atomic` keeps the checkpoint it replaced: ``checkpoint.pt`` -> ``checkpoint.prev.pt``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def save_atomic(obj: Any, path: str | Path, keep_previous: bool = False) -> Path:
    """``torch.save`` to a temporary file in the target folder, fsync, then rename:
    a reader never sees a half-written checkpoint, even if the process is killed.

    With ``keep_previous`` the file being replaced stays available as :func:`previous_path`
    (hard-linked first, so ``path`` itself exists at every moment)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        if keep_previous and path.is_file():
            link = Path(f"{tmp}.prev")
            os.link(path, link)
            os.replace(link, previous_path(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_torch_file(path: str | Path) -> Any:
    """Read a checkpoint with ``weights_only=True`` (tensors and plain containers only).

    Raises :class:`CheckpointError` naming the file when it is missing, truncated,
    not a PyTorch file, or holds objects other than weights; when the run kept the checkpoint
    before it (:func:`previous_path`), the message names that one too.
    """
    path = Path(path)
    try:
        return _load(path)
    except CheckpointError as exc:
        previous = previous_path(path)
        if previous.is_file():
            raise CheckpointError(path, f"{exc.problem} (the previous checkpoint of this run is {previous})") from None
        raise


def _load(path: Path) -> Any:
    if not path.is_file():
        raise CheckpointError(path, "checkpoint file not found")
    if path.stat().st_size == 0:
        raise CheckpointError(path, "checkpoint file is empty")
    _check_crcs(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unpickling failed"
        raise CheckpointError(path, f"not a weights-only PyTorch checkpoint ({first})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, struct.error, IndexError, KeyError,
            TypeError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(path, f"unreadable or truncated checkpoint ({first})") from None


def _check_crcs(path: Path) -> None:
    """A checkpoint in torch's zip format must pass every member's CRC-32 (a flipped bit in a tensor
    would otherwise load as a different weight); other files are left to ``torch.load``."""
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise CheckpointError(path, f"unreadable or truncated checkpoint ({exc})") from None
    if bad is not None:
        raise CheckpointError(path, f"corrupt checkpoint: CRC check failed for {bad}")


def load_state_dict_checked(
    model: nn.Module,
    state: Mapping[str, Any],
    source: str | Path,
    expected: Mapping[str, torch.Tensor] | None = None,
) -> nn.Module:
    """Copy ``state`` into ``model`` (cast to each parameter's dtype) after checking that
    its keys equal ``expected`` (default: the model's whole state dict) and every shape fits.

    Raises :class:`CheckpointError` naming ``source`` and listing missing keys,
    unexpected keys and shape mismatches.
    """
    if not isinstance(state, Mapping):
        raise CheckpointError(source, f"expected a state dict, found {type(state).__name__}")
    expected = dict(model.state_dict() if expected is None else expected)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    problems = []
    if missing:
        problems.append(f"missing keys {_short(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_short(unexpected)}")
    for key in sorted(set(expected) & set(state)):
        value = state[key]
        if not isinstance(value, torch.Tensor):
            problems.append(f"{key} is a {type(value).__name__}, not a tensor")
        elif tuple(value.shape) != tuple(expected[key].shape):
            problems.append(f"{key} has shape {tuple(value.shape)}, model expects {tuple(expected[key].shape)}")
        elif not torch.isfinite(value).all() and value.is_floating_point():
            problems.append(f"{key} contains NaN/inf")
    if problems:
        raise CheckpointError(source, "does not match the model: " + "; ".join(problems))
    own = model.state_dict()
    with torch.no_grad():
        for key in expected:
            own[key].copy_(state[key].to(own[key].dtype))
    return model


def _short(keys: list[str], limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    return f"[{shown}{', ...' if len(keys) > limit else ''}] ({len(keys)})"
