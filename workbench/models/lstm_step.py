"""Single LSTM steps with an ``nn.LSTM`` layer's own weights, for autoregressive decoding
without the per-call overhead of running the module on length-1 sequences."""

from __future__ import annotations

import torch
from torch import nn


def lstm_cell(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply the LSTM nonlinearities to pre-activations ``gates`` (B, 4H), ordered i, f, g, o:
    c' = sigmoid(f) c + sigmoid(i) tanh(g); h' = sigmoid(o) tanh(c'). Returns (h', c')."""
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def lstm_weights(lstm: nn.LSTM, layer: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(W_ih (4H, in), W_hh (4H, H), b_ih + b_hh (4H,)) of one layer."""
    bias = getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")
    return getattr(lstm, f"weight_ih_l{layer}"), getattr(lstm, f"weight_hh_l{layer}"), bias


def lstm_step(
    lstm: nn.LSTM, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, layer: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advance layer ``layer`` of ``lstm`` by one step. x: (B, input), h and c: (B, H);
    gates = x W_ih^T + h W_hh^T + b_ih + b_hh. Returns (h', c')."""
    w_ih, w_hh, bias = lstm_weights(lstm, layer)
    return lstm_cell(torch.addmm(bias, x, w_ih.t()).addmm_(h, w_hh.t()), c)
