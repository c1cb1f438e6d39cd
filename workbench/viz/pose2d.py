"""Animated 2D views of two hands (21 MediaPipe landmarks each): observed, predicted and ground truth.

Hands are arrays ``(T, 42, 2)`` (left hand's 21 landmarks, then the right hand's), in image-like
coordinates with y pointing down (the plot's y axis is reversed). :func:`hand_animation` builds a
self-contained plotly figure (frames, a slider and play/pause) that also scrubs in a static
HTML report. Coordinates are rounded to 1e-4 to keep the HTML small.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

HAND_BONES: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
)
"""MediaPipe hand connections between the 21 landmarks of one hand (0 = wrist)."""

_STYLES = {
    "observed": {"color": "#1f5fa8", "dash": "solid"},
    "predicted": {"color": "#d62728", "dash": "solid"},
    "ground truth": {"color": "#2ca02c", "dash": "dot"},
}
_HANDS = ("left", "right")


def _hand_lines(points: np.ndarray, visible: bool) -> tuple[list, list]:
    """Bone end points of one hand ``(21, 2)`` with ``None`` between bones; empty when not visible."""
    if not visible:
        return [None], [None]
    x: list = []
    y: list = []
    for a, b in HAND_BONES:
        x += [round(float(points[a, 0]), 4), round(float(points[b, 0]), 4), None]
        y += [round(float(points[a, 1]), 4), round(float(points[b, 1]), 4), None]
    return x, y


def _check(observed: np.ndarray, predicted: np.ndarray, truth: np.ndarray | None) -> None:
    if observed.ndim != 3 or observed.shape[1:] != (42, 2):
        raise ValueError(f"observed must have shape (To, 42, 2), got {observed.shape}")
    if predicted.ndim != 3 or predicted.shape[1:] != (42, 2):
        raise ValueError(f"predicted must have shape (Tp, 42, 2), got {predicted.shape}")
    if truth is not None and truth.shape != predicted.shape:
        raise ValueError(f"truth shape {truth.shape} != predicted shape {predicted.shape}")


def hand_animation(
    observed: np.ndarray,
    predicted: np.ndarray,
    truth: np.ndarray | None = None,
    observed_mask: np.ndarray | None = None,
    future_mask: np.ndarray | None = None,
    gaze: np.ndarray | None = None,
    title: str = "",
    frame_ms: float = 1000.0 / 23.0,
    unit: str = "u",
) -> go.Figure:
    """A 2D animation of one forecasting window that plays and scrubs in static HTML.

    ``observed`` ``(To, 42, 2)``, ``predicted`` and ``truth`` ``(Tp, 42, 2)`` (``truth`` may be
    None); ``observed_mask`` ``(To, 2)`` and ``future_mask`` ``(Tp, 2)`` mark detected hands (a
    missing hand is not drawn; the prediction is always drawn); ``gaze`` ``(To, 2)`` is drawn as
    a star over the observed frames. Frames ``0..To+Tp-1`` are named by their index; slider
    labels give the time relative to the last observed frame (``frame_ms`` apart). Traces:
    (role, hand) lines for observed, predicted, ground truth, then the gaze marker.
    """
    observed, predicted = np.asarray(observed, float), np.asarray(predicted, float)
    truth = None if truth is None else np.asarray(truth, float)
    _check(observed, predicted, truth)
    n_obs, n_pred = len(observed), len(predicted)
    obs_mask = np.ones((n_obs, 2), bool) if observed_mask is None else np.asarray(observed_mask, bool)
    fut_mask = np.ones((n_pred, 2), bool) if future_mask is None else np.asarray(future_mask, bool)
    roles = ["observed", "predicted"] + ([] if truth is None else ["ground truth"])

    def frame_data(t: int) -> list[go.Scatter]:
        data = []
        for role in roles:
            for h in range(2):
                if role == "observed":
                    shown = t < n_obs and bool(obs_mask[t, h])
                    points = observed[min(t, n_obs - 1)]
                elif role == "predicted":
                    shown = t >= n_obs
                    points = predicted[max(t - n_obs, 0)]
                else:
                    shown = t >= n_obs and bool(fut_mask[t - n_obs, h])
                    points = truth[max(t - n_obs, 0)]
                x, y = _hand_lines(points[21 * h:21 * (h + 1)], shown)
                data.append(go.Scatter(x=x, y=y))
        if gaze is not None:
            g = np.asarray(gaze, float)[min(t, n_obs - 1)]
            data.append(go.Scatter(x=[round(float(g[0]), 4)] if t < n_obs else [None],
                                   y=[round(float(g[1]), 4)] if t < n_obs else [None]))
        return data

    traces = []
    for role in roles:
        style = _STYLES[role]
        for h in range(2):
            traces.append(go.Scatter(
                mode="lines+markers", name=f"{role}", legendgroup=role, showlegend=h == 0,
                line={"color": style["color"], "dash": style["dash"], "width": 2}, marker={"size": 3},
                hovertemplate=f"{role}, {_HANDS[h]} hand<br>x %{{x:.3f}} {unit}, y %{{y:.3f}} {unit}<extra></extra>",
            ))
    if gaze is not None:
        traces.append(go.Scatter(mode="markers", name="gaze", marker={"symbol": "star", "size": 14,
                                                                      "color": "#9467bd"}))
    for trace, data in zip(traces, frame_data(0), strict=True):
        trace.update(x=data.x, y=data.y)
    n_frames = n_obs + n_pred
    frames = [go.Frame(name=str(t), data=frame_data(t), traces=list(range(len(traces)))) for t in range(n_frames)]
    labels = [f"obs {round((t - n_obs + 1) * frame_ms)} ms" for t in range(n_obs)]
    labels += [f"pred +{round((k + 1) * frame_ms)} ms" for k in range(n_pred)]
    still = {"mode": "immediate", "frame": {"duration": 0, "redraw": False}, "transition": {"duration": 0}}
    play = {**still, "frame": {"duration": frame_ms, "redraw": False}, "fromcurrent": True}
    names = [str(t) for t in range(n_frames)]
    every = [a for a in (observed, predicted, truth) if a is not None]
    points = np.concatenate([a.reshape(-1, 2) for a in every])
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = 0.05 * float(max(hi - lo)) + 1e-3
    fig = go.Figure(data=traces, frames=frames)
    fig.update_layout(
        title={"text": title}, height=600, hovermode="closest", margin={"t": 60, "b": 10},
        xaxis={"title": {"text": f"x ({unit})"}, "range": [float(lo[0] - pad), float(hi[0] + pad)]},
        yaxis={"title": {"text": f"y ({unit}, down)"}, "range": [float(hi[1] + pad), float(lo[1] - pad)],
               "scaleanchor": "x", "scaleratio": 1},
        sliders=[{"active": 0, "x": 0.12, "len": 0.86, "y": 0, "pad": {"t": 40},
                  "currentvalue": {"prefix": "t: ", "xanchor": "left"},
                  "steps": [{"label": labels[t], "method": "animate", "args": [[str(t)], still]}
                            for t in range(n_frames)]}],
        updatemenus=[{"type": "buttons", "direction": "left", "showactive": False, "x": 0.1, "xanchor": "right",
                      "y": 0, "yanchor": "top", "pad": {"t": 70, "r": 10},
                      "buttons": [{"label": "▶", "method": "animate", "args": [names, play]},
                                  {"label": "❚❚", "method": "animate", "args": [[None], still]}]}],
    )
    return fig

