"""DistributedDataParallel through the engine: two gloo processes on CPU train exactly what
one process trains (same global batches, averaged gradients, global batch-norm statistics, summed
training logs), and only rank 0 writes the checkpoint."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tolerances import rounding_tolerance

from workbench.engine import distributed

TOY = Path(__file__).with_name("distributed_toy.py")


def _history(command: list[str]) -> dict:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("HISTORY ")]
    assert len(lines) == 1, done.stdout
    return json.loads(lines[0].removeprefix("HISTORY "))


@pytest.mark.numerics
def test_two_processes_train_what_one_process_trains(tmp_path: Path) -> None:
    single = _history([sys.executable, str(TOY), str(tmp_path / "single.pt")])
    double = _history([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                       str(TOY), str(tmp_path / "double.pt")])
    assert single["bn"] == "BatchNorm1d" and double["bn"] == "DistributedBatchNorm"
    assert len(double["history"]) == len(single["history"]) == 3
    # fp32 (the engine's batch-norm swap keeps no float64): the two sum each gradient in another order, so
    # they differ by the rounding of the per-sample terms summed into the weights over the run
    rel = rounding_tolerance(single["samples"] * len(single["history"]))
    for one, two in zip(single["history"], double["history"], strict=True):
        assert one.keys() == two.keys()
        for key in one:
            assert two[key] == pytest.approx(one[key], rel=rel, abs=0), key
    assert (tmp_path / "double.pt").is_file() and (tmp_path / "double.prev.pt").is_file()


def test_the_process_group_is_left_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for name, value in {"RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(name, value)
    distributed.init_process_group(torch.device("cpu"))
    assert torch.distributed.is_initialized()
    distributed.destroy_process_group()
    assert not torch.distributed.is_initialized()
    distributed.destroy_process_group()  # idempotent, as the exit handler calls it again
