"""A frame-by-frame viewer of 2D keypoint heatmaps with skeletons drawn over them.

Maps are (F, H, W) arrays (one image per frame, e.g. the maximum over the keypoints' maps), keypoints
(F, K, 2) pixel x, y on the same grid (x right, y down). One panel per role (input, predicted, ground
truth); each shows its heatmap with its own skeleton and the ground-truth skeleton dashed. Plotly frames
and a slider make the figure scrub in a static HTML report. Map values are rounded to 0.1 to keep the
HTML small.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots


def _bones_xy(points: np.ndarray, visible: np.ndarray, bones: Sequence[tuple[int, int]]) -> tuple[list, list]:
    """Line coordinates of the bones whose two ends are visible, ``None`` between bones."""
    xs: list = []
    ys: list = []
    for a, b in bones:
        if visible[a] and visible[b]:
            xs += [round(float(points[a, 0]), 2), round(float(points[b, 0]), 2), None]
            ys += [round(float(points[a, 1]), 2), round(float(points[b, 1]), 2), None]
    return xs or [None], ys or [None]


def heatmap_viewer(maps: dict[str, np.ndarray], keypoints: dict[str, np.ndarray], visible: np.ndarray,
                   bones: Sequence[tuple[int, int]], frame_labels: Sequence[str], truth: str = "ground truth",
                   title: str = "") -> go.Figure:
    """Panels side by side, one per entry of ``maps`` ({role: (F, H, W)}), each with the role's skeleton
    from ``keypoints`` ({role: (F, K, 2) px}) and the ``truth`` role's skeleton dashed on top; bones are
    drawn where both ends are ``visible`` (F, K). A slider (labelled by ``frame_labels``) scrubs the frames."""
    roles = list(maps)
    if truth not in keypoints:
        raise KeyError(f"no keypoints for the truth role {truth!r}")
    frames = len(frame_labels)
    for role in roles:
        if maps[role].shape[0] != frames or keypoints[role].shape[0] != frames:
            raise ValueError(f"{role}: {maps[role].shape[0]} maps / {keypoints[role].shape[0]} poses for "
                             f"{frames} frame labels")
    height, width = maps[roles[0]].shape[1:]
    top = max(float(np.max(m)) for m in maps.values()) or 1.0

    def traces(f: int) -> list:
        out: list = []
        for role in roles:
            out.append(go.Heatmap(z=np.round(maps[role][f], 1), zmin=0, zmax=top, colorscale="Viridis",
                                  showscale=False, hovertemplate="x %{x}, y %{y}: %{z}<extra>" + role + "</extra>"))
            x, y = _bones_xy(keypoints[role][f], visible[f], bones)
            out.append(go.Scatter(x=x, y=y, mode="lines+markers", line={"color": "#ff7f0e", "width": 2},
                                  marker={"size": 4}, name=role, showlegend=False))
            x, y = _bones_xy(keypoints[truth][f], visible[f], bones)
            out.append(go.Scatter(x=x, y=y, mode="lines", line={"color": "white", "width": 1, "dash": "dash"},
                                  name=truth, showlegend=False))
        return out

    fig = make_subplots(rows=1, cols=len(roles), subplot_titles=roles, horizontal_spacing=0.03)
    for i, trace in enumerate(traces(0)):
        fig.add_trace(trace, row=1, col=i // 3 + 1)
    fig.frames = [go.Frame(name=str(f), data=traces(f)) for f in range(frames)]
    still = {"mode": "immediate", "frame": {"duration": 0, "redraw": True}, "transition": {"duration": 0}}
    fig.update_layout(
        title=title, height=420, margin={"t": 70, "b": 90},
        sliders=[{"active": 0, "currentvalue": {"prefix": "frame: "}, "pad": {"t": 30},
                  "steps": [{"label": frame_labels[f], "method": "animate", "args": [[str(f)], still]}
                            for f in range(frames)]}],
    )
    for col in range(1, len(roles) + 1):
        fig.update_xaxes(range=[-0.5, width - 0.5], showticklabels=False, row=1, col=col)
        fig.update_yaxes(range=[height - 0.5, -0.5], showticklabels=False, scaleanchor=f"x{'' if col == 1 else col}",
                         row=1, col=col)
    return fig
