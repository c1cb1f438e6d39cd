"""Chromium under Playwright for the browser tests.

The browser is Debian's ``/usr/bin/chromium`` (or ``$WORKBENCH_CHROMIUM``); Playwright never downloads
one. Without Playwright or the browser the tests skip, unless ``WORKBENCH_REQUIRE_BROWSER=1`` (set by
``.ci/run``) makes them fail. Pages may load ``file://``, ``data:``, ``blob:`` and localhost URLs only:
any other request is aborted and recorded, so a test also proves that nothing is fetched from the network.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Request, Route

REQUIRE_BROWSER = "WORKBENCH_REQUIRE_BROWSER"
LOCAL_URL = re.compile(r"^(file|data|blob|about):|^https?://(127\.0\.0\.1|localhost)(:\d+)?/")


def chromium_path() -> Path:
    """The Chromium executable the tests drive."""
    return Path(os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium"))


def require_browser() -> None:
    """Skip the calling test (or fail it under ``WORKBENCH_REQUIRE_BROWSER=1``) when Playwright or Chromium
    is missing."""
    if importlib.util.find_spec("playwright") is None:
        reason = "playwright is not installed (pip install -e '.[test]')"
    elif not chromium_path().is_file():
        reason = f"no Chromium at {chromium_path()} (apt-get install chromium)"
    else:
        return
    if os.environ.get(REQUIRE_BROWSER) == "1":
        pytest.fail(f"{REQUIRE_BROWSER}=1 but {reason}")
    pytest.skip(reason)


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Playwright ``Browser`` on :func:`chromium_path` (``--no-sandbox`` when running as root)."""
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path()), headless=True, args=args)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageLog:
    """What a page reported: console errors, uncaught exceptions and blocked non-local requests."""

    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        """Record ``page``'s console errors and page errors, and abort its non-local requests."""
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.route(lambda url: not LOCAL_URL.match(url), self._block)

    def _block(self, route: Route, request: Request) -> None:
        self.blocked.append(request.url)
        route.abort()
