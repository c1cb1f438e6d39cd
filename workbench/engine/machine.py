"""Where a run ran: the device with the instruction sets that decide its speed and precision.

The same recipe takes three times longer on a 2-core AVX2 CPU than on one with AVX512-BF16 (bf16 is
emulated on the first), and oneDNN picks different fp32 kernels on each, so every run records
:func:`machine_record` in its ``metrics.json``; reports, the leaderboard and the terminal show
:func:`machine_text`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch

from workbench.engine.precision import cpu_flags, resolve_precision
from workbench.engine.runtime import resolve_device

INSTRUCTION_SETS = (("AVX2", ("avx2",)), ("AVX-512", ("avx512f",)), ("AVX512-BF16", ("avx512_bf16",)),
                    ("AMX", ("amx_bf16", "amx_tile")))
"""(name, ``/proc/cpuinfo`` flags) of the CPU instruction sets that decide fp32 kernels and native bf16;
a set is listed when any of its flags is present."""


@functools.cache
def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """``model name`` of ``/proc/cpuinfo`` with its family and model numbers (``AMD EPYC (family 25,
    model 1)``): some virtual machines report only the vendor's product line as the name."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return "unknown CPU"
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if not key and fields:
            break  # the first processor's block is enough
        fields.setdefault(key, value.strip())
    name = fields.get("model name", "unknown CPU")
    numbers = [f"{label} {fields[key]}" for key, label in (("cpu family", "family"), ("model", "model"))
               if key in fields]
    return f"{name} ({', '.join(numbers)})" if numbers else name


def instruction_sets(flags: frozenset[str] | None = None) -> list[str]:
    """The :data:`INSTRUCTION_SETS` names this CPU has (from ``flags``, default :func:`cpu_flags`)."""
    flags = cpu_flags() if flags is None else flags
    return [name for name, wanted in INSTRUCTION_SETS if any(f in flags for f in wanted)]


def machine_record(device: str = "auto", precision: str = "fp32") -> dict[str, Any]:
    """What ran a run: ``{"device": "cpu" | "cuda:N", "name": CPU model or GPU name, "instruction_sets":
    [...] (CPU), "threads": torch's intra-op threads, "precision": the precision actually used ("fp32" |
    "bf16", :func:`~workbench.engine.precision.resolve_precision` of ``precision``), "torch": version}``."""
    resolved = resolve_device(device)
    record: dict[str, Any] = {"device": str(resolved)}
    if resolved.type == "cuda":
        record["name"] = torch.cuda.get_device_name(resolved)
    else:
        record["name"] = cpu_model()
        record["instruction_sets"] = instruction_sets()
    record.update(threads=torch.get_num_threads(), precision=resolve_precision(precision, resolved),
                  torch=torch.__version__)
    return record


def machine_text(record: dict[str, Any]) -> str:
    """One line of a :func:`machine_record`: ``cpu: AMD EPYC (family 25, model 1), AVX2; 2 threads; fp32;
    torch 2.13.0+cpu``."""
    name = str(record.get("name", "?"))
    sets = record.get("instruction_sets")
    if sets is not None:
        name += ", " + ("/".join(sets) if sets else "no AVX2")
    return (f"{record.get('device', '?')}: {name}; {record.get('threads', '?')} threads; "
            f"{record.get('precision', '?')}; torch {record.get('torch', '?')}")


def run_device(metrics: dict[str, Any]) -> str:
    """Where a run ran, from its ``metrics.json`` mapping: :func:`machine_text` of its ``machine`` record,
    else its ``device`` (runs made before the record existed), else ``""``."""
    machine = metrics.get("machine")
    return machine_text(machine) if isinstance(machine, dict) else str(metrics.get("device") or "")
