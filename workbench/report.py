"""HTML reports of executed notebooks, self-contained so they open offline."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

from workbench.runs import write_text_atomic

TEMPLATE_DIR = Path(__file__).resolve().parent / "report_template"


def notebook_to_html(notebook_path: str | Path, html_path: str | Path) -> Path:
    """Convert an executed notebook to one HTML file with no CDN references (no require.js,
    MathJax, mermaid or widget manager); plotly.js is inlined by the notebook's renderer."""
    notebook = nbformat.read(str(notebook_path), as_version=4)
    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATE_DIR.parent)], template_name=TEMPLATE_DIR.name)
    body, _ = exporter.from_notebook_node(notebook)
    return write_text_atomic(html_path, body)
