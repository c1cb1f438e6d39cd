"""Numeric precision of training and evaluation: ``fp32``, ``bf16`` or ``auto``.

``bf16`` runs the forward pass and the loss under ``torch.autocast`` with bfloat16 (convolutions,
matrix products and linear layers compute in bf16, reductions and losses in fp32); the weights,
gradients and optimiser state stay fp32. ``auto`` picks ``bf16`` where the hardware computes it
natively (a CUDA device that supports it, or a CPU with AVX512-BF16 or AMX) and ``fp32`` elsewhere:
on a CPU without those instructions bf16 is emulated and slower than fp32.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import torch

from workbench.errors import ConfigError

PRECISIONS = ("fp32", "bf16", "auto")
NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
"""``/proc/cpuinfo`` flags of CPUs that compute bf16 dot products in hardware."""


@functools.cache
def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU feature flags the kernel reports (empty where ``cpuinfo`` cannot be read)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively (CUDA with bf16 support; AVX512-BF16/AMX CPUs)."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return device.type == "cpu" and any(flag in cpu_flags() for flag in NATIVE_BF16_CPU_FLAGS)


def resolve_precision(name: str, device: torch.device) -> str:
    """``fp32`` or ``bf16`` for the option ``name`` on ``device`` (``auto``: :func:`native_bf16`)."""
    if name not in PRECISIONS:
        raise ConfigError(f"unknown precision {name!r}; use {', '.join(PRECISIONS)}")
    if name == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return name


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context that runs a forward pass in ``precision`` (a resolved one: ``fp32`` or ``bf16``)."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
