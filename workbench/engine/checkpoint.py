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


def save_atomic(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to a temporary file in the target folder, fsync, then rename:
    a reader never sees a half-written checkpoint, even if the process is killed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_torch_file(path: str | Path) -> Any:
    """Read a checkpoint with ``weights_only=True`` (tensors and plain containers only).

    Raises :class:`CheckpointError` naming the file when it is missing, truncated,
    not a PyTorch file, or holds objects other than weights.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "checkpoint file not found")
    if path.stat().st_size == 0:
        raise CheckpointError(path, "checkpoint file is empty")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unpickling failed"
        raise CheckpointError(path, f"not a weights-only PyTorch checkpoint ({first})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, struct.error) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(path, f"unreadable or truncated checkpoint ({first})") from None


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
