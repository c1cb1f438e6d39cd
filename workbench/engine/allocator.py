"""The memory allocator the workbench's processes run with.

Training the heatmap models allocates and frees tensors of tens to hundreds of MB every step. With
glibc's default malloc each of them is a fresh ``mmap`` whose pages fault in again every time, so
system time becomes a large part of a run. Two set-ups avoid it, both chosen before the process
starts (the dynamic loader reads ``LD_PRELOAD`` and glibc reads its ``MALLOC_*`` variables at start):

- ``tcmalloc``: Debian's ``libtcmalloc-minimal4`` preloaded (fastest where installed);
- ``glibc-tuned``: glibc with large blocks kept in the heap instead of unmapped
  (:data:`GLIBC_TUNING`), which needs no extra package.

``WORKBENCH_ALLOCATOR`` = ``auto`` (default: tcmalloc when found, else glibc-tuned) | ``tcmalloc`` |
``glibc-tuned`` | ``system`` (leave the process as started). :func:`reexec_with_allocator` restarts
the current command once with the chosen set-up; the kernels that ``workbench run`` starts inherit
its environment.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from workbench.errors import ConfigError

CHOICES = ("auto", "tcmalloc", "glibc-tuned", "system")
TCMALLOC_NAMES = ("libtcmalloc_minimal.so.4", "libtcmalloc.so.4")
LIBRARY_DIRS = ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                "/usr/lib64", "/usr/lib", "/usr/local/lib")
GLIBC_TUNING = {
    "MALLOC_MMAP_THRESHOLD_": "33554432",  # blocks under 32 MiB come from the heap, not fresh mmaps
    "MALLOC_TRIM_THRESHOLD_": "68719476736",  # never give freed heap back to the OS mid-run
    "MALLOC_TOP_PAD_": "1073741824",  # grow the heap 1 GiB at a time
}
TCMALLOC_QUIET = {"TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD": str(1 << 40)}
"""tcmalloc otherwise prints a line for every allocation over 1 GiB."""
MARKER = "WORKBENCH_ALLOCATOR_SET"


def find_tcmalloc(dirs: Sequence[str] = LIBRARY_DIRS) -> str | None:
    """The path of an installed tcmalloc shared library, or None."""
    for folder in dirs:
        for name in TCMALLOC_NAMES:
            if (Path(folder) / name).is_file():
                return str(Path(folder) / name)
    return None


def allocator_env(env: Mapping[str, str], choice: str | None = None) -> tuple[dict[str, str], str]:
    """(``env`` plus the variables of the allocator set-up ``choice`` (default: ``WORKBENCH_ALLOCATOR``
    or ``auto``), the set-up's name)."""
    choice = choice or env.get("WORKBENCH_ALLOCATOR", "auto")
    if choice not in CHOICES:
        raise ConfigError(f"WORKBENCH_ALLOCATOR={choice!r} is not one of {', '.join(CHOICES)}")
    out = dict(env)
    if choice == "system":
        return out, "system"
    library = find_tcmalloc() if choice in ("auto", "tcmalloc") else None
    if choice == "tcmalloc" and library is None:
        raise ConfigError("WORKBENCH_ALLOCATOR=tcmalloc, but no tcmalloc library is installed "
                          "(Debian: apt-get install libtcmalloc-minimal4)")
    if library is not None:
        preload = [p for p in out.get("LD_PRELOAD", "").split(":") if p and p != library]
        out["LD_PRELOAD"] = ":".join([library, *preload])
        out.update(TCMALLOC_QUIET)
        return out, "tcmalloc"
    out.update(GLIBC_TUNING)
    return out, "glibc-tuned"


def active_allocator(maps: str = "/proc/self/maps", env: Mapping[str, str] | None = None) -> str:
    """The allocator this process runs with: ``tcmalloc`` (loaded), ``glibc-tuned`` (the tuning
    variables set) or ``glibc`` (default)."""
    env = os.environ if env is None else env
    try:
        loaded = Path(maps).read_text()
    except OSError:
        loaded = ""
    if "libtcmalloc" in loaded:
        return "tcmalloc"
    if all(env.get(k) == v for k, v in GLIBC_TUNING.items()):
        return "glibc-tuned"
    return "glibc"


def reexec_with_allocator(argv: Sequence[str] | None = None) -> None:
    """Restart this Python process once with :func:`allocator_env`'s set-up (no-op when it already
    was, when the choice is ``system``, or when the set-up is already active). ``argv``: the command
    to restart (default ``sys.orig_argv``, which keeps ``-m module``)."""
    if os.environ.get(MARKER) or os.environ.get("WORKBENCH_ALLOCATOR") == "system":
        return
    env, name = allocator_env(os.environ)
    env[MARKER] = name
    if name == active_allocator():
        os.environ[MARKER] = name
        return
    command = list(argv if argv is not None else sys.orig_argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *command[1:]], env)
