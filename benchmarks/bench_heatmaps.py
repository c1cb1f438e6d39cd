"""Speed of heatmap rendering and of training the pretraining study's models on CPU.

1. Rendering: heatmaps per second of :func:`workbench.heatmaps.render` (one vectorised call for a batch
   of windows: B x 5 frames x 25 keypoints of 56 x 56, random sigma_in from {1, ..., 3} px, float32;
   default B = 16, one training batch = 2,000 maps = 25 MB. Much larger single calls (> 32 MB) get
   fresh zeroed pages from the OS on every call, which then dominates the time)
   against the straightforward way, one ``scipy.ndimage.gaussian_filter`` call per map on a delta image
   (float32, the same sigma, truncate 4, reflect). Both are timed in this process on the same keypoints,
   after checking that the maps agree to 1e-3 of the peak; median of ``--repeats`` runs.
   Target: at least 50x.
2. Training: windows per second of one optimiser step (noisy input simulation, forward, masked MSE,
   backward, Adam) per model at batch 16 on 56 x 56 x 25 heatmaps (default sizes: 128 head channels,
   DeciWatch 5 + 5 layers); median of ``--repeats`` steps after a warm-up step.

The project machine has 2 cores shared with other jobs: timings are noisy; compare ratios measured in
one run. Usage: ``python benchmarks/bench_heatmaps.py [--json] [--repeats N] [--threads N] [--windows N]
[--batch N] [--models NAME ...]`` (``--models`` with no name times the rendering only).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from workbench import heatmaps
from workbench.studies import pretrain


def _median_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def render_benchmark(windows: int, repeats: int) -> dict:
    """Maps per second of ``render`` and of one ``gaussian_filter`` per map, and their ratio."""
    gen = torch.Generator().manual_seed(0)
    kp = torch.rand(windows, 5, 25, 2, generator=gen) * 55
    vis = torch.ones(windows, 5, 25, dtype=torch.bool)
    sigma = heatmaps.sample_sigma_in(tuple(vis.shape), None, gen)
    flat_kp = kp.round().reshape(-1, 2).numpy().astype(int)
    flat_sigma = sigma.reshape(-1).numpy()

    def reference() -> np.ndarray:
        out = np.empty((len(flat_kp), 56, 56), dtype=np.float32)
        delta = np.zeros((56, 56), dtype=np.float32)
        for i, ((x, y), s) in enumerate(zip(flat_kp, flat_sigma, strict=True)):
            delta[y, x] = 255.0
            out[i] = gaussian_filter(delta, float(s), truncate=4.0, mode="reflect")
            delta[y, x] = 0.0
        return out

    ours = heatmaps.render(kp, vis, sigma=sigma).reshape(-1, 56, 56).numpy()
    error = float(np.abs(ours - reference()).max())
    if error > 0.255:
        raise AssertionError(f"render differs from scipy by {error}")
    maps = len(flat_kp)
    t_ours = _median_time(lambda: heatmaps.render(kp, vis, sigma=sigma), repeats)
    t_ref = _median_time(reference, max(1, repeats // 2))
    return {"maps": maps, "max_abs_error": error, "render_maps_per_s": maps / t_ours,
            "scipy_maps_per_s": maps / t_ref, "speedup": t_ref / t_ours}


def training_benchmark(batch: int, repeats: int, models: list[str]) -> dict[str, float]:
    """Training windows per second per model (one Adam step on a batch of ``batch`` windows)."""
    gen = torch.Generator().manual_seed(1)
    kp = torch.rand(batch, 5, 25, 2, generator=gen) * 55
    vis = torch.ones(batch, 5, 25, dtype=torch.bool)
    ann = torch.ones(batch, 25, dtype=torch.bool)
    rates = {}
    for name in models:
        cfg = pretrain.Config(model=name, device="cpu")
        model = pretrain.make_model(cfg).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step(model: torch.nn.Module = model, opt: torch.optim.Optimizer = opt, cfg: pretrain.Config = cfg) -> None:
            loss, _ = pretrain.model_loss(model, pretrain.noisy_input(kp, vis, cfg), kp, vis, ann)
            opt.zero_grad()
            loss.backward()
            opt.step()

        rates[name] = batch / _median_time(step, repeats)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (scipy uses one)")
    parser.add_argument("--windows", type=int, default=16, help="windows rendered per call (x 125 maps)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--models", nargs="*", default=list(pretrain.MODELS), help="models to time (none: skip)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = {"torch": torch.__version__, "threads": args.threads,
              "render": render_benchmark(args.windows, args.repeats),
              "train_windows_per_s": training_benchmark(args.batch, max(1, args.repeats // 2), args.models)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    r = result["render"]
    print(f"render: {r['render_maps_per_s']:,.0f} maps/s, scipy per map: {r['scipy_maps_per_s']:,.0f} maps/s, "
          f"speedup {r['speedup']:.1f}x (target 50x), max |difference| {r['max_abs_error']:.2e}")
    for name, rate in result["train_windows_per_s"].items():
        print(f"training {name}: {rate:.2f} windows/s (batch {args.batch})")


if __name__ == "__main__":
    main()
