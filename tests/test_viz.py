"""Tests of the notebook visualisations in :mod:`workbench.viz`."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from workbench.viz.curves import horizon_plot, learning_curves, lr_drop_epochs
from workbench.viz.pose3d import pose_animation, pose_scrubber
from workbench.viz.tables import parameter_table, styled_results

S, P, TO, TP, J = 2, 2, 4, 3, 5
BONES = [(0, 1), (1, 2), (1, 3), (3, 4)]


@pytest.fixture()
def poses() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    observed = rng.normal(size=(S, P, TO, J, 3))
    predicted = rng.normal(size=(S, P, TP, J, 3))
    truth = rng.normal(size=(S, P, TP, J, 3))
    return observed, predicted, truth


def _by_role(traces, role: str) -> list:
    return [i for i, trace in enumerate(traces) if trace.name == role]


def _joint(trace, k: int) -> tuple[float, float, float]:
    """Plot coordinates of the k-th point of a skeleton trace."""
    return trace.x[k], trace.y[k], trace.z[k]


def _plot_xyz(pose_joint: np.ndarray) -> np.ndarray:
    """Data (x, y up, z) -> plot (x, z, y)."""
    return pose_joint[[0, 2, 1]]


def test_animation_frames_sliders_and_coordinates(poses):
    observed, predicted, truth = poses
    fig = pose_animation(observed, predicted, truth, BONES, scene_labels=["a", "b"])
    assert len(fig.frames) == S * (TO + TP)
    assert [f.name for f in fig.frames[:2]] == ["0:0", "0:1"]
    assert len(fig.data) == 3 * P
    assert len(fig.layout.sliders) == S
    assert all(len(slider.steps) == TO + TP for slider in fig.layout.sliders)
    assert [slider.visible for slider in fig.layout.sliders] == [True, False]
    assert list(fig.layout.sliders[1].steps[TO].args[0]) == [f"1:{TO}"]
    assert fig.layout.sliders[0].steps[TO].label == "pred +67 ms"
    assert fig.layout.sliders[0].steps[TO - 1].label == "obs 0 ms"

    frames = {f.name: f for f in fig.frames}
    obs_ids, pred_ids, truth_ids = (_by_role(fig.data, r) for r in ("observed", "predicted", "ground truth"))
    # second point of the trace is joint 1 (end of bone (0, 1)); scene 1, person 1
    s, p, t = 1, 1, 2
    frame = frames[f"{s}:{t}"]
    np.testing.assert_allclose(_joint(frame.data[obs_ids[p]], 1), _plot_xyz(observed[s, p, t, 1]), atol=1e-4)
    assert frame.data[pred_ids[p]].x == (None,) and frame.data[truth_ids[p]].x == (None,)

    k = 1
    frame = frames[f"{s}:{TO + k}"]
    np.testing.assert_allclose(_joint(frame.data[pred_ids[p]], 1), _plot_xyz(predicted[s, p, k, 1]), atol=1e-4)
    np.testing.assert_allclose(_joint(frame.data[truth_ids[p]], 1), _plot_xyz(truth[s, p, k, 1]), atol=1e-4)
    assert frame.data[obs_ids[p]].x == (None,)
    # one point per bone end plus a None separator per bone
    assert len(frame.data[pred_ids[p]].x) == 3 * len(BONES)
    assert frame.data[pred_ids[p]].x[2] is None


def test_animation_without_truth_and_scene_dropdown(poses):
    observed, predicted, _ = poses
    fig = pose_animation(observed, predicted, None, BONES)
    assert len(fig.data) == 2 * P
    assert "ground truth" not in {trace.name for trace in fig.data}
    assert all(len(frame.data) == 2 * P for frame in fig.frames)

    dropdown = fig.layout.updatemenus[-1]
    assert dropdown.type == "dropdown" and len(dropdown.buttons) == S
    restyle, relayout = dropdown.buttons[1].args
    assert relayout["sliders[1].visible"] is True and relayout["sliders[0].visible"] is False
    assert relayout["updatemenus[1].visible"] is True and relayout["updatemenus[0].visible"] is False
    assert list(restyle["x"][0]) == list(fig.frames[TO + TP].data[0].x)  # frame "1:0", first trace
    # the play button of scene 1 plays only scene 1's frames
    assert list(fig.layout.updatemenus[1].buttons[0].args[0]) == [f"1:{t}" for t in range(TO + TP)]


def test_animation_max_scenes_and_fixed_axes(poses):
    observed, predicted, truth = poses
    fig = pose_animation(observed, predicted, truth, BONES, max_scenes=1)
    assert len(fig.frames) == TO + TP
    assert len(fig.layout.updatemenus) == 1  # play/pause only, no scene picker
    x_range = fig.layout.scene.xaxis.range
    every_x = np.concatenate([a[0, ..., 0].ravel() for a in (observed, predicted, truth)])
    assert x_range[0] <= every_x.min() and x_range[1] >= every_x.max()
    up_range = fig.layout.scene.zaxis.range  # plot z is data y
    every_y = np.concatenate([a[0, ..., 1].ravel() for a in (observed, predicted, truth)])
    assert up_range[0] <= every_y.min() and up_range[1] >= every_y.max()


def test_animation_rejects_mismatched_shapes(poses):
    observed, predicted, truth = poses
    with pytest.raises(ValueError):
        pose_animation(observed, predicted[:, :, :, :4], truth, BONES)
    with pytest.raises(ValueError):
        pose_animation(observed, predicted, truth[:, :, :2], BONES)
    with pytest.raises(ValueError):
        pose_animation(observed, predicted, truth, [(0, J)])


def test_scrubber_slider_and_scene_update_traces(poses):
    pytest.importorskip("anywidget")
    observed, predicted, truth = poses
    box = pose_scrubber(observed, predicted, truth, BONES)
    controls, fig = box.children
    assert isinstance(fig, go.FigureWidget)
    picker = next(w for w in controls.children if isinstance(w, widgets.Dropdown))
    slider = next(w for w in controls.children if isinstance(w, widgets.IntSlider))
    assert slider.max == TO + TP - 1
    obs_ids, pred_ids, truth_ids = (_by_role(fig.data, r) for r in ("observed", "predicted", "ground truth"))

    np.testing.assert_allclose(_joint(fig.data[obs_ids[0]], 1), _plot_xyz(observed[0, 0, 0, 1]), atol=1e-4)
    slider.value = TO + 2
    np.testing.assert_allclose(_joint(fig.data[pred_ids[1]], 1), _plot_xyz(predicted[0, 1, 2, 1]), atol=1e-4)
    np.testing.assert_allclose(_joint(fig.data[truth_ids[1]], 1), _plot_xyz(truth[0, 1, 2, 1]), atol=1e-4)
    assert fig.data[obs_ids[1]].x == (None,)

    picker.value = 1
    np.testing.assert_allclose(_joint(fig.data[pred_ids[0]], 1), _plot_xyz(predicted[1, 0, 2, 1]), atol=1e-4)
    x_range = fig.layout.scene.xaxis.range
    assert x_range[0] <= predicted[1, ..., 0].min() and x_range[1] >= predicted[1, ..., 0].max()


HISTORY = [
    {"epoch": 1, "lr": 1e-3, "train_loss": 1.0, "val_loss": 1.2, "val_ade": 0.5},
    {"epoch": 2, "lr": 1e-3, "train_loss": 0.8, "val_loss": 1.0, "val_ade": 0.4},
    {"epoch": 3, "lr": 7e-4, "train_loss": 0.7, "val_loss": 0.9, "val_ade": 0.35},
    {"epoch": 4, "lr": 7e-4, "train_loss": 0.6, "val_loss": 0.9, "val_ade": 0.33},
    {"epoch": 5, "lr": 4.9e-4, "train_loss": 0.5, "val_loss": 0.8, "val_ade": 0.30},
    {"epoch": 6, "lr": 1e-3, "train_loss": 0.5, "val_loss": 0.8, "val_ade": 0.30},
]


def test_lr_drop_epochs():
    assert lr_drop_epochs(HISTORY) == [3, 5]
    assert lr_drop_epochs(pd.DataFrame(HISTORY)) == [3, 5]
    with pytest.raises(KeyError):
        lr_drop_epochs([{"epoch": 1}])


def test_learning_curves_panels_markers_baselines():
    panels = {"loss": ["train_loss", "val_loss"], "ADE (m)": ["val_ade"], "FDE (m)": ["val_fde"]}
    fig = learning_curves(HISTORY, panels, title="run", markers={"LR reduced": [3, 5]},
                          baselines={"ADE (m)": {"identity": 0.45}})
    assert [a.text for a in fig.layout.annotations if a.text in panels] == ["loss", "ADE (m)"]  # FDE panel omitted
    assert [trace.name for trace in fig.data] == ["train_loss", "val_loss", "val_ade"]
    assert list(fig.data[0].x) == [1, 2, 3, 4, 5, 6]
    assert fig.data[2].xaxis == "x2"
    vlines = [s for s in fig.layout.shapes if s.line.dash == "dash"]
    assert sorted(s.x0 for s in vlines) == [3, 3, 5, 5]  # two epochs on two panels
    assert sum(bool(s.showlegend) for s in vlines) == 1
    hlines = [s for s in fig.layout.shapes if s.line.dash == "dot"]
    assert len(hlines) == 1 and hlines[0].y0 == 0.45 and hlines[0].xref == "x2 domain"
    assert any("identity" in (a.text or "") for a in fig.layout.annotations)


def test_learning_curves_partial_and_empty_panels():
    with pytest.warns(UserWarning, match="val_fde"):
        fig = learning_curves(HISTORY, {"ADE/FDE (m)": ["val_ade", "val_fde"]})
    assert [trace.name for trace in fig.data] == ["val_ade"]
    with pytest.raises(KeyError):
        learning_curves(HISTORY, {"FDE (m)": ["val_fde"]})


def test_horizon_plot():
    fig = horizon_plot({"zero-velocity": [1.0, 2.0, 3.0], "ours": [0.5, 1.0, 1.5]}, [100, 240, 500])
    assert [trace.name for trace in fig.data] == ["zero-velocity", "ours"]
    assert list(fig.data[1].y) == [0.5, 1.0, 1.5] and list(fig.data[1].x) == [100, 240, 500]
    assert fig.layout.xaxis.title.text == "horizon (ms)"
    assert fig.layout.yaxis.title.text == "VIM (cm)"
    with pytest.raises(ValueError):
        horizon_plot({"bad": [1.0]}, [100, 240])


def test_parameter_table():
    table = parameter_table({"total": 1000, "modules": {"encoder": 600, "decoder": 300, "head": 100}})
    assert list(table.columns) == ["module", "parameters", "share (%)"]
    assert list(table["module"]) == ["encoder", "decoder", "head", "total"]
    assert table["share (%)"].iloc[:-1].sum() == pytest.approx(100.0)
    assert table.iloc[-1]["parameters"] == 1000 and table.iloc[-1]["share (%)"] == pytest.approx(100.0)
    assert table.iloc[0]["share (%)"] == pytest.approx(60.0)


def test_styled_results_bolds_best_and_rounds():
    df = pd.DataFrame({"model": ["a", "b", "c"], "ADE (m)": [0.31234, 0.2, 0.5], "FDE (m)": [0.9, 1.1, 0.7]})
    html = styled_results(df, ["ADE (m)", "FDE (m)"]).to_html()
    assert "0.312" in html and "0.31234" not in html
    styles = styled_results(df, ["ADE (m)", "FDE (m)"])._compute().ctx
    bold = {cell for cell, props in styles.items() if ("font-weight", "bold") in props}
    assert bold == {(1, 1), (2, 2)}
    with pytest.raises(KeyError):
        styled_results(df, ["MPJPE (mm)"])
