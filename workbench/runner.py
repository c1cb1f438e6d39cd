"""Executing a study notebook with papermill into a run folder.

The notebook runs in a hidden staging folder ``outputs/<study>/.<time>_<model>.*.partial``;
its output files are passed there through the ``output_dir`` parameter, and its
``status.json`` says ``running`` (with the parameters, the process id and the start
time). On success the HTML report is written, the status becomes ``complete`` and the
folder is renamed to ``outputs/<study>/<time>_<model>``; on a failed cell the executed
notebook (showing the error) and its report are kept in ``..._failed`` and
:class:`RunFailedError` is raised.

Crash safety: a run stopped with Ctrl-C (the training saves its state at the next
batch; a second Ctrl-C aborts at once) keeps its staging folder with status
``interrupted``; a killed run keeps it with status ``running`` and a dead process.
``run_study(..., resume=...)`` runs such a folder again with ``resume=True``: the
notebook starts over, and training continues from the saved checkpoint.
``run_study(..., extend=...)`` trains a *complete* run further (a longer time limit, more epochs,
more patience): a new run folder starts from copies of its training checkpoints, and the
finished run is left as it was.

While the notebook runs, its training reports to a progress file that the runner prints from (one
line per epoch, :mod:`workbench.terminal`), so the notebook keeps no progress bars; at the end the
executed notebook gets the run's summary and names the final run folder (:mod:`workbench.report`).

Under ``torchrun`` every process runs the notebook; only rank 0 writes the run folder
and the report, the other ranks work in a scratch folder that is removed at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from workbench.engine.distributed import world
from workbench.engine.progress import PROGRESS_FILE_ENV
from workbench.engine.stopping import STOP_FILE_ENV
from workbench.errors import CheckpointError, ConfigError, RunFailedError, RunInterrupted
from workbench.report import finish_notebook, notebook_to_html
from workbench.run_folders import (
    read_status,
    release_run_name,
    reserve_run_folder,
    run_name,
    set_status,
    staging_dir,
    study_dir,
    tidy_run_folder,
    write_yaml,
)
from workbench.settings import parameters_dir
from workbench.studies import declared, get_study
from workbench.studies.base import StudyConfig
from workbench.summary import build_summary
from workbench.terminal import ProgressMonitor, faster_hint

STUDIES = tuple(declared())
"""Every study, in the order ``workbench run all`` runs them (:func:`workbench.studies.declared`)."""


def notebook_path(study: str) -> Path:
    """``notebooks/<study>.ipynb``, checked to exist."""
    studies = declared()
    if study not in studies:
        hint = "; the leaderboard is `workbench leaderboard`" if study == "leaderboard" else ""
        raise ConfigError(f"unknown study {study!r}; studies: {', '.join(studies)}{hint}")
    path = get_study(study).notebook
    if not path.is_file():
        raise ConfigError(f"no notebook for study {study!r} ({path}); studies: {', '.join(studies)}")
    return path


def study_config(study: str) -> type[StudyConfig]:
    """The options class of ``study`` (its notebook's parameters)."""
    return get_study(study).options


def read_parameter_file(path: str | Path) -> dict[str, Any]:
    """A YAML mapping of notebook parameters."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: parameter file not found")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed YAML ({exc})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of parameter names to values")
    return values


def preset_path(study: str, preset: str) -> Path:
    """``parameters/<study>/<preset>.yaml``; a :class:`ConfigError` naming the study's parameter sets
    when there is no such file."""
    path = parameters_dir() / study / f"{preset}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (parameters_dir() / study).glob("*.yaml"))
        raise ConfigError(f"{study} has no parameter set {preset!r}; choose from {', '.join(known)}")
    return path


def run_study(study: str, parameters: dict[str, Any], progress: bool = True,
              resume: str | Path | None = None, extend: str | Path | None = None) -> Path:
    """Execute the study notebook with ``parameters``; return the finished run folder.

    ``resume``: a run folder kept by an interrupted, killed or failed run, or ``"latest"``
    (see :func:`find_resumable`); it is run again with its saved parameters, updated by
    ``parameters``, and ``resume=True``. ``extend``: a complete run (see :func:`find_extendable`)
    whose training continues, with its parameters updated by ``parameters``, in a new run folder.
    Raises :class:`RunInterrupted` when stopped on request and :class:`RunFailedError` when a
    cell fails.
    """
    source = notebook_path(study)
    study_config(study).check_names(parameters)
    if resume is not None and extend is not None:
        raise ConfigError("--resume continues an unfinished run and --extend a complete one: give one of them")
    if world().rank > 0:
        return _run_secondary(study, source, parameters, resume)
    details: dict[str, Any] = {}
    if resume is not None:
        stage, final, parameters, elapsed, first_start = _reopen(study, resume, parameters)
    elif extend is not None:
        origin = find_extendable(study, extend)
        parameters = {**read_status(origin)["parameters"], **parameters, "resume": True}
        final = reserve_run_folder(study, run_name(_model_name(study, parameters)))
        stage, elapsed, first_start = staging_dir(final), 0.0, time.time()
        for checkpoint in sorted(origin.glob("*.pt")):
            shutil.copy2(checkpoint, stage / checkpoint.name)
        details["extends"] = origin.name
    else:
        final = reserve_run_folder(study, run_name(_model_name(study, parameters)))
        stage, elapsed, first_start = staging_dir(final), 0.0, time.time()
    started = time.time()
    executed = stage / f"{study}.ipynb"
    details = {"study": study, "model": _model_name(study, parameters), "final": final.name,
               "parameters": parameters, "started": _iso(first_start), **details}
    set_status(stage, "running", **details, pid=os.getpid(), elapsed_s=elapsed)
    stop_file = Path(os.environ.get(STOP_FILE_ENV) or stage / ".stop")
    stop_file.unlink(missing_ok=True)
    try:
        with _stop_on_sigint(stop_file), _show_training(study, progress, stage / ".progress.jsonl"):
            _execute(source, executed, {**parameters, "output_dir": str(stage)}, progress and sys.stderr.isatty())
        wall_time_s = round(elapsed + time.time() - started, 3)
        _finish(stage, final, executed, study, "complete", wall_time_s, details["started"])
        notebook_to_html(executed, stage / f"{study}.html")
    except _Stopped as exc:
        set_status(stage, "interrupted", **details, elapsed_s=elapsed + time.time() - started, error=str(exc))
        raise RunInterrupted(f"{study}: {exc}. The run is kept in {stage}; continue it with: "
                             f"workbench run {study} --resume {stage.name}") from None
    except _CellFailed as exc:
        failed = _keep_failed(stage, final, executed, str(exc), elapsed + time.time() - started)
        raise RunFailedError(f"{exc}\nthe executed notebook with the failing cell is in {failed}") from None
    except BaseException as exc:
        if executed.is_file():
            _keep_failed(stage, final, executed, f"{type(exc).__name__}: {exc}", elapsed + time.time() - started)
        else:
            shutil.rmtree(stage, ignore_errors=True)
            release_run_name(final)
        raise
    finally:
        stop_file.unlink(missing_ok=True)
    set_status(stage, "complete", **details, wall_time_s=wall_time_s)
    os.replace(stage, final)
    release_run_name(final)
    return final


@contextmanager
def _show_training(study: str, show: bool, path: Path) -> Iterator[None]:
    """While active, the kernel's training engine appends its progress events to ``path`` (a hidden
    file of the staging folder, named by ``WORKBENCH_PROGRESS_FILE``) instead of drawing bars into
    the notebook; when ``show``, they are printed to stderr (one line per epoch; a live bar on a
    terminal). The file is removed afterwards."""
    path.unlink(missing_ok=True)  # left by a killed run that is now resumed
    inherited = os.environ.get(PROGRESS_FILE_ENV)
    os.environ[PROGRESS_FILE_ENV] = str(path)
    try:
        if show:
            with ProgressMonitor(path, sys.stderr, prefix=f"{study}: ", live=sys.stderr.isatty(),
                                 hint=faster_hint(study)):
                yield
        else:
            yield
    finally:
        path.unlink(missing_ok=True)
        if inherited is None:
            os.environ.pop(PROGRESS_FILE_ENV, None)
        else:
            os.environ[PROGRESS_FILE_ENV] = inherited


def _finish(stage: Path, folder: Path, executed: Path, study: str, status: str, wall_time_s: float,
            started: str, error: str = "") -> None:
    """Make the run's files name ``folder``, where the run will be found, rather than the staging
    folder (``output_dir`` of ``config.yaml``, paths printed in the notebook), and give the executed
    notebook its summary (:mod:`workbench.summary`) without progress residue."""
    config = stage / "config.yaml"
    if config.is_file():
        values = yaml.safe_load(config.read_text(encoding="utf-8"))
        if isinstance(values, dict) and values.get("output_dir") == str(stage):
            write_yaml(config, {**values, "output_dir": str(folder)})
    if status == "complete":
        tidy_run_folder(stage)
    summary = build_summary(stage, study, status, wall_time_s, started, folder, error)
    finish_notebook(executed, summary, stage)


def find_resumable(study: str, run: str | Path | None = None) -> Path:
    """The run folder to resume: ``run`` (a path, or a folder name under ``outputs/<study>``), or
    else the most recently started folder of ``study`` whose status is ``interrupted``, or
    ``running`` with its process gone (killed). Raises :class:`ConfigError` when there is none
    or the run is complete or still running."""
    if run is not None:
        folder = _run_folder(study, run)
        status = read_status(folder)
        if status.get("status") == "complete":
            raise ConfigError(f"{folder}: the run is complete; nothing to resume")
        if status.get("status") == "running" and _alive(status.get("pid")):
            raise ConfigError(f"{folder}: still running (process {status['pid']})")
        return folder
    candidates = []
    for folder in study_dir(study).glob(".*.partial"):
        status = read_status(folder)
        state = status.get("status")
        if state == "interrupted" or (state == "running" and not _alive(status.get("pid"))):
            candidates.append((status.get("started", ""), folder.stat().st_mtime, folder))
    if not candidates:
        raise ConfigError(f"no interrupted or killed {study} run to resume in {study_dir(study)}; "
                          f"pass a run folder to --resume to continue a failed run")
    return max(candidates)[2]


def _run_folder(study: str, run: str | Path) -> Path:
    """``run`` as a path when it is a folder, else as a folder name under ``outputs/<study>``; checked to exist."""
    folder = Path(run) if Path(run).is_dir() else study_dir(study) / str(run)
    if not folder.is_dir():
        raise ConfigError(f"{run}: no such run folder (looked in {study_dir(study)})")
    return folder


def find_extendable(study: str, run: str | Path) -> Path:
    """The complete run folder ``run`` (a path, or a folder name under ``outputs/<study>``) that has a
    training state to continue: its ``status.json`` records its parameters and one of its ``*.pt``
    files is a training checkpoint. Raises :class:`ConfigError` otherwise."""
    folder = _run_folder(study, run)
    status = read_status(folder)
    if status.get("status") != "complete":
        raise ConfigError(f"{folder}: the run is {status.get('status', 'unknown')}, not complete; "
                          f"continue it with --resume")
    if status.get("study", study) != study:
        raise ConfigError(f"{folder}: a {status['study']} run, not a {study} run")
    if "parameters" not in status:
        raise ConfigError(f"{folder}: status.json does not record the run's parameters; cannot extend it")
    if not any(_is_training_state(path) for path in folder.glob("*.pt")):
        raise ConfigError(f"{folder}: the run kept no training state to continue (a *.pt training checkpoint; "
                          f"runs that trained nothing, or keep only their final weights, cannot be extended)")
    return folder


def _is_training_state(path: Path) -> bool:
    """Whether ``path`` holds a training state the engine can continue (format tag read on the CPU)."""
    from workbench.engine.checkpoint import load_torch_file  # torch only when extending

    try:
        state = load_torch_file(path)
    except CheckpointError:
        return False
    return isinstance(state, dict) and state.get("format") == "workbench-checkpoint-1"


def _reopen(study: str, resume: str | Path, overrides: dict[str, Any]
            ) -> tuple[Path, Path, dict[str, Any], float, float]:
    """(staging folder, final folder, parameters, elapsed s, first start time) of a run to resume;
    a ``..._failed`` folder is moved back to a staging name first."""
    stage = find_resumable(study, None if resume == "latest" else resume)
    status = read_status(stage)
    if "parameters" not in status:
        raise ConfigError(f"{stage}: status.json does not record the run's parameters; cannot resume it")
    final = study_dir(study) / str(status.get("final") or stage.name.removesuffix("_failed"))
    if not stage.name.startswith("."):
        target = staging_dir(final)
        target.rmdir()
        os.replace(stage, target)
        stage = target
    parameters = {**status["parameters"], **overrides, "resume": True}
    first = status.get("started")
    first_start = time.mktime(time.strptime(first, "%Y-%m-%dT%H:%M:%S")) if first else time.time()
    return stage, final, parameters, float(status.get("elapsed_s", 0.0)), first_start


def _run_secondary(study: str, source: Path, parameters: dict[str, Any], resume: str | Path | None) -> Path:
    """Rank > 0 under torchrun: run the notebook in a scratch folder (seeded with the checkpoints of
    the run being resumed) so that training joins the process group; write nothing in outputs."""
    scratch = Path(tempfile.mkdtemp(prefix=f"workbench-{study}-rank{world().rank}-"))
    try:
        if resume is not None:
            resumed = Path(resume)
            if not resumed.is_dir():
                raise ConfigError(f"{resume}: rank {world().rank} needs the resumed run folder as a path")
            parameters = {**read_status(resumed).get("parameters", {}), **parameters, "resume": True}
            for checkpoint in resumed.glob("*.pt"):
                shutil.copy2(checkpoint, scratch / checkpoint.name)
        with _stop_on_sigint(Path(os.environ.get(STOP_FILE_ENV) or scratch / ".stop")):
            _execute(source, scratch / f"{study}.ipynb",
                     {**parameters, "output_dir": str(scratch), "progress": False}, False)
    except _Stopped as exc:
        raise RunInterrupted(f"{study} (rank {world().rank}): {exc}") from None
    except _CellFailed as exc:
        raise RunFailedError(f"{study} (rank {world().rank}): {exc}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return scratch


class _Stopped(Exception):
    """The notebook stopped on request (training interrupted, or KeyboardInterrupt)."""


class _CellFailed(Exception):
    """A notebook cell raised an error."""


def _execute(source: Path, executed: Path, parameters: dict[str, Any], cell_bar: bool) -> None:
    """papermill (with its cell progress bar when ``cell_bar``), with cell errors turned into
    :class:`_Stopped` or :class:`_CellFailed`."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        papermill.execute_notebook(str(source), str(executed), parameters=parameters, kernel_name="python3",
                                   cwd=str(Path.cwd()), progress_bar=cell_bar,
                                   kernel_manager_class=_encrypted_kernel_manager())
    except PapermillExecutionError as exc:
        message = f"{exc.ename}: {exc.evalue}"
        if exc.ename in ("TrainingInterrupted", "KeyboardInterrupt"):
            raise _Stopped(message) from None
        raise _CellFailed(message) from None
    except KeyboardInterrupt:
        raise _Stopped("aborted by a second Ctrl-C; training resumes from its last complete epoch") from None


def _encrypted_kernel_manager() -> type:
    """A kernel manager that gives the kernel CurveZMQ keys (when pyzmq has CurveZMQ): its traffic over
    local TCP is encrypted, and it no longer warns at every start that it is not."""
    import zmq
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class EncryptedKernelManager(AsyncKernelManager):
        @default("transport_encryption")
        def _encrypt(self) -> str:
            return "auto" if zmq.has("curve") else "disabled"

    return EncryptedKernelManager


@contextmanager
def _stop_on_sigint(stop_file: Path) -> Iterator[None]:
    """While active, the first Ctrl-C creates ``stop_file`` (the kernel, which Jupyter starts in its
    own session, sees it through ``WORKBENCH_STOP_FILE`` and saves its training state at the next
    batch); the second raises ``KeyboardInterrupt`` at once. Where SIGINT is ignored (background
    jobs) it stays ignored."""
    inherited = os.environ.get(STOP_FILE_ENV)
    os.environ[STOP_FILE_ENV] = str(stop_file)
    presses = 0

    def handle(signum: int, frame: object) -> None:
        nonlocal presses
        presses += 1
        if presses > 1:
            raise KeyboardInterrupt
        stop_file.parent.mkdir(parents=True, exist_ok=True)
        stop_file.touch()
        print("\nstopping: training saves its state at the next batch (Ctrl-C again to abort now)",
              file=sys.stderr, flush=True)

    previous = signal.getsignal(signal.SIGINT)
    if previous != signal.SIG_IGN:
        signal.signal(signal.SIGINT, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if inherited is None:
            os.environ.pop(STOP_FILE_ENV, None)
        else:
            os.environ[STOP_FILE_ENV] = inherited


def _model_name(study: str, parameters: dict[str, Any]) -> str:
    options = study_config(study).canonical(parameters)
    return str(options.get("model") or get_study(study).default_model)


def _alive(pid: Any) -> bool:
    """Whether process ``pid`` exists on this machine."""
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(seconds))


def _keep_failed(stage: Path, final: Path, executed: Path, message: str, wall_time_s: float) -> Path:
    """Move a failed run to ``<final>_failed`` with its executed notebook (its summary says failed
    and why), a best-effort HTML report of it, and ``status.json`` saying failed."""
    status = read_status(stage)
    failed = final.with_name(final.name + "_failed")
    try:
        _finish(stage, failed, executed, str(status.get("study", "")), "failed", wall_time_s,
                str(status.get("started", "")), message)
        notebook_to_html(executed, executed.with_suffix(".html"))
    except Exception as exc:  # the notebook itself is the record of the failure
        message += f" (HTML report not written: {exc})"
    status.pop("status", None)
    status.pop("time", None)
    set_status(stage, "failed", **{**status, "error": message})
    os.replace(stage, failed)
    release_run_name(final)
    return failed


def launch_distributed(nproc: int, run_args: list[str]) -> int:
    """Run ``workbench run <run_args>`` in ``nproc`` processes under ``torchrun --standalone`` on this
    machine (gloo on CPU, nccl on GPUs); returns torchrun's exit status. Ctrl-C asks every process
    to save its state and stop (a second one terminates them)."""
    import subprocess

    if nproc < 2:
        raise ConfigError(f"--nproc must be at least 2 for a distributed run, got {nproc}")
    stop_file = Path(tempfile.gettempdir()) / f"workbench-stop-{os.getpid()}"
    stop_file.unlink(missing_ok=True)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               "-m", "workbench.cli", "run", *run_args]
    env = {**os.environ, STOP_FILE_ENV: str(stop_file)}
    process = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        with _stop_on_sigint(stop_file):
            return process.wait()
    except KeyboardInterrupt:
        os.killpg(process.pid, signal.SIGTERM)
        return process.wait()
    finally:
        stop_file.unlink(missing_ok=True)
