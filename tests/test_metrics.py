"""Every forecasting metric on hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch

from workbench import metrics


def _case() -> tuple[torch.Tensor, torch.Tensor]:
    """One person, 14 frames, 13 joints. Error at frame t: joint 0 is off by (3, 4, 0) * (t+1) cm
    along x and y, every other joint exact."""
    target = torch.zeros(1, 14, 39)
    pred = target.clone()
    for t in range(14):
        pred[0, t, 0] = 0.03 * (t + 1)
        pred[0, t, 1] = 0.04 * (t + 1)
    return pred, target


def test_ade_fde_by_hand() -> None:
    pred, target = _case()
    # frame t: sqrt(sum sq / 13) = 0.05 (t+1) / sqrt(13)
    per_frame = [0.05 * (t + 1) / math.sqrt(13) for t in range(14)]
    assert metrics.ade(pred, target) == pytest.approx(sum(per_frame) / 14)
    assert metrics.fde(pred, target) == pytest.approx(0.05 * 14 / math.sqrt(13))


def test_vim_by_hand() -> None:
    pred, target = _case()
    # frame t: 100 * sqrt(sum sq) = 5 (t+1) cm
    assert metrics.vim(pred, target) == pytest.approx([5 * 2, 5 * 4, 5 * 8, 5 * 10, 5 * 14])


def test_vim_averages_people() -> None:
    target = torch.zeros(2, 14, 39)
    pred = target.clone()
    pred[0, :, 2] = 0.10  # person 0: 10 cm everywhere, person 1: exact
    assert metrics.vim(pred, target) == pytest.approx([5.0] * 5)


def test_mpjpe_by_hand() -> None:
    pred, target = _case()
    # joint 0 at frame t: 50 (t+1) mm, 12 joints exact -> mean over 13 joints and 14 frames
    expected = sum(50.0 * (t + 1) for t in range(14)) / (14 * 13)
    assert metrics.mpjpe_mm(pred, target) == pytest.approx(expected)


def test_metrics_reduce_over_leading_axes_and_check_shapes() -> None:
    pred, target = _case()
    flat = metrics.forecast_metrics(pred, target)
    nested = metrics.forecast_metrics(pred.reshape(1, 1, 14, 39), target.reshape(1, 1, 14, 39))
    assert flat == nested and flat["n_people"] == 1
    with pytest.raises(ValueError, match="prediction shape"):
        metrics.ade(pred, target[:, :13])
    assert metrics.ade(target, target) == 0.0


def test_error_correlation_on_hand_computed_errors() -> None:
    labels = torch.tensor([0, 0, 0, 0, 0])
    wrong, right = [0.0, 1.0], [1.0, 0.0]
    a = torch.tensor([wrong, wrong, right, right, right])  # errors 1 1 0 0 0
    b = torch.tensor([wrong, right, right, right, right])  # errors 1 0 0 0 0
    c = torch.tensor([right] * 5)  # no error: no variance
    corr = metrics.error_correlation([a, b, c], labels)
    # centred errors (.6, .6, -.4, -.4, -.4) and (.8, -.2, -.2, -.2, -.2): .6 / sqrt(1.2 * .8)
    assert corr[0, 1].item() == pytest.approx(0.6 / (1.2 * 0.8) ** 0.5)
    assert corr[0, 0].item() == pytest.approx(1.0) and corr[1, 0] == corr[0, 1]
    assert torch.isnan(corr[2, 0]) and torch.isnan(corr[2, 2])
