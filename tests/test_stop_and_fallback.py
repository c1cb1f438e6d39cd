"""Stopping training on request (Ctrl-C / stop file) mid-epoch, resuming to the same result,
falling back to the previous checkpoint when the last one is corrupt, and the training lock."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from workbench.engine.checkpoint import load_torch_file, previous_path
from workbench.engine.runtime import seed_everything
from workbench.engine.stopping import STOP_FILE_ENV, TrainingLock
from workbench.engine.trainer import TrainConfig, Trainer
from workbench.errors import CheckpointError, TrainingInterrupted


def _data() -> TensorDataset:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(48, 4, generator=g)
    return TensorDataset(x, x.sum(1, keepdim=True))


def _val(model: nn.Module) -> dict:
    x, y = _data().tensors
    return {"val_loss": float(torch.mean((model(x) - y) ** 2))}


def _trainer(path: Path, loss_fn, epochs: int = 4, resume: bool = False) -> Trainer:
    seed_everything(5)
    model = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.3), nn.Tanh(), nn.Linear(16, 1))
    cfg = TrainConfig(epochs=epochs, batch_size=8, lr=0.05, scheduler="cosine", warmup_epochs=1, seed=5,
                      progress=False, checkpoint_path=str(path), resume=resume)
    return Trainer(model, cfg, loss_fn, _val, model_config={"kind": "toy"})


def _mse(model: nn.Module, batch: tuple) -> tuple[torch.Tensor, dict]:
    x, y = batch
    error = model(x) - y
    return torch.mean(error**2), {"abs": float(torch.mean(torch.abs(error.detach())))}


def _comparable(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "epoch_time_s"} for row in history]


def _interrupting_loss(at_call: int, how: str):
    """``_mse`` that asks for a stop (SIGINT to this process, or the stop file) at call ``at_call``."""
    calls = {"n": 0}

    def loss(model: nn.Module, batch: tuple) -> tuple[torch.Tensor, dict]:
        calls["n"] += 1
        if calls["n"] == at_call:
            if how == "sigint":
                os.kill(os.getpid(), signal.SIGINT)
            else:
                Path(os.environ[STOP_FILE_ENV]).touch()
        return _mse(model, batch)

    return loss


@pytest.fixture(autouse=True)
def ctrl_c_raises() -> None:
    """Ctrl-C with Python's default handler, even where the test runner was started with SIGINT
    ignored (a background job, as in CI)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.mark.numerics  # bit-identical: one process, the same operations on the same shapes
@pytest.mark.parametrize("how", ["sigint", "stop_file"])
def test_stop_mid_epoch_saves_and_resumes_to_the_same_run(tmp_path: Path, monkeypatch, how: str) -> None:
    monkeypatch.setenv(STOP_FILE_ENV, str(tmp_path / "stop"))
    reference = _trainer(tmp_path / "ref.pt", _mse).fit(_data())

    path = tmp_path / "run.pt"
    # 6 batches per epoch: call 9 is batch 3 of epoch 2
    with pytest.raises(TrainingInterrupted, match=r"epoch 2, after batch 3 of 6.*run\.pt"):
        _trainer(path, _interrupting_loss(9, how)).fit(_data())
    state = load_torch_file(path)
    assert state["partial"]["epoch"] == 1 and state["partial"]["batches"] == 3
    assert len(state["history"]) == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    (tmp_path / "stop").unlink(missing_ok=True)
    resumed = _trainer(path, _mse, resume=True).fit(_data())
    assert _comparable(resumed) == _comparable(reference)


def test_second_ctrl_c_aborts_at_once(tmp_path: Path) -> None:
    calls = {"n": 0}

    def loss(model: nn.Module, batch: tuple) -> tuple[torch.Tensor, dict]:
        calls["n"] += 1
        if calls["n"] == 2:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return _mse(model, batch)

    with pytest.raises(KeyboardInterrupt):
        _trainer(tmp_path / "run.pt", loss).fit(_data())
    assert calls["n"] == 2


@pytest.mark.numerics  # bit-identical, as above
def test_corrupt_checkpoint_falls_back_to_the_previous_one(tmp_path: Path, capsys) -> None:
    reference = _trainer(tmp_path / "ref.pt", _mse, epochs=5).fit(_data())
    path = tmp_path / "run.pt"
    _trainer(path, _mse, epochs=5).fit(_data())
    assert load_torch_file(previous_path(path))["epoch"] == 3
    path.write_bytes(path.read_bytes()[:300])

    with pytest.raises(CheckpointError, match=r"run\.pt: unreadable or truncated.*previous checkpoint.*run\.prev\.pt"):
        load_torch_file(path)
    resumed = _trainer(path, _mse, epochs=5, resume=True).fit(_data())
    assert "resumed from the previous checkpoint" in capsys.readouterr().err
    assert _comparable(resumed) == _comparable(reference)


def test_both_checkpoints_corrupt_names_both(tmp_path: Path) -> None:
    path = tmp_path / "run.pt"
    _trainer(path, _mse, epochs=2).fit(_data())
    path.write_bytes(b"")
    previous_path(path).write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=r"run\.pt: checkpoint file is empty.*run\.prev\.pt is unusable too"):
        _trainer(path, _mse, epochs=4, resume=True).fit(_data())


def test_ignored_sigint_stays_ignored(tmp_path: Path) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    seen = {}

    def loss(model: nn.Module, batch: tuple) -> tuple[torch.Tensor, dict]:
        seen.setdefault("handler", signal.getsignal(signal.SIGINT))
        return _mse(model, batch)

    _trainer(tmp_path / "run.pt", loss, epochs=1).fit(_data())
    assert seen["handler"] == signal.SIG_IGN


def test_training_lock_is_exclusive(tmp_path: Path) -> None:
    path = tmp_path / "run.pt"
    with TrainingLock(path):
        with pytest.raises(CheckpointError, match="another process is still training"):
            with TrainingLock(path, timeout_s=0.3):
                pass
    with TrainingLock(path, timeout_s=0.3):
        pass
