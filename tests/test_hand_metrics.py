"""Hand-forecasting metrics on hand-computed cases, with and without masks."""

from __future__ import annotations

import math

import pytest
import torch

from workbench import metrics


def _pair(frames: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    target = torch.zeros(1, frames, 84)
    return target.clone(), target


def test_one_landmark_off_by_a_3_4_5_triangle() -> None:
    pred, target = _pair()
    pred[0, :, 16:18] = torch.tensor([0.3, 0.4])  # left landmark 8 off by 0.5 u in both frames
    assert metrics.hand_mpjpe_qub(pred, target) == pytest.approx(0.5)
    assert metrics.hand_mpjpe(pred, target) == pytest.approx(0.5 / 42)
    assert metrics.centroid_ade(pred, target) == pytest.approx(0.5 / 42)
    assert metrics.centroid_fde(pred, target) == pytest.approx(0.5 / 42)


def test_mpjpe_qub_is_the_norm_of_the_84_vector() -> None:
    pred, target = _pair(1)
    pred[0, 0] = 0.1  # every coordinate off by 0.1: each landmark by 0.1 * sqrt(2)
    assert metrics.hand_mpjpe_qub(pred, target) == pytest.approx(0.1 * math.sqrt(84))
    assert metrics.hand_mpjpe(pred, target) == pytest.approx(0.1 * math.sqrt(2))
    assert metrics.centroid_ade(pred, target) == pytest.approx(0.1 * math.sqrt(2))


def test_ade_averages_frames_and_fde_takes_the_last() -> None:
    pred, target = _pair(3)
    pred[0, :, 0::2] = torch.tensor([0.0, 0.3, 0.6])[:, None]  # every x shifted by 0, 0.3, 0.6 u
    assert metrics.centroid_ade(pred, target) == pytest.approx(0.3)
    assert metrics.centroid_fde(pred, target) == pytest.approx(0.6)
    assert metrics.hand_mpjpe(pred, target) == pytest.approx(0.3)


def test_masked_hands_are_left_out_everywhere() -> None:
    pred, target = _pair(2)
    pred[0, :, 42:] = 5.0  # the right hand is wrong by a lot ...
    pred[0, :, 0:2] = torch.tensor([0.0, 0.42])  # ... the left wrist by 0.42 u
    mask = torch.tensor([[[True, False], [True, False]]])  # ... and the right hand is missing
    assert metrics.hand_mpjpe_qub(pred, target, mask) == pytest.approx(0.42)
    assert metrics.hand_mpjpe(pred, target, mask) == pytest.approx(0.42 / 21)
    assert metrics.centroid_ade(pred, target, mask) == pytest.approx(0.42 / 21)
    assert metrics.hand_mpjpe(pred, target) > 1.0  # unmasked, the missing hand counts


def test_frames_without_hands_do_not_count() -> None:
    pred, target = _pair(2)
    pred[0, 1] = 1.0  # only frame 1 is wrong, and no hand is visible there
    mask = torch.tensor([[[True, True], [False, False]]])
    assert metrics.hand_mpjpe_qub(pred, target, mask) == 0.0
    assert metrics.centroid_ade(pred, target, mask) == 0.0
    assert math.isnan(metrics.centroid_fde(pred, target, mask))  # the only window has no last frame
    result = metrics.hand_forecast_metrics(pred.expand(3, -1, -1), target.expand(3, -1, -1), mask.expand(3, -1, -1))
    assert result["n_windows"] == 3 and result["mpjpe"] == 0.0


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match="84 numbers"):
        metrics.hand_mpjpe(torch.zeros(1, 2, 80), torch.zeros(1, 2, 80))
    with pytest.raises(ValueError, match="mask shape"):
        metrics.hand_mpjpe(torch.zeros(1, 2, 84), torch.zeros(1, 2, 84), torch.ones(1, 2, 3))
    with pytest.raises(ValueError, match="prediction shape"):
        metrics.centroid_ade(torch.zeros(1, 2, 84), torch.zeros(1, 3, 84))
