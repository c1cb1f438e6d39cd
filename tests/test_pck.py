"""PCK and torso diameter on hand-made cases."""

from __future__ import annotations

import math

import pytest
import torch

from workbench import metrics

SHOULDERS, HIPS = (0, 1), (2, 3)


def _frame() -> torch.Tensor:
    """Shoulders at (0, 0) and (10, 0), hips at (0, 10) and (10, 10): torso diameter 10 px; a 5th keypoint."""
    return torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0], [5.0, 5.0]])


def test_torso_diameter_mean_of_both_sides_and_missing_pairs() -> None:
    kp = torch.stack([_frame(), _frame()])
    kp[1, 3] = torch.tensor([10.0, 30.0])  # right side 30 px
    vis = torch.ones(2, 5, dtype=torch.bool)
    assert metrics.torso_diameter(kp, vis, SHOULDERS, HIPS).tolist() == [10.0, 20.0]
    vis[1, 2] = False
    assert math.isnan(metrics.torso_diameter(kp, vis, SHOULDERS, HIPS)[1])


def test_pck_thresholds_and_counts() -> None:
    target = _frame()[None]
    pred = target.clone()
    pred[0, 0, 0] += 0.5    # exactly at 0.05 x 10: correct at every alpha (<=)
    pred[0, 1, 1] += 0.9    # correct at 0.1 and 0.2
    pred[0, 2] += 1.5       # distance 2.12: wrong at 0.2 (threshold 2)
    pred[0, 4, 0] += 1.8    # correct at 0.2 only
    scored = torch.ones(1, 5, dtype=torch.bool)
    r = metrics.pck(pred, target, scored, SHOULDERS, HIPS)
    assert r["n_keypoints"] == 5
    assert r["pck"] == pytest.approx({"0.05": 40.0, "0.1": 60.0, "0.2": 80.0})
    assert r["threshold_px"] == pytest.approx({"0.05": 0.5, "0.1": 1.0, "0.2": 2.0})


def test_pck_skips_frames_without_torso_and_unscored_keypoints() -> None:
    target = torch.stack([_frame(), _frame() * 2])  # second frame: diameter 20
    pred = target + 100.0
    pred[0] = target[0]
    scored = torch.ones(2, 5, dtype=torch.bool)
    scored[0, 4] = False                       # not scored: its error does not count
    r = metrics.pck(pred, target, scored, SHOULDERS, HIPS)
    assert r["n_keypoints"] == 9 and r["pck"]["0.2"] == pytest.approx(400 / 9)
    assert r["threshold_px"]["0.1"] == pytest.approx(1.5)  # mean diameter 15 px
    scored[1, 1] = False                       # frame 2 loses its right shoulder: skipped entirely
    r = metrics.pck(pred, target, scored, SHOULDERS, HIPS)
    assert r["n_keypoints"] == 4 and r["pck"]["0.05"] == 100.0 and r["threshold_px"]["0.1"] == pytest.approx(1.0)
    hits, count, diameters = metrics.pck_counts(pred, target, scored, SHOULDERS, HIPS, 0.1)
    assert count.tolist() == [1, 1, 1, 1, 0] and hits.tolist() == [1, 1, 1, 1, 0] and diameters.tolist() == [10.0]


def test_pck_shape_errors() -> None:
    with pytest.raises(ValueError, match="must be"):
        metrics.pck(torch.zeros(2, 5, 2), torch.zeros(2, 4, 2), torch.ones(2, 5, dtype=torch.bool), SHOULDERS, HIPS)
