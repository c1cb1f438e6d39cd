"""Where the fit loop reports its progress.

- Under ``workbench run`` the runner names a file in ``WORKBENCH_PROGRESS_FILE``: the engine appends
  one JSON line per event (a fit starts, a batch is done (at most one a second), an epoch ends, the fit
  ends) and the runner shows them in the terminal or the batch log (:mod:`workbench.terminal`). The
  kernel prints nothing, so the saved notebook and its report carry no progress residue.
- Elsewhere (JupyterLab, a script): tqdm bars, a widget in Jupyter and text in a terminal.
- With progress off: nothing.

Long passes outside a fit (a test split's predictions) report through :func:`task_progress` the same way:
``task`` events in the progress file, else a tqdm bar.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PROGRESS_FILE_ENV = "WORKBENCH_PROGRESS_FILE"
"""Environment variable naming the file the engine appends its progress events to."""

BATCH_EVENT_INTERVAL_S = 1.0
"""The least time between two ``batch`` events in the progress file (seconds)."""


class Progress:
    """Progress of one ``Trainer.fit``: reports nothing (progress off). Subclasses show or record it."""

    def start(self, label: str, epochs: int, start_epoch: int, monitor: str, time_limit_s: float = 0.0,
              trained_s: float = 0.0, batch_size: int = 0, unit: str = "", machine: str = "") -> None:
        """A fit of ``epochs`` epochs begins at 0-based epoch ``start_epoch`` (above 0 when resumed); with a
        ``time_limit_s`` on training time, of which ``trained_s`` was spent before a resume; ``batch_size``
        samples (named ``unit``: windows, clips) a step, on ``machine`` (a line of
        :func:`~workbench.engine.machine.machine_text`), for the speed and time estimates."""

    def batch(self, epoch: int, done: int, total: int) -> None:
        """``done`` of ``total`` batches of 1-based ``epoch`` are trained."""

    def epoch(self, row: dict[str, float], best_value: float, best_epoch: int) -> None:
        """An epoch ended with history ``row``; ``best_value`` of the monitored metric was reached in
        1-based epoch ``best_epoch`` (0 when none yet)."""

    def end(self, stopped_early: bool) -> None:
        """The fit finished (all epochs, or stopped early)."""

    def close(self) -> None:
        """Release bars or files, also when the fit raised."""


class FileProgress(Progress):
    """Appends JSON lines to ``path`` (opened per event, so a killed kernel leaves whole lines behind)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.label = ""
        self._last_batch = -math.inf

    def _write(self, event: str, **fields: Any) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"event": event, "label": self.label, "time": time.time(), **fields}) + "\n")

    def start(self, label: str, epochs: int, start_epoch: int, monitor: str, time_limit_s: float = 0.0,
              trained_s: float = 0.0, batch_size: int = 0, unit: str = "", machine: str = "") -> None:
        self.label = label
        self._write("fit", epochs=epochs, start_epoch=start_epoch, monitor=monitor, time_limit_s=time_limit_s,
                    trained_s=trained_s, batch_size=batch_size, unit=unit, machine=machine)

    def batch(self, epoch: int, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last_batch >= BATCH_EVENT_INTERVAL_S:
            self._last_batch = now
            self._write("batch", epoch=epoch, batch=done, batches=total)

    def epoch(self, row: dict[str, float], best_value: float, best_epoch: int) -> None:
        self._write("epoch", row=row, best=best_value if math.isfinite(best_value) else None, best_epoch=best_epoch)

    def end(self, stopped_early: bool) -> None:
        self._write("end", stopped_early=stopped_early)


class BarProgress(Progress):
    """tqdm bars: one over the epochs (train loss and monitored metric as postfix), one over the
    batches of the current epoch; widgets in Jupyter, text elsewhere."""

    def __init__(self) -> None:
        self.monitor = ""
        self.bar: Any = None
        self.inner: Any = None

    def start(self, label: str, epochs: int, start_epoch: int, monitor: str, time_limit_s: float = 0.0,
              trained_s: float = 0.0, batch_size: int = 0, unit: str = "", machine: str = "") -> None:
        from tqdm.auto import tqdm

        self.monitor = monitor
        self.bar = tqdm(desc=label, unit="epoch", initial=start_epoch, total=epochs)

    def batch(self, epoch: int, done: int, total: int) -> None:
        from tqdm.auto import tqdm

        if self.inner is None:
            self.inner = tqdm(desc=f"epoch {epoch}", leave=False, initial=done - 1, total=total)
        self.inner.update(1)

    def epoch(self, row: dict[str, float], best_value: float, best_epoch: int) -> None:
        self._close_inner()
        self.bar.set_postfix({k: f"{row[k]:.4g}" for k in ("train_loss", self.monitor) if k in row}, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self._close_inner()
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def _close_inner(self) -> None:
        if self.inner is not None:
            self.inner.close()
            self.inner = None


def open_progress(enabled: bool) -> Progress:
    """The progress destination of a fit: nothing unless ``enabled``; then the file named by
    ``WORKBENCH_PROGRESS_FILE`` when set, else tqdm bars."""
    if not enabled:
        return Progress()
    path = os.environ.get(PROGRESS_FILE_ENV)
    return FileProgress(path) if path else BarProgress()


class TaskProgress:
    """How far a long pass outside a fit has come: ``advance(n)`` as ``n`` more of ``total`` units are done.
    Reports nothing (progress off); see :func:`task_progress`."""

    def __init__(self, label: str = "", total: int = 0, unit: str = "") -> None:
        self.label, self.total, self.unit = label, int(total), unit
        self.done = 0

    def advance(self, count: int) -> None:
        self.done += int(count)

    def close(self) -> None:
        """The pass ended (also when it raised)."""


class FileTaskProgress(TaskProgress):
    """``task`` events in the progress file: one at the start, at most one a second, one at the end
    (``finished`` true)."""

    def __init__(self, path: Path, label: str, total: int, unit: str) -> None:
        super().__init__(label, total, unit)
        self.path = path
        self._last = time.monotonic()
        self._write(finished=False)

    def _write(self, finished: bool) -> None:
        event = {"event": "task", "label": self.label, "time": time.time(), "done": self.done, "total": self.total,
                 "unit": self.unit, "finished": finished}
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(event) + "\n")

    def advance(self, count: int) -> None:
        super().advance(count)
        now = time.monotonic()
        if now - self._last >= BATCH_EVENT_INTERVAL_S:
            self._last = now
            self._write(finished=False)

    def close(self) -> None:
        self._write(finished=True)


class BarTaskProgress(TaskProgress):
    """A tqdm bar (a widget in Jupyter) that disappears when the pass ends."""

    def __init__(self, label: str, total: int, unit: str) -> None:
        from tqdm.auto import tqdm

        super().__init__(label, total, unit)
        self.bar = tqdm(desc=label, total=total, unit=f" {unit}", leave=False)

    def advance(self, count: int) -> None:
        super().advance(count)
        self.bar.update(count)

    def close(self) -> None:
        self.bar.close()


@contextmanager
def task_progress(label: str, total: int, unit: str, enabled: bool = True) -> Iterator[TaskProgress]:
    """Report a long pass of ``total`` ``unit`` (e.g. 6,353 test windows) named ``label``: to the file named
    by ``WORKBENCH_PROGRESS_FILE`` when set (the runner shows it), else a tqdm bar; nothing unless
    ``enabled``. Yields the :class:`TaskProgress` to ``advance``."""
    path = os.environ.get(PROGRESS_FILE_ENV)
    if not enabled:
        task = TaskProgress(label, total, unit)
    elif path:
        task = FileTaskProgress(Path(path), label, total, unit)
    else:
        task = BarTaskProgress(label, total, unit)
    try:
        yield task
    finally:
        task.close()
