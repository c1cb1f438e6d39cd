"""Executed notebooks made ready to share, and their self-contained HTML reports (they open offline).

:func:`finish_notebook` cleans a notebook executed by ``workbench run``: training-progress residue
(tqdm text and widget bars) is removed, the staging folder's path becomes the run folder's, and the
cell tagged ``summary`` gets the run's summary. :func:`notebook_to_html` writes the report: the
summary cell shows only its output, and an interactive widget that needs a live kernel is replaced
by a note saying so. :func:`report_run` gives a complete run made without them (papermill, JupyterLab:
:mod:`workbench.notebook_run`) its executed notebook and report afterwards (``workbench report RUN``).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from traitlets.config import Config

from workbench.errors import ConfigError
from workbench.run_folders import read_status, write_text_atomic
from workbench.summary import SUMMARY_TAG, Summary, build_summary

TEMPLATE_DIR = Path(__file__).resolve().parent / "report_template"

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

PROGRESS_TEXT = re.compile(r"\|\s*\d+/\d+ \[|\d+\w* \[\d+:\d{2}[<,]")
"""What a tqdm bar's text looks like: ``| 3/30 [00:01<...`` or, without a total, ``12it [00:01, ...``."""

WIDGET_NOTE = ("<div style='border:1px dashed #999;padding:0.5em 0.8em;color:#444'>Interactive widget: it needs a "
               "running Jupyter kernel, so this static report cannot show it. Open the notebook in JupyterLab and "
               "run all cells to use it.</div>")
"""Shown in a report in place of a widget that brought no static view of its own."""


def is_progress_text(text: str) -> bool:
    """Whether ``text`` is a progress bar's rendering."""
    return bool(PROGRESS_TEXT.search(text))


def strip_progress(notebook: nbformat.NotebookNode) -> int:
    """Remove training-progress residue from every cell's outputs: the progress lines of stream
    outputs (text bars redraw themselves with ``\\r``) and widget bars whose text form is a progress
    bar. Returns the number of outputs changed or removed."""
    changed = 0
    for cell in notebook.cells:
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                pieces = re.split(r"[\r\n]", output.get("text", ""))
                lines = [p for p in pieces if p.strip() and not is_progress_text(p)]
                if len(lines) != len([p for p in pieces if p.strip()]):
                    changed += 1
                    if not lines:
                        continue
                    output["text"] = "\n".join(lines) + "\n"
            elif WIDGET_MIME in output.get("data", {}) and is_progress_text(str(output["data"].get("text/plain", ""))):
                changed += 1
                continue
            kept.append(output)
        if "outputs" in cell:
            cell["outputs"] = kept
    return changed


def replace_path(notebook: nbformat.NotebookNode, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in every text output and in the source of papermill's injected
    parameters (the notebook ran in a staging folder that is renamed when the run is over)."""
    for cell in notebook.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["source"] = cell["source"].replace(old, new)
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = output["text"].replace(old, new)
            for mime, value in output.get("data", {}).items():
                if isinstance(value, str) and (mime.startswith("text/") or mime == "application/javascript"):
                    output["data"][mime] = value.replace(old, new)


def fill_summary(notebook: nbformat.NotebookNode, summary: Summary) -> None:
    """Put ``summary`` as the only output of the cell tagged ``summary``; a notebook without one gets
    it as a new cell after its first (title) cell."""
    cell = next((c for c in notebook.cells if SUMMARY_TAG in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        cell = nbformat.v4.new_code_cell(metadata={"tags": [SUMMARY_TAG]})
        notebook.cells.insert(1 if notebook.cells else 0, cell)
    cell["outputs"] = [nbformat.v4.new_output("display_data", data={"text/html": summary.to_html(),
                                                                     "text/plain": summary.to_text()})]


def finish_notebook(path: str | Path, summary: Summary, staging: str | Path | None = None) -> Path:
    """Clean the executed notebook at ``path`` in place (:func:`strip_progress`, the ``staging`` folder's
    path replaced by the summary's run folder, :func:`fill_summary`)."""
    notebook = nbformat.read(str(path), as_version=4)
    strip_progress(notebook)
    if staging is not None and summary.folder is not None:
        replace_path(notebook, str(staging), str(summary.folder))
    fill_summary(notebook, summary)
    return write_text_atomic(path, nbformat.writes(notebook))


def note_widgets(notebook: nbformat.NotebookNode) -> None:
    """Give every widget output without a static view (``text/html``) :data:`WIDGET_NOTE`, and drop
    the widget view itself: a report has no widget manager to draw it."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_MIME in data:
                data.pop(WIDGET_MIME)
                data.setdefault("text/html", WIDGET_NOTE)


def notebook_to_html(notebook_path: str | Path, html_path: str | Path) -> Path:
    """Convert an executed notebook to one HTML file with no CDN references (no require.js,
    MathJax, mermaid or widget manager); plotly.js is inlined by the notebook's renderer. The
    summary cell shows its output only; widgets that need a kernel say so (:func:`note_widgets`)."""
    notebook = nbformat.read(str(notebook_path), as_version=4)
    note_widgets(notebook)
    config = Config({"TagRemovePreprocessor": {"enabled": True, "remove_input_tags": [SUMMARY_TAG]}})
    exporter = HTMLExporter(config=config, extra_template_basedirs=[str(TEMPLATE_DIR.parent)],
                            template_name=TEMPLATE_DIR.name)
    body, _ = exporter.from_notebook_node(notebook)
    return write_text_atomic(html_path, body)


def report_run(folder: str | Path, notebook: str | Path | None = None) -> Path:
    """Give the complete run ``folder`` its executed notebook ``<study>.ipynb`` (a cleaned copy of
    ``notebook``, default the one its ``status.json`` names: papermill's output path or the notebook
    JupyterLab ran) and its HTML report ``<study>.html``; returns the report's path. A run that has its
    notebook already is re-reported from it. Raises :class:`~workbench.errors.ConfigError` for a run
    that is not complete or when no executed notebook is known or found."""
    folder = Path(folder)
    status = read_status(folder)
    study = str(status.get("study") or "")
    if status.get("status") != "complete" or not study:
        raise ConfigError(f"{folder}: not a complete run folder (status.json: {status.get('status', 'missing')})")
    executed = folder / f"{study}.ipynb"
    source = Path(notebook) if notebook else Path(status["notebook"]) if status.get("notebook") else executed
    if not source.is_file():
        hint = "" if notebook else "; name the executed notebook with --notebook PATH"
        raise ConfigError(f"{folder}: no executed notebook to report ({source} not found{hint})")
    try:
        executed_notebook = nbformat.read(str(source), as_version=4)
    except Exception as exc:  # nbformat raises several kinds for a file that is not a notebook
        raise ConfigError(f"{source}: not a readable notebook ({exc})") from None
    if source.resolve() != executed.resolve():
        write_text_atomic(executed, nbformat.writes(executed_notebook))
    summary = build_summary(folder, study, "complete", status.get("wall_time_s"), str(status.get("started", "")))
    finish_notebook(executed, summary)
    return notebook_to_html(executed, folder / f"{study}.html")
