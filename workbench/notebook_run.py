"""The run folder of a notebook executed by papermill, JupyterLab's Run All or any other Jupyter client.

``workbench run`` keeps a run's books itself (:mod:`workbench.runner`): it passes its staging folder as the
``output_dir`` parameter. Every other executor leaves ``output_dir`` empty, and then the notebook kernel
keeps the same books, so that a run is the same run whoever executed it:

- :func:`open_run` (a study's ``output_dir``) reserves ``outputs/<study>/<time>_<model>``, creates the hidden
  staging folder ``.<time>_<model>.XXXX.partial`` and writes its ``status.json`` (``running``, the study, the
  final name, every option as ``parameters``, the kernel's process id, the executor and the executed
  notebook's path where it can be known). With ``resume`` it reopens the latest interrupted or killed
  run of the study instead (:func:`workbench.runner.find_resumable`).
- While the run is open, training progress goes to the terminal that started the executor (papermill's
  stderr; the kernel's output is captured into the notebook, so its original stderr is used) through the
  same progress file and :class:`~workbench.terminal.ProgressMonitor` as ``workbench run``, and the notebook
  keeps no progress text. Under a Jupyter server (JupyterLab) the bars stay in the notebook, as widgets.
- :func:`complete` (the notebooks' last cell) removes backup and lock files, marks the run ``complete``
  with its wall time, renames the staging folder into place and shows the run's summary in the notebook's
  summary cell (an ``update_display`` of its placeholder).
- A cell that raises while the run is open (an IPython ``post_run_cell`` hook) marks it ``interrupted``
  (Ctrl-C, Jupyter's interrupt; it stays staged for ``--resume``) or moves it to ``<name>_failed`` with
  status ``failed`` and the error. A killed kernel leaves the staging folder with status ``running`` and a
  dead process id, which ``workbench run <study> --resume`` (or ``-p resume True``) continues.

Such a run has no executed notebook or HTML report in its folder (the executor writes the notebook after
the last cell): ``workbench report RUN`` copies the notebook in and makes the report later.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from workbench.engine.progress import PROGRESS_FILE_ENV
from workbench.run_folders import (
    read_status,
    release_run_name,
    reserve_run_folder,
    run_folder,
    run_name,
    set_status,
    staging_dir,
    tidy_run_folder,
)
from workbench.studies.base import StudyConfig
from workbench.summary import SUMMARY_DISPLAY_ID

UNSAVED_OPTIONS = ("output_dir", "resume")
"""Options a run's ``status.json`` does not record: the runner or the kernel sets them for each execution."""


@dataclass
class KernelRun:
    """The run this kernel keeps the books of: its staging and final folders, when this execution began,
    the time earlier executions of it took (a resumed run), the facts of its ``status.json`` and the
    terminal progress it shows."""

    study: str
    stage: Path
    final: Path
    details: dict[str, Any]
    elapsed_before_s: float = 0.0
    started: float = field(default_factory=time.time)
    monitor: Any = None
    terminal: TextIO | None = None
    line_start: str = ""

    def elapsed_s(self) -> float:
        return self.elapsed_before_s + time.time() - self.started

    def stop_progress(self) -> None:
        """Stop showing progress: the monitor prints what is left, the progress file goes."""
        if self.monitor is not None:
            self.monitor.__exit__(None, None, None)
            self.monitor = None
        if os.environ.get(PROGRESS_FILE_ENV) == str(self.stage / ".progress.jsonl"):
            os.environ.pop(PROGRESS_FILE_ENV)
        (self.stage / ".progress.jsonl").unlink(missing_ok=True)

    def say(self, line: str) -> None:
        """Write ``line`` to the executor's terminal (nothing without one), as the monitor writes its lines."""
        if self.terminal is not None:
            print(self.line_start + line, file=self.terminal, flush=True)


_active: KernelRun | None = None


def open_run(study: str, cfg: StudyConfig) -> Path:
    """The folder a study notebook writes its files to: ``cfg.output_dir`` when ``workbench run`` (or a
    user) names one, else the staging folder of a run this kernel keeps the books of (see the module)."""
    global _active
    if cfg.output_dir:
        return run_folder(study, getattr(cfg, "model", study), cfg.output_dir)
    if _active is not None:  # Run All again in the same kernel before the last run completed
        _close(_active, "interrupted", "superseded by a new run in the same kernel")
    from workbench.runner import find_resumable  # the runner imports papermill; only needed here

    parameters = {k: v for k, v in asdict(cfg).items() if k not in UNSAVED_OPTIONS}
    model = str(getattr(cfg, "model", "") or study)
    executor, notebook = executor_and_notebook()
    elapsed, started = 0.0, time.strftime("%Y-%m-%dT%H:%M:%S")
    if cfg.resume:
        stage = find_resumable(study)
        status = read_status(stage)
        final = stage.parent / str(status.get("final") or stage.name.split(".")[1])
        elapsed, started = float(status.get("elapsed_s", 0.0)), str(status.get("started") or started)
    else:
        final = reserve_run_folder(study, run_name(model))
        stage = staging_dir(final)
    details = {"study": study, "model": model, "final": final.name, "parameters": parameters, "started": started,
               "executor": executor, **({"notebook": str(notebook)} if notebook else {})}
    set_status(stage, "running", **details, pid=os.getpid(), elapsed_s=elapsed)
    run = KernelRun(study, stage, final, details, elapsed_before_s=elapsed)
    if executor != "jupyter":
        _show_progress(run, executor, cfg.progress)
    _active = run
    _watch_cells(True)
    if cfg.resume:
        run.say(f"{study}: resuming {stage.name} (run folder {final.name} when complete)")
    return stage


def complete(folder: str | Path) -> Path:
    """End the run whose files are in ``folder``: for a run of this kernel, tidy it, mark it complete, rename
    it into place, show its summary and return the final folder; ``folder`` itself otherwise (``workbench
    run`` finishes its runs itself)."""
    global _active
    folder = Path(folder)
    run = _active
    if run is None or folder.resolve() != run.stage.resolve():
        return folder
    from workbench.summary import build_summary  # reads the run's files; imported late like the runner

    run.stop_progress()
    tidy_run_folder(run.stage)
    wall = round(run.elapsed_s(), 3)
    set_status(run.stage, "complete", **run.details, wall_time_s=wall)
    summary = build_summary(run.stage, run.study, "complete", wall, run.details["started"], run.final)
    os.replace(run.stage, run.final)
    release_run_name(run.final)
    _active = None
    _watch_cells(False)
    _update_summary(summary)
    report = "" if (run.final / f"{run.study}.html").is_file() else f"; HTML report: workbench report {run.final}"
    run.say(f"{run.study}: complete in {wall:.1f} s: {run.final}{report}")
    return run.final


def final_folder(folder: str | Path) -> Path:
    """Where the run writing to ``folder`` will be found once complete (its final name for a staged run
    of this kernel; ``folder`` itself otherwise), for the notebooks to print."""
    run = _active
    return run.final if run is not None and Path(folder).resolve() == run.stage.resolve() else Path(folder)


def executor_and_notebook() -> tuple[str, Path | None]:
    """Who executes this kernel's notebook and where the executed notebook is saved: ``("jupyter", the
    notebook's path)`` under a Jupyter server (``JPY_SESSION_NAME``), ``("papermill", its output path or
    None)`` when the kernel's parent process is papermill, ``("kernel", None)`` for another Jupyter client
    (nbclient, ``nbconvert --execute``), ``("script", None)`` outside a kernel."""
    session = os.environ.get("JPY_SESSION_NAME")
    if session:
        return "jupyter", session_notebook(session, Path.cwd())
    if not _in_kernel():
        return "script", None
    args, cwd = _parent_command()
    index = next((i for i, a in enumerate(args) if Path(a).name == "papermill"), None)
    if index is None:
        return "kernel", None
    return "papermill", papermill_output(args[index + 1:], cwd)


def session_notebook(session: str, cwd: Path) -> Path:
    """The notebook a Jupyter server's kernel runs, from its ``JPY_SESSION_NAME``: an absolute path, or one
    relative to the server's root, which is the kernel's working folder or one of its parents."""
    path = Path(session)
    if path.is_absolute():
        return path
    for folder in (cwd, *cwd.parents):
        if (folder / path).is_file():
            return (folder / path).resolve()
    return (cwd / path.name).resolve()


def papermill_output(args: list[str], cwd: Path) -> Path | None:
    """The output notebook of a papermill command line ``args`` (after ``papermill``), parsed by papermill's
    own command; None when it writes to stdout or the line does not parse."""
    from papermill.cli import papermill as command

    try:
        context = command.make_context("papermill", list(args), resilient_parsing=True)
    except Exception:  # a papermill that parses differently: the notebook's path is only a convenience
        return None
    output = str(context.params.get("output_path") or "")
    return (cwd / output).resolve() if output and output != "-" else None


def papermill_cell_bar(command: list[str]) -> bool:
    """Whether the papermill of ``command`` (its whole command line) draws its cell progress bar: unless
    ``--no-progress-bar``, or ``--log-output`` without ``--progress-bar``."""
    if "--no-progress-bar" in command:
        return False
    return "--progress-bar" in command or "--log-output" not in command


def _parent_command() -> tuple[list[str], Path]:
    """The parent process's command line and working folder (Linux ``/proc``; empty elsewhere)."""
    parent = os.getppid()
    try:
        raw = Path(f"/proc/{parent}/cmdline").read_bytes()
        cwd = Path(os.readlink(f"/proc/{parent}/cwd"))
    except OSError:
        return [], Path.cwd()
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a], cwd


def _in_kernel() -> bool:
    shell = _shell()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def terminal_stream() -> TextIO | None:
    """The executor's terminal from inside a kernel: ipykernel captures the kernel's file descriptors 1 and 2
    into the notebook and keeps a copy of the original stderr, which its stream's ``fileno()`` returns;
    where it does not capture them (under pytest), descriptor 2 is still the terminal. None when it cannot
    be opened."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        fd = 2
    try:
        return os.fdopen(os.dup(fd), "w", buffering=1, encoding="utf-8", errors="replace")
    except OSError:
        return None


def _show_progress(run: KernelRun, executor: str, enabled: bool) -> None:
    """Point the engine's progress events at the staging folder and print them to the terminal."""
    from workbench.terminal import ProgressMonitor, faster_hint

    run.terminal = terminal_stream() if _in_kernel() else sys.stderr
    if run.terminal is None or not enabled:
        return
    path = run.stage / ".progress.jsonl"
    path.unlink(missing_ok=True)
    os.environ[PROGRESS_FILE_ENV] = str(path)
    tty = run.terminal.isatty()
    cell_bar = executor == "papermill" and papermill_cell_bar(_parent_command()[0])
    # papermill's own bar redraws its line: start each line on a cleared line (a new one in a log)
    run.line_start = ("\r\x1b[2K" if tty else "\n") if cell_bar else ""
    run.monitor = ProgressMonitor(path, run.terminal, prefix=f"{run.study}: ", live=tty and not cell_bar,
                                  hint=faster_hint(run.study, executor), line_start=run.line_start).__enter__()
    run.say(f"{run.study}: run {run.final.name} started by {executor}; staged in {run.stage.name} until complete")


def _close(run: KernelRun, status: str, error: str) -> None:
    """Close ``run`` unfinished: ``interrupted`` stays staged (resumable); ``failed`` moves to ``<name>_failed``."""
    global _active
    run.stop_progress()
    details = {**run.details, "elapsed_s": run.elapsed_s(), "error": error}
    set_status(run.stage, status, **details, pid=os.getpid())
    if status == "failed":
        failed = run.final.with_name(run.final.name + "_failed")
        os.replace(run.stage, failed)
        release_run_name(run.final)
        run.say(f"{run.study}: failed ({error}); kept in {failed}")
    else:
        run.say(f"{run.study}: {status} ({error}); continue it with: workbench run {run.study} --resume "
                f"{run.stage.name}  (or the notebook with -p resume True)")
    if _active is run:
        _active = None
        _watch_cells(False)


def _after_cell(result: Any) -> None:
    """IPython ``post_run_cell`` hook: a cell that raised ends the open run."""
    error = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
    if error is None or _active is None:
        return
    from workbench.errors import TrainingInterrupted

    stopped = isinstance(error, TrainingInterrupted | KeyboardInterrupt)
    _close(_active, "interrupted" if stopped else "failed", f"{type(error).__name__}: {error}")


def _watch_cells(on: bool) -> None:
    shell = _shell()
    if shell is None:
        return
    registered = _after_cell in shell.events.callbacks["post_run_cell"]
    if on and not registered:
        shell.events.register("post_run_cell", _after_cell)
    elif not on and registered:
        shell.events.unregister("post_run_cell", _after_cell)


def _update_summary(summary: Any) -> None:
    """Show ``summary`` in the notebook's summary cell (its placeholder was displayed with
    :data:`~workbench.summary.SUMMARY_DISPLAY_ID`)."""
    if _shell() is None:
        return
    from IPython.display import update_display

    update_display({"text/html": summary.to_html(), "text/plain": summary.to_text()}, raw=True,
                   display_id=SUMMARY_DISPLAY_ID)
