"""Data-parallel training across processes started by ``torchrun``.

``torchrun`` (``workbench run ... --nproc N``) starts N copies of the run, each with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and ``MASTER_ADDR``/``MASTER_PORT`` in its environment. The
trainer reads them through :func:`world`; with ``WORLD_SIZE`` > 1 it joins the process group
(``nccl`` on GPUs, ``gloo`` on CPUs), wraps the model in ``DistributedDataParallel`` and lets
only rank 0 write checkpoints, progress bars and reports.

Batch norm layers must see the statistics of the whole global batch for a multi-process run to
equal a single-process one. ``torch.nn.SyncBatchNorm`` does that on GPUs only; on CPUs
:class:`DistributedBatchNorm` all-reduces the per-channel sums instead.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from workbench.errors import ConfigError


@dataclass(frozen=True)
class World:
    """This process's place among the ``size`` training processes (``rank`` 0 is the main one)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def world() -> World:
    """The process layout from torchrun's environment variables (a single process without them)."""
    try:
        return World(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                     int(os.environ.get("LOCAL_RANK", 0)))
    except ValueError:
        raise ConfigError("RANK, WORLD_SIZE and LOCAL_RANK must be integers") from None


def init_process_group(device: torch.device) -> None:
    """Join the default process group once (``nccl`` for CUDA devices, else ``gloo``); it is left
    by :func:`destroy_process_group` at interpreter exit, or earlier by the caller."""
    if dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, device_id=device if device.type == "cuda" else None)
    # Without an explicit teardown the backend's threads are still running when the interpreter's
    # static destructors run, and a rank can abort at exit ("terminate called without an active
    # exception") after its work is done.
    atexit.register(destroy_process_group)


def destroy_process_group() -> None:
    """Leave the default process group, if joined (idempotent)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def training_device(device: torch.device, w: World) -> torch.device:
    """One GPU per process: ``cuda:LOCAL_RANK`` when several processes share a CUDA machine."""
    if w.distributed and device.type == "cuda" and device.index is None:
        return torch.device("cuda", w.local_rank)
    return device


def all_reduce_sum(values: list[float]) -> list[float]:
    """The element-wise sum of ``values`` over all processes (the values themselves when alone)."""
    if not (dist.is_available() and dist.is_initialized()):
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64)
    if dist.get_backend() == "nccl":
        tensor = tensor.cuda()
    dist.all_reduce(tensor)
    return tensor.cpu().tolist()


def any_process(flag: bool) -> bool:
    """True on every process when ``flag`` is true on at least one (e.g. a stop request)."""
    return all_reduce_sum([float(flag)])[0] > 0


def gather_objects(obj: object) -> list[object]:
    """``obj`` from every process, in rank order (``[obj]`` when alone)."""
    if not (dist.is_available() and dist.is_initialized()):
        return [obj]
    out: list[object] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


class DistributedBatchNorm(_BatchNorm):
    """Batch norm whose training statistics are those of the global batch over all processes.

    For input (B, C, ...) each process computes per-channel s1 = sum x, s2 = sum x^2 and n, the
    three are summed over processes with a differentiable all-reduce, and
    mean = s1 / n, var = s2 / n - mean^2 (biased, used to normalise; sums in float64); the running variance is
    updated with the unbiased var * n / (n - 1). In eval mode it is plain batch norm.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input, got {input.dim()}D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized()):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        dims = [0, *range(2, x.dim())]
        wide = x.double()
        count = torch.tensor([x.numel() / x.shape[1]], dtype=torch.float64, device=x.device)
        stats = all_reduce(torch.cat([wide.sum(dims), (wide * wide).sum(dims), count]))
        channels = x.shape[1]
        n = stats[-1]
        mean64 = stats[:channels] / n
        mean = mean64.to(x.dtype)
        var = (stats[channels:2 * channels] / n - mean64 * mean64).to(x.dtype)
        n = n.to(x.dtype)
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(var.detach() * n / (n - 1).clamp_min(1), momentum)
        shape = [1, channels] + [1] * (x.dim() - 2)
        out = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out


def convert_batch_norm(module: nn.Module, device: torch.device) -> nn.Module:
    """Swap every batch norm layer of ``module`` (in place) for its global-batch version:
    ``SyncBatchNorm`` on CUDA, :class:`DistributedBatchNorm` elsewhere. Parameters and running
    statistics are kept, so state dict keys do not change."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if isinstance(child, _BatchNorm) and not isinstance(child, DistributedBatchNorm):
            swapped = DistributedBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                           child.track_running_stats)
            swapped.load_state_dict(child.state_dict())
            swapped.train(child.training)
            setattr(module, name, swapped.to(next(child.buffers(), torch.empty(0)).device))
        else:
            convert_batch_norm(child, device)
    return module
