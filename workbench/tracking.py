"""Completed runs logged to MLflow (the optional extra: ``pip install -e ".[mlflow]"``).

``workbench run ... --mlflow URI`` (or ``MLFLOW_TRACKING_URI`` set) logs every completed run after its
folder is in place; ``workbench track FOLDER ... --mlflow URI`` logs runs made earlier. The notebooks
know nothing of it: :func:`log_run` reads the run folder. One MLflow run per run folder, in the
experiment ``workbench/<study>``, holds:

- parameters: ``config.yaml`` (nested mappings flattened with dots);
- per-epoch metrics from ``history.csv`` with the epoch as step;
- final metrics: every number of ``metrics.json`` (keys joined with ``/``), the summary's headline
  columns for the run's own model (``<split>/<column>``) and ``wall_time_s``;
- artifacts: the HTML report, ``metrics.json``, ``history.csv`` and ``config.yaml``;
- tags: ``workbench.study``, ``workbench.model``, ``workbench.run_folder``, ``workbench.device``.

Runs that train several models get nested runs: one per stream of the skeleton study (its rows of
``history.csv`` and its test scores), per model of the pretraining sweep and per input set of the hand
forecasting ablation (their final metrics). Metric names keep their units in words
(``VIM@900 ms (cm)`` -> ``VIM at 900 ms cm``), as MLflow allows few characters.

A URI with a scheme (``http://``, ``sqlite:///``, ``file:``...) is used as given; a plain path is an
embedded SQLite store: ``PATH`` itself when it ends in ``.db``, else ``PATH/mlflow.db``, with artifacts
beside it in ``mlartifacts/``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench.errors import TrackingError
from workbench.run_folders import read_status
from workbench.summary import build_summary

INSTALL_HINT = 'MLflow tracking needs the optional extra: pip install -e ".[mlflow]"'
EXPERIMENT_PREFIX = "workbench/"
"""Experiments are named ``workbench/<study>``."""

QUIET_ENV = "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"

MAX_PARAM_LENGTH = 6000
"""MLflow's longest parameter value (characters)."""


def require_mlflow() -> None:
    """Raise :class:`TrackingError` saying how to install the extra when MLflow is not installed."""
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise TrackingError(INSTALL_HINT) from None


def tracking_uri(value: str | None) -> str | None:
    """The tracking URI for ``--mlflow value``, else ``$MLFLOW_TRACKING_URI``, else None (no tracking):
    a plain path becomes a SQLite store (see the module text)."""
    value = value or os.environ.get("MLFLOW_TRACKING_URI") or None
    if value is None or re.match(r"^[A-Za-z][\w+.-]*:", value) or value == "databricks":
        return value
    path = Path(value).expanduser().resolve()
    database = path if path.suffix == ".db" else path / "mlflow.db"
    return f"sqlite:///{database}"


def metric_key(name: str) -> str:
    """``name`` as an MLflow metric or parameter name, in the characters MLflow allows: units in
    parentheses kept as words, ``%`` as ``pct``, ``@`` as ``at``, anything else not allowed as ``_``."""
    name = re.sub(r"\s*\(([^)]*)\)", r" \1", name).replace("%", "pct").replace("@", " at ")
    name = re.sub(r"[^/\w.\- :]", "_", name)
    return re.sub(r" {2,}", " ", name).strip()


def flatten(mapping: dict[str, Any], prefix: str = "", separator: str = "/") -> Iterator[tuple[str, Any]]:
    """(joined key, leaf) for every leaf of nested mappings (lists are leaves); a ``/`` inside a key (a file
    path used as a key) becomes ``_``, since MLflow reads ``/`` as a path separator."""
    for key, value in mapping.items():
        part = str(key).replace("/", "_") or "_"
        name = f"{prefix}{separator}{part}" if prefix else part
        if isinstance(value, dict) and value:
            yield from flatten(value, name, separator)
        else:
            yield name, value


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class RunRecord:
    """What one MLflow run (parent or nested) gets: parameters, per-epoch metrics (name -> [(step,
    value)]), final metrics, tags, and nested runs."""

    name: str
    params: dict[str, str] = field(default_factory=dict)
    history: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    children: list[RunRecord] = field(default_factory=list)


def read_history(path: Path) -> list[dict[str, str]]:
    """The rows of ``history.csv`` (empty when absent)."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def history_series(rows: list[dict[str, str]]) -> dict[str, list[tuple[int, float]]]:
    """Per numeric column except ``epoch``: (epoch, value) of every row that has a number there."""
    series: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        try:
            epoch = int(float(row["epoch"]))
        except (KeyError, TypeError, ValueError):
            continue
        for key, text in row.items():
            try:
                value = float(text)
            except (TypeError, ValueError):
                continue
            if key != "epoch" and math.isfinite(value):
                series.setdefault(metric_key(key), []).append((epoch, value))
    return series


def _numbers(row: dict[str, Any]) -> dict[str, float]:
    return {metric_key(k): float(v) for k, v in row.items() if is_number(v)}


def _params(row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, str]:
    return {k: str(row[k]) for k in keys if k in row}


def _children(study: str, metrics: dict[str, Any], history: list[dict[str, str]]) -> list[RunRecord]:
    """The nested runs of a run that trained several models."""
    children = []
    if history and "stream" in history[0]:
        singles = {str(r.get("model", "")).split(" ")[0]: r for r in metrics.get("rows", [])
                   if isinstance(r, dict) and r.get("fusion") == "single"}
        for stream in dict.fromkeys(row["stream"] for row in history):
            single = singles.get(stream, {})
            children.append(RunRecord(f"stream {stream}", params={"stream": stream},
                                      history=history_series([r for r in history if r["stream"] == stream]),
                                      metrics=_numbers(single), tags={"workbench.stream": stream}))
    for row in metrics.get("sweep", []) if study == "pretrain" else []:
        params = _params(row, ("model", "experiment", "shift_scalar"))
        name = f"sweep {params.get('model')}, experiment {params.get('experiment')}, shift {params.get('shift_scalar')}"
        children.append(RunRecord(name, params=params, metrics=_numbers(row)))
    for row in metrics.get("ablation", []) if study == "hand_forecasting" else []:
        params = _params(row, ("inputs", "model"))
        name = f"ablation {params.get('inputs')} ({params.get('model')})"
        children.append(RunRecord(name, params=params, metrics=_numbers(row)))
    return children


def describe_run(folder: str | Path) -> tuple[RunRecord, list[Path], dict[str, Any]]:
    """(the MLflow record, the artifact files, status.json) of a completed run folder; raises
    :class:`TrackingError` for a folder that is not a completed run."""
    folder = Path(folder).resolve()
    status = read_status(folder)
    if status.get("status") != "complete":
        raise TrackingError(f"{folder}: not a completed run (status.json says {status.get('status', 'nothing')})")
    study = str(status.get("study") or folder.parent.name)
    try:
        config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8")) or {}
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise TrackingError(f"{folder}: cannot read config.yaml or metrics.json ({exc})") from None
    history = read_history(folder / "history.csv")
    model = str(status.get("model") or metrics.get("model") or metrics.get("arch") or "")
    record = RunRecord(folder.name)
    record.params = {metric_key(key): json.dumps(value) if isinstance(value, list) else str(value)
                     for key, value in flatten(config, separator=".")}
    # a skeleton run's history interleaves its streams: their epochs go to the nested runs
    record.history = history_series(history) if not (history and "stream" in history[0]) else {}
    record.metrics = {metric_key(k): float(v) for k, v in flatten(metrics) if is_number(v)}
    summary = build_summary(folder, study, "complete")
    if summary.headline is not None:
        h = summary.headline
        for column, value in zip(h.columns, h.rows.get(h.model, []), strict=True):
            if is_number(value):
                record.metrics[metric_key(f"{h.split}/{column}")] = float(value)
    if is_number(status.get("wall_time_s")):
        record.metrics["wall_time_s"] = float(status["wall_time_s"])
    record.tags = {"workbench.study": study, "workbench.model": model, "workbench.run_folder": str(folder),
                   "workbench.device": str(metrics.get("device", ""))}
    record.children = _children(study, metrics, history)
    artifacts = [folder / name for name in (f"{study}.html", "metrics.json", "history.csv", "config.yaml")
                 if (folder / name).is_file()]
    return record, artifacts, status


@dataclass(frozen=True)
class Logged:
    """A run logged to MLflow: its experiment and run ids, and the run's page when the store is a server."""

    experiment_id: str
    run_id: str
    url: str


def log_run(folder: str | Path, uri: str) -> Logged:
    """Log the completed run in ``folder`` to the MLflow tracking store at ``uri`` (see the module text).
    Raises :class:`TrackingError` when MLflow is missing or logging fails."""
    require_mlflow()
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    record, artifacts, status = describe_run(folder)
    started = _epoch_ms(status.get("started"))
    ended = started + int(1000 * float(status.get("wall_time_s") or 0))
    quiet = os.environ.get(QUIET_ENV)
    os.environ[QUIET_ENV] = "true"  # MLflow would print two links per run, nested ones included
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        client = MlflowClient(tracking_uri=uri)
        experiment = _experiment(client, EXPERIMENT_PREFIX + record.tags["workbench.study"], uri)
        run_id = _log(client, experiment, record, started, ended, artifacts)
        for child in record.children:
            _log(client, experiment, child, started, ended, [], {**record.tags, "mlflow.parentRunId": run_id})
    except (MlflowException, OSError) as exc:
        raise TrackingError(f"logging {record.tags['workbench.run_folder']} to MLflow at {uri} failed: {exc}") from None
    finally:
        if quiet is None:
            os.environ.pop(QUIET_ENV, None)
        else:
            os.environ[QUIET_ENV] = quiet
    url = f"{uri.rstrip('/')}/#/experiments/{experiment}/runs/{run_id}" if uri.startswith(("http:", "https:")) else ""
    return Logged(experiment, run_id, url)


def _epoch_ms(started: Any) -> int:
    """``status.json``'s local start time in ms since the epoch (now when missing)."""
    try:
        return int(1000 * time.mktime(time.strptime(str(started), "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return int(1000 * time.time())


def _experiment(client: Any, name: str, uri: str) -> str:
    """The id of experiment ``name``, created when missing (in an embedded SQLite store with its
    artifacts in ``mlartifacts/`` beside the database, not in the working folder)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        location = (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").as_uri()
    return client.create_experiment(name, artifact_location=location)


def _log(client: Any, experiment: str, record: RunRecord, started: int, ended: int, artifacts: list[Path],
         tags: dict[str, str] | None = None) -> str:
    """One MLflow run from ``record``; returns its id."""
    from mlflow.entities import Metric, Param

    run = client.create_run(experiment, start_time=started, run_name=record.name,
                            tags={**(tags or {}), **record.tags})
    run_id = run.info.run_id
    params = [Param(k, v[:MAX_PARAM_LENGTH]) for k, v in record.params.items()]
    metrics = [Metric(k, v, ended, 0) for k, v in record.metrics.items()]
    metrics += [Metric(k, v, started, step) for k, points in record.history.items() for step, v in points]
    for start in range(0, len(params), 100):  # MLflow's batch limits: 100 parameters, 1000 metrics
        client.log_batch(run_id, params=params[start:start + 100])
    for start in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[start:start + 1000])
    for path in artifacts:
        client.log_artifact(run_id, str(path))
    client.set_terminated(run_id, "FINISHED", end_time=ended)
    return run_id
