"""Interactive 3D views of observed, predicted and ground-truth skeletons.

Poses are arrays of shape ``(S, P, T, J, 3)``: S scenes, P people, T frames,
J joints, xyz in metres with y pointing up. Plotly draws its z axis vertically,
so data ``(x, y, z)`` is plotted as ``(x, z, y)``; the plot's depth axis (data z)
is reversed so that the view is a rotation of the scene, not a mirror image.
Each (role, person) pair is one ``Scatter3d`` trace whose bones are separated by
``None``. Coordinates are rounded to 0.1 mm to keep the HTML small.

:func:`pose_animation` builds a self-contained figure (slider, play/pause, scene
dropdown) that works in a static HTML file; :func:`pose_scrubber` builds an
ipywidgets view for a live kernel.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from workbench.viz.notebook import KernelWidget

Bones = Sequence[tuple[int, int]]
Coords = tuple[list, list, list]

FRAME_MS = 1000.0 / 15.0
_STYLES = {
    "observed": {"color": "#1f5fa8", "dash": "solid"},
    "predicted": {"color": "#d62728", "dash": "solid"},
    "ground truth": {"color": "#2ca02c", "dash": "dash"},
}


def _check(observed: np.ndarray, predicted: np.ndarray, truth: np.ndarray | None, bones: Bones) -> None:
    if observed.ndim != 5 or observed.shape[-1] != 3:
        raise ValueError(f"observed must have shape (S, P, To, J, 3), got {observed.shape}")
    s, p, _, j, _ = observed.shape
    if predicted.ndim != 5 or predicted.shape[:2] != (s, p) or predicted.shape[3:] != (j, 3):
        raise ValueError(f"predicted shape {predicted.shape} does not fit observed shape {observed.shape}")
    if truth is not None and truth.shape != predicted.shape:
        raise ValueError(f"truth shape {truth.shape} != predicted shape {predicted.shape}")
    if any(not (0 <= a < j and 0 <= b < j) for a, b in bones):
        raise ValueError(f"a bone joins a joint outside 0..{j - 1}")


def _roles(truth: np.ndarray | None) -> list[str]:
    return ["observed", "predicted"] + ([] if truth is None else ["ground truth"])


def _skeleton(pose: np.ndarray, bones: Bones) -> Coords:
    """Plot coordinates of one pose ``(J, 3)`` in metres: bone end points, ``None`` between bones."""
    x: list = []
    y: list = []
    z: list = []
    for a, b in bones:
        for joint in (a, b):
            px, py, pz = (round(float(v), 4) for v in pose[joint])
            x.append(px)
            y.append(pz)
            z.append(py)
        x.append(None)
        y.append(None)
        z.append(None)
    return x, y, z


def _frame_coords(
    observed: np.ndarray, predicted: np.ndarray, truth: np.ndarray | None, bones: Bones, scene: int, t: int
) -> list[Coords]:
    """Coordinates of every trace (role-major, then person) at frame ``t`` of the observed-then-predicted sequence."""
    n_obs = observed.shape[2]
    empty: Coords = ([None], [None], [None])
    coords: list[Coords] = []
    for role in _roles(truth):
        source = {"observed": observed, "predicted": predicted, "ground truth": truth}[role]
        index = t if role == "observed" else t - n_obs
        shown = 0 <= index < source.shape[2]
        coords.extend(_skeleton(source[scene, p, index], bones) if shown else empty for p in range(source.shape[1]))
    return coords


def _base_traces(n_people: int, roles: list[str], bones: Bones) -> list[go.Scatter3d]:
    text = [t for a, b in bones for t in (f"joint {a}", f"joint {b}", None)]
    traces = []
    for role in roles:
        style = _STYLES[role]
        for p in range(n_people):
            traces.append(go.Scatter3d(
                x=[None], y=[None], z=[None], mode="lines+markers", name=role, legendgroup=role,
                showlegend=p == 0, text=text,
                line={"color": style["color"], "width": 6, "dash": style["dash"]},
                marker={"color": style["color"], "size": 3},
                hovertemplate=f"{role}, person {p}, %{{text}}<br>x %{{x:.2f}} m, y %{{z:.2f}} m, z %{{y:.2f}} m"
                "<extra></extra>",
            ))
    return traces


def _scene_axes(scene_data: list[np.ndarray]) -> dict:
    """Fixed plot ranges and equal-aspect ratio covering every pose of one scene (arrays ``(..., 3)``, metres)."""
    points = np.concatenate([d.reshape(-1, 3) for d in scene_data])[:, [0, 2, 1]]
    lo, hi = np.nanmin(points, axis=0), np.nanmax(points, axis=0)
    span = np.maximum(hi - lo, 0.5) * 1.1
    mid = (hi + lo) / 2
    ranges = [[round(float(m - h), 3), round(float(m + h), 3)] for m, h in zip(mid, span / 2, strict=True)]
    ratio = span / span.max()
    return {
        "scene.xaxis.range": ranges[0],
        "scene.yaxis.range": ranges[1][::-1],
        "scene.zaxis.range": ranges[2],
        "scene.aspectratio": {"x": float(ratio[0]), "y": float(ratio[1]), "z": float(ratio[2])},
    }


def _time_labels(n_obs: int, n_pred: int, frame_ms: float) -> list[str]:
    """Slider labels: milliseconds relative to the last observed frame."""
    observed = [f"obs {round((t - n_obs + 1) * frame_ms)} ms" for t in range(n_obs)]
    return observed + [f"pred +{round((k + 1) * frame_ms)} ms" for k in range(n_pred)]


def _base_layout(title: str, axes: dict) -> go.Layout:
    layout = go.Layout(
        title={"text": title},
        height=720,
        margin={"l": 0, "r": 0, "t": 60, "b": 0},
        legend={"x": 1, "xanchor": "right", "y": 0.95},
        scene={
            "aspectmode": "manual",
            "xaxis": {"title": {"text": "x (m)"}},
            "yaxis": {"title": {"text": "z (m)"}},
            "zaxis": {"title": {"text": "y (m, up)"}},
            "camera": {"eye": {"x": 0.3, "y": -1.9, "z": 0.5}},
        },
    )
    layout.update(axes)
    return layout


def _scene_title(title: str, label: str) -> str:
    return f"{title} — {label}" if title else label


def pose_animation(
    observed: np.ndarray,
    predicted: np.ndarray,
    truth: np.ndarray | None,
    bones: list[tuple[int, int]],
    title: str = "",
    scene_labels: list[str] | None = None,
    frame_ms: float = FRAME_MS,
    max_scenes: int = 12,
) -> go.Figure:
    """Animated 3D skeletons that scrub and play in a static HTML file.

    ``observed`` ``(S, P, To, J, 3)``, ``predicted`` and ``truth`` ``(S, P, Tp, J, 3)``
    (``truth`` may be None), metres, y up; ``bones`` are joint index pairs. Only the first
    ``max_scenes`` scenes are kept. Frames are named ``f"{scene}:{t}"`` for t in
    ``0..To+Tp-1``: observed skeletons first, then predicted ones with the ground truth.
    ``frame_ms`` is the time between frames; slider labels give the time relative to
    the last observed frame. ``layout.sliders`` and ``layout.updatemenus[:S]`` (play/pause)
    hold one entry per scene, only the chosen scene's visible; when S > 1 the last
    updatemenu is a dropdown that shows another scene at its frame 0. Write the HTML with
    ``fig.write_html(path, auto_play=False)``: plotly's auto-play runs every scene's frames in a row.
    """
    observed, predicted = np.asarray(observed), np.asarray(predicted)
    truth = None if truth is None else np.asarray(truth)
    _check(observed, predicted, truth, bones)
    labels = scene_labels or [f"scene {s}" for s in range(observed.shape[0])]
    if len(labels) != observed.shape[0]:
        raise ValueError(f"{len(labels)} scene labels for {observed.shape[0]} scenes")
    n_scenes = min(observed.shape[0], max_scenes)
    n_obs, n_pred = observed.shape[2], predicted.shape[2]
    n_frames = n_obs + n_pred
    times = _time_labels(n_obs, n_pred, frame_ms)
    traces = _base_traces(observed.shape[1], _roles(truth), bones)
    trace_ids = list(range(len(traces)))

    def coords(s: int, t: int) -> list[Coords]:
        return _frame_coords(observed, predicted, truth, bones, s, t)

    frames = [
        go.Frame(
            name=f"{s}:{t}", traces=trace_ids,
            data=[go.Scatter3d(x=x, y=y, z=z) for x, y, z in coords(s, t)],
        )
        for s in range(n_scenes) for t in range(n_frames)
    ]
    still = {"mode": "immediate", "frame": {"duration": 0, "redraw": True}, "transition": {"duration": 0}}
    play = {**still, "frame": {"duration": frame_ms, "redraw": True}, "fromcurrent": True}
    sliders, players, scene_axes = [], [], []
    for s in range(n_scenes):
        names = [f"{s}:{t}" for t in range(n_frames)]
        sliders.append({
            "active": 0, "visible": s == 0, "x": 0.15, "len": 0.83, "y": 0, "pad": {"t": 10, "b": 10},
            "currentvalue": {"prefix": "t: ", "xanchor": "left"},
            "steps": [{"label": times[t], "method": "animate", "args": [[names[t]], still]} for t in range(n_frames)],
        })
        players.append({
            "type": "buttons", "direction": "left", "visible": s == 0, "showactive": False,
            "x": 0.11, "xanchor": "right", "y": 0, "yanchor": "top", "pad": {"t": 50, "r": 10},
            "buttons": [
                {"label": "▶", "method": "animate", "args": [names, play]},
                {"label": "❚❚", "method": "animate", "args": [[None], still]},
            ],
        })
        scene_axes.append(_scene_axes([a[s] for a in (observed, predicted, truth) if a is not None]))

    x0, y0, z0 = zip(*coords(0, 0), strict=True)
    for trace, x, y, z in zip(traces, x0, y0, z0, strict=True):
        trace.update(x=x, y=y, z=z)
    fig = go.Figure(data=traces, frames=frames, layout=_base_layout(_scene_title(title, labels[0]), scene_axes[0]))
    menus = list(players)
    if n_scenes > 1:
        buttons = []
        for s in range(n_scenes):
            xs, ys, zs = zip(*coords(s, 0), strict=True)
            relayout = {
                **scene_axes[s],
                **{f"sliders[{i}].visible": i == s for i in range(n_scenes)},
                **{f"updatemenus[{i}].visible": i == s for i in range(n_scenes)},
                f"sliders[{s}].active": 0,
                "title.text": _scene_title(title, labels[s]),
            }
            buttons.append({
                "label": labels[s], "method": "update",
                "args": [{"x": list(xs), "y": list(ys), "z": list(zs)}, relayout],
            })
        menus.append({
            "type": "dropdown", "buttons": buttons, "active": 0, "showactive": True,
            "x": 0, "xanchor": "left", "y": 1, "yanchor": "top",
        })
    fig.update_layout(sliders=sliders, updatemenus=menus)
    return fig


def pose_scrubber(
    observed: np.ndarray,
    predicted: np.ndarray,
    truth: np.ndarray | None,
    bones: list[tuple[int, int]],
    scene_labels: list[str] | None = None,
    frame_ms: float = FRAME_MS,
) -> KernelWidget:
    """A live-kernel 3D view: scene dropdown, play button and frame slider above a ``FigureWidget``.

    Arrays as in :func:`pose_animation` (``(S, P, T, J, 3)``, metres, y up); the slider
    runs over ``0..To+Tp-1`` (observed, then predicted frames) and updates the traces
    in place. Returns a :class:`~workbench.viz.notebook.KernelWidget` (a ``VBox``) of
    ``[HBox([Dropdown, Play, IntSlider, Label]), FigureWidget]``, noted in static reports;
    nothing is displayed, so it can be built outside a notebook. Needs ``anywidget``.
    """
    observed, predicted = np.asarray(observed), np.asarray(predicted)
    truth = None if truth is None else np.asarray(truth)
    _check(observed, predicted, truth, bones)
    labels = scene_labels or [f"scene {s}" for s in range(observed.shape[0])]
    if len(labels) != observed.shape[0]:
        raise ValueError(f"{len(labels)} scene labels for {observed.shape[0]} scenes")
    n_obs, n_pred = observed.shape[2], predicted.shape[2]
    times = _time_labels(n_obs, n_pred, frame_ms)

    def axes(s: int) -> dict:
        return _scene_axes([a[s] for a in (observed, predicted, truth) if a is not None])

    fig = go.FigureWidget(
        data=_base_traces(observed.shape[1], _roles(truth), bones), layout=_base_layout(labels[0], axes(0))
    )
    picker = widgets.Dropdown(options=[(label, s) for s, label in enumerate(labels)], value=0, description="scene")
    slider = widgets.IntSlider(value=0, min=0, max=n_obs + n_pred - 1, description="frame", readout=False)
    player = widgets.Play(value=0, min=0, max=n_obs + n_pred - 1, interval=round(frame_ms))
    widgets.jslink((player, "value"), (slider, "value"))
    clock = widgets.Label()

    def show(_change: dict | None = None) -> None:
        scene, t = picker.value, slider.value
        with fig.batch_update():
            coords = _frame_coords(observed, predicted, truth, bones, scene, t)
            for trace, (x, y, z) in zip(fig.data, coords, strict=True):
                trace.x, trace.y, trace.z = x, y, z
        clock.value = times[t]

    def change_scene(_change: dict) -> None:
        with fig.batch_update():
            fig.layout.update(axes(picker.value))
            fig.layout.title.text = labels[picker.value]
        show()

    slider.observe(show, names="value")
    picker.observe(change_scene, names="value")
    show()
    what = ("A 3D view of the same poses with a scene menu, a play button and a frame slider, redrawn by the "
            "kernel as you scrub (the animation above shows them in this report).")
    return KernelWidget([widgets.HBox([picker, player, slider, clock]), fig], what)
