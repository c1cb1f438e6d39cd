"""The shared training engine: determinism, resume equality, atomic checkpoints, schedules."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from workbench.engine.checkpoint import load_torch_file, save_atomic
from workbench.engine.runtime import seed_everything
from workbench.engine.trainer import TrainConfig, Trainer
from workbench.errors import CheckpointError, ConfigError


class Noisy(nn.Module):
    """A tiny regressor with dropout, so results depend on the saved random state."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.3), nn.Tanh(), nn.Linear(16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _data() -> TensorDataset:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 4, generator=g)
    return TensorDataset(x, x.sum(1, keepdim=True) + 0.1 * torch.randn(64, 1, generator=g))


def _loss(model: nn.Module, batch: tuple) -> tuple[torch.Tensor, dict]:
    x, y = batch
    return torch.mean((model(x) - y) ** 2), {}


def _val(model: nn.Module) -> dict:
    x, y = _data().tensors
    return {"val_loss": float(torch.mean((model(x) - y) ** 2))}


def _trainer(path: Path | None, epochs: int = 6, scheduler: str = "plateau", **options) -> Trainer:
    seed_everything(7)
    cfg = TrainConfig(epochs=epochs, batch_size=8, lr=0.05, scheduler=scheduler, plateau_patience=0,
                      plateau_factor=0.5, plateau_monitor="train_loss", seed=7, progress=False,
                      checkpoint_path=str(path) if path else None, **options)
    return Trainer(Noisy(), cfg, _loss, _val, model_config={"kind": "noisy"})


def _comparable(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "epoch_time_s"} for row in history]


@pytest.mark.numerics  # bit-identical: one process, the same operations on the same shapes
def test_same_seed_same_run() -> None:
    a = _trainer(None).fit(_data())
    b = _trainer(None).fit(_data())
    assert _comparable(a) == _comparable(b)
    assert a[-1]["train_loss"] < a[0]["train_loss"]


@pytest.mark.numerics  # bit-identical, as above
@pytest.mark.parametrize("scheduler", ["plateau", "cosine"])
def test_resume_after_interruption_equals_uninterrupted_run(tmp_path: Path, scheduler: str) -> None:
    full = _trainer(tmp_path / "full.pt", scheduler=scheduler)
    expected = full.fit(_data())

    interrupted = _trainer(tmp_path / "run.pt", scheduler=scheduler)

    def stop(epoch: int, row: dict) -> None:
        if epoch == 2:
            raise KeyboardInterrupt

    interrupted.epoch_hooks.append(stop)
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(_data())
    assert load_torch_file(tmp_path / "run.pt")["epoch"] == 2

    resumed = _trainer(tmp_path / "run.pt", scheduler=scheduler, resume=True)
    history = resumed.fit(_data())
    assert _comparable(history) == _comparable(expected)  # lr column included: the schedule travelled too
    for key, value in full.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key])


def test_resume_refuses_a_checkpoint_of_another_model(tmp_path: Path) -> None:
    _trainer(tmp_path / "run.pt", epochs=1).fit(_data())
    other = Trainer(Noisy(), TrainConfig(epochs=2, checkpoint_path=str(tmp_path / "run.pt"), resume=True,
                                         progress=False), _loss, model_config={"kind": "other"})
    with pytest.raises(CheckpointError, match="was written for model"):
        other.fit(_data())


def test_early_stopping_and_restore_best(tmp_path: Path) -> None:
    trainer = _trainer(None, epochs=50, early_stopping_patience=2, restore_best=True, monitor="val_loss")
    trainer.config.lr = 0.5  # big steps: validation loss stops improving soon
    trainer.optimizer.param_groups[0]["lr"] = 0.5
    history = trainer.fit(_data())
    assert len(history) < 50 and trainer.stopped_early
    best = min(r["val_loss"] for r in history)
    assert trainer.best_value == pytest.approx(best)
    trainer.model.eval()
    with torch.no_grad():
        assert _val(trainer.model)["val_loss"] == pytest.approx(best, rel=1e-5)


def test_cosine_schedule_with_warmup() -> None:
    trainer = Trainer(Noisy(), TrainConfig(epochs=6, lr=1.0, scheduler="cosine", warmup_epochs=2, progress=False),
                      _loss)
    lrs = [row["lr"] for row in trainer.fit(_data())]
    assert lrs[:3] == pytest.approx([0.5, 1.0, 1.0])
    assert lrs[3] == pytest.approx(0.5 * (1 + torch.cos(torch.tensor(torch.pi / 4)).item()))


def test_save_atomic_leaves_no_partial_file(tmp_path: Path) -> None:
    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    save_atomic({"a": torch.ones(2)}, tmp_path / "ck.pt")
    with pytest.raises(RuntimeError, match="boom"):
        save_atomic({"a": Unpicklable()}, tmp_path / "ck.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]
    assert torch.equal(load_torch_file(tmp_path / "ck.pt")["a"], torch.ones(2))


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown optimizer"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(ConfigError, match="plateau_monitor 'val_ade'"):
        Trainer(Noisy(), TrainConfig(epochs=1, plateau_monitor="val_ade", progress=False), _loss, _val).fit(_data())
