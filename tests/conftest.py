"""Shared fixtures: the real data folder and isolated output folders."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from bad_input_counter import pytest_terminal_summary  # noqa: F401  (prints the bad-input case count)

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


@pytest.fixture(scope="session")
def ci_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``ci_run(study)``: the folder of ``workbench run <study> --preset ci``, run once per test session as a
    command (as from a batch job: its stdout and stderr, not a terminal, go to ``terminal.log`` beside the private
    outputs folder) and shared by the notebook and browser tests; a failed run fails every caller."""
    folders: dict[str, Path | None] = {}
    logs: dict[str, Path] = {}

    def run(study: str) -> Path:
        if study not in folders:
            outputs = tmp_path_factory.mktemp(study) / "outputs"
            logs[study] = outputs.parent / "terminal.log"
            with logs[study].open("w") as log:
                code = subprocess.call([sys.executable, "-m", "workbench.cli", "run", study, "--preset", "ci"],
                                       env={**os.environ, "WORKBENCH_OUTPUTS": str(outputs)}, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            done = [p for p in (outputs / study).iterdir() if not p.name.startswith(".")] if code == 0 else []
            folders[study] = done[0] if len(done) == 1 else None
        folder = folders[study]
        if folder is None:
            pytest.fail(f"workbench run {study} --preset ci did not end in one complete run folder; it printed:\n"
                        + logs[study].read_text()[-3000:])
        return folder

    return run


@pytest.fixture(scope="session")
def ci_terminal(ci_run: Callable[[str], Path]) -> Callable[[str], str]:
    """``ci_terminal(study)``: what ``ci_run(study)`` wrote to stdout and stderr."""

    def terminal(study: str) -> str:
        return (ci_run(study).parents[2] / "terminal.log").read_text()

    return terminal
