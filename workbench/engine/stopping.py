"""Stopping training cleanly, and keeping two processes from training into one folder.

:class:`StopRequest` turns the first Ctrl-C (SIGINT; Jupyter's interrupt button sends the
same signal to the kernel) into a request that the trainer honours at the next batch
boundary, after saving its state; a second Ctrl-C raises ``KeyboardInterrupt`` at once.
``workbench run`` cannot signal the notebook kernel directly (Jupyter starts kernels in their
own session), so it names a stop file in ``WORKBENCH_STOP_FILE`` and creates that file on
Ctrl-C; its existence is a stop request too.

:class:`TrainingLock` holds an exclusive ``flock`` on ``.<checkpoint>.lock`` while a process
trains into ``<checkpoint>``: a resumed run waits for a killed run's kernel to exit instead of
writing the same checkpoint concurrently.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType, TracebackType

from workbench.errors import CheckpointError

STOP_FILE_ENV = "WORKBENCH_STOP_FILE"


class StopRequest:
    """Context manager: while active, SIGINT sets :attr:`requested` instead of raising (in the main
    thread only, and not where SIGINT is ignored, as in background jobs; there only the stop file
    counts)."""

    def __init__(self) -> None:
        self._signalled = False
        self._previous: object = None
        self._installed = False

    @property
    def requested(self) -> bool:
        """True after a first Ctrl-C, or while the file named by ``WORKBENCH_STOP_FILE`` exists."""
        stop_file = os.environ.get(STOP_FILE_ENV)
        return self._signalled or bool(stop_file and os.path.exists(stop_file))

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._signalled:
            raise KeyboardInterrupt
        self._signalled = True
        print("\nstop requested: saving the training state after this batch (Ctrl-C again to abort now)",
              file=sys.stderr, flush=True)

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) != signal.SIG_IGN:
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
            self._installed = False


class TrainingLock:
    """Context manager holding an exclusive lock on ``.<checkpoint>.lock`` (nothing when
    ``checkpoint`` is None). Waits up to ``timeout_s`` for another holder (e.g. the kernel of a
    killed run, which exits within a second or two), then raises :class:`CheckpointError`."""

    def __init__(self, checkpoint: Path | None, timeout_s: float = 60.0) -> None:
        self.checkpoint = checkpoint
        self.timeout_s = timeout_s
        self._handle: int | None = None

    def __enter__(self) -> TrainingLock:
        if self.checkpoint is None:
            return self
        lock = self.checkpoint.with_name(f".{self.checkpoint.name}.lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(handle)
                    raise CheckpointError(self.checkpoint, f"another process is still training into it (waited "
                                                           f"{self.timeout_s:.0f} s for {lock})") from None
                time.sleep(0.2)
        self._handle = handle
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            os.close(self._handle)
            self._handle = None
