"""Figures in notebooks that also render in offline HTML reports.

:func:`use_offline_renderer` makes plotly display each figure as both the
plotly MIME bundle (rendered natively by JupyterLab) and self-contained HTML
(used by nbconvert): plotly.js is inlined once, in the first figure of the
kernel, so reports open without a network connection or require.js.
:class:`KernelWidget` is a widget that also says, in static renderings such as
the HTML report, what it would show and how to get it.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import plotly.io as pio
from plotly.io._base_renderers import MimetypeRenderer


class OfflineRenderer(MimetypeRenderer):
    """Plotly renderer emitting ``application/vnd.plotly.v1+json`` and ``text/html`` with
    plotly.js inlined in the first figure only. Plotly copies renderers before use, so the
    "library sent" flag lives in a shared dict, reset by :func:`use_offline_renderer`."""

    shared = {"library_sent": False}

    def to_mimebundle(self, fig_dict: dict) -> dict:
        html = pio.to_html(fig_dict, full_html=False, include_plotlyjs=not self.shared["library_sent"],
                           config={"responsive": True}, validate=False, auto_play=False)
        self.shared["library_sent"] = True
        return {"application/vnd.plotly.v1+json": fig_dict, "text/html": html}


def use_offline_renderer() -> None:
    """Register and select the ``workbench`` renderer; the next figure carries plotly.js."""
    OfflineRenderer.shared["library_sent"] = False
    pio.renderers["workbench"] = OfflineRenderer()
    pio.renderers.default = "workbench"


class KernelWidget(widgets.VBox):
    """A ``VBox`` that only works with a live kernel. Its display also carries an HTML note (``what`` it
    would show and how to get it), which renderings without a kernel show instead of an empty output;
    JupyterLab draws the widget itself."""

    def __init__(self, children: list[widgets.Widget], what: str, **kwargs: Any) -> None:
        super().__init__(children, **kwargs)
        self.what = what

    def static_html(self) -> str:
        """The note shown where the widget cannot be drawn."""
        return ("<div style='border:1px dashed #999;padding:0.5em 0.8em;color:#444'>"
                f"<b>Live widget, not in this static report:</b> {html.escape(self.what)} "
                "It needs a running Jupyter kernel: open the notebook in JupyterLab and run all cells.</div>")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/html"] = self.static_html()
        return bundle
