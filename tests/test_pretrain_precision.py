"""bf16 autocast against fp32 on the same short pretraining run: the test loss and PCK agree to bf16 rounding."""

from __future__ import annotations

import pytest
import torch
from tolerances import rounding_tolerance

from workbench.studies import pretrain


def _short_run(precision: str) -> tuple[list[float], dict]:
    # DeciWatch: its linear layers run bf16 at a usable speed even where bf16 is emulated (AVX2 CPUs),
    # where bf16 convolutions are about 100x slower than fp32.
    cfg = pretrain.Config(model="deciwatch", dataset="synthetic", synthetic_sequences=16, synthetic_frames=40,
                          epochs=8, lr=3e-3, embed=32, heads=2, layers=1, progress=False, precision=precision)
    data = pretrain.load_data(cfg)
    net = pretrain.make_model(cfg)
    history = pretrain.train(net, data, cfg)
    assert len(history) == 8 and all(p.dtype == torch.float32 for p in net.parameters())
    return [row["train_loss"] for row in history], pretrain.evaluate(net, data.splits["test"], cfg, "test")


@pytest.mark.numerics
def test_bf16_and_fp32_runs_end_within_bf16_rounding() -> None:
    (fp32_losses, fp32), (bf16_losses, bf16) = _short_run("fp32"), _short_run("bf16")
    assert fp32_losses != bf16_losses  # bf16 really ran: the losses differ in the last digits
    # means over the test windows: each term moves by bf16's relative rounding, which averaging does not grow
    assert bf16["loss"] == pytest.approx(fp32["loss"], rel=rounding_tolerance(1, torch.bfloat16))
    for alpha in ("0.05", "0.1", "0.2"):  # a PCK is a mean of hits worth 100 %
        assert bf16["pck"][alpha] == pytest.approx(fp32["pck"][alpha], abs=rounding_tolerance(1, torch.bfloat16, 100))
