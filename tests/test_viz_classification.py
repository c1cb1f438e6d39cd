"""Figures of the skeleton study."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.data.layouts.skeleton_layouts import PENN13
from workbench.viz import classification


def test_confusion_heatmap_rows_are_percent_of_the_true_class() -> None:
    fig = classification.confusion_heatmap(np.array([[3, 1], [0, 0]]), ["a", "b"])
    np.testing.assert_allclose(np.asarray(fig.data[0].z), [[75.0, 25.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="must be"):
        classification.confusion_heatmap(np.ones((2, 3)), ["a", "b"])


def test_accuracy_vs_streams_draws_each_kind_from_the_best_single_stream() -> None:
    table = pd.DataFrame({
        "model": ["j", "b", "2", "2", "6", "6", "j x 2", "b x 2"], "streams": [1, 1, 2, 2, 6, 6, 2, 2],
        "fusion": ["single", "single", "fixed", "val-searched", "fixed", "val-searched", "fixed", "fixed"],
        "boosting": ["single"] * 2 + ["complementary"] * 4 + ["stochastic"] * 2,
        "top-1 (%)": [80.0, 85.0, 88.0, 87.0, 90.0, 91.0, 84.0, 86.5],
    })
    fig = classification.accuracy_vs_streams(table)
    traces = {t.name: t for t in fig.data}
    assert list(traces["best single: b"].y) == [85.0]
    assert list(traces["complementary: best at each size"].x) == [1, 2, 6]
    assert list(traces["complementary: best at each size"].y) == [85.0, 88.0, 90.0]
    assert list(traces["stochastic: best at each size"].y) == [85.0, 86.5]
    assert list(traces["complementary, val-searched weights"].y) == [87.0, 91.0]
    assert list(traces["stochastic, fixed weights"].text) == ["j x 2", "b x 2"]
    older = classification.accuracy_vs_streams(table.drop(columns="boosting").iloc[:6])
    assert "stochastic, fixed weights" not in {t.name for t in older.data}


def test_skeleton_animation_has_one_frame_per_time_step() -> None:
    clip = np.random.default_rng(0).normal(size=(2, 5, 13, 2))
    clip[1] = 0.0  # an absent person is not drawn
    fig = classification.skeleton_animation_2d([clip, clip], PENN13.edges, ["x", "y"])
    assert len(fig.frames) == 5 and len(fig.data) == 2
    assert len(fig.data[0].x) == 3 * len(PENN13.edges)
