"""Figures of the skeleton action-recognition study: confusion matrix, accuracy versus the number
of fused streams, and a 2D skeleton animation of a clip."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go


def confusion_heatmap(matrix: np.ndarray, class_names: Sequence[str], title: str = "Confusion matrix") -> go.Figure:
    """Heat map of a (K, K) count matrix [true, predicted], coloured by the row-normalised rate (% of
    the true class); the hover text shows count and rate."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] != len(class_names):
        raise ValueError(f"matrix {matrix.shape} must be (K, K) with K = {len(class_names)} class names")
    rates = 100.0 * matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1.0)
    names = list(class_names)
    fig = go.Figure(go.Heatmap(
        z=rates, x=names, y=names, colorscale="Blues", zmin=0, zmax=100, colorbar={"title": "% of true class"},
        customdata=matrix, hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata:.0f} clips (%{z:.1f}%)"
                                         "<extra></extra>",
    ))
    fig.update_layout(title=title, xaxis_title="predicted class", yaxis_title="true class",
                      yaxis={"autorange": "reversed"}, height=max(400, 28 * len(names) + 150))
    return fig


def accuracy_vs_streams(table: pd.DataFrame, metric: str = "top-1 (%)") -> go.Figure:
    """``metric`` against the number of fused models, by kind of boosting: the best single model at 1,
    then every ensemble, complementary (different streams) and stochastic (seeds of one stream), with
    fixed (filled) and validation-searched (open markers) weights; a line per kind joins the best
    single model to the best fixed-weight ensemble of each size. Rows of the study's results table
    with columns ``model``, ``streams``, ``fusion``, ``metric`` and optionally ``boosting`` (absent:
    every ensemble is complementary)."""
    table = table.assign(boosting=table["boosting"] if "boosting" in table else
                         table["fusion"].map(lambda f: "single" if f == "single" else "complementary"))
    fig = go.Figure()
    single = table[table["fusion"] == "single"]
    start_x, start_y = [], []
    if len(single):
        best = single.loc[single[metric].idxmax()]
        start_x, start_y = [1], [float(best[metric])]
        fig.add_trace(go.Scatter(x=start_x, y=start_y, mode="markers", name=f"best single: {best['model']}",
                                 marker={"size": 11, "color": "black"}))
    colours = {"complementary": "#1f77b4", "stochastic": "#d62728"}
    for kind, colour in colours.items():
        for fusion, symbol in (("fixed", "circle"), ("val-searched", "circle-open")):
            rows = table[(table["boosting"] == kind) & (table["fusion"] == fusion)].sort_values("streams")
            if not len(rows):
                continue
            best_per_size = rows.groupby("streams")[metric].max()
            fig.add_trace(go.Scatter(x=list(rows["streams"]), y=list(rows[metric]), mode="markers",
                                     name=f"{kind}, {fusion} weights", text=list(rows["model"]),
                                     marker={"size": 10, "color": colour, "symbol": symbol},
                                     hovertemplate="%{text}<br>%{y:.2f}<extra></extra>"))
            if fusion == "fixed":
                fig.add_trace(go.Scatter(x=start_x + list(best_per_size.index),
                                         y=start_y + [float(v) for v in best_per_size.values], mode="lines",
                                         line={"color": colour}, name=f"{kind}: best at each size",
                                         hoverinfo="skip"))
    ticks = sorted({1, *table["streams"].tolist()})
    fig.update_layout(title=f"Test {metric} versus number of fused models", xaxis_title="models fused",
                      yaxis_title=metric, xaxis={"tickmode": "array", "tickvals": ticks})
    return fig


def skeleton_animation_2d(clips: Sequence[np.ndarray], edges: Sequence[tuple[int, int]], titles: Sequence[str],
                          plane: tuple[int, int] = (0, 1), frame_ms: float = 66.7) -> go.Figure:
    """Animate clips side by side in one plane (coordinate axes ``plane``; y drawn up): each clip is
    (M, T, V, C) in normalised units; persons whose joints are all zero are not drawn. A slider
    and play button scrub the T frames (all clips share T)."""
    a, b = plane
    frames_total = clips[0].shape[1]

    def lines(clip: np.ndarray, t: int) -> tuple[list, list]:
        xs, ys = [], []
        for person in clip[:, t]:
            if not np.abs(person).sum():
                continue
            for child, parent in edges:
                xs += [person[child, a], person[parent, a], None]
                ys += [person[child, b], person[parent, b], None]
        return xs, ys

    span = max(float(np.abs(c[..., [a, b]]).max()) for c in clips) * 1.1 or 1.0
    fig = go.Figure()
    width = 1.0 / len(clips)
    for i, _ in enumerate(clips):
        xs, ys = lines(clips[i], 0)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", xaxis=f"x{i + 1}", yaxis=f"y{i + 1}",
                                 showlegend=False, marker={"size": 4}))
        fig.layout[f"xaxis{i + 1}"] = {"domain": [i * width + 0.01, (i + 1) * width - 0.01], "range": [-span, span],
                                       "showticklabels": False}
        fig.layout[f"yaxis{i + 1}"] = {"range": [-span, span], "scaleanchor": f"x{i + 1}", "showticklabels": False,
                                       "anchor": f"x{i + 1}"}
        fig.add_annotation(text=titles[i], x=(i + 0.5) * width, y=1.05, xref="paper", yref="paper", showarrow=False)
    fig.frames = [go.Frame(name=str(t), data=[go.Scatter(x=lines(c, t)[0], y=lines(c, t)[1]) for c in clips])
                  for t in range(frames_total)]
    steps = [{"method": "animate", "label": str(t), "args": [[str(t)], {"mode": "immediate",
                                                                         "frame": {"duration": 0, "redraw": False}}]}
             for t in range(frames_total)]
    fig.update_layout(
        height=360, margin={"t": 60},
        sliders=[{"steps": steps, "currentvalue": {"prefix": "frame "}}],
        updatemenus=[{"type": "buttons", "showactive": False, "y": -0.15, "x": 0,
                      "buttons": [{"label": "play", "method": "animate",
                                   "args": [None, {"frame": {"duration": frame_ms, "redraw": False},
                                                   "fromcurrent": True}]}]}],
    )
    return fig
