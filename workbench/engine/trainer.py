"""The fit loop shared by every study.

A study supplies a model, a training dataset, ``loss_fn(model, batch) -> (loss,
logs)`` and optionally ``evaluate_fn(model) -> metrics``; :class:`TrainConfig`
chooses the optimiser, LR schedule, early stopping, device and seed. After
every epoch the full training state (model, optimiser, scheduler, history,
early-stopping counters, random states) is written atomically, keeping the one
before it, so ``resume=True`` continues an interrupted or killed run to the same
final metrics as an uninterrupted one (falling back to the previous checkpoint
when the last one is corrupt).

Ctrl-C (SIGINT, also Jupyter's interrupt button) or the file named by the
``WORKBENCH_STOP_FILE`` environment variable stops training at the next batch
boundary: the state, mid-epoch position included, is saved and
:class:`~workbench.errors.TrainingInterrupted` is raised. A second Ctrl-C
interrupts at once.

Under ``torchrun`` (``WORLD_SIZE`` > 1) the model is wrapped in
``DistributedDataParallel``: every global batch of ``batch_size`` samples (the
same batches, in the same order, as a single-process run) is split evenly over
the processes by a ``DistributedSampler``, gradients are averaged, batch norm
uses global-batch statistics, training logs are summed over processes, every
process evaluates the full validation data (so early stopping agrees), and only
rank 0 writes checkpoints and reports progress (:mod:`workbench.engine.progress`: to the runner's
progress file under ``workbench run``, else tqdm bars).
"""

from __future__ import annotations

import itertools
import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torch.utils.data.distributed import DistributedSampler

from workbench.engine import distributed
from workbench.engine.checkpoint import load_state_dict_checked, load_torch_file, previous_path, save_atomic
from workbench.engine.machine import machine_record, machine_text
from workbench.engine.precision import PRECISIONS, autocast, resolve_precision
from workbench.engine.progress import Progress, open_progress
from workbench.engine.runtime import resolve_device, rng_state, seed_everything, set_rng_state
from workbench.engine.stopping import StopRequest, TrainingLock
from workbench.errors import CheckpointError, ConfigError, TrainingInterrupted

LossFn = Callable[[nn.Module, Any], tuple[torch.Tensor, Mapping[str, float]]]
EvaluateFn = Callable[[nn.Module], Mapping[str, float]]
EpochHook = Callable[[int, dict], None]


@dataclass
class TrainConfig:
    """Options of :class:`Trainer`.

    optimizer: ``adam`` | ``adamw`` | ``sgd`` (momentum, nesterov);
    scheduler: ``none`` | ``plateau`` (LR x ``plateau_factor`` when ``plateau_monitor`` has
    not improved for ``plateau_patience`` epochs) | ``cosine`` (cosine decay to 0 over
    ``epochs`` after ``warmup_epochs`` of linear warm-up);
    early stopping after ``early_stopping_patience`` epochs without improvement of
    ``monitor`` (0 turns it off); ``grad_clip`` max gradient norm (0 turns it off);
    ``progress_label`` names the fit in progress reports (default: the model class, and the
    checkpoint file unless it is ``checkpoint.pt``), ``sample_unit`` what a sample is called in
    its speed (``windows``, ``clips``); ``precision``: ``fp32`` | ``bf16`` | ``auto``
    (:mod:`workbench.engine.precision`; applies to the loss function and ``evaluate_fn``);
    ``samples_per_epoch`` > 0 makes an epoch that many samples drawn afresh each epoch (without
    repetition while the data lasts) instead of one pass over the data; ``max_time_s`` > 0 stops
    after the first epoch at which the summed epoch times reach it.
    """

    epochs: int = 100
    batch_size: int = 60
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9
    nesterov: bool = True
    scheduler: str = "plateau"
    plateau_factor: float = 0.7
    plateau_patience: int = 35
    plateau_monitor: str = "train_loss"
    warmup_epochs: int = 0
    monitor: str = "val_loss"
    early_stopping_patience: int = 0
    restore_best: bool = False
    grad_clip: float = 0.0
    device: str = "auto"
    seed: int = 0
    deterministic: bool = True
    checkpoint_path: str | None = None
    resume: bool = False
    progress: bool = True
    progress_label: str = ""
    sample_unit: str = "samples"
    precision: str = "fp32"
    samples_per_epoch: int = 0
    max_time_s: float = 0.0

    def __post_init__(self) -> None:
        if self.epochs < 0 or self.batch_size < 1:
            raise ConfigError(f"epochs must be >= 0 and batch_size >= 1, got {self.epochs} and {self.batch_size}")
        if self.optimizer not in ("adam", "adamw", "sgd"):
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; use adam, adamw or sgd")
        if self.scheduler not in ("none", "plateau", "cosine"):
            raise ConfigError(f"unknown scheduler {self.scheduler!r}; use none, plateau or cosine")
        if self.lr <= 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; use {', '.join(PRECISIONS)}")
        if self.samples_per_epoch < 0 or self.max_time_s < 0:
            raise ConfigError("samples_per_epoch and max_time_s must be >= 0")
        self.betas = (float(self.betas[0]), float(self.betas[1]))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TrainConfig:
        """Build from a parameter mapping, ignoring keys that are not options."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


def move_to(batch: Any, device: torch.device) -> Any:
    """Move every tensor of a (nested) batch to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: move_to(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(v, device) for v in batch)
    return batch


class TrainingStep(nn.Module):
    """A model and its loss function as one module: ``forward(batch)`` = ``loss_fn(model, batch)``.
    Under torchrun this is what ``DistributedDataParallel`` wraps, so a study's loss function
    always gets the plain model (any method of it may run the training computation) and the
    gradients of the whole step are still averaged over the processes."""

    def __init__(self, model: nn.Module, loss_fn: LossFn) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, batch: Any) -> tuple[torch.Tensor, Mapping[str, float]]:
        return self.loss_fn(self.model, batch)


class Trainer:
    """Trains ``model`` on ``train_data`` with ``loss_fn``; evaluates with ``evaluate_fn`` after
    each epoch. ``history`` holds one dict per epoch: epoch, train_loss, the mean of each
    training log, the evaluation metrics, lr and epoch_time_s."""

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig,
        loss_fn: LossFn,
        evaluate_fn: EvaluateFn | None = None,
        model_config: Mapping[str, Any] | None = None,
        collate_fn: Callable | None = None,
    ) -> None:
        self.config = config
        seed_everything(config.seed, config.deterministic)
        self.world = distributed.world()
        self.device = distributed.training_device(resolve_device(config.device), self.world)
        self.model = model.to(self.device)
        self.precision = resolve_precision(config.precision, self.device)
        """The precision training runs in: ``fp32`` or ``bf16``."""
        if self.device.type == "cuda":
            # cuDNN autotuning: CUDA results are only best-effort deterministic anyway.
            torch.backends.cudnn.benchmark = True
        self.ddp: DistributedDataParallel | None = None
        if self.world.distributed:
            distributed.init_process_group(self.device)
            distributed.convert_batch_norm(self.model, self.device)
            self.ddp = DistributedDataParallel(
                TrainingStep(self.model, loss_fn), device_ids=[self.device] if self.device.type == "cuda" else None)
        self.loss_fn = loss_fn
        self.evaluate_fn = evaluate_fn
        self.model_config = dict(model_config or {})
        self.collate_fn = collate_fn
        self.optimizer = self._make_optimizer()
        self.scheduler = self._make_scheduler()
        self.history: list[dict] = []
        self.best_value = math.inf
        self.best_epoch = -1
        self.best_state: dict | None = None
        self.epochs_without_improvement = 0
        self.start_epoch = 0
        self.stopped_early = False
        self.epoch_hooks: list[EpochHook] = []
        self._partial: dict | None = None
        self._stop: StopRequest | None = None
        self._progress = Progress()
        self.epoch = 0
        """The epoch being trained (0-based), for loss functions whose randomness is keyed by epoch."""

    def _make_optimizer(self) -> torch.optim.Optimizer:
        c = self.config
        params = [p for p in self.model.parameters() if p.requires_grad]
        if c.optimizer == "adam":
            return torch.optim.Adam(params, lr=c.lr, betas=c.betas, weight_decay=c.weight_decay)
        if c.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=c.lr, betas=c.betas, weight_decay=c.weight_decay)
        return torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, nesterov=c.nesterov, weight_decay=c.weight_decay)

    def _make_scheduler(self) -> Any:
        c = self.config
        if c.scheduler == "plateau":
            return torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer, mode="min", factor=c.plateau_factor, patience=c.plateau_patience
            )
        if c.scheduler == "cosine":
            warm, total = c.warmup_epochs, max(c.epochs, 1)

            def factor(epoch: int) -> float:
                if epoch < warm:
                    return (epoch + 1) / warm
                return 0.5 * (1 + math.cos(math.pi * (epoch - warm) / max(total - warm, 1)))

            return torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)
        return None

    def epoch_order(self, size: int, epoch: int) -> tuple[torch.Tensor, int]:
        """(sample indices this process trains on in ``epoch``, in order; samples per step).

        The shuffle depends only on (seed, epoch), so a resumed run sees the same batches. With
        W processes a ``DistributedSampler`` deals positions r, r + W, r + 2W, ... of the
        shuffled order to rank r and each step takes ``batch_size / W`` of them, so step s of
        all ranks together is exactly batch s of a single-process run (when W divides
        ``batch_size``; the last positions are padded by repetition when W does not divide the
        dataset size)."""
        generator = torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch)
        order = torch.randperm(size, generator=generator)
        wanted = self.config.samples_per_epoch
        if wanted > 0:
            rounds = [order] + [torch.randperm(size, generator=generator) for _ in range((wanted - 1) // max(size, 1))]
            order = torch.cat(rounds)[:wanted]
        if not self.world.distributed:
            return order, self.config.batch_size
        positions = DistributedSampler(range(len(order)), num_replicas=self.world.size, rank=self.world.rank,
                                       shuffle=False)
        return order[list(positions)], math.ceil(self.config.batch_size / self.world.size)

    def batches(self, data: Dataset, epoch: int) -> Iterable:
        """This process's training batches of ``epoch`` (see :meth:`epoch_order`). A
        ``TensorDataset`` is sliced a whole batch at a time (no per-sample indexing and
        collation); other datasets go through a ``DataLoader``."""
        order, step = self.epoch_order(len(data), epoch)
        if isinstance(data, TensorDataset) and self.collate_fn is None:
            return [tuple(t[index] for t in data.tensors) for index in order.split(step)]
        return DataLoader(data, batch_size=step, sampler=order.tolist(), collate_fn=self.collate_fn)

    def _state(self, epoch: int, partial: dict | None = None) -> dict:
        """The training state after ``epoch`` (0-based) is complete, plus the position inside the
        next epoch when stopped part-way. Collective under torchrun (every rank's random state)."""
        return {
            "format": "workbench-checkpoint-1",
            "epoch": epoch,
            "partial": partial,
            "model": self.model.state_dict(),
            "model_config": self.model_config,
            "train_config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self.config).items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "history": self.history,
            "best_value": self.best_value,
            "best_epoch": self.best_epoch,
            "best_state": self.best_state,
            "epochs_without_improvement": self.epochs_without_improvement,
            "stopped_early": self.stopped_early,
            "rng": distributed.gather_objects(rng_state()),
            "world_size": self.world.size,
        }

    def _save(self, path: Path | None, epoch: int, partial: dict | None = None) -> None:
        state = self._state(epoch, partial)
        if path is not None and self.world.is_main:
            save_atomic(state, path, keep_previous=True)

    def _restore_latest(self, path: Path) -> None:
        """Restore ``path``; when it is corrupt or does not fit, say so and fall back to the checkpoint
        it replaced (:func:`~workbench.engine.checkpoint.previous_path`)."""
        previous = previous_path(path)
        try:
            self._restore(path)
        except CheckpointError as exc:
            if not previous.is_file():
                raise
            try:
                self._restore(previous)
            except CheckpointError as second:
                raise CheckpointError(path, f"{exc.problem}; the previous checkpoint {previous} is unusable too "
                                            f"({second.problem})") from None
            print(f"warning: {path} is unusable ({exc.problem}); resumed from the previous checkpoint "
                  f"{previous} (epoch {self.start_epoch})", file=sys.stderr)

    def _restore(self, path: Path) -> None:
        state = load_torch_file(path)
        if not isinstance(state, dict) or state.get("format") != "workbench-checkpoint-1":
            raise CheckpointError(path, "not a workbench training checkpoint (no training state to resume)")
        if state.get("model_config", {}) != self.model_config:
            raise CheckpointError(
                path, f"was written for model {state.get('model_config')}, but this run builds {self.model_config}"
            )
        load_state_dict_checked(self.model, state["model"], path)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.history = list(state["history"])
        self.best_value = state["best_value"]
        self.best_epoch = state["best_epoch"]
        self.best_state = state["best_state"]
        self.epochs_without_improvement = state["epochs_without_improvement"]
        # Derived from this run's limits, not restored: a finished run continued with a longer time
        # limit or patience (``workbench run --extend``) trains on.
        self.stopped_early = self._limits_reached()
        self.start_epoch = state["epoch"] + 1
        self._partial = state.get("partial")
        if self._partial is not None:
            self.start_epoch = self._partial["epoch"]
        states = state["rng"] if isinstance(state["rng"], list) else [state["rng"]]
        set_rng_state(states[self.world.rank] if self.world.rank < len(states) else states[0])

    def train_epoch(self, data: Dataset, epoch: int) -> dict[str, float]:
        """One pass over ``data``: returns the size-weighted mean of the loss and of each training log
        (summed over all processes under torchrun). Continues a part-done epoch after a resume."""
        self.model.train()
        self.epoch = epoch
        partial, self._partial = self._partial, None
        if partial is not None and partial["epoch"] != epoch:
            partial = None
        done = partial["batches"] if partial else 0
        totals: dict[str, float] = dict(partial["totals"]) if partial else {}
        count = partial["count"] if partial else 0
        if partial is None and self.world.rank > 0:
            torch.manual_seed(self.config.seed * 1_000_003 + epoch * 1_009 + self.world.rank)
        all_batches = self.batches(data, epoch)
        batches = itertools.islice(all_batches, done, None)
        for index, batch in enumerate(batches, start=done + 1):
            batch = move_to(batch, self.device)
            with autocast(self.precision, self.device):
                loss, logs = self.ddp(batch) if self.ddp is not None else self.loss_fn(self.model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss.item()} at epoch {epoch + 1}")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.config.grad_clip > 0:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
            self.optimizer.step()
            size = _batch_size(batch)
            count += size
            for key, value in {"train_loss": loss.item(), **{f"train_{k}": float(v) for k, v in logs.items()}}.items():
                totals[key] = totals.get(key, 0.0) + value * size
            self._progress.batch(epoch + 1, index, len(all_batches))
            if self._stop is not None and distributed.any_process(self._stop.requested):
                self._save(self._checkpoint_path(), epoch - 1,
                           {"epoch": epoch, "batches": index, "totals": totals, "count": count})
                raise TrainingInterrupted(self._checkpoint_path(),
                                          f"in epoch {epoch + 1}, after batch {index} of {len(all_batches)}")
        keys = list(totals)
        summed = distributed.all_reduce_sum([totals[k] for k in keys] + [float(count)])
        return {k: v / max(summed[-1], 1) for k, v in zip(keys, summed[:-1], strict=True)}

    def _checkpoint_path(self) -> Path | None:
        return Path(self.config.checkpoint_path) if self.config.checkpoint_path else None

    def _step_schedule(self, row: dict) -> None:
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            key = self.config.plateau_monitor
            if key not in row:
                raise ConfigError(f"plateau_monitor {key!r} is not among the epoch metrics {sorted(row)}")
            self.scheduler.step(row[key])
        elif self.scheduler is not None:
            self.scheduler.step()

    def _track_best(self, row: dict, epoch: int) -> None:
        key = self.config.monitor
        if key not in row:
            return
        if row[key] < self.best_value:
            self.best_value, self.best_epoch = float(row[key]), epoch
            self.epochs_without_improvement = 0
            if self.config.restore_best:
                self.best_state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        else:
            self.epochs_without_improvement += 1

    def _limits_reached(self) -> bool:
        """Whether early stopping (``early_stopping_patience`` epochs without improvement) or the time
        limit (summed epoch times >= ``max_time_s``) ends training."""
        patience, budget = self.config.early_stopping_patience, self.config.max_time_s
        trained = sum(r.get("epoch_time_s", 0.0) for r in self.history)
        return (patience > 0 and self.epochs_without_improvement >= patience) or (budget > 0 and trained >= budget)

    def fit(self, train_data: Dataset) -> list[dict]:
        """Run the remaining epochs; return the history (one dict per epoch). Stops with
        :class:`~workbench.errors.TrainingInterrupted` (state saved) on Ctrl-C or a stop file."""
        path = self._checkpoint_path()
        lock_path = path if path is not None and self.world.is_main else None
        with TrainingLock(lock_path), StopRequest() as self._stop:
            try:
                if self.config.resume and path is not None and (path.is_file() or previous_path(path).is_file()):
                    self._restore_latest(path)
                if len(train_data) == 0 and self.config.epochs > self.start_epoch:
                    raise ConfigError("the training set is empty")
                self._run_epochs(train_data, path)
            finally:
                self._stop = None
        if self.config.restore_best and self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        return self.history

    def progress_label(self) -> str:
        """The fit's name in progress reports: ``progress_label``, else the model class and, unless it is
        ``checkpoint.pt``, the checkpoint file (the streams and sweeps of a study differ there)."""
        if self.config.progress_label:
            return self.config.progress_label
        path = self._checkpoint_path()
        name = type(self.model).__name__
        return f"{name} ({path.name})" if path is not None and path.name != "checkpoint.pt" else name

    def _run_epochs(self, train_data: Dataset, path: Path | None) -> None:
        self._progress = open_progress(self.config.progress and self.world.is_main)
        try:
            self._progress.start(self.progress_label(), self.config.epochs, self.start_epoch, self.config.monitor,
                                 self.config.max_time_s, sum(r.get("epoch_time_s", 0.0) for r in self.history),
                                 batch_size=self.config.batch_size, unit=self.config.sample_unit,
                                 machine=machine_text(machine_record(str(self.device), self.precision)))
            for epoch in range(self.start_epoch, self.config.epochs):
                if self.stopped_early:
                    break
                self._run_epoch(train_data, path, epoch)
            self._progress.end(self.stopped_early)
        finally:
            self._progress.close()
            self._progress = Progress()

    def _run_epoch(self, train_data: Dataset, path: Path | None, epoch: int) -> None:
        started = time.perf_counter()
        row: dict[str, float] = {"epoch": epoch + 1, "lr": self.optimizer.param_groups[0]["lr"]}
        row.update(self.train_epoch(train_data, epoch))
        if self.evaluate_fn is not None:
            self.model.eval()
            with torch.no_grad(), autocast(self.precision, self.device):
                row.update({k: float(v) for k, v in self.evaluate_fn(self.model).items()})
        self._step_schedule(row)
        self._track_best(row, epoch)
        row["epoch_time_s"] = time.perf_counter() - started
        self.history.append(row)
        self.stopped_early = self._limits_reached()
        self._save(path, epoch)
        self._progress.epoch(row, self.best_value, self.best_epoch + 1)
        for hook in self.epoch_hooks:
            hook(epoch, row)


def _batch_size(batch: Any) -> int:
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0])
    if isinstance(batch, Mapping):
        return _batch_size(next(iter(batch.values())))
    if isinstance(batch, (list, tuple)):
        return _batch_size(batch[0])
    return 1
