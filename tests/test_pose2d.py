"""The 2D hand animation: frames, slider, masking and orientation."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.viz.pose2d import HAND_BONES, hand_animation


def test_animation_frames_slider_and_masks() -> None:
    observed = np.zeros((3, 42, 2))
    observed[:, 21:, 0] = 1.0
    predicted, truth = observed[:2] + 0.1, observed[:2]
    mask = np.ones((3, 2), bool)
    mask[1, 1] = False  # right hand missing in observed frame 1
    fig = hand_animation(observed, predicted, truth, mask, np.ones((2, 2), bool), gaze=np.full((3, 2), 0.5))
    assert len(fig.frames) == 5 and len(fig.data) == 3 * 2 + 1
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps][2:4] == ["obs 0 ms", "pred +43 ms"]
    frame1 = fig.frames[1].data
    assert list(frame1[1].x) == [None] and len(frame1[0].x) == 3 * len(HAND_BONES)
    assert list(fig.frames[3].data[0].x) == [None]  # no observed hands in predicted frames
    assert fig.frames[3].data[2].x[0] == pytest.approx(0.1) and list(fig.frames[3].data[6].x) == [None]
    assert fig.layout.yaxis.range[0] > fig.layout.yaxis.range[1]  # y points down


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match="observed must have shape"):
        hand_animation(np.zeros((3, 21, 2)), np.zeros((2, 42, 2)))
    with pytest.raises(ValueError, match="truth shape"):
        hand_animation(np.zeros((3, 42, 2)), np.zeros((2, 42, 2)), np.zeros((3, 42, 2)))
