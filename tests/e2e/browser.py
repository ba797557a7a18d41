"""Headless Debian chromium driven by Playwright for Python, for the console's browser tests and its
screenshots and benchmark (bench/console_screenshots.py, bench/console_load.py).

`make test` installs the binary (infra/install_chromium.sh, apt-get); Playwright never downloads a browser
here (`playwright install` is never run): it is pointed at /usr/bin/chromium, or at $CHROMIUM.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, Playwright, Request, Response

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# --no-sandbox: CI and these machines run as root, where chromium refuses its sandbox.
# --disable-dev-shm-usage: a small /dev/shm in containers crashes tabs.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]


def launch(playwright: Playwright) -> Browser:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(
            f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium) or infra/install_chromium.sh"
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


# An instance's own resources under the public API: /v1/instances/<id> and anything below it.
INSTANCE_PATH = re.compile(r"/v1/instances/([^/?#]+)")
LIST_PATH = re.compile(r"/v1/instances/?(\?|$)")


@dataclass
class Traffic:
    """Every request a page made and every dialog it opened (page.on hooks), for assertions on them."""

    requests: list[Request] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)  # each URL the main frame was at (navigations, hash changes)
    websockets: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Traffic:
        # Playwright wraps each handler: a bound builtin such as list.append cannot be one.
        page.on("request", lambda request: self.requests.append(request))
        page.on("response", lambda response: self.responses.append(response))
        page.on("websocket", lambda ws: self.websockets.append(ws.url))
        page.on("framenavigated", lambda frame: self.urls.append(frame.url) if frame == page.main_frame else None)

        def dialog(d: Any) -> None:
            self.dialogs.append(f"{d.type}: {d.message}")
            d.dismiss()

        page.on("dialog", dialog)
        return self

    def api_calls(self) -> list[tuple[str, str]]:
        """(method, path?query) of each call to the public API."""
        calls = []
        for request in self.requests:
            path = re.sub(r"^https?://[^/]+", "", request.url)
            if path.startswith("/v1/"):
                calls.append((request.method, path))
        return calls

    def list_calls(self) -> list[str]:
        return [path for method, path in self.api_calls() if method == "GET" and LIST_PATH.match(path)]

    def per_instance_calls(self) -> list[str]:
        return [f"{method} {path}" for method, path in self.api_calls() if INSTANCE_PATH.match(path)]

    def every_url(self) -> list[str]:
        return [*self.urls, *(r.url for r in self.requests), *self.websockets]
