"""The ``workbench`` command: the fast allocator set-up first, then the CLI.

The restart of :func:`~workbench.engine.allocator.reexec_with_allocator` happens before the CLI
imports torch, so it costs a fraction of a second; the kernels that ``workbench run`` starts inherit
the set-up through the environment.
"""

from __future__ import annotations

from workbench.engine.allocator import reexec_with_allocator


def main() -> int:
    """Entry point of the ``workbench`` console script."""
    reexec_with_allocator()
    from workbench.cli import main as cli_main

    return cli_main()
