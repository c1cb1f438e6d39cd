"""Keypoint heatmaps: vectorised rendering, simulated detector noise and peak read-out.

A heatmap of keypoint (x, y) (pixels, x right, y down, pixel centres at integers) on
a ``size x size`` grid is a delta of height ``peak`` at the rounded, clipped pixel
(round(y), round(x)), smoothed by a Gaussian of std ``sigma`` pixels exactly as
``scipy.ndimage.gaussian_filter(delta, sigma)`` does it (``truncate=4.0``,
``mode='reflect'``). That filter is separable, so on a delta image it equals the
outer product of two 1D responses:

    H[i, j] = peak * g(i; y) * g(j; x),
    g(i; p) = w(i - p) + w(i + p + 1) + w(i + p + 1 - 2 * size),

where ``w(d) = exp(-d^2 / (2 sigma^2)) / sum_{|k| <= r} exp(-k^2 / (2 sigma^2))`` for
``|d| <= r = int(4 sigma + 0.5)`` and 0 beyond; the two extra terms are the mirror
images that scipy's 'reflect' boundary (``d c b a | a b c d | d c b a``) folds back
into the grid near the borders (one reflection per side suffices while ``r < size``).
Everything is computed with broadcasting on the keypoints' device: no loop over
keypoints and no per-map filter call.
"""

from __future__ import annotations

import math

import torch

from workbench.errors import ConfigError

HEATMAP_SIZE = 56
SIGMA_IN_CHOICES: tuple[float, ...] = (1.0, 1.5, 2.0, 2.5, 3.0)
SHIFT_STD_PER_SCALAR = 3.0
TRUNCATE = 4.0


def _response(position: torch.Tensor, sigma: torch.Tensor, size: int) -> torch.Tensor:
    """The 1D filter response ``g(i; p)`` for i = 0..size-1: shape (..., size) for ``position`` (...)
    (integer pixel) and ``sigma`` broadcastable to it."""
    radius = (TRUNCATE * sigma + 0.5).floor()
    max_radius = int(radius.max().item()) if radius.numel() else 0
    if max_radius >= size:
        raise ConfigError(f"sigma {float(sigma.max()):.3g} px is too wide for a {size}-px heatmap")
    taps = torch.arange(-max_radius, max_radius + 1, device=position.device, dtype=sigma.dtype)
    norm = (torch.exp(-taps**2 / (2 * sigma[..., None] ** 2)) * (taps.abs() <= radius[..., None])).sum(-1)
    grid = torch.arange(size, device=position.device, dtype=sigma.dtype)
    p = position[..., None]
    r = radius[..., None]
    s = sigma[..., None]
    inv = -0.5 / s**2
    total = torch.zeros_like(grid.expand(*position.shape, size))
    for offset in (grid - p, grid + p + 1, grid + p + 1 - 2 * size):
        inside = offset.abs() <= r
        # exp only of in-radius offsets: far ones would underflow to slow denormals before being masked
        total = total + torch.exp(torch.where(inside, offset, 0.0) ** 2 * inv) * inside
    return total / norm[..., None]


def render(
    keypoints: torch.Tensor,
    visible: torch.Tensor,
    size: int = HEATMAP_SIZE,
    sigma: float | torch.Tensor = 1.0,
    peak: float = 255.0,
) -> torch.Tensor:
    """Heatmaps of keypoints: (..., K, 2) pixel x, y and (..., K) bool -> (..., K, size, size).

    Each keypoint is rounded to the nearest pixel and clipped to [0, size - 1]; its map is
    ``peak`` at that pixel smoothed by a Gaussian of std ``sigma`` px (a float or a tensor
    broadcastable to (..., K), e.g. a different sigma per map), identical to
    ``scipy.ndimage.gaussian_filter`` on a delta image (see the module docstring).
    Keypoints with ``visible`` False, or non-finite coordinates, give all-zero maps.
    Output dtype float32 (float64 if ``keypoints`` is float64), on ``keypoints.device``.
    Raises :class:`~workbench.errors.ConfigError` for mismatched shapes, a non-bool ``visible``,
    ``size`` < 1, a non-finite ``peak``, or a ``sigma`` that is not positive and finite or is so
    wide that its 4-sigma radius reaches ``size``.
    """
    if keypoints.ndim < 1 or keypoints.shape[-1] != 2 or visible.shape != keypoints.shape[:-1]:
        raise ConfigError(f"keypoints (..., K, 2) and visible (..., K) expected, got {tuple(keypoints.shape)} "
                          f"and {tuple(visible.shape)}")
    if visible.dtype != torch.bool:
        raise ConfigError(f"visible must be a bool tensor, got {visible.dtype}")
    if size < 1 or not math.isfinite(peak):
        raise ConfigError(f"size must be >= 1 and peak finite, got {size} and {peak}")
    dtype = keypoints.dtype if keypoints.dtype == torch.float64 else torch.float32
    finite = torch.isfinite(keypoints).all(-1)
    coords = torch.where(finite[..., None], keypoints.to(dtype), 0.0).round().clamp(0, size - 1)
    try:
        sig = torch.as_tensor(sigma, dtype=dtype, device=keypoints.device).expand(visible.shape)
    except RuntimeError:
        raise ConfigError(f"sigma of shape {tuple(torch.as_tensor(sigma).shape)} does not broadcast to the keypoints' "
                          f"{tuple(visible.shape)}") from None
    if not bool(((sig > 0) & torch.isfinite(sig)).all()):
        raise ConfigError("sigma must be positive and finite")
    # Rounded positions take only `size` values and sigma only a few: compute g(i; p) once per
    # (distinct sigma, p) and gather rows from that table instead of evaluating exp per map.
    sigmas, which = torch.unique(sig, return_inverse=True)
    positions = torch.arange(size, device=keypoints.device, dtype=dtype)
    table = _response(positions.expand(len(sigmas), size), sigmas[:, None].expand(len(sigmas), size), size)
    index = coords.long()
    gy = table[which, index[..., 1]] * (peak * (visible & finite).to(dtype))[..., None]
    gx = table[which, index[..., 0]]
    return gy[..., :, None] * gx[..., None, :]


def sample_sigma_in(shape: tuple[int, ...], fixed: float | None = None,
                    generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
    """Detector blur std per map (px): ``fixed`` everywhere, or when it is None drawn uniformly
    and independently per entry from :data:`SIGMA_IN_CHOICES` = {1, 1.5, 2, 2.5, 3}."""
    if fixed is not None:
        return torch.full(shape, float(fixed), device=device)
    choices = torch.tensor(SIGMA_IN_CHOICES, device=device)
    index = torch.randint(len(SIGMA_IN_CHOICES), shape, generator=generator, device=device)
    return choices[index]


def simulate_detector(
    keypoints: torch.Tensor,
    visible: torch.Tensor,
    shift_scalar: float,
    sigma_in: float | torch.Tensor,
    generator: torch.Generator | None = None,
    size: int = HEATMAP_SIZE,
    peak: float = 255.0,
) -> torch.Tensor:
    """Noisy detector heatmaps (..., K, size, size) of keypoints (..., K, 2) px with visibility (..., K).

    Each keypoint is shifted by independent Gaussian noise of std ``3 * shift_scalar`` px per
    coordinate (drawn from ``generator``, or torch's global generator when None, on the
    keypoints' device), clipped to [0, size - 1], then rendered with blur ``sigma_in`` (float,
    or a tensor broadcastable to (..., K)); invisible or non-finite keypoints give all-zero maps.
    Raises :class:`~workbench.errors.ConfigError` for a negative or non-finite ``shift_scalar`` and
    for the bad arguments :func:`render` refuses.
    """
    std = SHIFT_STD_PER_SCALAR * float(shift_scalar)
    if not (math.isfinite(std) and std >= 0):
        raise ConfigError(f"shift_scalar must be a finite number >= 0, got {shift_scalar}")
    if visible.shape != keypoints.shape[:-1] or visible.dtype != torch.bool:
        raise ConfigError(f"visible must be a bool tensor of shape {tuple(keypoints.shape[:-1])}, got {visible.dtype} "
                          f"{tuple(visible.shape)}")
    dtype = keypoints.dtype if keypoints.dtype == torch.float64 else torch.float32
    noise = torch.randn(keypoints.shape, generator=generator, device=keypoints.device, dtype=dtype)
    shifted = (keypoints.to(dtype) + std * noise).clamp(0, size - 1)
    # a non-finite keypoint stays missing: the clamp would otherwise move it onto the border
    return render(shifted, visible & torch.isfinite(keypoints).all(-1), size=size, sigma=sigma_in, peak=peak)


def argmax_coords(heatmaps: torch.Tensor) -> torch.Tensor:
    """Pixel (x, y) of each map's maximum: (..., H, W) -> (..., 2) float; ties (e.g. an all-zero
    map) resolve to the first pixel in row-major order, (0, 0) for an empty map."""
    width = heatmaps.shape[-1]
    flat = heatmaps.flatten(-2).argmax(-1)
    return torch.stack([flat % width, flat // width], dim=-1).to(torch.float32)


def soft_argmax_coords(heatmaps: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Differentiable (x, y) expectation under softmax(map / temperature) over the pixels:
    (..., H, W) -> (..., 2) float px."""
    height, width = heatmaps.shape[-2:]
    prob = torch.softmax(heatmaps.flatten(-2) / temperature, dim=-1).unflatten(-1, (height, width))
    xs = torch.arange(width, device=heatmaps.device, dtype=prob.dtype)
    ys = torch.arange(height, device=heatmaps.device, dtype=prob.dtype)
    return torch.stack([(prob.sum(-2) * xs).sum(-1), (prob.sum(-1) * ys).sum(-1)], dim=-1)


DECODERS = ("argmax", "quarter", "dark")
"""Keypoint read-outs of a heatmap: the integer argmax, the quarter-pixel shift towards the higher
neighbour (SimpleBaseline, HRNet) and DARK's Taylor expansion of the smoothed log heatmap."""


def _neighbours(maps: torch.Tensor, x: torch.Tensor, y: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """``maps[..., y + dy, x + dx]`` for integer index tensors (...,), clamped to the grid."""
    height, width = maps.shape[-2:]
    yy, xx = (y + dy).clamp(0, height - 1), (x + dx).clamp(0, width - 1)
    return maps.flatten(-2).gather(-1, (yy * width + xx)[..., None])[..., 0]


def gaussian_blur(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """Maps (..., H, W) smoothed by a Gaussian of std ``sigma`` px exactly as the maps are rendered
    (``scipy.ndimage.gaussian_filter``, truncate 4, 'reflect' borders): ``B = A_H^T M A_W`` with
    ``A[p, i] = g(i; p)`` the 1D response of a delta at pixel p (see the module docstring), two small
    matrix products per map instead of a convolution; a peak on the border stays there."""
    height, width = maps.shape[-2:]

    def response(size: int) -> torch.Tensor:
        positions = torch.arange(size, device=maps.device, dtype=maps.dtype)
        return _response(positions, torch.full((size,), float(sigma), device=maps.device, dtype=maps.dtype), size)

    return response(height).T @ maps @ response(width)


def decode_coords(heatmaps: torch.Tensor, method: str = "argmax", sigma: float = 1.0) -> torch.Tensor:
    """Keypoint (x, y) px of each map, (..., H, W) -> (..., 2) float32, by ``method``:

    - ``argmax``: the integer pixel of the maximum (:func:`argmax_coords`).
    - ``quarter``: the argmax moved 0.25 px along each axis towards the higher of its two neighbours,
      ``x + 0.25 sign(m[y, x+1] - m[y, x-1])`` (likewise y); no move on the border or a tie.
    - ``dark``: DARK (Zhang et al., CVPR 2020): the map is smoothed by a Gaussian of std ``sigma`` px
      (the targets' width), ``L = log max(m, 1e-10)``, and the argmax (x, y) of the smoothed map moves by
      the Newton step ``-H^-1 g`` of the second-order Taylor expansion of L there, with central
      differences ``g = ((L[x+1] - L[x-1]) / 2, ...)``, ``H_xx = L[x+1] - 2 L[x] + L[x-1]`` and
      ``H_xy = (L[x+1, y+1] - L[x-1, y+1] - L[x+1, y-1] + L[x-1, y-1]) / 4``. For a Gaussian, L is
      quadratic and the step lands on its centre. No move on the border, where H is not negative
      definite, or for steps longer than 1 px per axis (a flat or multi-modal neighbourhood).

    Raises :class:`~workbench.errors.ConfigError` for an unknown method."""
    if method not in DECODERS:
        raise ConfigError(f"unknown decode {method!r}; choose from {', '.join(DECODERS)}")
    maps = heatmaps.float()
    if method == "dark":
        maps = gaussian_blur(maps, sigma)
    coords = argmax_coords(maps)
    if method == "argmax":
        return coords
    height, width = maps.shape[-2:]
    x, y = coords[..., 0].long(), coords[..., 1].long()
    inner_x, inner_y = (x > 0) & (x < width - 1), (y > 0) & (y < height - 1)
    if method == "quarter":
        step_x = torch.sign(_neighbours(maps, x, y, 1, 0) - _neighbours(maps, x, y, -1, 0)) * inner_x
        step_y = torch.sign(_neighbours(maps, x, y, 0, 1) - _neighbours(maps, x, y, 0, -1)) * inner_y
        return coords + 0.25 * torch.stack([step_x, step_y], dim=-1)
    def at(dx: int, dy: int) -> torch.Tensor:  # the log only of the 3 x 3 neighbourhood, in float64
        return _neighbours(maps, x, y, dx, dy).double().clamp_min(1e-10).log()

    centre = at(0, 0)
    gx, gy = (at(1, 0) - at(-1, 0)) / 2, (at(0, 1) - at(0, -1)) / 2
    hxx, hyy = at(1, 0) - 2 * centre + at(-1, 0), at(0, 1) - 2 * centre + at(0, -1)
    hxy = (at(1, 1) - at(-1, 1) - at(1, -1) + at(-1, -1)) / 4
    det = hxx * hyy - hxy**2
    safe = torch.where(det > 0, det, 1.0)
    step_x = -(hyy * gx - hxy * gy) / safe
    step_y = -(-hxy * gx + hxx * gy) / safe
    ok = inner_x & inner_y & (det > 0) & (hxx < 0) & (step_x.abs() <= 1) & (step_y.abs() <= 1)
    step = torch.stack([step_x, step_y], dim=-1) * ok[..., None]
    return (coords.double() + step).float()


def identity_pck_model(thresholds_px: tuple[float, ...], shift_std: float, steps: int = 400) -> dict[str, float]:
    """The noise model's PCK (%) of the identity baseline at fixed pixel thresholds: a keypoint at a
    uniformly distributed sub-pixel position ``u`` is shifted by Gaussian noise of std ``shift_std`` px
    per axis and both it and the truth are rounded to pixels (the argmax of maps rendered at rounded
    positions), so the error is the integer vector (dx, dy) with independent axes,
    ``P(d) = int_{-1/2}^{1/2} [Phi((d + 1/2 - u) / s) - Phi((d - 1/2 - u) / s)] du`` (a Rayleigh
    distance of scale s, quantised), and PCK(t) = sum over dx^2 + dy^2 <= t^2 of P(dx) P(dy).
    The integral is the midpoint rule over ``steps`` points; clipping at the crop's border is ignored."""
    if shift_std <= 0:
        return {f"{float(t):g}": 100.0 for t in thresholds_px}
    reach = int(math.ceil(max(thresholds_px))) + 1
    offsets = torch.arange(-reach, reach + 1, dtype=torch.float64)
    u = (torch.arange(steps, dtype=torch.float64) + 0.5) / steps - 0.5
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64))
    cdf = normal.cdf
    per_axis = (cdf((offsets[:, None] + 0.5 - u) / shift_std) - cdf((offsets[:, None] - 0.5 - u) / shift_std)).mean(1)
    joint = per_axis[:, None] * per_axis[None, :]
    distance = (offsets[:, None] ** 2 + offsets[None, :] ** 2).sqrt()
    return {f"{float(t):g}": 100.0 * float(joint[distance <= t].sum()) for t in thresholds_px}
