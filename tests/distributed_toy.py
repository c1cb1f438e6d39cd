"""Run by tests/test_distributed_engine.py, alone or under torchrun: trains a small batch-norm
regressor with SGD through the engine and prints the history (rank 0) as JSON."""

from __future__ import annotations

import json
import sys

import torch
from torch import nn
from torch.utils.data import TensorDataset

from workbench.engine import distributed
from workbench.engine.trainer import TrainConfig, Trainer


def main(checkpoint: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(100, 6)
    y = x @ torch.randn(6, 1) + 0.1 * torch.randn(100, 1)
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.0), nn.Linear(16, 1))

    def loss_fn(net: nn.Module, batch: tuple) -> tuple[torch.Tensor, dict]:
        a, b = batch
        error = net(a) - b
        return (error**2).mean(), {"mae": float(error.detach().abs().mean())}

    def evaluate(net: nn.Module) -> dict:
        return {"val_loss": float(((net(x) - y) ** 2).mean())}

    cfg = TrainConfig(epochs=3, batch_size=12, lr=0.05, optimizer="sgd", scheduler="cosine", warmup_epochs=1,
                      progress=False, checkpoint_path=checkpoint)
    history = Trainer(model, cfg, loss_fn, evaluate).fit(TensorDataset(x, y))
    if distributed.world().is_main:
        rows = [{k: v for k, v in row.items() if k != "epoch_time_s"} for row in history]
        print("HISTORY " + json.dumps({"history": rows, "bn": type(model[1]).__name__, "samples": len(x)}),
              flush=True)
    distributed.destroy_process_group()  # explicit teardown: every rank exits cleanly


if __name__ == "__main__":
    main(sys.argv[1])
