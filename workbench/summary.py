"""The summary every report opens with.

A study notebook has one cell tagged ``summary`` near the top. It shows a note until the run is over; then
``workbench run`` replaces its output in the executed notebook, and a run kept by the kernel itself
(papermill, JupyterLab: :mod:`workbench.notebook_run`) updates the note in place, with the summary of
:func:`build_summary`: the study, the headline result against the baselines (one sentence and a
small table), data source and size, model, device, wall time, start time and the run folder, read
from the run's ``metrics.json``, ``config.yaml`` and ``status.json``. Numbers are rounded
(:func:`fmt`) and carry their units.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench.engine.machine import run_device

SUMMARY_TAG = "summary"
"""The tag of the notebook cell that holds the summary."""

SUMMARY_DISPLAY_ID = "workbench-run-summary"
"""The display id of the placeholder, so that a run the kernel completes can put its summary there."""

TITLES = {
    "decoupled_3dpw": "3DPW decoupled pose forecasting (DeRPoF)",
    "pretrain": "Heatmap-denoising pretraining",
    "hand_forecasting": "Hand forecasting",
    "skeleton_ensembles": "Skeleton action recognition with multi-stream ensembles",
}
"""Each study's title in summaries."""

RUN_FILES = ("metrics.json", "history.csv", "config.yaml", "checkpoint.pt")
"""Files of a run folder the summary links to (when present)."""


def rounded(value: Any, unit: str = "") -> str:
    """``value`` rounded for reading (``unit`` only chooses the precision): percentages and values of
    100 and more to 0.1, values of 1 and more to 0.01, smaller ones to 3 significant digits; integers
    with thousands separators; ``-`` for missing or NaN."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if unit == "%" or abs(value) >= 100:
        return f"{value:,.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}" if abs(value) >= 0.1 or value == 0 else f"{value:.3g}"


def fmt(value: Any, unit: str = "") -> str:
    """:func:`rounded` ``value`` followed by its ``unit`` (``-`` alone when missing)."""
    text = rounded(value, unit)
    return f"{text} {unit}" if unit and text != "-" else text


def duration(seconds: Any) -> str:
    """``12.3 s``, ``4 min 05 s`` or ``1 h 02 min``; ``-`` when unknown."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not math.isfinite(seconds):
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass
class Headline:
    """The headline comparison: ``columns`` (name with unit) of metrics for each row (model name ->
    values), ``model`` the run's own row, compared in the sentence on the first column with the
    ``baselines`` rows (default: every other row)."""

    split: str
    higher_is_better: bool
    columns: list[str]
    rows: dict[str, list[Any]]
    model: str
    baselines: list[str] | None = None

    def sentence(self) -> str:
        """``<model> on <split>: <metric> <value>, better than A (x), equal to B (y) and worse than C (z)``."""
        name, unit = _split_unit(self.columns[0])
        own = self.rows[self.model][0]
        text = f"{self.model} on {self.split}: {name} {fmt(own, unit)}"
        groups: dict[str, list[str]] = {"better than": [], "equal to": [], "worse than": []}
        for other in self.baselines if self.baselines is not None else self.rows:
            value = self.rows[other][0]
            if other == self.model or not isinstance(value, int | float) or not isinstance(own, int | float):
                continue
            if rounded(own, unit) == rounded(value, unit):
                group = "equal to"
            else:
                group = "better than" if (own > value) == self.higher_is_better else "worse than"
            groups[group].append(f"{other.replace('_', ' ')} ({fmt(value, unit)})")
        clauses = [f"{group} {_join(items)}" for group, items in groups.items() if items]
        return text + (", " + "; ".join(clauses) if clauses else "")


@dataclass
class Summary:
    """A run's summary: ``facts`` are (label, text) rows in reading order, ``files`` the run files it links to
    (relative to the run folder, where the report is)."""

    study: str
    status: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    headline: Headline | None = None
    folder: Path | None = None
    files: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        """Plain text: one ``label: text`` line per fact, then the headline table."""
        lines = [f"Run summary: {TITLES.get(self.study, self.study)} ({self.status})"]
        lines += [f"{label}: {text}" for label, text in self.facts]
        if self.headline is not None:
            h = self.headline
            width = max(len(name) for name in h.rows)
            lines.append(f"{'':<{width}}  " + "  ".join(h.columns))
            for name, values in h.rows.items():
                cells = [f"{rounded(v, _split_unit(c)[1]):>{len(c)}}" for v, c in zip(values, h.columns, strict=True)]
                lines.append(f"{name:<{width}}  " + "  ".join(cells))
        return "\n".join(lines)

    def to_html(self) -> str:
        """A self-contained HTML block (inline style, no script, links relative to the run folder)."""
        title = html.escape(TITLES.get(self.study, self.study))
        rows = "".join(_fact_row(label, html.escape(text)) for label, text in self.facts)
        if self.files:
            links = " · ".join(f'<a href="{html.escape(n)}">{html.escape(n)}</a>' for n in self.files)
            rows += _fact_row("Files", links)
        table = self._headline_html() if self.headline is not None else ""
        state = "" if self.status == "complete" else f" <span style='color:#b00020'>({html.escape(self.status)})</span>"
        return (f'<div class="workbench-summary" style="{BOX_STYLE}">'
                f'<div style="font-size:1.15em;font-weight:600;margin-bottom:0.4em">Run summary: {title}{state}</div>'
                f'<table style="border-collapse:collapse">{rows}</table>{table}</div>')

    def _headline_html(self) -> str:
        h = self.headline
        head = "".join(f"<th style='text-align:right;padding:0 0.8em'>{html.escape(c)}</th>" for c in h.columns)
        body = []
        for name, values in h.rows.items():
            weight = "font-weight:600;" if name == h.model else ""
            cells = "".join(f"<td style='text-align:right;padding:0 0.8em'>{rounded(v, _split_unit(c)[1])}</td>"
                            for v, c in zip(values, h.columns, strict=True))
            name_cell = f"<td style='{CELL_STYLE}'>{html.escape(name)}</td>"
            body.append(f"<tr style='{ROW_STYLE}{weight}'>{name_cell}{cells}</tr>")
        return (f"<div style='margin-top:0.6em'>Results on the {html.escape(h.split)} split "
                f"({'higher' if h.higher_is_better else 'lower'} is better; the run's model in bold):</div>"
                f"<table style='border-collapse:collapse;margin-top:0.2em'><tr style='{ROW_STYLE}'><th></th>{head}</tr>"
                f"{''.join(body)}</table>")


BOX_STYLE = ("border:1px solid #c8d1dc;border-left:4px solid #2b6cb0;background:#f7f9fc;padding:0.8em 1em;"
             "margin:0.4em 0;font-family:system-ui,sans-serif;line-height:1.45")
ROW_STYLE = "background:transparent;"
LABEL_STYLE = "text-align:left;vertical-align:top;white-space:nowrap;padding:0.1em 1em 0.1em 0;font-weight:600"
CELL_STYLE = "text-align:left;padding:0.1em 0"
"""Inline styles: the report's own table style (right-aligned, striped) would misalign the summary."""


def _fact_row(label: str, value_html: str) -> str:
    return (f"<tr style='{ROW_STYLE}'><th style='{LABEL_STYLE}'>{html.escape(label)}</th>"
            f"<td style='{CELL_STYLE}'>{value_html}</td></tr>")


def placeholder_html() -> str:
    """What the summary cell shows until the run completes."""
    return (f'<div class="workbench-summary" style="{BOX_STYLE}">Run summary: written here when the run '
            "completes (study, data, model, the headline result against the baselines, device, wall time and "
            "run folder). Until then the results are in the tables below as they are computed.</div>")


def show_placeholder() -> None:
    """Display :func:`placeholder_html` (the summary cell's code)."""
    from IPython.display import HTML, display

    display(HTML(placeholder_html()), display_id=SUMMARY_DISPLAY_ID)


def _split_unit(column: str) -> tuple[str, str]:
    """``"ADE (m)"`` -> ``("ADE", "m")``; no unit -> ``(column, "")``."""
    if column.endswith(")") and " (" in column:
        name, unit = column[:-1].rsplit(" (", 1)
        return name, unit
    return column, ""


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _read(path: Path, kind: str) -> dict:
    """The mapping in a JSON or YAML file; empty when missing or unreadable (the summary then says so)."""
    try:
        text = path.read_text(encoding="utf-8")
        value = json.loads(text) if kind == "json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError):
        return {}
    return value if isinstance(value, dict) else {}


SPLIT_ORDER = ("train", "val", "valid", "test")


def _counts(mapping: Any) -> str:
    """``{"test": 20, "train": 60}`` -> ``train 60 / test 20`` (train, validation, test first)."""
    if not isinstance(mapping, dict):
        return ""
    order = sorted(mapping, key=lambda k: SPLIT_ORDER.index(k) if k in SPLIT_ORDER else len(SPLIT_ORDER))
    return " / ".join(f"{k} {fmt(mapping[k])}" for k in order)


def _epochs(count: Any) -> str:
    return "1 epoch" if count == 1 else f"{fmt(count)} epochs"


def _split_rows(metrics: dict, splits: tuple[str, ...], model: str, columns: list[str]
                ) -> tuple[str, dict[str, list[Any]]]:
    """The first of ``splits`` with results under ``metrics["splits"]``, and its rows: ``model`` first, then
    every other model evaluated there (the baselines)."""
    by_split = metrics["splits"]
    split = next(s for s in splits if s in by_split)
    results = by_split[split]
    return split, {m: [results[m].get(c) for c in columns] for m in [model, *(m for m in results if m != model)]}


def _decoupled_3dpw(config: dict, metrics: dict) -> tuple[str, str, Headline]:
    model = str(metrics.get("model") or config.get("model"))
    columns = ["VIM@900 ms (cm)", "VIM avg (cm)", "ADE (m)", "FDE (m)", "MPJPE (mm)"]
    split, rows = _split_rows(metrics, ("test", "valid"), model, columns)
    people = metrics["splits"][split][model].get("people")
    if config.get("data_dir"):
        data = f"SoMoF 3DPW layout from {config['data_dir']}; {fmt(people)} people in {split}"
    else:
        data = (f"generated motion in the SoMoF 3DPW layout, scenes {_counts(config.get('synthetic_scenes'))} "
                f"(2 people each)")
    described = f"{model}, {fmt(metrics.get('parameters'))} parameters, {_epochs(metrics.get('epochs_trained', 0))}"
    return data, described, Headline(split, False, columns, rows, model)


def _pretrain(config: dict, metrics: dict) -> tuple[str, str, Headline]:
    model = str(metrics.get("model") or config.get("model"))
    alphas = ("0.2", "0.1", "0.05")
    test = metrics["test"]
    fixed = sorted(test.get(model, {}).get("pck_px", {}), key=float, reverse=True)
    columns = [f"PCK@{a} (%)" for a in alphas] + [f"PCK@{t} px (%)" for t in fixed]

    def values(result: dict) -> list:
        return [result["pck"].get(a) for a in alphas] + [result.get("pck_px", {}).get(t) for t in fixed]

    rows = {m: values(test[m]) for m in dict.fromkeys([model, "identity"]) if m in test}
    main = metrics.get("decode", "argmax")
    for decoder, found in (metrics.get("test_by_decode") or {}).items():  # the same maps, other read-outs
        if decoder != main and model in found:
            rows[f"{model}, {decoder} decoding"] = values(found[model])
    info = metrics.get("data", {})
    data = (f"{config.get('dataset')} ({info.get('source')}): {fmt(info.get('sequences'))} sequences, "
            f"{fmt(info.get('windows'))} windows of {config.get('window', 5)} frames; "
            f"used {_counts(info.get('split_windows'))}")
    described = (f"{model}, {fmt(metrics.get('parameters'))} parameters, {_epochs(metrics.get('epochs_trained', 0))}; "
                 f"experiment {metrics.get('experiment')}, shift scalar {metrics.get('shift_scalar'):g}, "
                 f"{metrics.get('decode', 'argmax')} decoding")
    baselines = ["identity"] if "identity" in rows else []  # other decoders' rows are not baselines
    return data, described, Headline("test", True, columns, rows, model, baselines)


def _hand_forecasting(config: dict, metrics: dict) -> tuple[str, str, Headline]:
    model = str(metrics.get("model") or config.get("model") or metrics.get("arch") or config.get("arch"))
    columns = ["MPJPE (u)", "MPJPE-QUB (u)", "ADE (u)", "FDE (u)"]
    split, rows = _split_rows(metrics, ("test", "val"), model, columns)
    windows = {s: r[model].get("windows") for s, r in metrics["splits"].items() if model in r}
    source = config.get("data_dir") or f"generated clips ({_counts(config.get('synthetic_clips'))})"
    data = (f"{source}; {config.get('obs_len')} observed + {config.get('pred_len')} predicted frames, "
            f"windows {_counts(windows)}")
    described = (f"{model}, {fmt(metrics.get('parameters'))} parameters, {_epochs(metrics.get('epochs_trained', 0))}; "
                 f"inputs {metrics.get('inputs')}; errors in u (half the image size)")
    return data, described, Headline(split, False, columns, rows, model)


def _skeleton_ensembles(config: dict, metrics: dict) -> tuple[str, str, Headline]:
    """The largest ensemble with validation-searched weights (else the largest, else the best single
    stream) against the best single stream and chance."""
    columns = ["top-1 (%)", "top-5 (%)", "mean class (%)"]
    results = metrics["rows"]
    single = max((r for r in results if r["fusion"] == "single"), key=lambda r: r["top-1 (%)"])
    fused = [r for r in results if r["fusion"] != "single"]
    rows = {f"{r['model']}, {r['fusion']}": [r.get(c) for c in columns] for r in fused}
    best_single = f"best single stream: {single['model']}"
    rows[best_single] = [single.get(c) for c in columns]
    classes = len(metrics.get("classes", [])) or 1
    rows["chance"] = [100.0 / classes, min(100.0, 500.0 / classes), 100.0 / classes]
    own = best_single
    if fused:
        largest = max(fused, key=lambda r: (r.get("streams", 0), r["fusion"] == "val-searched"))
        own = f"{largest['model']}, {largest['fusion']}"
    data = (f"{metrics.get('dataset')} ({metrics.get('source')}), layout {metrics.get('layout')}, {classes} classes; "
            f"clips {_counts(metrics.get('clips'))}")
    streams = config.get("streams")
    described = (f"{metrics.get('model')} per stream ({', '.join(map(str, streams or []))}), "
                 f"{fmt(metrics.get('parameters_per_stream'))} parameters each, {_epochs(config.get('epochs'))}")
    return data, described, Headline("test", True, columns, rows, own, [best_single, "chance"])


STUDY_SUMMARIES: dict[str, Callable[[dict, dict], tuple[str, str, Headline]]] = {
    "decoupled_3dpw": _decoupled_3dpw,
    "pretrain": _pretrain,
    "hand_forecasting": _hand_forecasting,
    "skeleton_ensembles": _skeleton_ensembles,
}
"""Each study's (data, model, headline) from its ``config.yaml`` and ``metrics.json`` mappings."""


def build_summary(run_dir: str | Path, study: str, status: str, wall_time_s: float | None = None,
                  started: str = "", folder: str | Path | None = None, error: str = "") -> Summary:
    """The summary of the run whose files are in ``run_dir``; ``folder`` is where the run will be
    found (its final name; default ``run_dir``), ``error`` the message of a failed run."""
    run_dir = Path(run_dir)
    folder = Path(folder) if folder is not None else run_dir
    config, metrics = _read(run_dir / "config.yaml", "yaml"), _read(run_dir / "metrics.json", "json")
    files = [name for name in (f"{study}.ipynb", *RUN_FILES) if (run_dir / name).exists()]
    summary = Summary(study, status, folder=folder, files=files)
    facts = [("Study", study)]
    try:
        data, model, headline = STUDY_SUMMARIES[study](config, metrics)
        summary.headline = headline
        facts += [("Result", headline.sentence()), ("Data", data), ("Model", model)]
    except (KeyError, TypeError, ValueError, AttributeError, StopIteration):
        # a failed run, or one whose metrics.json lacks the results: say so rather than fail the report
        facts.append(("Result", "no results (metrics.json missing or incomplete)"))
    if error:
        facts.append(("Error", error))
    train = metrics.get("train_time_s")
    train = sum(train.values()) if isinstance(train, dict) else train
    wall = duration(wall_time_s) + (f" (training {duration(train)})" if isinstance(train, int | float) else "")
    facts += [("Device", run_device(metrics) or str(config.get("device") or "-")), ("Wall time", wall)]
    if started:
        facts.append(("Started", started.replace("T", " ")))
    facts.append(("Run folder", str(folder)))
    summary.facts = facts
    return summary
