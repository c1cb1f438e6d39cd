"""Engine options added for long real-data runs: fixed-size epochs drawn afresh, a training time
limit, numeric precision (fp32 / bf16 autocast / auto), and the training step wrapped whole."""

from __future__ import annotations

import pytest
import torch
from tolerances import rounding_tolerance
from torch import nn
from torch.utils.data import TensorDataset

from workbench.engine import precision
from workbench.engine.trainer import TrainConfig, Trainer, TrainingStep
from workbench.errors import ConfigError


def _data(n: int = 40) -> TensorDataset:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(n, 3, generator=g)
    return TensorDataset(x, x.sum(1, keepdim=True))


def _loss(model: nn.Module, batch: tuple) -> tuple[torch.Tensor, dict]:
    x, y = batch
    out = model(x)
    return torch.mean((out.float() - y) ** 2), {"dtype_is_bf16": float(out.dtype == torch.bfloat16)}


def _trainer(**options) -> Trainer:
    cfg = TrainConfig(**{"epochs": 3, "batch_size": 8, "lr": 0.01, "scheduler": "none", "progress": False,
                         "seed": 3, **options})
    torch.manual_seed(cfg.seed)  # the same initial weights whichever tests ran before
    return Trainer(nn.Linear(3, 1), cfg, _loss)


def test_samples_per_epoch_draws_a_fresh_subset_each_epoch() -> None:
    trainer = _trainer(samples_per_epoch=10)
    first, step = trainer.epoch_order(40, 0)
    second, _ = trainer.epoch_order(40, 1)
    assert len(first) == len(second) == 10 and step == 8
    assert len(set(first.tolist())) == 10 and set(first.tolist()) != set(second.tolist())
    assert torch.equal(first, trainer.epoch_order(40, 0)[0])  # the same for a resumed run
    longer, _ = _trainer(samples_per_epoch=100).epoch_order(40, 0)
    assert len(longer) == 100 and set(longer[:40].tolist()) == set(range(40))  # each sample once per round
    assert len(_trainer().epoch_order(40, 0)[0]) == 40
    assert sum(len(b[0]) for b in trainer.batches(_data(), 0)) == 10


def test_time_limit_stops_after_the_epoch_that_passes_it() -> None:
    assert len(_trainer(epochs=5).fit(_data())) == 5
    trainer = _trainer(epochs=5, max_time_s=1e-9)
    assert len(trainer.fit(_data())) == 1 and trainer.stopped_early


@pytest.mark.parametrize("bad", [{"precision": "fp16"}, {"samples_per_epoch": -1}, {"max_time_s": -2.0}])
def test_bad_engine_options_are_config_errors(bad: dict) -> None:
    with pytest.raises(ConfigError):
        TrainConfig(**bad)


def test_auto_precision_follows_the_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "avx512_bf16"}))
    assert precision.resolve_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    assert precision.resolve_precision("auto", cpu) == "fp32"
    assert precision.resolve_precision("bf16", cpu) == "bf16" and precision.resolve_precision("fp32", cpu) == "fp32"
    with pytest.raises(ConfigError, match="fp16"):
        precision.resolve_precision("fp16", cpu)


def test_cpu_flags_are_read_from_cpuinfo(tmp_path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 amx_bf16\n")
    assert {"avx2", "amx_bf16"} <= precision.cpu_flags(str(info))
    assert precision.cpu_flags(str(tmp_path / "missing")) == frozenset()


@pytest.mark.numerics
def test_bf16_trains_under_autocast_with_fp32_weights() -> None:
    trainer = _trainer(precision="bf16", epochs=2)
    history = trainer.fit(_data())
    assert trainer.precision == "bf16" and history[-1]["train_dtype_is_bf16"] == 1.0
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    fp32 = _trainer(epochs=2)
    assert fp32.fit(_data())[-1]["train_dtype_is_bf16"] == 0.0
    # the two precisions learn the same thing to bf16 accuracy: bf16 rounds each gradient (a sum over a batch),
    # and an Adam step moves a weight by at most about lr, so the weights differ by at most
    # steps * lr * the gradient's relative rounding
    cfg = fp32.config
    steps = cfg.epochs * len(_data()) // cfg.batch_size
    atol = steps * cfg.lr * rounding_tolerance(cfg.batch_size, torch.bfloat16)
    assert torch.allclose(trainer.model.weight, fp32.model.weight, rtol=0, atol=atol)


def test_training_step_module_runs_the_loss_on_the_plain_model() -> None:
    model = nn.Linear(3, 1)
    seen = []

    def loss_fn(net: nn.Module, batch: tuple) -> tuple[torch.Tensor, dict]:
        seen.append(net)
        return _loss(net, batch)

    step = TrainingStep(model, loss_fn)
    loss, _ = step(tuple(_data().tensors))
    assert seen == [model] and loss.ndim == 0
    assert [n for n, _ in step.named_parameters()] == ["model.weight", "model.bias"]


def test_ranks_split_a_fixed_size_epoch_exactly() -> None:
    from workbench.engine.distributed import World

    trainer = _trainer(samples_per_epoch=10, batch_size=4)
    single, _ = trainer.epoch_order(40, 0)
    parts = []
    for rank in (0, 1):
        trainer.world = World(rank=rank, size=2)
        order, step = trainer.epoch_order(40, 0)
        parts.append(order)
        assert step == 2 and len(order) == 5
    # rank r takes positions r, r + 2, ... of the single-process order: together exactly that epoch
    assert torch.equal(torch.stack(parts, 1).flatten(), single)


@pytest.mark.numerics  # bit-identical: one process, the same operations on the same shapes
def test_a_time_limited_fit_extended_without_the_limit_matches_an_unlimited_fit(tmp_path) -> None:
    path = tmp_path / "checkpoint.pt"
    limited = _trainer(epochs=5, max_time_s=1e-9, checkpoint_path=str(path))
    assert len(limited.fit(_data())) == 1 and limited.stopped_early
    extended = _trainer(epochs=5, checkpoint_path=str(path), resume=True)
    history = extended.fit(_data())
    unlimited = _trainer(epochs=5).fit(_data())
    assert not extended.stopped_early and len(history) == 5
    assert [r["train_loss"] for r in history] == [r["train_loss"] for r in unlimited]
    still_limited = _trainer(epochs=5, max_time_s=1e-9, checkpoint_path=str(path), resume=True)
    assert len(still_limited.fit(_data())) == 5  # the finished extension: nothing left to train
