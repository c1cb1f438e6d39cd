"""Locations the workbench reads from and writes to.

``WORKBENCH_SHARED_DATA`` points at the real data sets used by tests and
benchmarks (default ``../shared/data`` beside the checkout);
``WORKBENCH_OUTPUTS`` at the folder where runs are written (default
``outputs`` in the current directory).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    """The folder holding the real (shared, read-only) data sets."""
    env = os.environ.get("WORKBENCH_SHARED_DATA")
    if env:
        return Path(env).expanduser().resolve()
    return (REPO_ROOT.parent / "shared" / "data").resolve()


def outputs_dir() -> Path:
    """The folder where run directories and generated data are written."""
    env = os.environ.get("WORKBENCH_OUTPUTS")
    return Path(env).expanduser().resolve() if env else (Path.cwd() / "outputs").resolve()


def notebooks_dir() -> Path:
    """The folder holding the study notebooks."""
    return REPO_ROOT / "notebooks"


def parameters_dir() -> Path:
    """The folder holding the papermill parameter sets of every study."""
    return REPO_ROOT / "parameters"


SHARED_PREFIX = "shared:"


def resolve_data_path(text: str | Path) -> Path:
    """A data path from a parameter: ``shared:<relative path>`` names a folder of the shared data
    (:func:`shared_data_dir`), so parameter sets need not spell out where it lies; anything else is a
    path as given."""
    text = str(text)
    if text.startswith(SHARED_PREFIX):
        return shared_data_dir() / text[len(SHARED_PREFIX):]
    return Path(text)
