"""How many bad inputs ``tests/test_bad_inputs*.py`` tried: each corpus case and each hypothesis example
calls :func:`count`; the totals are printed at the end of the test run (the hook is registered from
``conftest.py``)."""

from __future__ import annotations

from collections import Counter

import pytest

TRIED: Counter[str] = Counter()


def count(kind: str) -> None:
    """One more case of ``kind`` (``corpus`` or ``property``)."""
    TRIED[kind] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    """Print ``bad-input cases tried: corpus N, property examples M`` when any were tried."""
    if TRIED:
        terminalreporter.write_line(
            f"bad-input cases tried: corpus {TRIED['corpus']}, property examples {TRIED['property']}")
