"""Executing a study notebook with papermill into a run folder.

The notebook runs in a hidden staging folder; its output files are passed
there through the ``output_dir`` parameter. On success the HTML report is
written and the folder is renamed to ``outputs/<study>/<time>_<model>``; on a
failed cell the executed notebook (showing the error) and its report are
kept in ``outputs/<study>/<time>_<model>_failed`` and :class:`RunFailedError`
is raised.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from workbench.errors import ConfigError, RunFailedError
from workbench.models.registry import DEFAULT_MODEL, STUDY_MODELS
from workbench.report import notebook_to_html
from workbench.runs import run_name, set_status, staging_dir, study_dir
from workbench.settings import notebooks_dir, parameters_dir

STUDIES = tuple(STUDY_MODELS)
"""Every study, in the order ``workbench run all`` runs them."""


def notebook_path(study: str) -> Path:
    """``notebooks/<study>.ipynb``, checked to exist."""
    path = notebooks_dir() / f"{study}.ipynb"
    if not path.is_file():
        raise ConfigError(f"no notebook for study {study!r} ({path}); studies: {', '.join(STUDIES)}")
    return path


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
    """``parameters/<study>/<preset>.yaml``."""
    return parameters_dir() / study / f"{preset}.yaml"


def run_study(study: str, parameters: dict[str, Any], progress: bool = True) -> Path:
    """Execute the study notebook with ``parameters``; return the finished run folder."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = notebook_path(study)
    model = str(parameters.get("model") or parameters.get("arch") or DEFAULT_MODEL.get(study, "model"))
    final = study_dir(study) / run_name(model)
    stage = staging_dir(final)
    executed = stage / f"{study}.ipynb"
    set_status(stage, "running", study=study, model=model)
    os.environ["WORKBENCH_BATCH"] = "1"
    try:
        papermill.execute_notebook(
            str(source), str(executed), parameters={**parameters, "output_dir": str(stage)},
            kernel_name="python3", cwd=str(Path.cwd()), progress_bar=progress,
        )
        notebook_to_html(executed, stage / f"{study}.html")
    except PapermillExecutionError as exc:
        failed = _keep_failed(stage, final, executed, f"{exc.ename}: {exc.evalue}")
        message = f"{exc.ename}: {exc.evalue}\nthe executed notebook with the failing cell is in {failed}"
        raise RunFailedError(message) from None
    except BaseException as exc:
        if executed.is_file():
            _keep_failed(stage, final, executed, f"{type(exc).__name__}: {exc}")
        else:
            shutil.rmtree(stage, ignore_errors=True)
        raise
    set_status(stage, "complete", study=study, model=model)
    os.replace(stage, final)
    return final


def _keep_failed(stage: Path, final: Path, executed: Path, message: str) -> Path:
    """Move a failed run to ``<final>_failed`` with its executed notebook, a best-effort HTML
    report of it, and ``status.json`` saying failed."""
    try:
        notebook_to_html(executed, executed.with_suffix(".html"))
    except Exception as exc:  # the notebook itself is the record of the failure
        message += f" (HTML report not written: {exc})"
    set_status(stage, "failed", error=message)
    failed = final.with_name(final.name + "_failed")
    os.replace(stage, failed)
    return failed
