"""bf16 autocast against fp32 on the same short pretraining run: the test PCK agrees within 1 point."""

from __future__ import annotations

import pytest
import torch

from workbench.studies import pretrain


def _short_run(precision: str) -> dict[str, float]:
    # DeciWatch: its linear layers run bf16 at a usable speed even where bf16 is emulated (AVX2 CPUs),
    # where bf16 convolutions are about 100x slower than fp32.
    cfg = pretrain.Config(model="deciwatch", dataset="synthetic", synthetic_sequences=16, synthetic_frames=40,
                          epochs=8, lr=3e-3, embed=32, heads=2, layers=1, progress=False, precision=precision)
    data = pretrain.load_data(cfg)
    net = pretrain.make_model(cfg)
    history = pretrain.train(net, data, cfg)
    assert len(history) == 8 and all(p.dtype == torch.float32 for p in net.parameters())
    return pretrain.evaluate(net, data.splits["test"], cfg, "test")["pck"]


def test_bf16_and_fp32_runs_end_within_one_point_of_test_pck() -> None:
    fp32, bf16 = _short_run("fp32"), _short_run("bf16")
    assert fp32 != bf16  # bf16 really ran: the numbers differ in the last digits
    for alpha in ("0.05", "0.1", "0.2"):
        assert bf16[alpha] == pytest.approx(fp32[alpha], abs=1.0)
