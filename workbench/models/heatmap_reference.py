"""Straightforward forms of the bi-directional Conv-LSTM models, for tests and benchmarks.

:class:`ReferenceBiConvLSTM` computes what :class:`~workbench.models.heatmap_models.BiConvLSTMSum`
(``mode="s"``) and :class:`~workbench.models.heatmap_models.BiConvLSTMConcat` (``mode="c"``) compute,
written the plain way: one 3x3 convolution per gate for the input and one for the hidden state, run
frame by frame inside the recurrence, and the heads applied to one frame at a time. It has the same
parameters (same count), so :func:`reference_of` copies a fast model's weights into it and the two
must agree to float tolerance; ``benchmarks/bench_heatmaps.py`` times both.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from workbench.models.heatmap_models import BiConvLSTMConcat, BiConvLSTMSum, HeatmapDenoiser, PeepholeConvLSTM

GATES = ("i", "f", "o", "c")
"""Gate order of the fast model's stacked convolution outputs (input, forget, output, candidate)."""


class ReferenceConvLSTM(nn.Module):
    """The peephole Conv-LSTM of :class:`PeepholeConvLSTM` with per-gate convolutions
    ``x_<gate>`` / ``h_<gate>`` (K -> K, 3x3, bias), peepholes (3, K, H, W), biases (4, K, H, W)."""

    def __init__(self, channels: int = 25, size: int = 56) -> None:
        super().__init__()
        self.x = nn.ModuleDict({g: nn.Conv2d(channels, channels, 3, padding=1) for g in GATES})
        self.h = nn.ModuleDict({g: nn.Conv2d(channels, channels, 3, padding=1) for g in GATES})
        self.peephole = nn.Parameter(torch.zeros(3, channels, size, size))
        self.bias = nn.Parameter(torch.zeros(4, channels, size, size))

    def forward(self, x: torch.Tensor, reverse: bool = False) -> torch.Tensor:
        """(B, T, C, H, W) -> hidden states (B, T, C, H, W), frame by frame."""
        hidden = torch.zeros_like(x[:, 0])
        cell = torch.zeros_like(x[:, 0])
        outputs: dict[int, torch.Tensor] = {}
        for step in (range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])):
            frame = x[:, step]

            def pre(gate: str, frame: torch.Tensor = frame, hidden: torch.Tensor = hidden) -> torch.Tensor:
                return self.x[gate](frame) + self.h[gate](hidden) + self.bias[GATES.index(gate)]

            i = torch.sigmoid(pre("i") + self.peephole[0] * cell)
            f = torch.sigmoid(pre("f") + self.peephole[1] * cell)
            cell = f * cell + i * torch.tanh(pre("c"))
            o = torch.sigmoid(pre("o") + self.peephole[2] * cell)
            hidden = o * torch.tanh(cell)
            outputs[step] = hidden
        return torch.stack([outputs[s] for s in range(x.shape[1])], dim=1)

    def copy_from(self, fast: PeepholeConvLSTM) -> None:
        """Take the weights of ``fast`` (its stacked gate convolutions split per gate)."""
        with torch.no_grad():
            for source, target in ((fast.input_conv, self.x), (fast.hidden_conv, self.h)):
                for gate, weight, bias in zip(GATES, source.weight.chunk(4), source.bias.chunk(4), strict=True):
                    target[gate].weight.copy_(weight)
                    target[gate].bias.copy_(bias)
            self.peephole.copy_(fast.peephole)
            self.bias.copy_(fast.bias)


class ReferenceBiConvLSTM(HeatmapDenoiser):
    """Model S (``mode="s"``: per-direction heads, summed) or Model C (``mode="c"``: per-direction
    branches, concatenated, 1x1 fusion), with the heads run one frame at a time."""

    def __init__(self, fast: BiConvLSTMSum | BiConvLSTMConcat) -> None:
        super().__init__()
        self.mode = "s" if isinstance(fast, BiConvLSTMSum) else "c"
        channels, size = fast.forward_lstm.bias.shape[1], fast.forward_lstm.bias.shape[2]
        dtype = fast.forward_lstm.bias.dtype  # a float64 model gets a float64 reference
        self.forward_lstm = ReferenceConvLSTM(channels, size).to(dtype)
        self.backward_lstm = ReferenceConvLSTM(channels, size).to(dtype)
        self.forward_lstm.copy_from(fast.forward_lstm)
        self.backward_lstm.copy_from(fast.backward_lstm)
        if self.mode == "s":
            self.forward_head = copy.deepcopy(fast.forward_head)
            self.backward_head = copy.deepcopy(fast.backward_head)
        else:
            self.forward_head = copy.deepcopy(fast.forward_branch)
            self.backward_head = copy.deepcopy(fast.backward_branch)
            self.fusion = copy.deepcopy(fast.fusion)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, K, H, W) -> (B, T, K, H, W)."""
        ahead, behind = self.forward_lstm(x), self.backward_lstm(x, reverse=True)
        frames = []
        for step in range(x.shape[1]):
            a, b = self.forward_head(ahead[:, step]), self.backward_head(behind[:, step])
            frames.append(a + b if self.mode == "s" else self.fusion(torch.cat([a, b], dim=1)))
        return torch.stack(frames, dim=1)


def reference_of(fast: nn.Module) -> ReferenceBiConvLSTM:
    """The straightforward form of a bi-directional Conv-LSTM model, holding a copy of its weights."""
    if not isinstance(fast, (BiConvLSTMSum, BiConvLSTMConcat)):
        raise TypeError(f"no reference form for {type(fast).__name__}")
    return ReferenceBiConvLSTM(fast)
