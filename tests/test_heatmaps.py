"""Heatmap rendering against scipy, the simulated detector's statistics, and peak read-out."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from workbench.data.transforms import heatmaps

POSITIONS = [(0, 0), (55, 55), (0, 55), (1, 54), (3, 2), (54.6, 0.4), (27.2, 30.7), (12, 53), (5.5, 9.5)]


@pytest.mark.parametrize("sigma", [1.0, 1.5, 2.0, 2.5, 3.0])
def test_render_matches_scipy_on_delta_maps_including_borders(sigma: float) -> None:
    kp = torch.tensor(POSITIONS, dtype=torch.float64)
    maps = heatmaps.render(kp, torch.ones(len(POSITIONS), dtype=torch.bool), sigma=sigma).numpy()
    for (x, y), ours in zip(POSITIONS, maps, strict=True):
        delta = np.zeros((56, 56))
        delta[int(np.round(y)), int(np.round(x))] = 255.0
        reference = gaussian_filter(delta, sigma, truncate=4.0, mode="reflect")
        assert np.abs(ours - reference).max() <= 1e-3 * 255.0
        assert ours.sum() == pytest.approx(255.0, rel=1e-9)  # 'reflect' keeps all the mass on the grid


def test_render_float32_batched_per_map_sigma_and_invisible_maps() -> None:
    gen = torch.Generator().manual_seed(0)
    kp = torch.rand(2, 3, 4, 2, generator=gen) * 55
    vis = torch.ones(2, 3, 4, dtype=torch.bool)
    vis[1, 2, 3] = False
    sigma = torch.tensor([1.0, 2.0, 3.0, 1.5]).expand(2, 3, 4)
    maps = heatmaps.render(kp, vis, sigma=sigma)
    assert maps.shape == (2, 3, 4, 56, 56) and maps.dtype == torch.float32
    assert maps[1, 2, 3].abs().sum() == 0
    x, y = kp[0, 1, 2].round().long().tolist()
    delta = np.zeros((56, 56))
    delta[y, x] = 255.0
    assert np.abs(maps[0, 1, 2].numpy() - gaussian_filter(delta, 3.0)).max() < 1e-3 * 255
    assert heatmaps.render(torch.tensor([[np.nan, 3.0]]), torch.tensor([True])).abs().sum() == 0


def test_render_peak_value_and_argmax() -> None:
    maps = heatmaps.render(torch.tensor([[10.0, 20.0], [0.0, 55.0]]), torch.tensor([True, True]))
    g0 = 1.0 / sum(np.exp(-(k**2) / 2) for k in range(-4, 5))
    assert float(maps[0].max()) == pytest.approx(255 * g0**2, rel=1e-5)
    assert heatmaps.argmax_coords(maps).tolist() == [[10.0, 20.0], [0.0, 55.0]]
    assert heatmaps.argmax_coords(torch.zeros(1, 56, 56)).tolist() == [[0.0, 0.0]]
    soft = heatmaps.soft_argmax_coords(maps[:1] * 10)
    assert torch.allclose(soft, torch.tensor([[10.0, 20.0]]), atol=0.05)


def test_simulated_detector_shift_statistics() -> None:
    n = 20000
    kp = torch.full((n, 1, 2), 28.0)
    vis = torch.ones(n, 1, dtype=torch.bool)
    for k in (1, 2):
        gen = torch.Generator().manual_seed(k)
        maps = heatmaps.simulate_detector(kp, vis, shift_scalar=k, sigma_in=1.0, generator=gen)
        shift = heatmaps.argmax_coords(maps[:, 0]) - 28.0
        # clipping to [0, 55] is rare at 28 +- 3k; rounding adds variance 1/12 per coordinate
        assert shift.mean(0).abs().max() < 0.1 * k
        assert shift.std(0).tolist() == pytest.approx([(9 * k * k + 1 / 12) ** 0.5] * 2, rel=0.03)
    gen = torch.Generator().manual_seed(3)
    edge = heatmaps.simulate_detector(torch.zeros(n, 1, 2), vis, 2, 1.0, generator=gen)
    coords = heatmaps.argmax_coords(edge[:, 0])
    assert coords.min() == 0 and (coords == 0).float().mean() > 0.45  # half the shifts fall off the grid: clipped


def test_simulated_detector_is_reproducible_and_blur_choices() -> None:
    kp = torch.rand(3, 5, 25, 2) * 55
    vis = torch.ones(3, 5, 25, dtype=torch.bool)
    a = heatmaps.simulate_detector(kp, vis, 1, 2.0, generator=torch.Generator().manual_seed(7))
    b = heatmaps.simulate_detector(kp, vis, 1, 2.0, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    sigma = heatmaps.sample_sigma_in((4000,), None, torch.Generator().manual_seed(0))
    values, counts = sigma.unique(return_counts=True)
    assert values.tolist() == list(heatmaps.SIGMA_IN_CHOICES)
    assert counts.min() > 700 and counts.max() < 900
    assert heatmaps.sample_sigma_in((3, 2), 1.0).eq(1.0).all()
