"""Training curves and error-versus-horizon plots.

A training history is what :class:`workbench.engine.trainer.Trainer` records: one
row per epoch with an ``epoch`` column (1-based), ``lr`` and any loss or metric
columns. It may be given as a list of dicts or as a :class:`pandas.DataFrame`.
"""

from __future__ import annotations

import warnings

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

History = list[dict] | pd.DataFrame
_MARKER_COLORS = ("dimgray", "darkgoldenrod", "purple", "saddlebrown")


def _as_frame(history: History) -> pd.DataFrame:
    frame = history if isinstance(history, pd.DataFrame) else pd.DataFrame(list(history))
    if "epoch" not in frame.columns:
        raise KeyError(f"history has no 'epoch' column; columns: {', '.join(map(str, frame.columns))}")
    return frame


def lr_drop_epochs(history: History) -> list[int]:
    """Epochs (values of the ``epoch`` column) whose ``lr`` is lower than the previous row's ``lr``.

    ``history`` holds one row per epoch, in training order; raises ``KeyError`` if it has no ``lr``.
    """
    frame = _as_frame(history)
    if "lr" not in frame.columns:
        raise KeyError("history has no 'lr' column")
    dropped = frame["lr"].diff() < 0
    return [int(epoch) for epoch in frame.loc[dropped, "epoch"]]


def learning_curves(
    history: History,
    panels: dict[str, list[str]],
    title: str = "",
    markers: dict[str, list[int]] | None = None,
    baselines: dict[str, dict[str, float]] | None = None,
) -> go.Figure:
    """One subplot per panel of history columns against ``epoch``.

    ``panels`` maps a panel title (carrying the unit, e.g. ``"ADE (m)"``) to the history
    columns drawn in it. A panel none of whose columns is in the history is left out;
    a panel missing only some of its columns draws the others and warns. ``markers`` maps
    a label (e.g. ``"LR reduced"``) to epochs marked by a vertical dashed line on every
    panel; ``baselines`` maps a panel title to ``{label: value}`` drawn as a horizontal
    dotted line with an annotation, in that panel's unit.
    """
    frame = _as_frame(history)
    drawn: dict[str, list[str]] = {}
    for panel, columns in panels.items():
        present = [c for c in columns if c in frame.columns]
        missing = [c for c in columns if c not in frame.columns]
        if present and missing:
            warnings.warn(f"panel {panel!r}: history has no column {', '.join(missing)}", stacklevel=2)
        if present:
            drawn[panel] = present
    if not drawn:
        raise KeyError(f"no panel column is in the history; columns: {', '.join(map(str, frame.columns))}")

    fig = make_subplots(rows=1, cols=len(drawn), subplot_titles=list(drawn), horizontal_spacing=0.07)
    for col, (panel, columns) in enumerate(drawn.items(), start=1):
        for column in columns:
            fig.add_trace(
                go.Scatter(
                    x=frame["epoch"], y=frame[column], mode="lines", name=column, connectgaps=True,
                    hovertemplate=f"{column}: %{{y:.4g}}<extra>epoch %{{x}}</extra>",
                ),
                row=1, col=col,
            )
        fig.update_xaxes(title_text="epoch", row=1, col=col)
        for label, value in (baselines or {}).get(panel, {}).items():
            fig.add_hline(
                y=value, line={"dash": "dot", "color": "grey"}, row=1, col=col,
                annotation_text=f"{label} {value:.4g}", annotation_position="top right",
            )
    for n, (label, epochs) in enumerate((markers or {}).items()):
        color = _MARKER_COLORS[n % len(_MARKER_COLORS)]
        for i, epoch in enumerate(epochs):
            for col in range(1, len(drawn) + 1):
                fig.add_vline(
                    x=epoch, line={"dash": "dash", "color": color, "width": 1}, row=1, col=col,
                    name=label, legendgroup=label, showlegend=(i == 0 and col == 1),
                )
    fig.update_layout(title=title, hovermode="x", height=400, margin={"t": 80})
    return fig


def horizon_plot(table: dict[str, list[float]], horizons_ms: list[int], y_title: str = "VIM (cm)") -> go.Figure:
    """Error against forecast horizon, one line per model.

    ``table`` maps a model name to its errors, one per entry of ``horizons_ms``
    (milliseconds after the last observed frame), in the unit named by ``y_title``.
    """
    fig = go.Figure()
    for model, errors in table.items():
        if len(errors) != len(horizons_ms):
            raise ValueError(f"{model}: {len(errors)} errors for {len(horizons_ms)} horizons")
        fig.add_trace(
            go.Scatter(
                x=list(horizons_ms), y=list(errors), mode="lines+markers", name=model,
                hovertemplate=f"{model}<br>%{{x}} ms: %{{y:.3g}}<extra></extra>",
            )
        )
    fig.update_layout(
        xaxis={"title": {"text": "horizon (ms)"}, "tickmode": "array", "tickvals": list(horizons_ms)},
        yaxis={"title": {"text": y_title}, "rangemode": "tozero"},
        hovermode="closest",
    )
    return fig
