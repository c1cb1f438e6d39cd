"""Speed of the skeleton study's ST-GCN backbone: training and inference clips/s on CPU.

The common NTU setting: batch 16, T = 100 frames, V = 25 joints (NTU-25 graph), M = 2 persons, C = 3,
60 classes, the study's default backbone (:class:`workbench.models.stgcn.STGCN`, base 32 channels,
3 stages x 2 blocks). Measured side by side in one process, on the same random input and weights:

* **ours**: ``STGCN.forward`` (all persons and frames batched; the spatial graph convolution is one
  1 x 1 convolution to K x C_out channels followed by one ``einsum`` with ``A_k + B_k``);
* **reference**: a straightforward implementation of the same network (defined below) that runs
  each person of each clip separately and computes the graph convolution frame by frame, subset by
  subset (``W_k x_t A_k`` with a matrix product per frame), as in a literal reading of the ST-GCN
  formula; the temporal convolutions and residuals are the same modules.

Both must give the same logits (checked in eval mode before timing). Measured:

1. inference: clips/s of eval-mode forwards under ``torch.inference_mode`` (median of ``--repeats``
   batches after a warm-up); target > 14 clips/s (a published ST-GCN reference on a laptop CPU is
   13.8 clips/s);
2. training: clips/s of forward + backward + SGD step (median of ``--repeats`` steps after a warm-up).

Also reported: our clips per CPU-second of process time; with ``--threads 1`` this approximates the
throughput of one idle core when the machine is shared (wall-clock rates then depend on the other jobs).

Usage, from the repository root with the package importable:
``python benchmarks/bench_skeleton.py [--json] [--repeats N] [--threads N] [--ref-repeats N]``.
Timings on a shared machine are noisy: run it on an idle one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable

import torch
from torch import nn

from workbench.engine.runtime import seed_everything
from workbench.models.stgcn import STGCN, Block, StgcnConfig

BATCH, FRAMES, JOINTS, PERSONS, CHANNELS, CLASSES = 16, 100, 25, 2, 3, 60
TARGET_INFER_CLIPS_PER_S = 14.0


def reference_graph_conv(block: Block, x: torch.Tensor) -> torch.Tensor:
    """The block's graph convolution for one person (1, C_in, T, V), frame by frame and subset by
    subset: ``y_t = sum_k (W_k x_t + b_k) (A_k + B_k)``, then batch norm."""
    gcn = block.gcn
    weight = gcn.conv.weight[:, :, 0, 0].view(gcn.subsets, -1, x.shape[1])
    bias = gcn.conv.bias.view(gcn.subsets, -1, 1)
    adjacency = gcn.adjacency + gcn.refinement
    frames = []
    for t in range(x.shape[2]):
        xt = x[0, :, t, :]
        frames.append(sum((weight[k] @ xt + bias[k]) @ adjacency[k] for k in range(gcn.subsets)))
    return gcn.bn(torch.stack(frames, dim=1).unsqueeze(0))


def reference_forward(model: STGCN, x: torch.Tensor) -> torch.Tensor:
    """The network of ``model`` run person by person with :func:`reference_graph_conv`."""
    n, m, t, v, c = x.shape
    features = []
    for i in range(n):
        persons = []
        for j in range(m):
            h = model.data_bn(x[i, j].permute(1, 2, 0).reshape(1, v * c, t))
            h = h.view(1, v, c, t).permute(0, 2, 3, 1)
            for block in model.blocks:
                y = block.relu(reference_graph_conv(block, h) + block.gcn_res(h))
                h = block.relu(block.tcn(y) + block.res(h))
            persons.append(h.mean(dim=(2, 3)))
        features.append(torch.stack(persons).mean(dim=0))
    return model.fc(model.dropout(torch.cat(features)))


def median_seconds(step: Callable[[], object], repeats: int, warmup: int = 1) -> tuple[float, float]:
    """Median wall-clock and median process CPU seconds of ``step()`` after ``warmup`` calls."""
    for _ in range(warmup):
        step()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def train_step(model: nn.Module, forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
               y: torch.Tensor, optimizer: torch.optim.Optimizer) -> Callable[[], None]:
    def step() -> None:
        loss = nn.functional.cross_entropy(forward(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def run(repeats: int, ref_repeats: int, threads: int, seed: int) -> dict[str, object]:
    """Every measurement, as a dict (clips/s, ratios, settings)."""
    torch.set_num_threads(threads)
    seed_everything(seed)
    model = STGCN(StgcnConfig(layout="ntu25", in_channels=CHANNELS, num_classes=CLASSES))
    x = torch.randn(BATCH, PERSONS, FRAMES, JOINTS, CHANNELS)
    y = torch.randint(0, CLASSES, (BATCH,))
    model.eval()
    with torch.inference_mode():
        difference = float((model(x[:2]) - reference_forward(model, x[:2])).abs().max())
    if difference > 1e-3:
        raise AssertionError(f"reference and ours disagree by {difference}")

    with torch.inference_mode():
        ours_infer, ours_infer_cpu = median_seconds(lambda: model(x), repeats)
        ref_infer, _ = median_seconds(lambda: reference_forward(model, x), ref_repeats)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    ours_train, ours_train_cpu = median_seconds(train_step(model, model, x, y, optimizer), repeats)
    ref_train, _ = median_seconds(train_step(model, lambda inp: reference_forward(model, inp), x, y, optimizer),
                               ref_repeats)
    return {
        "infer_clips_per_s": BATCH / ours_infer, "reference_infer_clips_per_s": BATCH / ref_infer,
        "infer_speedup": ref_infer / ours_infer,
        "train_clips_per_s": BATCH / ours_train, "reference_train_clips_per_s": BATCH / ref_train,
        "train_speedup": ref_train / ours_train,
        "infer_clips_per_cpu_s": BATCH / ours_infer_cpu, "train_clips_per_cpu_s": BATCH / ours_train_cpu,
        "target_infer_clips_per_s": TARGET_INFER_CLIPS_PER_S,
        "infer_target_met": BATCH / ours_infer > TARGET_INFER_CLIPS_PER_S,
        "parameters": sum(p.numel() for p in model.parameters()), "max_abs_logit_difference": difference,
        "batch": BATCH, "frames": FRAMES, "joints": JOINTS, "persons": PERSONS, "threads": threads,
        "repeats": repeats, "reference_repeats": ref_repeats, "torch": torch.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--repeats", type=int, default=7, help="timed batches of ours (default 7)")
    parser.add_argument("--ref-repeats", type=int, default=3, help="timed batches of the reference (default 3)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    r = run(args.repeats, args.ref_repeats, args.threads, args.seed)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"ST-GCN backbone, batch {BATCH}, T={FRAMES}, V={JOINTS}, M={PERSONS}, {r['parameters']:,} parameters, "
          f"{args.threads} threads (median of {args.repeats} / {args.ref_repeats} batches)")
    print(f"{'measure':<28}{'ours':>10}{'reference':>12}{'ratio':>8}")
    print(f"{'inference (clips/s)':<28}{r['infer_clips_per_s']:>10.1f}{r['reference_infer_clips_per_s']:>12.2f}"
          f"{r['infer_speedup']:>7.1f}x")
    print(f"{'training (clips/s)':<28}{r['train_clips_per_s']:>10.1f}{r['reference_train_clips_per_s']:>12.2f}"
          f"{r['train_speedup']:>7.1f}x")
    print(f"ours per CPU-second (process time; with 1 thread about the speed of an idle core): inference "
          f"{r['infer_clips_per_cpu_s']:.1f}, training {r['train_clips_per_cpu_s']:.1f} clips")
    verdict = "met" if r["infer_target_met"] else "NOT met"
    print(f"inference target > {TARGET_INFER_CLIPS_PER_S} clips/s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
