"""What ``workbench run`` shows while a notebook trains.

The kernel's engine appends JSON events to a progress file (:mod:`workbench.engine.progress`);
:class:`ProgressMonitor` follows that file from a thread of the runner and prints, for every fit, a
line when it starts and one line per epoch: epoch k/N, the training loss, the validation metrics,
the monitored metric with its best value so far, the learning rate, the epoch's time, elapsed and
remaining time. On a terminal a
transient bar also shows the batches of the current epoch; in a batch log (not a terminal), when
:data:`LOG_BATCH_INTERVAL_S` seconds pass without a line, a line says how far the epoch has come.
Long passes outside a fit (``task`` events: a test split's predictions) get a bar on a terminal, and
in a batch log a line every :data:`LOG_BATCH_INTERVAL_S` seconds without a line and one when they end (a
short pass: that one line).

Once per fit, within its first :data:`ESTIMATE_AFTER_S` seconds of training (or at its first epoch's end),
a line gives the measured speed (windows or clips per second), the estimated epoch time and the estimated
time of the whole fit on the machine named; a fit estimated over :data:`LONG_RUN_S` also says so and
names the settings that finish in minutes (:func:`faster_hint`), and goes on.
"""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

POLL_INTERVAL_S = 0.25
"""How often the monitor looks for new events (seconds)."""

LOG_BATCH_INTERVAL_S = 30.0
"""The least time between two in-epoch lines in a batch log (seconds)."""

ESTIMATE_AFTER_S = 20.0
"""A fit's speed and time estimate is shown once this much of its training has been measured (seconds),
or at the end of its first epoch when that comes sooner."""

LONG_RUN_S = 3600.0
"""A fit estimated to take longer than this (seconds) says so and names faster settings."""


def faster_hint(study: str, executor: str = "workbench") -> str:
    """The settings that make ``study`` finish in minutes, in the words of ``executor``: ``workbench``
    (``--preset quick``) or ``papermill`` (``-f parameters/<study>/quick.yaml``)."""
    if executor == "papermill":
        return (f"papermill ... -f parameters/{study}/quick.yaml (minutes) or -f parameters/{study}/ci.yaml "
                f"(seconds), or fewer epochs (-p epochs N)")
    return f"workbench run {study} --preset quick (minutes) or --preset ci (seconds), or fewer epochs (-p epochs N)"

def clock(seconds: float) -> str:
    """``h:mm:ss`` (``m:ss`` under an hour) of a non-negative duration; ``?`` when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def epochs_to_pass(budget_s: float, epoch_s: float) -> int:
    """How many more epochs of ``epoch_s`` training seconds run before a time limit with ``budget_s`` left
    is passed: training stops after the epoch that passes it, so ``ceil(budget / epoch)``, at least 1
    (a huge count where the epoch time is unknown)."""
    if not math.isfinite(epoch_s) or epoch_s <= 0:
        return 10**9
    return max(1, math.ceil(budget_s / epoch_s))


def seconds(value: Any) -> str:
    """A duration for a progress line: ``0.54 s``, ``3.1 s``, or ``m:ss`` from a minute on."""
    if not isinstance(value, float | int) or not math.isfinite(value):
        return "?"
    return f"{value:.2f} s" if value < 1 else f"{value:.1f} s" if value < 60 else clock(value)


def shown(key: str, monitor: str) -> bool:
    """Whether an epoch line shows history column ``key``: the training loss, the evaluation metrics
    (``val_*``) and the monitored metric; the other training logs are left to ``history.csv``."""
    return key == "train_loss" or key.startswith("val_") or key == monitor


def number(value: Any) -> str:
    """A metric for a progress line: 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float | int) and not isinstance(value, bool) else str(value)


class FitState:
    """What the monitor remembers of the fit in progress: its label, epoch count, monitored metric,
    start time and the epochs it has run since (for the remaining-time estimate)."""

    def __init__(self, event: dict[str, Any]) -> None:
        self.label = str(event.get("label", ""))
        self.epochs = int(event.get("epochs", 0))
        self.start_epoch = int(event.get("start_epoch", 0))
        self.monitor = str(event.get("monitor", ""))
        self.started = float(event.get("time", time.time()))
        self.time_limit_s = float(event.get("time_limit_s") or 0.0)
        self.trained_s = float(event.get("trained_s") or 0.0)
        self.batch_size = int(event.get("batch_size") or 0)
        self.unit = str(event.get("unit") or "samples")
        self.machine = str(event.get("machine") or "")
        self.done = 0
        self.run_trained_s = 0.0  # training time of this process's epochs (trained_s also holds a resumed run's)
        self.first_batch: tuple[float, int, int] | None = None
        self.batches = 0
        self.estimated = False

    def estimate_lines(self, prefix: str, hint: str, event: dict[str, Any]) -> list[str]:
        """Once per fit: the measured speed, the estimated epoch time and the estimated time of the whole
        fit, from a ``batch`` event :data:`ESTIMATE_AFTER_S` after the first one (training steps only) or
        from the first ``epoch`` event (its whole time); over :data:`LONG_RUN_S`, a second line naming
        ``hint``. Empty before that and after the first estimate."""
        if self.estimated:
            return []
        now = float(event.get("time", time.time()))
        if event.get("event") == "batch":
            epoch, batch = int(event.get("epoch", 0)), int(event.get("batch", 0))
            self.batches = int(event.get("batches", 0))
            if self.first_batch is None or self.first_batch[1] != epoch:
                self.first_batch = (now, epoch, batch)
                return []
            first_time, _, first = self.first_batch
            if batch <= first or now - first_time < ESTIMATE_AFTER_S:
                return []
            per_batch = (now - first_time) / (batch - first)
            epoch_s, what = per_batch * self.batches, "per epoch of training steps"
        else:
            epoch_s, what = float(event.get("row", {}).get("epoch_time_s") or math.nan), "per epoch"
            per_batch = epoch_s / self.batches if self.batches else math.nan
        if not math.isfinite(epoch_s):
            return []
        self.estimated = True
        remaining = max(self.epochs - self.start_epoch - (self.done if event.get("event") == "batch" else 0), 0)
        count = f"{remaining} epochs"
        limited = epochs_to_pass(self.time_limit_s - self.trained_s, epoch_s) if self.time_limit_s else remaining
        if limited < remaining:
            count, remaining = f"about {limited} of {remaining} epochs: the time limit", limited
        run_s = epoch_s * remaining
        speed = ""
        if self.batch_size and math.isfinite(per_batch) and per_batch > 0:
            speed = f"{self.batch_size / per_batch:.3g} {self.unit}/s, "
        where = f" on {self.machine}" if self.machine else ""
        lines = [f"{prefix}{self.label}: {speed}~{clock(epoch_s)} {what}, ~{clock(run_s)} for the whole fit "
                 f"({count}){where}"]
        if run_s > LONG_RUN_S and hint:
            lines.append(f"{prefix}note: this fit takes about {run_s / 3600:.1f} h here; for a run of minutes use "
                         f"{hint}. Training goes on (Ctrl-C stops it with its state saved).")
        return lines

    def start_line(self, prefix: str) -> str:
        """The line announcing the fit."""
        resumed = f", resumed after epoch {self.start_epoch}" if self.start_epoch else ""
        limit = f" or {clock(self.time_limit_s)} of training" if self.time_limit_s else ""
        return f"{prefix}training {self.label}: {self.epochs} epochs{limit}{resumed}, monitoring {self.monitor}"

    def epoch_line(self, prefix: str, event: dict[str, Any]) -> str:
        """One epoch: ``epoch k/N``, the metrics (the monitored one with its best so far), lr, the epoch's
        time, elapsed time of the fit and the estimate of the time left."""
        row = event.get("row", {})
        self.done += 1
        epoch = int(row.get("epoch", self.start_epoch + self.done))
        parts = [f"{prefix}{self.label} epoch {epoch}/{self.epochs}"]
        for key, value in row.items():
            if not shown(key, self.monitor):
                continue
            text = f"{key} {number(value)}"
            if key == self.monitor and event.get("best") is not None:
                text += f" (best {number(event['best'])} @ {event.get('best_epoch')})"
            parts.append(text)
        if "lr" in row:
            parts.append(f"lr {number(row['lr'])}")
        elapsed = float(event.get("time", time.time())) - self.started
        self.trained_s += float(row.get("epoch_time_s") or 0.0)
        self.run_trained_s += float(row.get("epoch_time_s") or 0.0)
        budget = self.time_limit_s - self.trained_s
        parts.append(f"{seconds(row.get('epoch_time_s'))}/epoch")
        parts.append(f"elapsed {clock(elapsed)}")
        more = self.epochs - epoch
        if epoch >= self.epochs or (self.time_limit_s and budget <= 0):
            parts.append("done")
        elif self.time_limit_s and (limited := epochs_to_pass(budget, self.run_trained_s / self.done)) < more:
            # an epoch's wall time holds its validation too; the limit counts training steps only
            parts.append(f"left ~{clock(elapsed / self.done * limited)} (time limit)")
        else:
            parts.append(f"left ~{clock(elapsed / self.done * more)}")
        return "  ".join(parts)

    def end_line(self, prefix: str, event: dict[str, Any]) -> str | None:
        """A line when the fit stopped early (a complete fit's last epoch line says it all)."""
        if event.get("stopped_early"):
            return f"{prefix}{self.label}: stopped early after {self.start_epoch + self.done} of {self.epochs} epochs"
        return None


class ProgressMonitor:
    """Follows ``path`` while the notebook runs (a context manager) and writes what it reads to
    ``stream``: lines for fits and epochs, and, when ``live`` (a terminal), a transient bar over the
    batches of the current epoch. ``hint`` names faster settings for a long fit; ``line_start`` goes
    before each line (papermill draws its own cell bar on the same terminal: a line must not start
    in the middle of it)."""

    def __init__(self, path: str | Path, stream: TextIO, prefix: str = "", live: bool = False, hint: str = "",
                 line_start: str = "") -> None:
        self.path = Path(path)
        self.stream = stream
        self.prefix = prefix
        self.live = live
        self.hint = hint
        self.line_start = line_start
        self.fit: FitState | None = None
        self._offset = 0
        self._partial = ""
        self._bar: Any = None
        self._task_started: float | None = None
        self._last_line = time.monotonic()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="workbench-progress", daemon=True)

    def __enter__(self) -> ProgressMonitor:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stopped.set()
        self._thread.join()
        self.poll()
        self._close_bar()

    def _follow(self) -> None:
        while not self._stopped.wait(POLL_INTERVAL_S):
            self.poll()

    def poll(self) -> None:
        """Read the complete lines added to the file since the last call and show their events."""
        try:
            with self.path.open("r", encoding="utf-8") as handle:
                handle.seek(self._offset)
                text = handle.read()
                self._offset = handle.tell()
        except FileNotFoundError:
            return
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                self.show(event)

    def show(self, event: dict[str, Any]) -> None:
        """Write one event to the stream."""
        kind = event.get("event")
        if kind == "task":
            self._task(event)
        elif kind == "fit":
            self.fit = FitState(event)
            self._write(self.fit.start_line(self.prefix))
        elif self.fit is None:
            return
        elif kind == "batch":
            for line in self.fit.estimate_lines(self.prefix, self.hint, event):
                self._write(line)
            self._batch(event)
        elif kind == "epoch":
            self._close_bar()
            for line in self.fit.estimate_lines(self.prefix, self.hint, event):
                self._write(line)
            self._write(self.fit.epoch_line(self.prefix, event))
        elif kind == "end":
            self._close_bar()
            line = self.fit.end_line(self.prefix, event)
            if line:
                self._write(line)

    def _batch(self, event: dict[str, Any]) -> None:
        epoch, done, total = int(event.get("epoch", 0)), int(event.get("batch", 0)), int(event.get("batches", 0))
        if self.live:
            self._show_bar(f"{self.fit.label} epoch {epoch}/{self.fit.epochs}", done, total, "batch")
        elif time.monotonic() - self._last_line >= LOG_BATCH_INTERVAL_S:
            self._write(f"{self.prefix}{self.fit.label} epoch {epoch}/{self.fit.epochs}: batch {done}/{total}")

    def _task(self, event: dict[str, Any]) -> None:
        label, unit = str(event.get("label", "")), str(event.get("unit", ""))
        done, total, now = int(event.get("done", 0)), int(event.get("total", 0)), float(event.get("time", time.time()))
        if self._task_started is None or done == 0:
            self._close_bar()
            self._task_started = now
        elapsed = now - self._task_started
        if event.get("finished"):
            self._close_bar()
            self._task_started = None
            self._write(f"{self.prefix}{label}: {done:,} {unit} in {clock(elapsed)}")
        elif self.live:
            self._show_bar(label, done, total, f" {unit}")
        elif done and time.monotonic() - self._last_line >= LOG_BATCH_INTERVAL_S:
            left = elapsed * (total - done) / done
            self._write(f"{self.prefix}{label}: {done:,}/{total:,} {unit}  elapsed {clock(elapsed)}  "
                        f"left ~{clock(left)}")

    def _show_bar(self, desc: str, done: int, total: int, unit: str) -> None:
        """The transient bar at ``done`` of ``total`` (opened on first use, closed by :meth:`_close_bar`)."""
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(desc=desc, total=total, initial=done, unit=unit, leave=False, file=self.stream,
                             dynamic_ncols=True)
        self._bar.update(done - self._bar.n)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _write(self, line: str) -> None:
        self._last_line = time.monotonic()
        if self.live:
            from tqdm import tqdm

            tqdm.write(line, file=self.stream)
        else:
            print(self.line_start + line, file=self.stream, flush=True)
