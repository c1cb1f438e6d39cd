"""DeRPoF: decoupled global/local pose forecasting (SoMoF 3DPW).

Velocities are frame differences of the 13-joint poses. The global velocity
of a person is the mean of the two hip joints' velocities; the local velocity
of a joint is its velocity minus the global one. A global LSTM encoder-decoder
forecasts the global velocity; a VAE of LSTMs forecasts the local velocities.
Predicted velocity = global + local; positions = last observed pose + the
cumulative sum of predicted velocities.

The top-level modules carry the names of the published checkpoints
(``embedding_fn``, ``encoder_g``, ``decoder_g``, ``hidden2g`` and ``Encoder``,
``Decoder``) so that the published weights load key for key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from workbench.data.layouts.skeleton_3dpw import COORDS_PER_FRAME, HIPS, NUM_JOINTS, PRED_FRAMES
from workbench.engine.checkpoint import load_state_dict_checked, load_torch_file
from workbench.models.lstm_step import lstm_cell, lstm_step, lstm_weights


@dataclass(frozen=True)
class DerpofConfig:
    """Sizes of DeRPoF: hidden size h, latent size, global embedding size, dropout
    between the two local-encoder LSTM layers, and the number of predicted frames."""

    hidden: int = 64
    latent: int = 32
    embedding: int = 8
    dropout: float = 0.2
    pred_frames: int = PRED_FRAMES


class Forecast(NamedTuple):
    """Model output for B people: ``positions`` (B, T, 39) metres; ``global_vel``
    (B, T, 3) and ``local_vel`` (B, T, 39) metres/frame; VAE ``mean`` and ``logvar``
    (B, latent), None for models without a latent."""

    positions: torch.Tensor
    global_vel: torch.Tensor
    local_vel: torch.Tensor
    mean: torch.Tensor | None = None
    logvar: torch.Tensor | None = None


def split_velocities(poses: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame differences of poses (B, T, 39) split into global (B, T-1, 3) = mean of the
    hip joints' velocities and local (B, T-1, 39) = joint velocity - global velocity."""
    vel = (poses[:, 1:] - poses[:, :-1]).unflatten(-1, (NUM_JOINTS, 3))
    global_vel = vel[:, :, list(HIPS)].mean(2)
    local_vel = (vel - global_vel.unsqueeze(2)).flatten(2)
    return global_vel, local_vel


class LocalEncoder(nn.Module):
    """2-layer LSTM(39 -> h) over the observed local velocities; its last output
    gives the posterior mean and log-variance through ``FC_mean``, ``FC_var`` (h -> latent)."""

    def __init__(self, cfg: DerpofConfig) -> None:
        super().__init__()
        self.encoder = nn.LSTM(COORDS_PER_FRAME, cfg.hidden, num_layers=2, batch_first=True, dropout=cfg.dropout)
        self.FC_mean = nn.Linear(cfg.hidden, cfg.latent)
        self.FC_var = nn.Linear(cfg.hidden, cfg.latent)

    def forward(self, local_vel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, _ = self.encoder(local_vel)
        last = out[:, -1]
        return self.FC_mean(last), self.FC_var(last)


class LocalDecoder(nn.Module):
    """Initial hidden state ``FC``(z) (cell 0); a 1-layer LSTM(39 -> h) fed the last
    observed local velocity, then its own outputs ``mlp``(h) (h -> 39)."""

    def __init__(self, cfg: DerpofConfig) -> None:
        super().__init__()
        self.decoder = nn.LSTM(COORDS_PER_FRAME, cfg.hidden, batch_first=True)
        self.FC = nn.Sequential(nn.Linear(cfg.latent, cfg.hidden))
        self.mlp = nn.Sequential(nn.Linear(cfg.hidden, COORDS_PER_FRAME))

    def forward(self, z: torch.Tensor, last_local: torch.Tensor, steps: int) -> torch.Tensor:
        """z (B, latent), last observed local velocity (B, 39) -> predicted (B, steps, 39).

        From the second step on, the input is the previous output mlp(h) = h W_m^T + b_m, so the gate
        pre-activations fold into one product: h (W_hh + W_ih W_m)^T + (b_ih + b_hh + W_ih b_m);
        ``mlp`` is then applied once to all hidden states."""
        w_ih, w_hh, bias = lstm_weights(self.decoder)
        mlp = self.mlp[0]
        w_rec = torch.addmm(w_hh, w_ih, mlp.weight)
        b_rec = torch.addmv(bias, w_ih, mlp.bias)
        h = self.FC(z)
        h, c = lstm_step(self.decoder, last_local, h, torch.zeros_like(h))
        hidden = [h]
        for _ in range(steps - 1):
            h, c = lstm_cell(torch.addmm(b_rec, h, w_rec.t()), c)
            hidden.append(h)
        return self.mlp(torch.stack(hidden, dim=1))


class DeRPoF(nn.Module):
    """Decoupled forecaster. Input: observed poses (B, 16, 39), metres. Output: :class:`Forecast`.

    Global: ``embedding_fn`` = Linear(3, e) + Tanh, ``encoder_g`` LSTM(e -> h) over the 15
    observed global velocities, ``decoder_g`` LSTM(e -> h) run for T steps from the last
    observed global velocity feeding back its own output ``hidden2g`` Linear(h, 3).
    Local: a VAE (``Encoder``, ``Decoder``); z = mean + exp(0.5 logvar) * eps, or z = mean
    when ``deterministic``.
    """

    def __init__(self, cfg: DerpofConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or DerpofConfig()
        c = self.cfg
        self.embedding_fn = nn.Sequential(nn.Linear(3, c.embedding), nn.Tanh())
        self.encoder_g = nn.LSTM(c.embedding, c.hidden, batch_first=True)
        self.decoder_g = nn.LSTM(c.embedding, c.hidden, batch_first=True)
        self.hidden2g = nn.Sequential(nn.Linear(c.hidden, 3))
        self.Encoder = LocalEncoder(c)
        self.Decoder = LocalDecoder(c)

    def loss(self, out: Forecast, observed: torch.Tensor,
             future: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The model's training objective: :func:`derpof_loss` of its forecast ``out``."""
        return derpof_loss(out, observed, future)

    def config_dict(self) -> dict:
        return asdict(self.cfg)

    def forecast_global(self, global_vel: torch.Tensor) -> torch.Tensor:
        """Observed global velocities (B, 15, 3) -> predicted (B, T, 3).

        The fed-back input embedding_fn(hidden2g(h)) = tanh(h (W_e W_g)^T + W_e b_g + b_e) is computed
        with the folded weight; ``hidden2g`` is applied once to all hidden states."""
        embed, out = self.embedding_fn[0], self.hidden2g[0]
        w_fold = embed.weight @ out.weight
        b_fold = torch.addmv(embed.bias, embed.weight, out.bias)
        w_ih, w_hh, bias = lstm_weights(self.decoder_g)
        embedded = self.embedding_fn(global_vel)
        _, (h, c) = self.encoder_g(embedded)
        h, c = lstm_step(self.decoder_g, embedded[:, -1], h[0], c[0])
        hidden = [h]
        for _ in range(self.cfg.pred_frames - 1):
            x = torch.tanh(torch.addmm(b_fold, h, w_fold.t()))
            h, c = lstm_cell(torch.addmm(bias, x, w_ih.t()).addmm_(h, w_hh.t()), c)
            hidden.append(h)
        return self.hidden2g(torch.stack(hidden, dim=1))

    def forward(self, observed: torch.Tensor, deterministic: bool = False) -> Forecast:
        global_obs, local_obs = split_velocities(observed)
        global_pred = self.forecast_global(global_obs)
        mean, logvar = self.Encoder(local_obs)
        z = mean if deterministic else mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        local_pred = self.Decoder(z, local_obs[:, -1], self.cfg.pred_frames)
        velocity = local_pred + global_pred.repeat(1, 1, NUM_JOINTS)
        positions = observed[:, -1:] + velocity.cumsum(dim=1)
        return Forecast(positions, global_pred, local_pred, mean, logvar)


def derpof_loss(out: Forecast, observed: torch.Tensor, future: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """DeRPoF training loss for B people (observed (B, 16, 39), future (B, T, 39)).

    loss = MSE(global) + 0.1 * (mean_{b,t} ||local_pred - local_true||_2 + 0.01 * KL),
    KL = -0.5 * sum_{b,k} (1 + logvar - mean^2 - exp(logvar)) (summed, not averaged).
    """
    true_global, true_local = split_velocities(torch.cat([observed[:, -1:], future], dim=1))
    mse_global = torch.mean((out.global_vel - true_global) ** 2)
    l2_local = (out.local_vel - true_local).norm(dim=-1).mean()
    kl = -0.5 * torch.sum(1 + out.logvar - out.mean**2 - out.logvar.exp())
    loss = mse_global + 0.1 * (l2_local + 0.01 * kl)
    return loss, {"loss_global": mse_global.item(), "loss_local": l2_local.item(), "kl": kl.item()}


def load_published_weights(model: DeRPoF, checkpoint_g: str | Path, checkpoint_l: str | Path) -> DeRPoF:
    """Load the published float64 state dicts (global and local) into ``model`` as float32.

    Raises :class:`~workbench.errors.CheckpointError` naming the file on a missing or
    unreadable file, or on keys/shapes that do not match the model.
    """
    global_keys = ("embedding_fn.", "encoder_g.", "decoder_g.", "hidden2g.")
    for path, prefixes in ((checkpoint_g, global_keys), (checkpoint_l, ("Encoder.", "Decoder."))):
        state = load_torch_file(path)
        expected = {k: v for k, v in model.state_dict().items() if k.startswith(prefixes)}
        load_state_dict_checked(model, state, path, expected=expected)
    return model
