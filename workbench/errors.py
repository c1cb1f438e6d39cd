"""The project's own exception types.

Every error a user can cause (bad data files, bad parameters, mismatched
checkpoints) is raised as a subclass of :class:`WorkbenchError`, with a message
that names the file and the problem, so that the CLI can print one clear line
instead of a traceback from deep inside a library.
"""

from __future__ import annotations

from pathlib import Path


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose."""


class DataFormatError(WorkbenchError):
    """A data file is missing, unreadable or has the wrong content."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class CheckpointError(WorkbenchError):
    """A checkpoint file is missing, corrupt, or does not fit the model."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ConfigError(WorkbenchError):
    """A parameter or command-line option has an invalid value."""


class RunFailedError(WorkbenchError):
    """A notebook run failed; the executed notebook shows the failing cell."""
