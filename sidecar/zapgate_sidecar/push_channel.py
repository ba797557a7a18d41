"""The sidecar's end of the push channel (docs/sidecar.md#push-channel).

One outbound WebSocket to the control plane's SidecarPushApi, authenticated with the worker secret
and named by `instance_owner`. The control plane posts wake-up frames on it (outbound work for an
instance, a command, "run discovery"); this module parses them and hands them to the instance manager. It
never carries data: a frame that is lost only delays what the next renewal or reconnect drains.

API Gateway closes a connection that is idle for 10 minutes and any connection after 2 hours, and
answers no WebSocket pings, so the channel sends a keepalive frame every PUSH_KEEPALIVE_MS and
replaces its connection every PUSH_ROTATE_MS: the new one is opened before the old one is closed,
so there is no gap, and the control plane sees a rotation rather than a sidecar that left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from zapgate_core.contract.sidecar_push import KEEPALIVE_ACTION, OWNER_HEADER, SidecarPush
from zapgate_sidecar.logs import log
from zapgate_sidecar.policies import Backoff

ChannelState = Literal["off", "connecting", "up", "down"]
RECONNECT_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
ROTATE_RETRY_S = 60.0  # a rotation that could not open a new connection keeps the old one and tries again
OPEN_TIMEOUT_S = 10.0
MAX_FRAME_BYTES = 64 * 1024  # wake-ups are tiny; a larger frame is not ours


class PushChannel:
    def __init__(
        self,
        secret: str,
        owner: str,
        on_frame: Callable[[SidecarPush], None],
        on_change: Callable[[], None],
        keepalive_s: float,
        rotate_s: float,
        url: str | None = None,
    ) -> None:
        self._secret = secret
        self._owner = owner
        self._on_frame = on_frame
        # Called when the channel goes up or down and after a rotation: the heartbeat polls once at once,
        # draining what a frame lost meanwhile would have announced, and picks its polling rate.
        self._on_change = on_change
        self._keepalive_s = keepalive_s
        self._rotate_s = rotate_s
        self._url = url
        self._url_known = asyncio.Event()
        if url:
            self._url_known.set()
        self.state: ChannelState = "off" if not url else "connecting"
        self.changed_at = time.monotonic()
        self.connects = 0
        self.frames = 0
        self.last_error: str | None = None

    @property
    def up(self) -> bool:
        return self.state == "up"

    @property
    def url(self) -> str | None:
        return self._url

    def use_url(self, url: str | None) -> None:
        """The URL the server advertised (worker-settings `push_url`); an explicit PUSH_URL wins."""
        if url and not self._url:
            self._url = url
            self._set_state("connecting")
            self._url_known.set()

    def describe(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "since_s": round(time.monotonic() - self.changed_at, 1),
            "connects": self.connects,
            "frames": self.frames,
            "last_error": self.last_error,
        }

    def _set_state(self, state: ChannelState) -> None:
        if state != self.state:
            self.state = state
            self.changed_at = time.monotonic()
            log.info("push channel " + state, extra={"error": self.last_error} if state == "down" else {})
            if state in ("up", "down"):
                self._on_change()

    # ------------------------------------------------------------ the connection
    async def run(self, stopping: asyncio.Event) -> None:
        backoff = Backoff(RECONNECT_BACKOFF_S)
        connection: ClientConnection | None = None
        while not stopping.is_set():
            if not self._url:
                await _first(stopping.wait(), self._url_known.wait())
                continue
            if connection is None:
                try:
                    connection = await self._open(self._url)
                except (OSError, InvalidHandshake, TimeoutError) as exc:
                    self.last_error = _describe(exc)
                    self._set_state("down")
                    await _first(stopping.wait(), asyncio.sleep(backoff.next_delay()))
                    continue
            backoff.reset()
            self._set_state("up")
            connection = await self._serve(connection, stopping)
            if connection is None and not stopping.is_set():
                self._set_state("down")
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def _open(self, url: str) -> ClientConnection:
        connection = await connect(
            url,
            additional_headers={"Authorization": f"Bearer {self._secret}", OWNER_HEADER: self._owner},
            open_timeout=OPEN_TIMEOUT_S,
            ping_interval=None,  # API Gateway answers no pings: keepalive frames instead
            compression=None,
            proxy=None,
            max_size=MAX_FRAME_BYTES,
        )
        self.connects += 1
        self.last_error = None
        return connection

    async def _serve(self, connection: ClientConnection, stopping: asyncio.Event) -> ClientConnection | None:
        """Read frames until the connection closes (None) or is rotated (the new connection)."""
        now = time.monotonic()
        keepalive_at, rotate_at = now + self._keepalive_s, now + self._rotate_s
        stopped = asyncio.ensure_future(stopping.wait())
        try:
            while not stopping.is_set():
                timeout = max(0.0, min(keepalive_at, rotate_at) - time.monotonic())
                receiving = asyncio.ensure_future(connection.recv())
                await asyncio.wait({receiving, stopped}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if receiving.done():
                    try:
                        self._frame(receiving.result())
                    except ConnectionClosed as exc:
                        self.last_error = _describe(exc)
                        return None
                    continue
                receiving.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await receiving
                if stopping.is_set():
                    return connection
                now = time.monotonic()
                if now >= rotate_at:
                    replacement = await self._rotate(connection)
                    if replacement is not None:
                        self._on_change()
                        return replacement
                    rotate_at = now + ROTATE_RETRY_S
                if now >= keepalive_at:
                    try:
                        await connection.send(json.dumps({"action": KEEPALIVE_ACTION}))
                    except ConnectionClosed as exc:
                        self.last_error = _describe(exc)
                        return None
                    keepalive_at = now + self._keepalive_s
            return connection
        finally:
            stopped.cancel()

    async def _rotate(self, old: ClientConnection) -> ClientConnection | None:
        assert self._url is not None
        try:
            new = await self._open(self._url)
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            log.warning("push channel rotation failed; keeping the current connection",
                        extra={"error": _describe(exc)})
            return None
        with contextlib.suppress(Exception):
            await old.close()  # after the new one is registered: its $disconnect finds it replaced
        return new

    def _frame(self, data: str | bytes) -> None:
        self.frames += 1
        try:
            frame = SidecarPush.model_validate_json(data)
        except ValidationError:
            log.warning("push channel: frame ignored (not a wake-up)")
            return
        self._on_frame(frame)


async def _first(*waits: Any) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, InvalidStatus):
        return f"handshake refused: HTTP {exc.response.status_code}"
    return f"{type(exc).__name__}: {exc}"[:200]
