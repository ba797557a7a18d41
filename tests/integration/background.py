"""Real servers in background threads for integration tests: the worker-proxy app, a sidecar."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BackgroundApp:
    """An ASGI app served by uvicorn on a free loopback port."""

    def __init__(self, app: Any) -> None:
        # Bound here and handed to uvicorn: a port picked by number and bound later can meanwhile become the
        # local end of some outbound connection, and the server would not start.
        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])
        # A sidecar stopped mid long-poll leaves the server's side of its heartbeat waiting (up to 20 s): do not
        # hold the test's teardown for it.
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off", timeout_graceful_shutdown=1))
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BackgroundApp:
        self._thread.start()
        wait_until(lambda: self.server.started, 10, "app server start")
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self._thread.join(10)
        self._socket.close()


class BackgroundSidecar:
    """zapgate_sidecar.app.run in its own event loop thread; stop() is the SIGTERM path."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        from zapgate_sidecar.app import run

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await run(self.settings, self._stop)

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced by the test, not swallowed
            self.error = exc

    def start(self) -> BackgroundSidecar:
        self._thread.start()
        wait_until(lambda: self._stop is not None, 10, "sidecar loop start")
        return self

    def stop(self, timeout: float = 30) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "sidecar did not stop"
        if self.error:
            raise self.error


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
