"""Run folders and their files: every file is written atomically, and a run
folder only appears under its final name once it is complete.

A run of study S with model M lives in ``outputs/S/<timestamp>_M/`` and holds
the executed notebook, the HTML report, ``metrics.json``, ``history.csv``,
``checkpoint.pt``, ``config.yaml`` and ``status.json`` (running / failed / complete).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from workbench.settings import outputs_dir

SHARED_FILE_MODE = 0o644
"""Run files are readable by everyone (``mkstemp`` would leave them owner-only)."""


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, SHARED_FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, payload: Any, sort_keys: bool = True) -> Path:
    """Atomically write ``payload`` as indented JSON."""
    return write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=sort_keys) + "\n")


def write_yaml(path: str | Path, payload: Any) -> Path:
    """Atomically write ``payload`` as YAML."""
    return write_text_atomic(path, yaml.safe_dump(payload, sort_keys=True))


def write_history_csv(path: str | Path, history: list[dict]) -> Path:
    """Atomically write the training history, one row per epoch (columns: union of keys)."""
    columns: list[str] = []
    for row in history:
        columns.extend(k for k in row if k not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns or ["epoch"])
    writer.writeheader()
    writer.writerows(history)
    return write_text_atomic(path, buffer.getvalue())


def timestamp() -> str:
    """The current local time as ``YYYYmmdd-HHMMSS``."""
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def run_name(model: str, when: str | None = None) -> str:
    """``<timestamp>_<model>``."""
    return f"{when or timestamp()}_{model}"


def study_dir(study: str) -> Path:
    """``outputs/<study>``."""
    return outputs_dir() / study


def run_folder(study: str, model: str, output_dir: str | Path = "") -> Path:
    """Where a run writes its files: ``output_dir`` when given (``workbench run`` passes its staging
    folder), else a new ``outputs/<study>/<time>_<model>``; created if missing."""
    folder = Path(output_dir) if output_dir else study_dir(study) / run_name(model)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def reserve_run_folder(study: str, name: str) -> Path:
    """``outputs/<study>/<name>``, or ``<name>-2``, ``<name>-3``, ... when a run already has (or is
    writing) that name, e.g. two runs of the same model started in the same second. The name is
    reserved atomically by a hidden marker ``.<name>.reserved`` (created with O_EXCL), removed by
    :func:`release_run_name` once the run folder is in place."""
    parent = study_dir(study)
    parent.mkdir(parents=True, exist_ok=True)
    for n in itertools.count(1):
        candidate = name if n == 1 else f"{name}-{n}"
        if (parent / candidate).exists():
            continue
        try:
            os.close(os.open(parent / f".{candidate}.reserved", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            continue
        return parent / candidate
    raise AssertionError("unreachable")


def release_run_name(final: Path) -> None:
    """Remove the reservation marker of :func:`reserve_run_folder` for ``final``."""
    (final.parent / f".{final.name}.reserved").unlink(missing_ok=True)


def staging_dir(final: Path) -> Path:
    """A hidden folder beside ``final`` where a run is written before it is renamed into place."""
    final.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".partial"))
    folder.chmod(0o755)  # readable like its files (mkdtemp makes it owner-only)
    return folder


def read_status(run_dir: Path) -> dict[str, Any]:
    """The run's ``status.json`` as a dict (empty when missing or unreadable)."""
    try:
        status = json.loads((Path(run_dir) / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return status if isinstance(status, dict) else {}


def set_status(run_dir: Path, status: str, **details: Any) -> None:
    """Write ``status.json`` = {"status": running|interrupted|failed|complete, "time": now, ...details}
    (keys in the given order: a resumed run must see its parameters, e.g. per-split sizes, as given)."""
    now = datetime.now().isoformat(timespec="seconds")
    write_json(run_dir / "status.json", {"status": status, "time": now, **details}, sort_keys=False)


LEFTOVER_PATTERNS = ("*.prev.pt", ".*.lock", ".progress.jsonl", ".stop")
"""Files a run needs only while it runs: the checkpoints' backups (``checkpoint.prev.pt``,
``train_<stream>.prev.pt``), training locks, the progress file and the stop file."""


def tidy_run_folder(folder: Path) -> list[Path]:
    """Remove :data:`LEFTOVER_PATTERNS` from a run folder that is complete; return what was removed."""
    removed = [path for pattern in LEFTOVER_PATTERNS for path in Path(folder).glob(pattern) if path.is_file()]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed
