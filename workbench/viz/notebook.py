"""Figures in notebooks that also render in offline HTML reports.

:func:`use_offline_renderer` makes plotly display each figure as both the
plotly MIME bundle (rendered natively by JupyterLab) and self-contained HTML
(used by nbconvert): plotly.js is inlined once, in the first figure of the
kernel, so reports open without a network connection or require.js.
"""

from __future__ import annotations

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
