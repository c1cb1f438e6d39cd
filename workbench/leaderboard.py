"""The leaderboard across studies: one table per study of every completed run in ``outputs/``.

A run folder ``outputs/<study>/<name>/`` is listed when its ``status.json`` says ``complete`` and its
``config.yaml`` and ``metrics.json`` can be read; every other folder under a study (hidden staging
folders ``.<name>.XXXX.partial``, ``<name>_failed`` folders, runs still running, failed or interrupted,
missing or malformed files) is skipped and recorded with the reason. Top-level folders that are not
studies (``outputs/data/`` with generated data, ``outputs/leaderboard/`` with exports) are not scanned.

Each study's table has the columns ``run`` (folder name), ``model``, the study's key parameters, its
headline test metrics (units in the column names), ``wall time (s)`` (``wall_time_s`` from
``status.json``, else the sum of ``epoch_time_s`` over ``history.csv``, else empty), ``device`` (where it
ran: device, CPU model and instruction sets or GPU, threads, precision, torch version), ``date`` (the run's
start, ``YYYY-mm-dd HH:MM:SS``) and ``report`` (the HTML report's path relative to the outputs folder,
empty when absent). Rows are sorted best first on the study's headline metric, runs without it last,
ties newest first; each study declares its columns and headline
(:class:`~workbench.studies.declaration.LeaderboardColumns`).
"""

from __future__ import annotations

import html
import json
import math
import numbers
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from workbench.engine.machine import run_device
from workbench.errors import ConfigError, DataFormatError, WorkbenchError
from workbench.run_folders import write_text_atomic
from workbench.settings import outputs_dir

Row = dict[str, Any]
"""One table row: column name -> value."""


@dataclass(frozen=True)
class Skipped:
    """A folder under a study that is not on the leaderboard, and why."""

    path: Path
    reason: str


@dataclass
class Leaderboard:
    """The scanned tables (study -> DataFrame, only studies with at least one completed run), the
    skipped folders, and the outputs folder the ``report`` paths are relative to."""

    root: Path
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)

    def to_csv(self, folder: str | Path) -> list[Path]:
        """Write ``<folder>/<study>.csv`` per study (atomically); return the paths."""
        folder = Path(folder)
        return [write_text_atomic(folder / f"{study}.csv", table.to_csv(index=False))
                for study, table in self.tables.items()]

    def to_html(self, path: str | Path) -> Path:
        """Write one self-contained HTML page: a click-to-sort table per study (inline script, no
        network), report links relative to the page's folder, and the list of skipped folders."""
        path = Path(path)
        base = path.resolve().parent
        sections = [f"<h2>{html.escape(study)} ({len(table)} runs)</h2>\n{table_html(table, self.root, base)}"
                    for study, table in self.tables.items()]
        if not sections:
            sections.append("<p>No completed runs.</p>")
        page = PAGE.format(root=html.escape(str(self.root)), when=datetime.now().strftime("%Y-%m-%d %H:%M"),
                           sections="\n".join(sections), skipped=skipped_html(self.skipped))
        return write_text_atomic(path, page)

    def sorted_by(self, column: str, descending: bool = False) -> Leaderboard:
        """A copy with every table that has ``column`` sorted on it (see :func:`sort_table`); tables
        without it keep their order."""
        tables = {s: sort_table(t, column, descending) if column in t.columns else t for s, t in self.tables.items()}
        return Leaderboard(self.root, tables, list(self.skipped))

    def to_json(self) -> dict[str, Any]:
        """``{"outputs": folder, "studies": {study: [row, ...]}, "skipped": [{"path", "reason"}]}``;
        missing values are ``null``."""
        return {"outputs": str(self.root),
                "studies": {s: json.loads(t.to_json(orient="records", double_precision=15))
                            for s, t in self.tables.items()},
                "skipped": [{"path": str(s.path), "reason": s.reason} for s in self.skipped]}

    def to_text(self) -> str:
        """Every table as plain text, then the skipped count with each reason."""
        parts = []
        with pd.option_context("display.width", 250, "display.max_columns", None, "display.precision", 3):
            for study, table in self.tables.items():
                parts.append(f"{study} ({len(table)} runs)\n{table.to_string(index=False)}\n")
        if not self.tables:
            parts.append(f"no completed runs under {self.root}\n")
        parts.append(f"skipped: {len(self.skipped)} folders")
        parts.extend(f"  {s.path}: {s.reason}" for s in self.skipped)
        return "\n".join(parts)


def section(mapping: dict, key: str, path: Path) -> dict:
    value = mapping.get(key)
    if not isinstance(value, dict):
        raise DataFormatError(path, f"no {key!r} mapping")
    return value


def number(mapping: dict, key: str, path: Path) -> float:
    value = mapping.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataFormatError(path, f"{key!r} is missing or not a number")
    return float(value)


def dataset_label(data_dir: Any) -> str:
    """``generated`` for an empty data folder, else its last two path components."""
    return "/".join(Path(str(data_dir)).parts[-2:]) if data_dir else "generated"


def split_results(metrics: dict, model: str, splits: tuple[str, ...], path: Path) -> tuple[str, dict]:
    """The first split in ``splits`` with results for ``model`` under ``metrics["splits"]``."""
    by_split = section(metrics, "splits", path)
    for split in splits:
        results = by_split.get(split)
        if isinstance(results, dict) and isinstance(results.get(model), dict):
            return split, results[model]
    raise DataFormatError(path, f"no results of model {model!r} in splits {', '.join(splits)}")


def study_columns() -> dict[str, Any]:
    """Every declared study's :class:`~workbench.studies.declaration.LeaderboardColumns` by study name."""
    from workbench.studies import declared

    return {study.name: study.leaderboard for study in declared().values()}


def __getattr__(name: str) -> Any:
    """``STUDIES``: :func:`study_columns`, read from the study declarations when asked for."""
    if name == "STUDIES":
        return study_columns()
    raise AttributeError(name)



def read_mapping(path: Path, kind: str) -> dict:
    """The mapping in a ``json`` or ``yaml`` file; :class:`DataFormatError` naming the file otherwise."""
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    try:
        text = path.read_text(encoding="utf-8")
        value = json.loads(text) if kind == "json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise DataFormatError(path, f"malformed {kind.upper()} ({exc})") from None
    if not isinstance(value, dict):
        raise DataFormatError(path, f"expected a {'JSON object' if kind == 'json' else 'YAML mapping'}")
    return value


def wall_time_s(folder: Path, status: dict) -> float:
    """``status["wall_time_s"]`` (s), else the sum of the ``epoch_time_s`` column of ``history.csv``
    (s, training time only), else NaN (also for an unreadable history)."""
    value = status.get("wall_time_s")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        history = pd.read_csv(folder / "history.csv")
        return float(pd.to_numeric(history["epoch_time_s"], errors="raise").sum())
    except (OSError, ValueError, KeyError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return math.nan


def run_date(folder: Path, status: dict) -> str:
    """When the run started: ``status["started"]``, else the ``YYYYmmdd-HHMMSS`` prefix of the folder
    name, else ``status["time"]`` (finish); formatted ``YYYY-mm-dd HH:MM:SS``, empty if none parses."""
    candidates = [(status.get("started"), None), (folder.name[:15], "%Y%m%d-%H%M%S"), (status.get("time"), None)]
    for text, form in candidates:
        try:
            when = datetime.strptime(text, form) if form else datetime.fromisoformat(str(text))
        except (TypeError, ValueError):
            continue
        return when.strftime("%Y-%m-%d %H:%M:%S")
    return ""


def _status_reason(folder: Path) -> tuple[dict, str]:
    """``status.json`` and the reason the run is skipped ("" for a complete run)."""
    status = read_mapping(folder / "status.json", "json")
    state = status.get("status")
    if state == "complete":
        return status, ""
    error = str(status.get("error", "")).strip().splitlines()
    return status, f"status {state!r}" + (f" ({error[0]})" if error else "")


def run_row(study: str, folder: Path, root: Path) -> Row:
    """The leaderboard row of one complete run folder; raises :class:`WorkbenchError` (skip reason) for a
    run that is not complete or whose files are missing or malformed."""
    status, reason = _status_reason(folder)
    if reason:
        raise WorkbenchError(reason)
    config = read_mapping(folder / "config.yaml", "yaml")
    metrics = read_mapping(folder / "metrics.json", "json")
    report = folder / f"{study}.html"
    return {"run": folder.name, **study_columns()[study].row(config, metrics, folder / "metrics.json"),
            "wall time (s)": wall_time_s(folder, status), "device": run_device(metrics),
            "date": run_date(folder, status),
            "report": report.relative_to(root).as_posix() if report.is_file() else ""}


def sort_table(table: pd.DataFrame, column: str, descending: bool) -> pd.DataFrame:
    """Rows sorted on ``column`` (missing values last; a column mixing numbers and text is compared as
    text), ties newest first; index reset."""
    if column not in table.columns:
        raise ConfigError(f"no column {column!r} to sort on; columns: {', '.join(map(str, table.columns))}")
    by_date = table.sort_values("date", ascending=False, kind="stable")
    options = {"ascending": not descending, "kind": "stable", "na_position": "last"}
    try:
        ordered = by_date.sort_values(column, **options)
    except TypeError:
        ordered = by_date.sort_values(column, key=lambda values: values.map(str), **options)
    return ordered.reset_index(drop=True)


def _staging_state(folder: Path) -> str:
    """What a staging folder's ``status.json`` says, for the skip reason."""
    try:
        return _status_reason(folder)[1] or "status 'complete' but not yet renamed into place"
    except WorkbenchError:
        return "no readable status.json"


def _scan_study(study: str, folder: Path, root: Path, board: Leaderboard) -> None:
    rows = []
    for entry in sorted(folder.iterdir()):
        if not entry.is_dir():
            continue
        if entry.name.startswith("."):
            if entry.name.endswith(".partial"):
                board.skipped.append(Skipped(entry, f"staging folder, {_staging_state(entry)}"))
            continue
        try:
            rows.append(run_row(study, entry, root))
        except WorkbenchError as exc:
            reason = str(exc).replace(f"{entry}{os.sep}", "")
            if entry.name.endswith("_failed") and "failed" not in reason:
                reason = f"failed run folder; {reason}"
            board.skipped.append(Skipped(entry, reason))
    if rows:
        spec = study_columns()[study]
        board.tables[study] = sort_table(pd.DataFrame(rows), spec.headline, spec.higher_is_better)


def scan(outputs: str | Path | None = None, study: str | None = None) -> Leaderboard:
    """The leaderboard of ``outputs`` (default :func:`workbench.settings.outputs_dir`), optionally of one
    study only; raises :class:`ConfigError` for a missing folder or an unknown study."""
    root = Path(outputs).expanduser().resolve() if outputs else outputs_dir()
    if not root.is_dir():
        raise ConfigError(f"{root}: outputs folder not found")
    studies = study_columns()
    if study and study not in studies:
        raise ConfigError(f"unknown study {study!r}; studies: {', '.join(studies)}")
    board = Leaderboard(root)
    for name in [study] if study else list(studies):
        if (root / name).is_dir():
            _scan_study(name, root / name, root, board)
    return board


def _cell(value: Any) -> tuple[str, str]:
    """(shown text, sort key attribute) of one value: numbers sorted by value, floats shown to 4 significant
    digits; booleans and text sorted as text; missing values (None, NaN) empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "", ""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(value), f' data-value="{int(value)}"'
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f"{float(value):.4g}", f' data-value="{json.dumps(float(value))}"'
    return html.escape(str(value)), ""


def table_html(table: pd.DataFrame, root: Path, link_base: Path) -> str:
    """One study's table as an HTML fragment sortable by clicking a header (numbers by value, empty cells
    last), with the ``report`` column as links relative to ``link_base``; carries its own small script."""
    head = "".join(f'<th onclick="wbSortTable(this)" title="click to sort">{html.escape(str(c))}</th>'
                   for c in table.columns)
    body = []
    for record in table.to_dict(orient="records"):
        cells = []
        for column, value in record.items():
            if column == "report" and value:
                href = Path(os.path.relpath(root / value, link_base)).as_posix()
                cells.append(f'<td><a href="{html.escape(href)}">report</a></td>')
            else:
                text, key = _cell(value)
                cells.append(f"<td{key}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"{SORT_SCRIPT}\n<table class=\"wb-leaderboard\"><thead><tr>{head}</tr></thead>\n<tbody>\n"
            + "\n".join(body) + "\n</tbody></table>")


def skipped_html(skipped: list[Skipped]) -> str:
    """The skipped folders as an HTML list with a count."""
    items = "".join(f"<li><code>{html.escape(str(s.path))}</code>: {html.escape(s.reason)}</li>" for s in skipped)
    return f"<h2>Skipped folders ({len(skipped)})</h2>\n<ul>{items}</ul>"


SORT_SCRIPT = """<script>
window.wbSortTable = window.wbSortTable || function (th) {
  const row = th.parentNode, body = th.closest("table").tBodies[0];
  const col = Array.prototype.indexOf.call(row.children, th);
  const ascending = th.dataset.order !== "asc";
  for (const h of row.children) { delete h.dataset.order; }
  th.dataset.order = ascending ? "asc" : "desc";
  const key = (tr) => { const td = tr.children[col];
    return td.dataset.value !== undefined ? parseFloat(td.dataset.value) : td.textContent; };
  const rows = Array.from(body.rows);
  rows.sort((a, b) => { const x = key(a), y = key(b);
    if (x === "" || y === "") { return (x === "") - (y === ""); }
    const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return ascending ? c : -c; });
  for (const tr of rows) { body.appendChild(tr); }
};
</script>
<style>
table.wb-leaderboard { border-collapse: collapse; font: 13px sans-serif; margin-bottom: 1em; }
table.wb-leaderboard th, table.wb-leaderboard td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
table.wb-leaderboard td:not([data-value]) { text-align: left; }
table.wb-leaderboard th { background: #eee; cursor: pointer; }
table.wb-leaderboard th[data-order=asc]::after { content: " \\25B2"; }
table.wb-leaderboard th[data-order=desc]::after { content: " \\25BC"; }
</style>"""
"""Click-to-sort for every ``wb-leaderboard`` table (defined once per page) and the tables' style."""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>workbench leaderboard</title></head>
<body style="font-family: sans-serif">
<h1>Leaderboard</h1>
<p>Completed runs under <code>{root}</code>, written {when}. Click a column header to sort.</p>
{sections}
{skipped}
</body></html>
"""
"""The exported page; ``{sections}`` holds one heading and table per study."""
