"""Speed of heatmap rendering and of training the pretraining study's models on CPU.

1. Rendering: heatmaps per second of :func:`workbench.data.transforms.heatmaps.render` (one vectorised call for a batch
   of windows: B x 5 frames x 25 keypoints of 56 x 56, random sigma_in from {1, ..., 3} px, float32;
   default B = 16, one training batch = 2,000 maps = 25 MB. Much larger single calls (> 32 MB) get
   fresh zeroed pages from the OS on every call, which then dominates the time)
   against the straightforward way, one ``scipy.ndimage.gaussian_filter`` call per map on a delta image
   (float32, the same sigma, truncate 4, reflect). Both are timed in this process on the same keypoints,
   after checking that the maps agree to 1e-3 of the peak; median of ``--repeats`` runs.
   Target: at least 50x.
2. Training: windows per second of one optimiser step (noisy input simulation, forward, masked MSE,
   backward, Adam) per model at batch 16 on 56 x 56 x 25 heatmaps (default sizes: 128 head channels,
   DeciWatch 5 + 5 layers) in ``--precision`` (default ``auto``), against a straightforward fp32
   reference of the same architecture with the same weights, timed alternately in this process:
   Conv-LSTMs with one convolution per gate and per frame and heads run frame by frame
   (:mod:`workbench.models.heatmap_reference`), 3DConv as ``nn.Conv3d``; median of ``--repeats``
   steps after a warm-up step. Targets: Conv-LSTM models 3x, 3DConv 1.5x.

The benchmark restarts itself with the workbench's allocator set-up (:mod:`workbench.engine.allocator`)
and says which allocator and precision ran.

The project machine has 2 cores shared with other jobs: timings are noisy; compare ratios measured in
one run. Usage: ``python benchmarks/bench_heatmaps.py [--json] [--repeats N] [--threads N] [--windows N]
[--batch N] [--precision P] [--models NAME ...]`` (``--models`` with no name times the rendering only).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from workbench.data.transforms import heatmaps
from workbench.engine.allocator import active_allocator, reexec_with_allocator
from workbench.engine.precision import PRECISIONS, autocast, resolve_precision
from workbench.models.heatmap_models import HeatmapDenoiser
from workbench.models.heatmap_reference import reference_of
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


def _reference(name: str, model: torch.nn.Module) -> torch.nn.Module | None:
    """The straightforward fp32 form of ``model`` (same weights), or None where there is none."""
    if name in ("bi_convlstm_s", "bi_convlstm_c"):
        return reference_of(model)
    if name == "3dconv":
        return _Conv3dReference(model)
    return None


class _Conv3dReference(torch.nn.Module):
    """3DConv through ``nn.Conv3d`` directly (time as depth), with its own copy of the weights."""

    def __init__(self, fast: torch.nn.Module) -> None:
        super().__init__()
        self.model = copy.deepcopy(fast)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.reference_forward(x)

    def objective(self, *args: torch.Tensor, want_maps: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        return HeatmapDenoiser.objective(self, *args, want_maps=want_maps)


def training_benchmark(batch: int, repeats: int, models: list[str], precision: str) -> dict[str, dict]:
    """Per model: training windows per second (noisy input simulation, forward, masked loss, backward,
    Adam) of the project's model in ``precision`` and of its straightforward fp32 reference, timed
    alternately in this process on the same batch; ``speedup`` = ours / reference."""
    gen = torch.Generator().manual_seed(1)
    kp = torch.rand(batch, 5, 25, 2, generator=gen) * 55
    vis = torch.ones(batch, 5, 25, dtype=torch.bool)
    ann = torch.ones(batch, 25, dtype=torch.bool)
    device = torch.device("cpu")
    resolved = resolve_precision(precision, device)
    noise = pretrain.Config(device="cpu")
    out = {}
    for name in models:
        model = pretrain.make_model(pretrain.Config(model=name, device="cpu")).train()
        reference = _reference(name, model)

        def stepper(net: torch.nn.Module, mode: str) -> Callable[[], None]:
            opt = torch.optim.Adam(net.parameters(), lr=1e-3)

            def step() -> None:
                with autocast(mode, device):
                    loss, _ = net.objective(pretrain.noisy_input(kp, vis, noise), kp, vis, ann)
                opt.zero_grad()
                loss.backward()
                opt.step()

            return step

        ours = stepper(model, resolved)
        ref = stepper(reference, "fp32") if reference is not None else None
        ours()
        if ref is not None:
            ref()
        t_ours, t_ref = [], []
        for _ in range(repeats):
            t_ours.append(_timed(ours))
            if ref is not None:
                t_ref.append(_timed(ref))
        rate = batch / statistics.median(t_ours)
        ref_rate = batch / statistics.median(t_ref) if t_ref else None
        out[name] = {"windows_per_s": rate, "reference_windows_per_s": ref_rate,
                     "speedup": rate / ref_rate if ref_rate else None}
    return out


def _timed(fn: Callable[[], None]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (scipy uses one)")
    parser.add_argument("--windows", type=int, default=16, help="windows rendered per call (x 125 maps)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--precision", default="auto", choices=PRECISIONS)
    parser.add_argument("--models", nargs="*", default=list(pretrain.MODELS), help="models to time (none: skip)")
    args = parser.parse_args()
    reexec_with_allocator()
    torch.set_num_threads(args.threads)
    result = {"torch": torch.__version__, "threads": args.threads, "allocator": active_allocator(),
              "precision": resolve_precision(args.precision, torch.device("cpu")),
              "load_average_1min": os.getloadavg()[0],
              "render": render_benchmark(args.windows, args.repeats),
              "training": training_benchmark(args.batch, max(1, args.repeats // 2), args.models, args.precision)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    r = result["render"]
    print(f"allocator {result['allocator']}, precision {result['precision']}, {args.threads} threads, "
          f"load average {result['load_average_1min']:.2f}")
    print(f"render: {r['render_maps_per_s']:,.0f} maps/s, scipy per map: {r['scipy_maps_per_s']:,.0f} maps/s, "
          f"speedup {r['speedup']:.1f}x (target 50x), max |difference| {r['max_abs_error']:.2e}")
    for name, t in result["training"].items():
        against = (f", reference {t['reference_windows_per_s']:.2f} windows/s, speedup {t['speedup']:.2f}x"
                   if t["reference_windows_per_s"] else "")
        print(f"training {name}: {t['windows_per_s']:.2f} windows/s (batch {args.batch}){against}")


if __name__ == "__main__":
    main()
