"""The fit loop shared by every study.

A study supplies a model, a training dataset, ``loss_fn(model, batch) -> (loss,
logs)`` and optionally ``evaluate_fn(model) -> metrics``; :class:`TrainConfig`
chooses the optimiser, LR schedule, early stopping, device and seed. After
every epoch the full training state (model, optimiser, scheduler, history,
early-stopping counters, random states) is written atomically, so
``resume=True`` continues an interrupted run to the same final metrics as an
uninterrupted one.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler, TensorDataset

from workbench.engine.checkpoint import load_state_dict_checked, load_torch_file, save_atomic
from workbench.engine.runtime import resolve_device, rng_state, seed_everything, set_rng_state
from workbench.errors import CheckpointError, ConfigError

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
    ``monitor`` (0 turns it off); ``grad_clip`` max gradient norm (0 turns it off).
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

    def __post_init__(self) -> None:
        if self.epochs < 0 or self.batch_size < 1:
            raise ConfigError(f"epochs must be >= 0 and batch_size >= 1, got {self.epochs} and {self.batch_size}")
        if self.optimizer not in ("adam", "adamw", "sgd"):
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; use adam, adamw or sgd")
        if self.scheduler not in ("none", "plateau", "cosine"):
            raise ConfigError(f"unknown scheduler {self.scheduler!r}; use none, plateau or cosine")
        if self.lr <= 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")
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


def _progress(iterable: Any, enabled: bool, **kwargs: Any) -> Any:
    """A tqdm bar: widget bar in Jupyter, text bar in terminals and batch runs."""
    if not enabled:
        return iterable
    if os.environ.get("WORKBENCH_BATCH"):
        from tqdm import tqdm

        return tqdm(iterable, mininterval=10.0, ascii=True, **kwargs)
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


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
        self.device = resolve_device(config.device)
        self.model = model.to(self.device)
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

    def batches(self, data: Dataset, epoch: int) -> Iterable:
        """The shuffled training batches of ``epoch``; the order depends only on (seed, epoch), so a
        resumed run sees the same batches. A ``TensorDataset`` is sliced a whole batch at a time
        (no per-sample indexing and collation); other datasets go through a ``DataLoader``."""
        generator = torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch)
        if isinstance(data, TensorDataset) and self.collate_fn is None:
            order = torch.randperm(len(data), generator=generator)
            return [tuple(t[index] for t in data.tensors) for index in order.split(self.config.batch_size)]
        return DataLoader(
            data, batch_size=self.config.batch_size, sampler=RandomSampler(data, generator=generator),
            collate_fn=self.collate_fn,
        )

    def _state(self, epoch: int) -> dict:
        return {
            "format": "workbench-checkpoint-1",
            "epoch": epoch,
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
            "rng": rng_state(),
        }

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
        self.stopped_early = state["stopped_early"]
        self.start_epoch = state["epoch"] + 1
        set_rng_state(state["rng"])

    def train_epoch(self, data: Dataset, epoch: int) -> dict[str, float]:
        """One pass over ``data``: returns the size-weighted mean of the loss and of each training log."""
        self.model.train()
        totals: dict[str, float] = {}
        count = 0
        batches = _progress(self.batches(data, epoch), self.config.progress, desc=f"epoch {epoch + 1}", leave=False)
        for batch in batches:
            batch = move_to(batch, self.device)
            loss, logs = self.loss_fn(self.model, batch)
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
        return {k: v / max(count, 1) for k, v in totals.items()}

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
        patience = self.config.early_stopping_patience
        self.stopped_early = patience > 0 and self.epochs_without_improvement >= patience

    def fit(self, train_data: Dataset) -> list[dict]:
        """Run the remaining epochs; return the history (one dict per epoch)."""
        path = Path(self.config.checkpoint_path) if self.config.checkpoint_path else None
        if self.config.resume and path is not None and path.is_file():
            self._restore(path)
        if len(train_data) == 0 and self.config.epochs > self.start_epoch:
            raise ConfigError("the training set is empty")
        epochs = range(self.start_epoch, self.config.epochs)
        bar = _progress(epochs, self.config.progress, desc="training", unit="epoch",
                        initial=self.start_epoch, total=self.config.epochs)
        for epoch in bar:
            if self.stopped_early:
                break
            started = time.perf_counter()
            row: dict[str, float] = {"epoch": epoch + 1, "lr": self.optimizer.param_groups[0]["lr"]}
            row.update(self.train_epoch(train_data, epoch))
            if self.evaluate_fn is not None:
                self.model.eval()
                with torch.no_grad():
                    row.update({k: float(v) for k, v in self.evaluate_fn(self.model).items()})
            self._step_schedule(row)
            self._track_best(row, epoch)
            row["epoch_time_s"] = time.perf_counter() - started
            self.history.append(row)
            if path is not None:
                save_atomic(self._state(epoch), path)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix({k: f"{row[k]:.4g}" for k in ("train_loss", self.config.monitor) if k in row})
            for hook in self.epoch_hooks:
                hook(epoch, row)
        if self.config.restore_best and self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        return self.history


def _batch_size(batch: Any) -> int:
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0])
    if isinstance(batch, Mapping):
        return _batch_size(next(iter(batch.values())))
    if isinstance(batch, (list, tuple)):
        return _batch_size(batch[0])
    return 1
