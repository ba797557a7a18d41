"""What every part of a neonize session shares: its state, the fence around Go calls, and event emission.

Go keeps clients in an unguarded map keyed by the client's uuid; ``Stop`` deletes the entry. Most exports
then fail softly ("client is nil"), but ``GetMe`` dereferences it and aborts the whole process (SIGABRT,
observed). Go calls are therefore fenced: a session counts its calls in flight (``_go_call``) and ``stop()``
lets them drain (briefly) before ``Stop``. Each start uses a fresh uuid, so a stale client stuck in a dial
never collides with its successor. (Two sessions starting/stopping at the very instant another calls Go can
still race on that map inside neonize; nothing in Python can lock it.)

Everything a Go callback hands over is checked against the current client (``_is_current``): a client of an
earlier start, or one that finished connecting after stop(), must not move this session's state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from zapgate_sidecar.transport import (
    Connected,
    ConnectFailed,
    Disconnected,
    EventSink,
    LoggedOut,
    QrShown,
    StreamReplaced,
    TransportError,
    TransportEvent,
)
from zapgate_sidecar.transports.neonize.poll_votes import PollOptionsCache

if TYPE_CHECKING:
    from neonize.client import NewClient

log = logging.getLogger("zapgate_sidecar.transports.neonize.session")


class SessionCore:
    """The state the session's parts share (set in NeonizeSession.__init__) and the primitives they use."""

    instance_id: str
    auth_dir: Path
    store_path: Path
    _sink: EventSink
    _connect_timeout: float
    _stop_timeout: float
    _device_name: str
    _proxy_address: str | None

    _cond: threading.Condition  # guards everything below; notified on every change a waiter may need
    _client: NewClient | None
    _thread: threading.Thread | None
    _watchdog: threading.Timer | None
    _running: bool  # between start() and stop()
    _connected: bool
    _answered: bool  # the server said something (QR, Connected, a failure) this run
    _failure_reported: bool  # this run's connect outcome already went to the sink
    _pairing_ready: bool  # socket up and unpaired (a QR is showing): PairPhone may run
    _inflight: int  # Go calls under way (see the module docstring)
    # Option names of the polls seen, to name votes (which carry hashes only); kept across restarts.
    _polls: PollOptionsCache

    @property
    def connected(self) -> bool:
        return self._connected

    def _is_current(self, client: NewClient) -> bool:
        return self._running and client is self._client

    # ------------------------------------------------------------ Go calls
    @contextmanager
    def _go_call(self, *, need_connected: bool = True) -> Iterator[NewClient]:
        with self._cond:
            if not self._running or self._client is None:
                raise TransportError("not connected")
            if need_connected and not self._connected:
                raise TransportError("not connected")
            self._inflight += 1
            client = self._client
        try:
            yield client
        finally:
            self._leave_go()

    def _leave_go(self) -> None:
        with self._cond:
            self._inflight -= 1
            if self._inflight == 0:
                self._cond.notify_all()

    def _stop_go_client(self, client: NewClient, deadline: float | None = None) -> None:
        stopper = threading.Thread(
            target=self._call_go_stop, args=(client,), name=f"neonize-stop-{self.instance_id}", daemon=True
        )
        stopper.start()
        if deadline is not None:
            stopper.join(max(0.0, deadline - time.monotonic()))
            if stopper.is_alive():
                # Disconnect waits for the socket lock a pending dial holds; it ends with the dial.
                log.warning("neonize session %s: Stop blocked behind a pending dial", self.instance_id)

    def _call_go_stop(self, client: NewClient) -> None:
        try:
            client.stop()
        except Exception:
            log.exception("neonize session %s: Stop failed", self.instance_id)

    # ------------------------------------------------------------ events to the sink
    def _emit_outcome(self, client: NewClient | None, event: TransportEvent) -> None:
        """A connect attempt's end: reported once, so a late dial error after the watchdog is not doubled."""
        with self._cond:
            if client is not None and not self._is_current(client):
                return
            if client is None and not self._running:
                return
            if self._failure_reported:
                log.info("neonize session %s: %s (already reported)", self.instance_id, event)
                return
            self._failure_reported = True
        self._emit(client, event, checked=True)

    def _emit(self, client: NewClient | None, event: TransportEvent, *, checked: bool = False) -> None:
        with self._cond:
            if not checked and client is not None and not self._is_current(client):
                return
            if isinstance(event, Connected):
                self._connected = self._answered = True
                self._failure_reported = False
                self._pairing_ready = False
            elif isinstance(event, QrShown):
                self._answered = True
            elif isinstance(event, Disconnected):
                self._connected = False
                self._answered = True
            elif isinstance(event, LoggedOut | StreamReplaced | ConnectFailed):
                # whatever way this attempt ended, it has been said: a later outcome is not repeated
                self._connected = False
                self._answered = self._failure_reported = True
            self._cond.notify_all()  # request_pairing_code waits on the session's progress
        try:
            self._sink(event)
        except Exception:  # the sink only enqueues; its bug must not break Go's dispatch
            log.exception("neonize session %s: sink failed on %s", self.instance_id, type(event).__name__)
