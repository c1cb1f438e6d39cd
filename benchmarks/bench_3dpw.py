"""Speed of DeRPoF on SoMoF 3DPW-shaped data: our implementation against a straightforward reference.

Both models are measured side by side in one process, on the same generated data
(``write_dataset`` into a temporary folder; by default 600 training scenes = 1200
person-sequences of 16 observed + 14 predicted frames) with the same batch size
(60 scenes = 120 people, shuffled every epoch), sizes (h=64, latent=32, embedding=8) and initial weights:

* **ours**: an epoch of the workbench engine (``Trainer.train_epoch``) over a ``TensorDataset``
  sliced a batch at a time, :class:`workbench.models.derpof.DeRPoF` in float32, batch-first,
  decoders stepped with folded weights (:mod:`workbench.models.lstm_step`), trained with
  :func:`~workbench.models.derpof.derpof_loss`;
* **reference**: the same architecture written in the style of the published code,
  defined below: a per-person ``Dataset`` built from the JSON's nested lists and a shuffling
  ``DataLoader``, float64, time-major ``(seq, batch, feature)`` tensors, ``nn.LSTM``
  modules called once per decoding step on length-1 sequences, predictions
  accumulated with ``torch.cat`` inside the loop, velocities and positions computed
  with Python loops over frames, and the same loss
  ``MSE(global) + 0.1 * (mean L2(local) + 0.01 * KL)``.

Before timing, the reference is loaded with our initial weights (key for key, which
checks that the architectures and parameter counts are the same) and both must give
the same forecast and loss on a batch.

Measured:

1. training throughput: person-sequences per second over a full epoch
   (forward + backward + Adam step, lr 1e-3, over every batch); median of
   ``--repeats`` epochs after one warm-up epoch, the two models' epochs interleaved;
2. batch-1 inference latency: median milliseconds of one forecast of one person in
   eval mode, deterministic (z = posterior mean), under ``torch.inference_mode``.

Target: our training epoch is at least 3x faster than the reference's
(``train_speedup`` >= 3).

Usage, from the repository root with the package importable (``pip install -e .`` or ``PYTHONPATH=.``):
``python benchmarks/bench_3dpw.py [--json] [--repeats N] [--scenes N] [--threads N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from workbench.data.formats.somof import load_split
from workbench.data.generators.synthetic_3dpw import write_dataset
from workbench.data.layouts.skeleton_3dpw import COORDS_PER_FRAME, HIPS, NUM_JOINTS
from workbench.engine.trainer import TrainConfig, Trainer
from workbench.models.derpof import DeRPoF, DerpofConfig, derpof_loss

TARGET_SPEEDUP = 3.0
BATCH_SCENES = 60
LEARNING_RATE = 1e-3
INFER_WARMUP_CALLS = 20

Batch = tuple[torch.Tensor, torch.Tensor]
RefOutput = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


# --------------------------------------------------------------------------- reference


def reference_velocities(poses: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Time-major poses (T, B, 39) -> global (T-1, B, 3) and local (T-1, B, 39) velocities, frame by frame."""
    global_vel = torch.empty(0, poses.shape[1], 3, dtype=poses.dtype)
    local_vel = torch.empty(0, poses.shape[1], COORDS_PER_FRAME, dtype=poses.dtype)
    for t in range(1, poses.shape[0]):
        joints = (poses[t] - poses[t - 1]).view(-1, NUM_JOINTS, 3)
        hip_vel = (joints[:, HIPS[0]] + joints[:, HIPS[1]]) / 2
        local = (joints - hip_vel.unsqueeze(1)).view(-1, COORDS_PER_FRAME)
        global_vel = torch.cat((global_vel, hip_vel.unsqueeze(0)), dim=0)
        local_vel = torch.cat((local_vel, local.unsqueeze(0)), dim=0)
    return global_vel, local_vel


class ReferenceLocalEncoder(nn.Module):
    """Time-major 2-layer LSTM encoder of local velocities -> posterior mean and log-variance."""

    def __init__(self, cfg: DerpofConfig) -> None:
        super().__init__()
        self.encoder = nn.LSTM(COORDS_PER_FRAME, cfg.hidden, num_layers=2, dropout=cfg.dropout)
        self.FC_mean = nn.Linear(cfg.hidden, cfg.latent)
        self.FC_var = nn.Linear(cfg.hidden, cfg.latent)

    def forward(self, local_vel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        output, _ = self.encoder(local_vel)
        return self.FC_mean(output[-1]), self.FC_var(output[-1])


class ReferenceLocalDecoder(nn.Module):
    """Time-major local decoder: ``nn.LSTM`` called once per step on a length-1 sequence."""

    def __init__(self, cfg: DerpofConfig) -> None:
        super().__init__()
        self.decoder = nn.LSTM(COORDS_PER_FRAME, cfg.hidden)
        self.FC = nn.Sequential(nn.Linear(cfg.latent, cfg.hidden))
        self.mlp = nn.Sequential(nn.Linear(cfg.hidden, COORDS_PER_FRAME))

    def forward(self, z: torch.Tensor, last_local: torch.Tensor, steps: int) -> torch.Tensor:
        hidden = self.FC(z).unsqueeze(0)
        cell = torch.zeros_like(hidden)
        x = last_local.unsqueeze(0)
        outputs = torch.empty(0, z.shape[0], COORDS_PER_FRAME, dtype=z.dtype)
        for _ in range(steps):
            output, (hidden, cell) = self.decoder(x, (hidden, cell))
            x = self.mlp(output)
            outputs = torch.cat((outputs, x), dim=0)
        return outputs


class ReferenceDeRPoF(nn.Module):
    """The DeRPoF architecture written plainly, time-major: observed (16, B, 39) -> forecast tuple
    (positions (T, B, 39), global velocity (T, B, 3), local velocity (T, B, 39), mean, logvar)."""

    def __init__(self, cfg: DerpofConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embedding_fn = nn.Sequential(nn.Linear(3, cfg.embedding), nn.Tanh())
        self.encoder_g = nn.LSTM(cfg.embedding, cfg.hidden)
        self.decoder_g = nn.LSTM(cfg.embedding, cfg.hidden)
        self.hidden2g = nn.Sequential(nn.Linear(cfg.hidden, 3))
        self.Encoder = ReferenceLocalEncoder(cfg)
        self.Decoder = ReferenceLocalDecoder(cfg)

    def forward(self, observed: torch.Tensor, deterministic: bool = False) -> RefOutput:
        global_obs, local_obs = reference_velocities(observed)
        embedded = self.embedding_fn(global_obs)
        _, (hidden, cell) = self.encoder_g(embedded)
        x = embedded[-1:]
        global_pred = torch.empty(0, observed.shape[1], 3, dtype=observed.dtype)
        for _ in range(self.cfg.pred_frames):
            output, (hidden, cell) = self.decoder_g(x, (hidden, cell))
            velocity = self.hidden2g(output)
            global_pred = torch.cat((global_pred, velocity), dim=0)
            x = self.embedding_fn(velocity)

        mean, logvar = self.Encoder(local_obs)
        z = mean if deterministic else mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        local_pred = self.Decoder(z, local_obs[-1], self.cfg.pred_frames)

        position = observed[-1]
        positions = torch.empty(0, observed.shape[1], COORDS_PER_FRAME, dtype=observed.dtype)
        for t in range(self.cfg.pred_frames):
            position = position + local_pred[t] + global_pred[t].repeat(1, NUM_JOINTS)
            positions = torch.cat((positions, position.unsqueeze(0)), dim=0)
        return positions, global_pred, local_pred, mean, logvar


def reference_loss(out: RefOutput, observed: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
    """MSE(global) + 0.1 * (mean L2(local) + 0.01 * summed KL), on time-major tensors."""
    _, global_pred, local_pred, mean, logvar = out
    true_global, true_local = reference_velocities(torch.cat((observed[-1:], future), dim=0))
    mse_global = nn.functional.mse_loss(global_pred, true_global)
    l2_local = torch.norm(local_pred - true_local, dim=-1).mean()
    kl = -0.5 * torch.sum(1 + logvar - mean.pow(2) - logvar.exp())
    return mse_global + 0.1 * (l2_local + 0.01 * kl)


# --------------------------------------------------------------------------- set-up and checks


def available_cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_training_people(scenes: int, seed: int) -> Batch:
    """Generate ``scenes`` training scenes and return (observed, future) per person, float64 batch-first,
    people of a scene adjacent: (2 * scenes, 16, 39) and (2 * scenes, 14, 39)."""
    with tempfile.TemporaryDirectory(prefix="bench_3dpw_") as tmp:
        write_dataset(tmp, {"train": scenes}, seed)
        split = load_split(tmp, "train")
    assert split.outputs is not None
    observed = torch.from_numpy(split.inputs).double().flatten(0, 1)
    future = torch.from_numpy(split.outputs).double().flatten(0, 1)
    return observed, future


def check_same_model(ours: DeRPoF, reference: ReferenceDeRPoF, observed: torch.Tensor, future: torch.Tensor) -> int:
    """Load our weights into the reference (strict, key for key), assert equal parameter counts and
    the same deterministic forecast and loss on (observed, future) float64 batch-first. Returns the count."""
    reference.load_state_dict({k: v.double() for k, v in ours.state_dict().items()}, strict=True)
    count = sum(p.numel() for p in ours.parameters())
    assert count == sum(p.numel() for p in reference.parameters()), "parameter counts differ"
    ours.eval()
    reference.eval()
    with torch.inference_mode():
        out = ours(observed.float(), deterministic=True)
        loss, _ = derpof_loss(out, observed.float(), future.float())
        obs_t, fut_t = observed.transpose(0, 1), future.transpose(0, 1)
        ref_out = reference(obs_t, deterministic=True)
        ref_loss = reference_loss(ref_out, obs_t, fut_t)
    torch.testing.assert_close(out.positions.double(), ref_out[0].transpose(0, 1), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(loss.double(), ref_loss, atol=1e-5, rtol=1e-4)
    return count


# --------------------------------------------------------------------------- timing


def make_epoch_ours(model: DeRPoF, data: Batch, seed: int) -> Callable[[], None]:
    """One training epoch through the workbench engine (``Trainer.train_epoch``): float32 people in a
    ``TensorDataset``, shuffled batches of 120 sliced a whole batch at a time, ``derpof_loss``, Adam."""
    dataset = TensorDataset(data[0].float(), data[1].float())
    config = TrainConfig(epochs=1, batch_size=2 * BATCH_SCENES, lr=LEARNING_RATE, scheduler="none",
                         device="cpu", seed=seed, progress=False)
    trainer = Trainer(model, config, lambda net, batch: derpof_loss(net(batch[0]), batch[0], batch[1]))
    counter = iter(range(1_000_000))
    return lambda: trainer.train_epoch(dataset, next(counter)) and None


class ReferencePeople(Dataset):
    """The published code's data pipeline: poses kept as the JSON's nested lists, one person's
    float64 tensors built per ``__getitem__`` and collated by the ``DataLoader``."""

    def __init__(self, data: Batch) -> None:
        self.observed = data[0].tolist()
        self.future = data[1].tolist()

    def __len__(self) -> int:
        return len(self.observed)

    def __getitem__(self, index: int) -> Batch:
        return torch.tensor(self.observed[index], dtype=torch.float64), torch.tensor(self.future[index],
                                                                                     dtype=torch.float64)


def make_epoch_reference(model: ReferenceDeRPoF, data: Batch, seed: int) -> Callable[[], None]:
    """One training epoch of the reference: per-person dataset, shuffling DataLoader of 120 people,
    float64, permuted to time-major per batch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loader = DataLoader(ReferencePeople(data), batch_size=2 * BATCH_SCENES, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))

    def epoch() -> None:
        model.train()
        for observed, future in loader:
            obs = observed.permute(1, 0, 2)
            fut = future.permute(1, 0, 2)
            loss = reference_loss(model(obs), obs, fut)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return epoch


def time_epochs(epochs: dict[str, Callable[[], None]], repeats: int) -> dict[str, list[float]]:
    """One warm-up epoch each, then ``repeats`` timed epochs each, the models interleaved. Seconds."""
    for epoch in epochs.values():
        epoch()
    seconds: dict[str, list[float]] = {name: [] for name in epochs}
    for _ in range(repeats):
        for name, epoch in epochs.items():
            start = time.perf_counter()
            epoch()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def median_latency_ms(forecast: Callable[[], object], calls: int) -> float:
    """Median wall time of ``forecast()`` in milliseconds over ``calls`` calls after a warm-up."""
    with torch.inference_mode():
        for _ in range(INFER_WARMUP_CALLS):
            forecast()
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            forecast()
            times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


# --------------------------------------------------------------------------- main


def run(scenes: int, repeats: int, threads: int, infer_calls: int, seed: int) -> dict[str, object]:
    """Run every measurement and return the results."""
    torch.set_num_threads(threads)
    seed_everything(seed)
    data = load_training_people(scenes, seed)
    people = data[0].shape[0]
    batch_people = 2 * BATCH_SCENES

    cfg = DerpofConfig()
    ours = DeRPoF(cfg)
    reference = ReferenceDeRPoF(cfg).double()
    parameters = check_same_model(ours, reference, data[0][:batch_people], data[1][:batch_people])

    seconds = time_epochs(
        {
            "ours": make_epoch_ours(ours, data, seed),
            "reference": make_epoch_reference(reference, data, seed),
        },
        repeats,
    )
    ours_rate = people / statistics.median(seconds["ours"])
    ref_rate = people / statistics.median(seconds["reference"])

    ours.eval()
    reference.eval()
    one = data[0][:1].float()
    one_ref = data[0][:1].transpose(0, 1).contiguous()
    ours_ms = median_latency_ms(lambda: ours(one, deterministic=True), infer_calls)
    ref_ms = median_latency_ms(lambda: reference(one_ref, deterministic=True), infer_calls)

    return {
        "train_sequences_per_s": ours_rate,
        "infer_latency_ms_batch1": ours_ms,
        "reference_train_sequences_per_s": ref_rate,
        "reference_infer_latency_ms_batch1": ref_ms,
        "train_speedup": ours_rate / ref_rate,
        "infer_speedup": ref_ms / ours_ms,
        "target_train_speedup": TARGET_SPEEDUP,
        "target_met": ours_rate / ref_rate >= TARGET_SPEEDUP,
        "train_epoch_seconds": seconds["ours"],
        "reference_train_epoch_seconds": seconds["reference"],
        "sequences_per_epoch": people,
        "batch_sequences": batch_people,
        "parameters": parameters,
        "hidden": cfg.hidden,
        "latent": cfg.latent,
        "embedding": cfg.embedding,
        "infer_calls": infer_calls,
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "repeats": repeats,
        "seed": seed,
    }


def spread(seconds: list[float]) -> str:
    """``min-max`` of a list of seconds."""
    return f"{min(seconds):.3f}-{max(seconds):.3f}"


def format_table(r: dict[str, object]) -> str:
    """Human-readable report of the results of :func:`run`."""
    rows = [
        ("", "ours (fp32)", "reference (fp64)", "ratio"),
        (
            "train throughput (seq/s)",
            f"{r['train_sequences_per_s']:.1f}",
            f"{r['reference_train_sequences_per_s']:.1f}",
            f"{r['train_speedup']:.2f}x",
        ),
        (
            "train epoch s (min-max)",
            spread(r["train_epoch_seconds"]),
            spread(r["reference_train_epoch_seconds"]),
            "",
        ),
        (
            "infer latency batch 1 (ms)",
            f"{r['infer_latency_ms_batch1']:.3f}",
            f"{r['reference_infer_latency_ms_batch1']:.3f}",
            f"{r['infer_speedup']:.2f}x",
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    header = (
        f"DeRPoF 3DPW benchmark: torch {r['torch_version']}, threads={r['threads']}, "
        f"{r['sequences_per_epoch']} sequences/epoch, batch {r['batch_sequences']}, "
        f"h={r['hidden']} latent={r['latent']} embedding={r['embedding']}, {r['parameters']} parameters"
    )
    lines = [
        header,
        f"median of {r['repeats']} epochs after 1 warm-up; latency median of {r['infer_calls']} calls",
        "",
    ]
    for label, *cells in rows:
        lines.append("  ".join([label.ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells, widths[1:], strict=True)]))
    lines.append("ratio: train = ours/reference throughput, latency = reference/ours time (higher is better)")
    verdict = "met" if r["target_met"] else "NOT met"
    lines.append(f"target: training >= {r['target_train_speedup']:.0f}x the reference: {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--repeats", type=int, default=5, help="timed training epochs per model (default 5)")
    parser.add_argument("--scenes", type=int, default=600, help="training scenes, 2 people each (default 600)")
    parser.add_argument("--threads", type=int, default=available_cores(), help="torch threads (default: all cores)")
    parser.add_argument("--infer-calls", type=int, default=200, help="timed batch-1 forecasts per model")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.scenes < BATCH_SCENES or args.threads < 1 or args.infer_calls < 1:
        parser.error(f"need --repeats >= 1, --scenes >= {BATCH_SCENES}, --threads >= 1, --infer-calls >= 1")
    results = run(args.scenes, args.repeats, args.threads, args.infer_calls, args.seed)
    print(json.dumps(results) if args.json else format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
