"""Tolerances of the numerical tests (``-m numerics``), derived instead of tuned on one machine.

Two forms of the same maths (fast and reference, one process and two) run in float64 and must agree
to :data:`FLOAT64_RTOL`. Where float64 is impossible (a whole training run, bf16 against fp32), the
tolerance is :func:`rounding_tolerance`, the rounding error of the computation's size and dtype: CPUs
pick different kernels (oneDNN, ATen's vector width), which sum in different orders.
"""

from __future__ import annotations

import math

import torch

FLOAT64_RTOL = 1e-10
"""Relative agreement of two float64 forms: rounding leaves them ~1e-15 apart, a wrong formula far more."""


def rounding_tolerance(n_terms: float, dtype: torch.dtype = torch.float32, scale: float = 1.0,
                       k: float = 10.0) -> float:
    """``k * sqrt(n_terms) * eps(dtype) * scale``: the rounding error of a sum of ``n_terms`` terms of
    size ``scale`` computed in ``dtype``; rounding errors add like a random walk, so they grow as the
    square root of the number of terms, and ``k`` is the safety factor on that typical size."""
    return k * math.sqrt(n_terms) * torch.finfo(dtype).eps * scale


def assert_same_maths(actual: torch.Tensor, expected: torch.Tensor, rtol: float = FLOAT64_RTOL) -> None:
    """``actual`` equals ``expected`` (float64) to ``rtol`` of the largest ``|expected|``."""
    assert actual.dtype == expected.dtype == torch.float64 and actual.shape == expected.shape
    error, size = (actual - expected).abs().max().item(), expected.abs().max().item()
    assert error <= rtol * size, f"max error {error:.3g} against max |expected| {size:.3g}"
