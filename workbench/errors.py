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


class TrackingError(WorkbenchError):
    """MLflow tracking was asked for but is not installed, or logging a run to it failed."""


class RunFailedError(WorkbenchError):
    """A notebook run failed; the executed notebook shows the failing cell."""


class TrainingInterrupted(WorkbenchError):
    """Training stopped on request (Ctrl-C, Jupyter's interrupt, or a stop file) after saving its
    state to ``checkpoint``; running again with ``resume=True`` continues from there."""

    def __init__(self, checkpoint: str | Path | None, where: str) -> None:
        self.checkpoint = str(checkpoint) if checkpoint else None
        saved = f"state saved to {self.checkpoint}; run again with resume=True to continue" if checkpoint else (
            "no checkpoint_path was set, so nothing was saved")
        super().__init__(f"training stopped on request {where}; {saved}")


class RunInterrupted(WorkbenchError):
    """A ``workbench run`` was stopped on request; its folder is kept for ``--resume``."""
