"""One step of an ``nn.LSTM`` layer, for autoregressive decoding without the
per-call overhead of running the module on a length-1 sequence."""

from __future__ import annotations

import torch
from torch import nn


def lstm_step(
    lstm: nn.LSTM, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, layer: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advance layer ``layer`` of ``lstm`` by one step with its own weights.

    x: (B, input), h and c: (B, hidden). gates = x W_ih^T + b_ih + h W_hh^T + b_hh,
    split into i, f, g, o; c' = sigmoid(f) c + sigmoid(i) tanh(g);
    h' = sigmoid(o) tanh(c'). Returns (h', c').
    """
    w_ih = getattr(lstm, f"weight_ih_l{layer}")
    w_hh = getattr(lstm, f"weight_hh_l{layer}")
    bias = getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")
    gates = torch.addmm(bias, x, w_ih.t()).addmm_(h, w_hh.t())
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c
