"""Temporal heatmap-denoising models of the pretraining study.

Every model maps noisy detector heatmaps (B, T, K, H, W) to cleaned heatmaps of the same
shape (T = 5 frames, K = 25 keypoints, H = W = 56 by default). Convolution and linear
weights are Glorot-uniform initialised, biases zero. Parameter counts below are for the
defaults (K = 25, 56 x 56, 128 head channels) and are checked by the tests.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from workbench.data.transforms.heatmaps import argmax_coords, render


def glorot_init(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for every Conv2d/Conv3d/Linear in ``module``."""
    for child in module.modules():
        if isinstance(child, (nn.Conv2d, nn.Conv3d, nn.Linear)):
            nn.init.xavier_uniform_(child.weight)
            if child.bias is not None:
                nn.init.zeros_(child.bias)


def masked_heatmap_mse(pred: torch.Tensor, target: torch.Tensor, annotated: torch.Tensor) -> torch.Tensor:
    """MSE over every heatmap pixel of (B, T, K, H, W), where the maps of keypoints the dataset never
    annotates (``annotated`` (B, K) False) get target = prediction, so they add 0 loss and 0 gradient."""
    keep = annotated[:, None, :, None, None]
    return F.mse_loss(pred, torch.where(keep, target, pred.detach()))


def masked_coordinate_mse(pred: torch.Tensor, target: torch.Tensor, scored: torch.Tensor) -> torch.Tensor:
    """MSE (px^2) over the coordinates of (..., K, 2) with target = prediction where ``scored`` (..., K) is False."""
    return F.mse_loss(pred, torch.where(scored[..., None], target, pred.detach()))


class HeatmapDenoiser(nn.Module):
    """A model whose forward maps noisy heatmaps (B, T, K, H, W) to cleaned ones; its training
    objective is :func:`masked_heatmap_mse` against the clean maps (sigma 1 px)."""

    def objective(self, x: torch.Tensor, keypoints: torch.Tensor, visible: torch.Tensor,
                  annotated: torch.Tensor, want_maps: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(loss, output heatmaps) for noisy input ``x``, keypoints (B, T, K, 2) px, ``visible`` (B, T, K)
        and ``annotated`` (B, K)."""
        out = self(x)
        target = render(keypoints, visible, size=out.shape[-1])
        # the loss in the targets' dtype: fp32 for bf16 (autocast) outputs, float64 for float64 keypoints
        return masked_heatmap_mse(out.to(target.dtype), target, annotated), out


class Identity(HeatmapDenoiser):
    """The baseline: returns the noisy input heatmaps unchanged. Parameters: 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Conv3dDenoiser(HeatmapDenoiser):
    """``3dconv``: one Conv3d(K -> K, kernel 5 x 5 x 5, padding 2) + ReLU with keypoints as channels
    and time as depth. Parameters: K * K * 125 + K = 78,150 for K = 25.

    Speed: for a window of T frames the 3D convolution is computed as one 2D convolution over T x K
    channels whose weight is block-Toeplitz in time: output frame t takes input frame s through the
    3D kernel's slice s - t + kernel // 2 (zero where that is outside the kernel), which is exactly the
    zero-padded Conv3d; 2D convolutions are about twice as fast on CPU (``reference_forward`` is the
    direct Conv3d it is tested against)."""

    def __init__(self, keypoints: int = 25, kernel: int = 5) -> None:
        super().__init__()
        self.conv = nn.Conv3d(keypoints, keypoints, kernel, padding=kernel // 2)
        glorot_init(self)

    def time_weight(self, frames: int) -> torch.Tensor:
        """The block-Toeplitz 2D weight (T K, T K, k, k) of the 3D kernel for ``frames`` = T."""
        weight = self.conv.weight
        half = weight.shape[2] // 2
        zero = weight.new_zeros(weight.shape[0], weight.shape[1], *weight.shape[3:])
        rows = [torch.cat([weight[:, :, s - t + half] if abs(s - t) <= half else zero for s in range(frames)], 1)
                for t in range(frames)]
        return torch.cat(rows, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, K, H, W) -> (B, T, K, H, W), non-negative."""
        b, t, k, h, w = x.shape
        y = F.conv2d(x.reshape(b, t * k, h, w), self.time_weight(t), self.conv.bias.repeat(t),
                     padding=self.conv.padding[1:])
        return torch.relu(y).reshape(b, t, k, h, w)

    def reference_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The same output through ``nn.Conv3d`` directly (time as depth)."""
        return torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)


class PeepholeConvLSTM(nn.Module):
    """A Conv-LSTM over a sequence with peephole connections and zero initial state:

        i = sigmoid(Wxi * x + Whi * h + wci . c + bi)
        f = sigmoid(Wxf * x + Whf * h + wcf . c + bf)
        c' = f . c + i . tanh(Wxc * x + Whc * h + bc)
        o = sigmoid(Wxo * x + Who * h + wco . c' + bo)
        h' = o . tanh(c')

    ``*``: 3x3 convolution K -> K (padding 1) with its own bias (as in the thesis implementation: a
    per-channel bias on each input and each hidden-state convolution), ``.``: elementwise product
    with peephole weights w of shape (K, H, W); the biases b have the full shape (K, H, W). Peepholes
    start at 0, the forget bias at 1, the others at 0. Parameters: 8 * 9 * K^2 + 8 * K + 7 * K * H * W
    = 45,000 + 200 + 548,800 = 594,000 for K = 25, 56 x 56.

    Speed: the input convolutions of all four gates and all frames are one batched convolution before
    the recurrence; each step then runs one hidden-state convolution for the four gates and fused
    elementwise updates (``addcmul``). :class:`workbench.models.heatmap_reference.ReferenceConvLSTM`
    is the straightforward per-gate, per-frame form it is tested against.
    """

    def __init__(self, channels: int = 25, size: int = 56) -> None:
        super().__init__()
        self.input_conv = nn.Conv2d(channels, 4 * channels, 3, padding=1)
        self.hidden_conv = nn.Conv2d(channels, 4 * channels, 3, padding=1)
        self.peephole = nn.Parameter(torch.zeros(3, channels, size, size))
        self.bias = nn.Parameter(torch.zeros(4, channels, size, size))
        glorot_init(self)
        with torch.no_grad():
            self.bias[1].fill_(1.0)

    def forward(self, x: torch.Tensor, reverse: bool = False) -> torch.Tensor:
        """(B, T, C, H, W) -> hidden states (B, T, C, H, W); ``reverse`` runs from the last frame
        to the first (outputs stay in frame order)."""
        b, t, c, h, w = x.shape
        gates_x = self.input_conv(x.reshape(b * t, c, h, w)).reshape(b, t, 4, c, h, w) + self.bias
        hidden = x.new_zeros(b, c, h, w)
        cell = x.new_zeros(b, c, h, w)
        outputs: list[torch.Tensor] = [hidden] * t
        for step in (range(t - 1, -1, -1) if reverse else range(t)):
            gates = gates_x[:, step] + self.hidden_conv(hidden).reshape(b, 4, c, h, w)
            i = torch.sigmoid(torch.addcmul(gates[:, 0], self.peephole[0], cell))
            f = torch.sigmoid(torch.addcmul(gates[:, 1], self.peephole[1], cell))
            cell = torch.addcmul(f * cell, i, torch.tanh(gates[:, 3]))
            o = torch.sigmoid(torch.addcmul(gates[:, 2], self.peephole[2], cell))
            hidden = o * torch.tanh(cell)
            outputs[step] = hidden
        return torch.stack(outputs, dim=1)


def _conv_stack(channels: list[int], kernels: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for (cin, cout), k in zip(zip(channels[:-1], channels[1:], strict=True), kernels, strict=True):
        layers += [nn.Conv2d(cin, cout, k, padding=k // 2), nn.ReLU()]
    return nn.Sequential(*layers)


def _per_frame(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a 2D module to every frame of (B, T, C, H, W)."""
    b, t = x.shape[:2]
    y = module(x.flatten(0, 1))
    return y.reshape(b, t, *y.shape[1:])


class BiConvLSTMSum(HeatmapDenoiser):
    """``bi_convlstm_s`` (Model S): a forward and a backward :class:`PeepholeConvLSTM`; each
    direction's hidden states go through its own head conv 3x3 K->C, 3x3 C->C, 3x3 C->C,
    1x1 C->C, 1x1 C->K (ReLU after each, C = ``channels``) and the two heads' outputs are added.
    Parameters: 2 x 594,000 (Conv-LSTMs) + 2 x 343,833 (heads) = 1,875,666 for K = 25, C = 128."""

    def __init__(self, keypoints: int = 25, size: int = 56, channels: int = 128) -> None:
        super().__init__()
        self.forward_lstm = PeepholeConvLSTM(keypoints, size)
        self.backward_lstm = PeepholeConvLSTM(keypoints, size)
        spec = ([keypoints, channels, channels, channels, channels, keypoints], [3, 3, 3, 1, 1])
        self.forward_head = _conv_stack(*spec)
        self.backward_head = _conv_stack(*spec)
        glorot_init(self.forward_head)
        glorot_init(self.backward_head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, K, H, W) -> (B, T, K, H, W), non-negative."""
        ahead = _per_frame(self.forward_head, self.forward_lstm(x))
        behind = _per_frame(self.backward_head, self.backward_lstm(x, reverse=True))
        return ahead + behind


class BiConvLSTMConcat(HeatmapDenoiser):
    """``bi_convlstm_c`` (Model C): a forward and a backward :class:`PeepholeConvLSTM`; each direction
    goes through its own three 3x3 convs K->C->C->C with ReLU, the two are concatenated (2C channels),
    then 1x1 2C->C + ReLU and 1x1 C->K + ReLU. Parameters: 2 x 594,000 (Conv-LSTMs) + 2 x 324,096
    (branches) + 32,896 + 3,225 (fusion) = 1,872,313 for K = 25, C = 128."""

    def __init__(self, keypoints: int = 25, size: int = 56, channels: int = 128) -> None:
        super().__init__()
        self.forward_lstm = PeepholeConvLSTM(keypoints, size)
        self.backward_lstm = PeepholeConvLSTM(keypoints, size)
        self.forward_branch = _conv_stack([keypoints, channels, channels, channels], [3, 3, 3])
        self.backward_branch = _conv_stack([keypoints, channels, channels, channels], [3, 3, 3])
        self.fusion = _conv_stack([2 * channels, channels, keypoints], [1, 1])
        for part in (self.forward_branch, self.backward_branch, self.fusion):
            glorot_init(part)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, K, H, W) -> (B, T, K, H, W), non-negative."""
        ahead = _per_frame(self.forward_branch, self.forward_lstm(x))
        behind = _per_frame(self.backward_branch, self.backward_lstm(x, reverse=True))
        return _per_frame(self.fusion, torch.cat([ahead, behind], dim=2))


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """(length, dim) encoding: PE[t, 2i] = sin(t / 10000^(2i/dim)), PE[t, 2i+1] = cos(same)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim)
    pe[:, 0::2] = torch.sin(position * rate)
    pe[:, 1::2] = torch.cos(position * rate[: dim // 2])
    return pe


class DeciWatch(nn.Module):
    """``deciwatch``: sample-denoise-recover on keypoint coordinates read from the heatmaps.

    The argmax (x, y) of every input map (px) is normalised to [-1, 1] (0 for empty maps); the
    frames ``0, interval, 2 interval, ...`` of the window (0 and 4 for T = 5, interval 4) are
    sampled; a Transformer encoder (``layers`` layers, ``heads`` heads, width ``embed``, feed-forward
    2 x embed, dropout) denoises them (residual on the sampled poses); the denoised samples are
    linearly interpolated to every frame and a Transformer decoder attending to the encoder output
    recovers all frames (residual on the interpolation). Sinusoidal frame positions. The output
    coordinates are rendered back to heatmaps (sigma 1 px, peak 255) for the same metric as the
    other models. Parameters: 1,682,276 for K = 25, embed 128, 5 + 5 layers.
    """

    def __init__(self, keypoints: int = 25, size: int = 56, window: int = 5, interval: int = 4, embed: int = 128,
                 heads: int = 4, layers: int = 5, dropout: float = 0.1) -> None:
        super().__init__()
        self.size, self.window = size, window
        self.register_buffer("samples", torch.arange(0, window, interval), persistent=False)
        self.register_buffer("positions", sinusoidal_positions(window, embed), persistent=False)
        features = 2 * keypoints
        self.encoder_embed = nn.Linear(features, embed)
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(embed, heads, 2 * embed, dropout, batch_first=True), layers,
            enable_nested_tensor=False)
        self.denoise_head = nn.Linear(embed, features)
        self.decoder_embed = nn.Linear(features, embed)
        self.decoder = nn.TransformerDecoder(
            nn.TransformerDecoderLayer(embed, heads, 2 * embed, dropout, batch_first=True), layers)
        self.recover_head = nn.Linear(embed, features)
        glorot_init(self)

    def interpolation(self) -> torch.Tensor:
        """(T, S) weights turning S sampled frames into T frames by linear interpolation in time."""
        t = torch.arange(self.window, device=self.samples.device, dtype=torch.float32)
        s = self.samples.to(torch.float32)
        if len(s) == 1:
            return torch.ones(self.window, 1, device=s.device)
        upper = torch.searchsorted(s, t, right=True).clamp(1, len(s) - 1)
        left, right = s[upper - 1], s[upper]
        w = ((t - left) / (right - left)).clamp(0, 1)
        weights = torch.zeros(self.window, len(s), device=s.device)
        rows = torch.arange(self.window, device=s.device)
        weights[rows, upper - 1] = 1 - w
        weights[rows, upper] += w
        return weights

    def forward_coords(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Heatmaps (B, T, K, H, W) -> recovered (x, y) px (B, T, K, 2), denoised sampled frames
        (B, S, K, 2) px and the input's non-empty maps (B, T, K) bool."""
        t, k = x.shape[1:3]
        present = x.flatten(-2).amax(-1) > 0
        scale = (self.size - 1) / 2
        coords = (argmax_coords(x) / scale - 1) * present[..., None]
        sampled = coords[:, self.samples].flatten(2)
        encoded = self.encoder(self.encoder_embed(sampled) + self.positions[self.samples])
        denoised = sampled + self.denoise_head(encoded)
        interpolated = torch.einsum("ts,bsf->btf", self.interpolation(), denoised)
        decoded = self.decoder(self.decoder_embed(interpolated) + self.positions[:t], encoded)
        recovered = interpolated + self.recover_head(decoded)
        return self._to_px(recovered, k), self._to_px(denoised, k), present

    def _to_px(self, normalised: torch.Tensor, keypoints: int) -> torch.Tensor:
        """(B, F, 2K) in [-1, 1] -> (B, F, K, 2) px."""
        return ((normalised + 1) * (self.size - 1) / 2).reshape(*normalised.shape[:2], keypoints, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, K, H, W) -> (B, T, K, H, W): the recovered coordinates rendered as heatmaps
        (keypoints whose input map is empty stay empty)."""
        recovered, _, present = self.forward_coords(x)
        return render(recovered.float().clamp(0, self.size - 1), present, size=self.size)

    def objective(self, x: torch.Tensor, keypoints: torch.Tensor, visible: torch.Tensor,
                  annotated: torch.Tensor, want_maps: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(loss, rendered heatmaps or None): :func:`masked_coordinate_mse` (px^2) of the recovered
        frames plus that of the denoised sampled frames, on visible annotated keypoints."""
        recovered, denoised, present = self.forward_coords(x)
        recovered, denoised = recovered.float(), denoised.float()
        scored = visible & annotated[:, None]
        loss = masked_coordinate_mse(recovered, keypoints, scored) + masked_coordinate_mse(
            denoised, keypoints[:, self.samples], scored[:, self.samples])
        maps = render(recovered.clamp(0, self.size - 1), present, size=self.size) if want_maps else None
        return loss, maps


MODELS: dict[str, type[nn.Module]] = {
    "3dconv": Conv3dDenoiser,
    "bi_convlstm_s": BiConvLSTMSum,
    "bi_convlstm_c": BiConvLSTMConcat,
    "deciwatch": DeciWatch,
    "identity": Identity,
}
"""The study's models by name (``identity`` is the noisy-input baseline)."""


def build(name: str, channels: int = 128, embed: int = 128, heads: int = 4, layers: int = 5,
          dropout: float = 0.1, **_: object) -> nn.Module:
    """Model ``name`` of :data:`MODELS` with its size options (others ignored): ``channels`` of the
    Conv-LSTM heads, ``embed``/``heads``/``layers``/``dropout`` of DeciWatch."""
    if name in ("bi_convlstm_s", "bi_convlstm_c"):
        return MODELS[name](channels=channels)
    if name == "deciwatch":
        return DeciWatch(embed=embed, heads=heads, layers=layers, dropout=dropout)
    return MODELS[name]()
