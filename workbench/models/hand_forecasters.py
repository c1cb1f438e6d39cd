"""Two-hand 2D landmark forecasters of the hand-forecasting study.

Every model maps observed inputs ``(B, To, D)`` (the 84 hand features first, then any optional
modality features) to forecast hand features ``(B, Tp, 84)`` in feature units (u); ``forward``
takes an optional ``pred_len`` overriding the built Tp (not for ``residual_gru``, whose decoder
has a fixed horizon).

* :class:`BiRecurrentForecaster` (``bilstm``, ``bigru``), the published QUB-PHEO design:
  ``encoder.core`` a 2-layer bidirectional LSTM/GRU (hidden 128, dropout 0.2 between layers),
  ``pose_head`` = Sequential(LayerNorm(256), Dropout, Linear(256, 84)) applied per frame. The
  output sequence is the forecast: output step k is the forecast of future frame k. With
  Tp < To the last Tp output steps are used; Tp > To is refused.
* :class:`ResidualGRUForecaster` (``residual_gru``): a GRU encoder whose last state is decoded by
  an MLP into the Tp displacements from the last observed pose (all frames at once), so the
  zero-velocity forecast is its starting point.
* :class:`HandZeroVelocity`, :class:`HandConstantVelocity`: parameter-free baselines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from workbench.data.formats.qub_pheo import HAND_FEATURES
from workbench.engine.checkpoint import load_state_dict_checked, load_torch_file
from workbench.errors import ConfigError

RECURRENT = {"bilstm": nn.LSTM, "bigru": nn.GRU}


class _Encoder(nn.Module):
    """Holds the recurrent ``core`` so that its parameters are named ``encoder.core.*``."""

    def __init__(self, core: nn.Module) -> None:
        super().__init__()
        self.core = core

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.core(x)[0]


class BiRecurrentForecaster(nn.Module):
    """The published BiLSTM / BiGRU forecaster: (B, To, D) -> (B, Tp, 84), Tp <= To.

    Its horizon has no weights (any ``pred_len`` up to the observed length at call time), and the
    published QUB-PHEO state dicts are in its format."""

    HORIZON_FREE = True
    """Forecasts any horizon up to the observed length with the same weights."""
    PUBLISHED_FORMAT = True
    """Loads the published QUB-PHEO state dicts (:func:`load_published_weights`)."""

    def __init__(self, arch: str = "bilstm", input_size: int = HAND_FEATURES, pred_len: int = 60,
                 hidden: int = 128, layers: int = 2, dropout: float = 0.2) -> None:
        super().__init__()
        if arch not in RECURRENT:
            raise ConfigError(f"unknown recurrent arch {arch!r}; use bilstm or bigru")
        self.arch, self.input_size, self.pred_len = arch, input_size, pred_len
        self.hidden, self.layers, self.dropout = hidden, layers, dropout
        core = RECURRENT[arch](input_size, hidden, num_layers=layers, dropout=dropout if layers > 1 else 0.0,
                               bidirectional=True, batch_first=True)
        self.encoder = _Encoder(core)
        self.pose_head = nn.Sequential(nn.LayerNorm(2 * hidden), nn.Dropout(dropout),
                                       nn.Linear(2 * hidden, HAND_FEATURES))

    def forward(self, observed: torch.Tensor, pred_len: int | None = None) -> torch.Tensor:
        steps, pred_len = observed.shape[1], pred_len or self.pred_len
        if pred_len > steps:
            raise ConfigError(f"{self.arch} forecasts at most as many frames as it observes: "
                              f"pred_len {pred_len} > obs_len {steps}")
        return self.pose_head(self.encoder(observed)[:, steps - pred_len:])

    def config_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "input_size": self.input_size, "pred_len": self.pred_len,
                "hidden": self.hidden, "layers": self.layers, "dropout": self.dropout}


class ResidualGRUForecaster(nn.Module):
    """GRU encoder + MLP decoder of displacements: (B, To, D) -> (B, Tp, 84).

    The GRU reads, for frames 2..To, the inputs and the hand velocities (obs[t] - obs[t-1], 84);
    pred[t] = obs[-1, :84] + MLP(h_last)[t] for t = 1..Tp."""

    def __init__(self, input_size: int = HAND_FEATURES, pred_len: int = 60, hidden: int = 128, layers: int = 2,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.arch, self.input_size, self.pred_len = "residual_gru", input_size, pred_len
        self.hidden, self.layers, self.dropout = hidden, layers, dropout
        self.encoder = nn.GRU(input_size + HAND_FEATURES, hidden, num_layers=layers,
                              dropout=dropout if layers > 1 else 0.0, batch_first=True)
        self.decoder = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, 2 * hidden), nn.GELU(),
                                     nn.Dropout(dropout), nn.Linear(2 * hidden, pred_len * HAND_FEATURES))

    def forward(self, observed: torch.Tensor, pred_len: int | None = None) -> torch.Tensor:
        if pred_len not in (None, self.pred_len):
            raise ConfigError(f"residual_gru was built for pred_len {self.pred_len}, asked for {pred_len}")
        velocity = observed[:, 1:, :HAND_FEATURES] - observed[:, :-1, :HAND_FEATURES]
        state = self.encoder(torch.cat([observed[:, 1:], velocity], dim=-1))[0][:, -1]
        offsets = self.decoder(state).reshape(-1, self.pred_len, HAND_FEATURES)
        return observed[:, -1:, :HAND_FEATURES] + offsets

    def config_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "input_size": self.input_size, "pred_len": self.pred_len,
                "hidden": self.hidden, "layers": self.layers, "dropout": self.dropout}


class HandZeroVelocity(nn.Module):
    """Repeat the last observed hands: pred[t] = obs[-1, :84], t = 1..Tp."""

    def __init__(self, pred_len: int = 60) -> None:
        super().__init__()
        self.arch, self.pred_len = "zero_velocity", pred_len

    def forward(self, observed: torch.Tensor, pred_len: int | None = None) -> torch.Tensor:
        return observed[:, -1:, :HAND_FEATURES].expand(-1, pred_len or self.pred_len, -1).clone()

    def config_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "pred_len": self.pred_len}


class HandConstantVelocity(nn.Module):
    """Extrapolate the last observed velocity: pred[t] = obs[-1] + t (obs[-1] - obs[-2]), t = 1..Tp
    (hand features only)."""

    def __init__(self, pred_len: int = 60) -> None:
        super().__init__()
        self.arch, self.pred_len = "constant_velocity", pred_len

    def forward(self, observed: torch.Tensor, pred_len: int | None = None) -> torch.Tensor:
        last = observed[:, -1:, :HAND_FEATURES]
        steps = torch.arange(1, (pred_len or self.pred_len) + 1, dtype=observed.dtype, device=observed.device)
        return last + steps[None, :, None] * (last - observed[:, -2:-1, :HAND_FEATURES])

    def config_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "pred_len": self.pred_len}


def build_hand_model(arch: str, input_size: int = HAND_FEATURES, pred_len: int = 60, hidden: int = 128,
                     layers: int = 2, dropout: float = 0.2) -> nn.Module:
    """A hand forecaster by name: bilstm, bigru, residual_gru, zero_velocity or constant_velocity."""
    if arch in RECURRENT:
        return BiRecurrentForecaster(arch, input_size, pred_len, hidden, layers, dropout)
    if arch == "residual_gru":
        return ResidualGRUForecaster(input_size, pred_len, hidden, layers, dropout)
    if arch == "zero_velocity":
        return HandZeroVelocity(pred_len)
    if arch == "constant_velocity":
        return HandConstantVelocity(pred_len)
    raise ConfigError(f"unknown hand-forecasting arch {arch!r}; use bilstm, bigru, residual_gru, zero_velocity "
                      "or constant_velocity")


def load_published_weights(model: BiRecurrentForecaster, path: str | Path) -> BiRecurrentForecaster:
    """Load a published QUB-PHEO state dict (``weights_{bilstm,bigru}-gaze_*-obj_*-sur_*.pt``: keys
    ``encoder.core.*``, ``pose_head.0.*``, ``pose_head.2.*``) with ``weights_only=True``, checking
    every key and shape (:class:`workbench.errors.CheckpointError` naming the file otherwise)."""
    return load_state_dict_checked(model, load_torch_file(path), path)
