"""Shared fixtures: the real data folder and isolated output folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.settings import shared_data_dir


@pytest.fixture(scope="session")
def shared() -> Path:
    """``../shared/data`` (or ``$WORKBENCH_SHARED_DATA``); tests needing it skip when it is absent."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture()
def outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ``outputs/`` folder for the test."""
    folder = tmp_path / "outputs"
    monkeypatch.setenv("WORKBENCH_OUTPUTS", str(folder))
    return folder
