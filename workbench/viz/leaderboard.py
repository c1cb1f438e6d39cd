"""Figures comparing runs of one study on the leaderboard (tables of :mod:`workbench.leaderboard`):
a metric per run coloured by model, and a metric against wall time."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

_HOVER = "%{x}<br>%{y:.4g}<br>%{customdata[0]}<extra>%{fullData.name}</extra>"


def _models(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table["model"].astype(str)))


def _colour(models: list[str], model: str) -> str:
    palette = qualitative.Plotly
    return palette[models.index(model) % len(palette)]


def metric_bars(table: pd.DataFrame, metric: str, title: str = "") -> go.Figure:
    """One bar per run (x: run folder name, in table order) of ``metric`` (its column name carries the
    unit), one colour and legend entry per model; runs without the metric have no bar."""
    if metric not in table.columns:
        raise KeyError(f"no column {metric!r}; columns: {', '.join(map(str, table.columns))}")
    models = _models(table)
    fig = go.Figure()
    for model in models:
        rows = table[table["model"].astype(str) == model]
        fig.add_trace(go.Bar(x=rows["run"], y=rows[metric], name=model, marker_color=_colour(models, model),
                             customdata=rows[["date"]].to_numpy(), hovertemplate=_HOVER))
    fig.update_layout(title=title or f"{metric} per run", yaxis_title=metric, xaxis_title="run",
                      legend_title="model", xaxis={"categoryorder": "array", "categoryarray": list(table["run"])})
    return fig


def metric_vs_wall_time(table: pd.DataFrame, metric: str, title: str = "") -> go.Figure:
    """``metric`` against ``wall time (s)``, one marker per run, coloured by model; runs missing either
    value are left out."""
    models = _models(table)
    fig = go.Figure()
    for model in models:
        rows = table[(table["model"].astype(str) == model)].dropna(subset=[metric, "wall time (s)"])
        fig.add_trace(go.Scatter(x=rows["wall time (s)"], y=rows[metric], mode="markers", name=model,
                                 marker={"size": 10, "color": _colour(models, model)}, text=rows["run"],
                                 hovertemplate="%{text}<br>%{x:.1f} s<br>%{y:.4g}<extra>%{fullData.name}</extra>"))
    fig.update_layout(title=title or f"{metric} against wall time", xaxis_title="wall time (s)", yaxis_title=metric,
                      legend_title="model")
    return fig
