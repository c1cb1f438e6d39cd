"""Checks on executed notebooks shared by the end-to-end notebook tests."""

from __future__ import annotations

from pathlib import Path

import nbformat


def error_outputs(path: Path) -> list:
    """The error outputs of every code cell of the executed notebook at ``path``."""
    notebook = nbformat.read(path, as_version=4)
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
