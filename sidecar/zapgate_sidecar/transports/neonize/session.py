"""A WhatsAppSession over one neonize (whatsmeow) client: its lifecycle (start, connect, stop).

What neonize 0.5.2 does (measured here, or read in goneonize's main.go where no network is needed to
know it) and what that forces on this adapter:

* ``NewClient(name)``: ``name`` is the SQLite path; whatsmeow creates its store there on ``connect()``
  and resumes the first device in it. One file per instance, under auth_dir.
* ``connect()`` blocks for the life of the client. It opens the store, registers the Go client, then
  dials ``wss://web.whatsapp.com/ws/chat``. Without a route it fails at once (errors.py); if the peer
  accepts TCP but never answers, the dial has no timeout (still pending after 650 s here): hence the
  connect watchdog.
* ``client.stop()`` (Go ``Stop``) calls whatsmeow ``Disconnect``, which waits for the socket lock a
  pending dial holds: it blocks as long as that dial. It runs on a helper thread and ``stop()`` returns
  after ``stop_timeout`` regardless.
* neonize runs the blocking Go call on a *non-daemon* thread. While a dial hangs, or when a QR pairing
  ends unfinished (session_linking.py), that thread never ends and a normal interpreter exit waits for
  it: the sidecar must leave with ``os._exit`` after stopping its sessions.
* goneonize's event loop *returns* when it cannot marshal an event; the Go client stays registered and
  possibly online, acking messages nobody reads: the session stops it and reports the loss
  (errors.connect_error_event).
* whatsmeow reconnects by itself after ``Disconnected`` (2 s x attempts, no cap) and neonize offers no
  switch to turn that off; ``Connected`` follows when it succeeds.

The session's other parts: session_core.py (shared state, fenced Go calls), session_receiving.py (Go's
events), session_linking.py (QR, pairing code), session_commands.py (send, download, groups, logout),
session_requests.py (requests to the phone: check numbers, chat presence).
"""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zapgate_core.domain.proxies import redact
from zapgate_sidecar.transport import ConnectFailed, Disconnected, EventSink, TransportEvent
from zapgate_sidecar.transports.neonize.change_mapping import CHANGE_EVENT_NAMES
from zapgate_sidecar.transports.neonize.errors import connect_error_event, short_reason
from zapgate_sidecar.transports.neonize.loading import client_class, load_neonize
from zapgate_sidecar.transports.neonize.poll_votes import PollOptionsCache
from zapgate_sidecar.transports.neonize.session_commands import SessionCommands
from zapgate_sidecar.transports.neonize.session_core import log
from zapgate_sidecar.transports.neonize.session_linking import SessionLinking
from zapgate_sidecar.transports.neonize.session_receiving import SessionReceiving
from zapgate_sidecar.transports.neonize.session_requests import SessionRequests

if TYPE_CHECKING:
    from neonize.client import NewClient

STORE_FILE = "whatsmeow.sqlite3"
_go_uuids = itertools.count(1)


# Go events the session hands to _on_event (ConnectedEv has its own handler); names in neonize.events.
HANDLED_EVENTS: tuple[str, ...] = (
    "ClientOutdatedEv", "ConnectFailureEv", "DisconnectedEv", "LoggedOutEv", "MessageEv", "PairStatusEv",
    "ReceiptEv", "StreamErrorEv", "StreamReplacedEv", "TemporaryBanEv", "UndecryptableMessageEv",
    "HistorySyncEv",  # issue 13: history after linking (history_mapping.py); uploaded only when the instance asks
    *CHANGE_EVENT_NAMES,  # group notifications and call offers (change_mapping.py, issue 10)
)  # fmt: skip

class NeonizeSession(SessionReceiving, SessionLinking, SessionCommands, SessionRequests):
    """A WhatsAppSession over one neonize client; restartable (each start is a new Go client)."""

    def __init__(
        self,
        instance_id: str,
        auth_dir: Path,
        sink: EventSink,
        *,
        connect_timeout: float = 30.0,
        stop_timeout: float = 3.0,
        device_name: str = "Zapgate",
        proxy_address: str | None = None,
    ) -> None:
        self.instance_id = instance_id
        self.auth_dir = Path(auth_dir)
        self.store_path = self.auth_dir / STORE_FILE
        self._sink = sink
        self._connect_timeout = connect_timeout
        self._stop_timeout = stop_timeout
        self._device_name = device_name
        self._proxy_address = proxy_address

        self._cond = threading.Condition()
        self._client = None
        self._thread = None
        self._watchdog = None
        self._running = False
        self._connected = False
        self._answered = False
        self._failure_reported = False
        self._pairing_ready = False
        self._inflight = 0
        self._polls = PollOptionsCache()

    def start(self) -> None:
        with self._cond:
            if self._running:
                return
            self._running = True
            self._connected = self._answered = self._failure_reported = False
            self._pairing_ready = False
            self._client = None
            thread = threading.Thread(
                target=self._run, name=f"neonize-{self.instance_id}", daemon=True
            )
            self._thread = thread
        thread.start()

    def stop(self) -> None:
        deadline = time.monotonic() + self._stop_timeout
        with self._cond:
            if not self._running:
                return
            self._running = False
            self._connected = False
            self._pairing_ready = False
            self._cond.notify_all()
            # Go's Stop removes the client from its map; calls still entering Go must get there first.
            self._cond.wait_for(lambda: self._inflight == 0, timeout=min(1.0, self._stop_timeout / 3))
            client, thread, watchdog = self._client, self._thread, self._watchdog
        if watchdog is not None:
            watchdog.cancel()
        if client is not None:
            self._stop_go_client(client, deadline)
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("neonize session %s: connect thread still busy after stop", self.instance_id)

    def _run(self) -> None:
        try:
            self.auth_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._emit_outcome(None, ConnectFailed(reason=f"auth dir unusable: {short_reason(str(exc))}"))
            return
        try:
            client = self._new_client()
        except Exception as exc:  # the Go library failed to load: nothing else will work either
            log.exception("neonize session %s: cannot create client", self.instance_id)
            self._emit_outcome(None, ConnectFailed(reason=f"neonize unavailable: {short_reason(str(exc))}"))
            return
        watchdog = threading.Timer(self._connect_timeout, self._on_connect_timeout, args=(client,))
        watchdog.daemon = True
        with self._cond:
            if not self._running or self._thread is not threading.current_thread():
                return
            self._client = client
            self._watchdog = watchdog
            watchdog.start()
        outcome: TransportEvent
        try:
            client.connect(self._proxy_settings())
        except Exception as exc:
            load_neonize()
            from neonize.exc import NeonizeError

            if isinstance(exc, NeonizeError):
                # A dial error may quote the proxy it went through: its credentials never leave the session.
                outcome = connect_error_event(redact(str(exc), self._proxy_address))
            else:
                log.exception("neonize session %s: connect crashed", self.instance_id)
                outcome = ConnectFailed(reason=f"connect crashed: {type(exc).__name__}")
        else:
            # Neonize returns normally only once Stop cancelled it, or the event loop ended.
            outcome = Disconnected(reason="neonize event loop ended")
        watchdog.cancel()
        with self._cond:
            ours = self._is_current(client)
            if ours:
                self._connected = False
                self._pairing_ready = False
        if ours:
            # The Go client outlives its event loop (still registered, maybe still online and
            # acking messages nobody reads): stop it before reporting.
            self._stop_go_client(client, time.monotonic() + self._stop_timeout)
        self._emit_outcome(client, outcome)

    def _new_client(self) -> NewClient:
        load_neonize()
        from neonize import events
        from neonize.proto.waCompanionReg.WAWebProtobufsCompanionReg_pb2 import DeviceProps

        props = DeviceProps(os=self._device_name, platformType=DeviceProps.CHROME)
        go_uuid = f"zapgate-{self.instance_id}-{next(_go_uuids)}"
        client = client_class()(str(self.store_path), props=props, uuid=go_uuid)
        client.event(events.ConnectedEv)(self._on_connected)
        for name in HANDLED_EVENTS:
            client.event(getattr(events, name))(self._on_event)
        client.qr(self._on_qr)
        client.login_status_sink = lambda status: self._on_login_status(client, status)
        return client

    def _proxy_settings(self) -> Any:
        if not self._proxy_address:
            return None
        load_neonize()
        from neonize._binder import ProxySettings

        return ProxySettings(proxy_address=self._proxy_address)

    def _on_connect_timeout(self, client: NewClient) -> None:
        with self._cond:
            if not self._is_current(client) or self._answered:
                return
        self._emit_outcome(
            client,
            ConnectFailed(
                reason=f"whatsapp unreachable: no answer from web.whatsapp.com within {self._connect_timeout:g}s",
                permanent=False,
            ),
        )
