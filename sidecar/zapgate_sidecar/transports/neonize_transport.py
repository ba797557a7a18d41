"""The real WhatsApp transport: one neonize (whatsmeow) client per session.

What neonize 0.5.2 does (measured here, or read in goneonize's main.go where no network
is needed to know it) and what that forces on this adapter:

* ``NewClient(name)``: ``name`` is the SQLite path; whatsmeow creates its store there on
  ``connect()`` and resumes the first device in it. One file per instance, under auth_dir.
* ``connect()`` blocks for the life of the client. It opens the store, registers the Go
  client, then dials ``wss://web.whatsapp.com/ws/chat``. Without a route (DNS failure,
  refused connection) it raises ``NeonizeError("failed to dial whatsapp web websocket: ...")``
  within ~30 ms and emits no event at all: that becomes ``ConnectFailed("whatsapp
  unreachable: ...")``. If the peer accepts TCP but never answers, the dial has no timeout
  (still pending after 650 s here): hence the connect watchdog.
* ``client.stop()`` (Go ``Stop``) calls whatsmeow ``Disconnect``, which waits for the socket
  lock a pending dial holds: it blocks as long as that dial. It runs on a helper thread and
  ``stop()`` returns after ``stop_timeout`` regardless.
* neonize runs the blocking Go call on a *non-daemon* thread. While a dial hangs, or when a
  QR pairing ends unfinished (goneonize then waits forever for a device id, or for a QR
  channel that a local Disconnect never closes), that thread never ends and a normal
  interpreter exit waits for it: the sidecar must leave with ``os._exit`` after stopping
  its sessions.
* Go keeps clients in an unguarded map keyed by the client's uuid; ``Stop`` deletes the
  entry. Most exports then fail softly ("client is nil"), but ``GetMe`` dereferences it and
  aborts the whole process (SIGABRT, observed). Go calls are therefore fenced: a session
  counts its calls in flight and ``stop()`` lets them drain (briefly) before ``Stop``. Each
  start uses a fresh uuid, so a stale client stuck in a dial never collides with its
  successor. (Two sessions starting/stopping at the very instant another calls Go can still
  race on that map inside neonize; nothing in Python can lock it.)
* Events reach Python one at a time on one goroutine; the handlers only map and call the
  sink. QR codes and the QR channel's outcome ("timeout", ...) come from neonize's separate
  callbacks on the connecting thread.
* goneonize's event loop *returns* when it cannot marshal an event (a proto2 required field
  left unset: whatsmeow's server-error receipts, failure codes it does not know). The Go
  client stays registered and possibly online, acking messages nobody reads; the adapter
  stops it and reports the loss (see ``connect_error_event``).
* whatsmeow reconnects by itself after ``Disconnected`` (2 s x attempts, no cap) and neonize
  offers no switch to turn that off; ``Connected`` follows when it succeeds.
* ``decrypt_poll_vote`` is broken as shipped: ``_binder`` leaves ``DecryptPollVote`` out of the
  functions whose ``Bytes`` result it copies and frees, so the method hands a ctypes pointer to
  ``FromString`` and raises ``TypeError`` even when whatsmeow decrypted the vote. ``load_neonize``
  registers the missing hook. On a store that was never paired, whatsmeow's ``DecryptPollVote``
  dereferences a nil message-secret store and the Go panic kills the process (SIGSEGV, observed),
  so votes are decrypted only on a connected session (a paired store: the only source of votes).

Importing neonize loads its Go library (0.25-0.5 s and ~50 MB RSS, see
docs/benchmarks-sidecar.md), so the import happens on the session's own thread at start().
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zapgate_sidecar.transport import (
    Connected,
    ConnectFailed,
    Disconnected,
    EventSink,
    GroupInfo,
    IncomingMessage,
    LoggedOut,
    MediaRef,
    NetworkUnreachable,
    Outgoing,
    PairingCodeIssued,
    QrShown,
    Quoted,
    StreamReplaced,
    TransportError,
    TransportEvent,
)
from zapgate_sidecar.transports import neonize_mapping as mapping

if TYPE_CHECKING:
    from google.protobuf.message import Message as ProtoMessage
    from neonize.client import NewClient
    from neonize.proto.Neonize_pb2 import JID
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage

log = logging.getLogger(__name__)

STORE_FILE = "whatsmeow.sqlite3"
_MAX_REASON = 300
# Substrings of Go error texts that mean "the network / WhatsApp is not reachable".
_NETWORK_HINTS = (
    "dial",
    "no such host",
    "connection refused",
    "connection reset",
    "network is unreachable",
    "no route to host",
    "i/o timeout",
    "tls handshake",
    "websocket not connected",
    "not connected",
    "broken pipe",
    "unexpected eof",
    "context deadline exceeded",
)
_DETAIL_START = re.compile(r"(dial tcp|socks connect|lookup |tls: |read tcp|write tcp)")
_go_uuids = itertools.count(1)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


def _network_detail(text: str) -> str:
    """The informative tail of a Go error chain ("dial tcp: lookup web.whatsapp.com ...: no such host")."""
    match = _DETAIL_START.search(text)
    return _short(text[match.start() :] if match else text)


def is_network_error(text: str) -> bool:
    lowered = text.lower()
    return any(hint in lowered for hint in _NETWORK_HINTS)


def _unencodable_event(text: str) -> TransportEvent:
    """goneonize's event loop died marshalling an event with an unset required field."""
    detail = _short(text)
    if "neonize.LoggedOut" in text:
        return LoggedOut(reason=f"logged out (reason not encodable by neonize: {detail})")
    if "neonize.TemporaryBan" in text:
        return ConnectFailed(reason=f"temporary ban (code not encodable by neonize: {detail})", permanent=True)
    if "neonize.ConnectFailure" in text:
        return ConnectFailed(reason=f"connect failure (reason not encodable by neonize: {detail})")
    return Disconnected(reason=f"neonize event loop died: {detail}")


def connect_error_event(text: str) -> TransportEvent:
    """The event for a NeonizeError raised by connect().

    Before the socket is up that is a dial/store failure (never permanent: only the server
    says that). Afterwards it is goneonize's event loop ending on an event it cannot marshal.
    """
    if "required field" in text:
        return _unencodable_event(text)
    if is_network_error(text):
        return ConnectFailed(reason=f"whatsapp unreachable: {_network_detail(text)}", permanent=False)
    return ConnectFailed(reason=f"connect failed: {_short(text)}", permanent=False)


def command_error(action: str, exc: BaseException) -> TransportError:
    text = str(exc) or type(exc).__name__
    if is_network_error(text):
        return NetworkUnreachable(f"{action}: whatsapp unreachable: {_network_detail(text)}")
    return TransportError(f"{action}: {_short(text)}")


_import_lock = threading.Lock()


def load_neonize() -> None:
    """Import neonize (and its Go library) once, under a lock.

    neonize's package imports are circular (neonize -> client -> utils -> proto -> neonize);
    two threads importing parts of it at once deadlock on the module locks (observed:
    ``_DeadlockError`` between a session thread and a send()). Every lazy import below is
    preceded by this call, after which they are plain sys.modules lookups.
    """
    with _import_lock:
        import neonize.client  # noqa: F401

        _repair_decrypt_poll_vote()


def _repair_decrypt_poll_vote() -> None:
    """Give DecryptPollVote the result hook neonize 0.5.2 forgot (see the module docstring); a neonize that
    has one, or returns something else, is left alone."""
    from neonize import _binder

    function = getattr(_binder.gocode, "DecryptPollVote", None)  # absent only from neonize's docs build
    if function is None or getattr(function, "errcheck", None) is not None:
        return
    if function.restype is ctypes.POINTER(_binder.Bytes):
        function.errcheck = _binder.consume_bytes_struct


@cache
def _client_class() -> type[NewClient]:
    """NewClient that reports the QR channel's outcome instead of printing it.

    neonize hands ``self.__onLoginStatus`` (name-mangled) to Go and its default only prints
    the status; defining the mangled name in a subclass is the one way to receive it.
    """
    load_neonize()
    from neonize.client import NewClient

    class _ZapgateClient(NewClient):
        login_status_sink: Any = None

        def _NewClient__onLoginStatus(self, _uuid: int, status: int) -> None:
            sink = self.login_status_sink
            if sink is not None:
                sink(ctypes.string_at(status).decode(errors="replace"))

    return _ZapgateClient


class NeonizeTransport:
    name = "neonize"

    def __init__(
        self,
        *,
        connect_timeout: float = 30.0,
        stop_timeout: float = 3.0,
        device_name: str = "Zapgate",
        proxy_address: str | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.stop_timeout = stop_timeout
        self.device_name = device_name
        self.proxy_address = proxy_address

    def open_session(self, instance_id: str, auth_dir: Path, sink: EventSink) -> NeonizeSession:
        return NeonizeSession(
            instance_id,
            auth_dir,
            sink,
            connect_timeout=self.connect_timeout,
            stop_timeout=self.stop_timeout,
            device_name=self.device_name,
            proxy_address=self.proxy_address,
        )


class NeonizeSession:
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
        self._client: NewClient | None = None
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Timer | None = None
        self._running = False  # between start() and stop()
        self._connected = False
        self._answered = False  # the server said something (QR, Connected, a failure) this run
        self._failure_reported = False  # this run's connect outcome already went to the sink
        self._pairing_ready = False  # socket up and unpaired (a QR is showing): PairPhone may run
        self._inflight = 0
        # Option names of the polls seen, to name votes (which carry hashes only); kept across restarts.
        self._polls = mapping.PollOptionsCache()

    # ------------------------------------------------------------ lifecycle
    @property
    def connected(self) -> bool:
        return self._connected

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

    def _run(self) -> None:
        try:
            self.auth_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._emit_outcome(None, ConnectFailed(reason=f"auth dir unusable: {_short(str(exc))}"))
            return
        try:
            client = self._new_client()
        except Exception as exc:  # the Go library failed to load: nothing else will work either
            log.exception("neonize session %s: cannot create client", self.instance_id)
            self._emit_outcome(None, ConnectFailed(reason=f"neonize unavailable: {_short(str(exc))}"))
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
                outcome = connect_error_event(str(exc))
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
        from neonize.events import (
            ClientOutdatedEv,
            ConnectedEv,
            ConnectFailureEv,
            DisconnectedEv,
            LoggedOutEv,
            MessageEv,
            PairStatusEv,
            ReceiptEv,
            StreamErrorEv,
            StreamReplacedEv,
            TemporaryBanEv,
            UndecryptableMessageEv,
        )
        from neonize.proto.waCompanionReg.WAWebProtobufsCompanionReg_pb2 import DeviceProps

        props = DeviceProps(os=self._device_name, platformType=DeviceProps.CHROME)
        go_uuid = f"zapgate-{self.instance_id}-{next(_go_uuids)}"
        client = _client_class()(str(self.store_path), props=props, uuid=go_uuid)
        client.event(ConnectedEv)(self._on_connected)
        for event_type in (
            ClientOutdatedEv,
            ConnectFailureEv,
            DisconnectedEv,
            LoggedOutEv,
            MessageEv,
            PairStatusEv,
            ReceiptEv,
            StreamErrorEv,
            StreamReplacedEv,
            TemporaryBanEv,
            UndecryptableMessageEv,
        ):
            client.event(event_type)(self._on_event)
        client.qr(self._on_qr)
        client.login_status_sink = lambda status: self._on_login_status(client, status)  # type: ignore[attr-defined]
        return client

    def _proxy_settings(self) -> Any:
        if not self._proxy_address:
            return None
        load_neonize()
        from neonize._binder import ProxySettings

        return ProxySettings(proxy_address=self._proxy_address)

    # ------------------------------------------------------------ events (Go callback threads)
    def _is_current(self, client: NewClient) -> bool:
        return self._running and client is self._client

    def _on_event(self, client: NewClient, event: ProtoMessage) -> None:
        try:
            if event.DESCRIPTOR.full_name == "neonize.Message":
                mapped: TransportEvent | None = self._map_message(client, event)
            else:
                mapped = mapping.map_event(event)
        except Exception:  # a malformed event must not take the dispatch goroutine down
            log.exception("neonize session %s: cannot map %s", self.instance_id, event.DESCRIPTOR.name)
            return
        if mapped is not None:
            self._emit(client, mapped)

    def _map_message(self, client: NewClient, event: Any) -> IncomingMessage | None:
        """A Message event; a vote is decrypted here (the mapping has no client), a poll remembered first,
        even our own (dropped later as an echo), so its votes get names."""
        poll_id = mapping.vote_to_decrypt(event)
        if poll_id is not None:
            return self._poll_vote(client, event, poll_id)
        created = mapping.poll_option_names(event)
        if created is not None:
            self._polls.remember(*created)
        return mapping.map_message(event)

    def _poll_vote(self, client: NewClient, event: Any, poll_id: str) -> IncomingMessage | None:
        """The vote as poll_choice, or None (dropped, logged without content) when it cannot be decrypted:
        a selection is never guessed."""
        wa_id = event.Info.ID
        with self._cond:
            usable = self._is_current(client) and self._connected  # see the module docstring: Go panics otherwise
            if usable:
                self._inflight += 1  # Stop must not remove the client while Go decrypts
        if not usable:
            log.warning("neonize session %s: poll vote %s dropped: session not connected", self.instance_id, wa_id)
            return None
        try:
            vote = client.decrypt_poll_vote(event)
        except Exception as exc:  # DecryptPollVoteError: no secret for that poll here, a bad key...
            reason = "poll secret not found" if "secret key not found" in str(exc) else type(exc).__name__
            log.warning("neonize session %s: poll vote %s dropped: %s", self.instance_id, wa_id, reason)
            return None
        finally:
            self._leave_go()
        return mapping.map_poll_vote(event, vote.selectedOptions, self._polls.options(poll_id))

    def _on_connected(self, client: NewClient, _event: ProtoMessage) -> None:
        with self._cond:
            if not self._is_current(client):
                stale = True
            else:
                stale = False
                self._inflight += 1  # GetMe aborts the process if Stop removed the client meanwhile
        if stale:
            # A connect that completed after stop(): close it instead of leaving it online.
            self._stop_go_client(client)
            return
        try:
            me = client.get_me()
        except Exception:
            log.exception("neonize session %s: get_me failed", self.instance_id)
            me = None
        finally:
            self._leave_go()
        self._emit(client, mapping.map_connected(me))

    def _on_qr(self, client: NewClient, code: bytes) -> None:
        if not self._is_current(client):
            self._stop_go_client(client)
            return
        with self._cond:
            self._pairing_ready = True
        self._emit(client, mapping.map_qr(code))

    def _on_login_status(self, client: NewClient, status: str) -> None:
        if not self._is_current(client):
            return
        with self._cond:
            self._pairing_ready = False  # the QR channel ended: paired, expired or failed
        event = mapping.map_login_status(status)
        if event is not None:
            self._emit(client, event)

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

    # ------------------------------------------------------------ commands (worker threads)
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

    def send(self, jid: str, message: Outgoing) -> str:
        with self._go_call() as client:
            target = _jid_proto(jid)
            try:
                payload: WAMessage | str = build_outgoing(client, message, jid)
                response = client.send_message(target, payload)
            except TransportError:
                raise
            except Exception as exc:
                raise command_error(f"send {message.kind}", exc) from exc
        if not response.ID:
            raise TransportError(f"send {message.kind}: no message id in the server's answer")
        self.remember_sent_poll(response.ID, message)
        return response.ID

    def remember_sent_poll(self, wa_message_id: str, message: Outgoing) -> None:
        """Votes on a poll we sent name its options too: whatsmeow echoes no event for our own sends, so the
        poll is remembered here, under the id WhatsApp gave it (the id votes name)."""
        if message.kind == "poll" and message.poll is not None:
            self._polls.remember(wa_message_id, mapping.poll_options_by_hash(message.poll.options))

    def download(self, media: MediaRef) -> bytes:
        handle = media.handle
        if not hasattr(handle, "SerializeToString"):
            raise TransportError("download: media handle is not a neonize message")
        with self._go_call() as client:
            try:
                data = client.download_any(handle)
            except Exception as exc:
                raise command_error(f"download {media.kind}", exc) from exc
        if not data:
            raise TransportError(f"download {media.kind}: empty media")
        return data

    def list_groups(self) -> list[GroupInfo]:
        # whatsmeow GetJoinedGroups: one IQ for all groups with their subjects (participants come
        # along in the answer; only id and name are kept).
        with self._go_call() as client:
            try:
                groups = client.get_joined_groups()
            except Exception as exc:
                raise command_error("list groups", exc) from exc
        return [GroupInfo(jid=mapping.jid_to_str(g.JID), name=g.GroupName.Name) for g in groups]

    def logout(self) -> None:
        # whatsmeow's Logout unlinks on the server, deletes its device store and disconnects
        # without an event, like any user-initiated Disconnect.
        with self._go_call() as client:
            try:
                client.logout()
            except Exception as exc:
                raise command_error("logout", exc) from exc
        with self._cond:
            self._connected = False

    def request_pairing_code(self, phone: str) -> None:
        digits = re.sub(r"\D", "", phone)
        if not 8 <= len(digits) <= 15:
            raise TransportError("pairing code: phone must have 8 to 15 digits with country code")
        # PairPhone needs the unpaired socket up, which the first QR proves; wait for it (or
        # for the attempt to end) when called right after start().
        with self._cond:
            if not self._running:
                raise TransportError("pairing code: not connected")
            self._cond.wait_for(
                lambda: self._pairing_ready or self._connected or self._failure_reported or not self._running,
                timeout=self._connect_timeout,
            )
            if self._connected:
                raise TransportError("pairing code: already paired")
            if not self._pairing_ready:
                raise NetworkUnreachable("pairing code: not connected (no pairing socket)")
        load_neonize()
        from neonize.utils.enum import ClientName, ClientType

        with self._go_call(need_connected=False) as client:
            try:
                code = client.PairPhone(digits, True, ClientName.LINUX, ClientType.CHROME)
            except Exception as exc:
                raise command_error("pairing code", exc) from exc
        self._emit(client, PairingCodeIssued(code=code))


def _jid_proto(value: str) -> JID:
    load_neonize()
    from neonize.proto.Neonize_pb2 import JID

    try:
        parts = mapping.parse_jid(value)
    except ValueError as exc:
        raise TransportError(f"invalid jid: {exc}") from exc
    # Messages go to the account (whatsmeow fans out to its devices): never to one device.
    return JID(User=parts.user, Server=parts.server, Device=0, RawAgent=0, Integrator=0, IsEmpty=False)


def build_outgoing(client: NewClient, message: Outgoing, jid: str = "") -> WAMessage | str:
    """The protobuf to send (a plain str for text: neonize adds mentions for "@digits").

    Images and documents use neonize's builders (upload + JPEG thumbnail for images). Audio
    and video are assembled here because neonize's builders shell out to ffmpeg/ffprobe for
    duration and thumbnail, which the sidecar image does not ship; WhatsApp plays them without.
    """
    if message.kind in ("location", "contact", "reaction", "poll"):
        return build_structured(message, jid)
    if message.kind == "text":
        if not message.text:
            raise TransportError("send text: empty text")
        if message.quoted is not None:
            return build_quoted_text(message.text, message.quoted)
        return message.text
    if message.quoted is not None:
        return _with_quote(_build_media(client, message), message.quoted)
    return _build_media(client, message)


def _build_media(client: NewClient, message: Outgoing) -> WAMessage:
    if not message.data:
        raise TransportError(f"send {message.kind}: no media data")
    caption = message.text or None
    if message.kind == "image":
        try:
            built = client.build_image_message(message.data, caption=caption)
        except (OSError, ValueError) as exc:  # PIL cannot decode the bytes
            raise TransportError(f"send image: not a decodable image ({_short(str(exc))})") from exc
        if message.mime_type:
            built.imageMessage.mimetype = message.mime_type
        return built
    if message.kind == "document":
        return client.build_document_message(
            message.data,
            caption=caption,
            title=message.file_name,
            filename=message.file_name,
            mimetype=message.mime_type,
        )
    return _build_audio_video(client, message, caption)


def _build_audio_video(client: NewClient, message: Outgoing, caption: str | None) -> WAMessage:
    load_neonize()
    import magic
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import AudioMessage, VideoMessage
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage
    from neonize.utils.enum import MediaType

    mime = message.mime_type or magic.from_buffer(message.data, mime=True)
    media_type = MediaType.MediaAudio if message.kind == "audio" else MediaType.MediaVideo
    upload = client.upload(message.data, media_type)
    common: dict[str, Any] = {
        "URL": upload.url,
        "directPath": upload.DirectPath,
        "mediaKey": upload.MediaKey,
        "fileEncSHA256": upload.FileEncSHA256,
        "fileSHA256": upload.FileSHA256,
        "fileLength": upload.FileLength,
        "mimetype": mime,
        "mediaKeyTimestamp": int(time.time()),
    }
    if message.kind == "audio":
        # Captionless, as in WhatsApp. A voice note (PTT) is Opus in Ogg, and WhatsApp's own clients
        # label it with the codec; without the codec some clients show a file instead of a player.
        if message.voice_note and mime.split(";")[0].strip() == "audio/ogg":
            common["mimetype"] = "audio/ogg; codecs=opus"
        return WAMessage(audioMessage=AudioMessage(PTT=message.voice_note, **common))
    return WAMessage(videoMessage=VideoMessage(caption=caption, **common))


def _context(quoted: Quoted) -> Any:
    """ContextInfo quoting a message, as neonize's _make_quoted_message builds it (stanzaID + participant)."""
    load_neonize()
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ContextInfo
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage

    return ContextInfo(
        stanzaID=quoted.wa_message_id,
        participant=quoted.sender or None,
        quotedMessage=WAMessage(conversation=quoted.body or ""),
    )


def build_quoted_text(text: str, quoted: Quoted) -> WAMessage:
    load_neonize()
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ExtendedTextMessage
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage

    return WAMessage(extendedTextMessage=ExtendedTextMessage(text=text, contextInfo=_context(quoted)))


def _with_quote(built: WAMessage, quoted: Quoted) -> WAMessage:
    for name in ("imageMessage", "videoMessage", "audioMessage", "documentMessage"):
        if built.HasField(name):
            getattr(built, name).contextInfo.CopyFrom(_context(quoted))
    return built


def build_structured(message: Outgoing, jid: str) -> WAMessage:
    """Location, contact (vCard), reaction and poll messages (the reaction and the poll as whatsmeow's
    BuildReaction and BuildPollCreation make them)."""
    load_neonize()
    from neonize.proto.waCommon.WACommon_pb2 import MessageKey
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
        ContactMessage,
        LocationMessage,
        MessageContextInfo,
        PollCreationMessage,
        ReactionMessage,
    )
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage

    if message.kind == "location" and message.location is not None:
        loc = message.location
        return WAMessage(locationMessage=LocationMessage(
            degreesLatitude=loc.latitude, degreesLongitude=loc.longitude, name=loc.name, address=loc.address
        ))
    if message.kind == "contact" and message.contact is not None:
        return WAMessage(contactMessage=ContactMessage(
            displayName=message.contact.display_name, vcard=message.contact.vcard
        ))
    if message.kind == "reaction" and message.reaction is not None:
        reaction = message.reaction
        chat = reaction.chat or jid
        key = MessageKey(remoteJID=chat, fromMe=bool(reaction.from_me), ID=reaction.wa_message_id)
        if not reaction.from_me and chat.endswith("@g.us") and reaction.sender:
            key.participant = reaction.sender
        return WAMessage(reactionMessage=ReactionMessage(
            key=key, text=reaction.emoji, senderTimestampMS=int(time.time() * 1000)
        ))
    if message.kind == "poll" and message.poll is not None:
        poll = message.poll
        count = poll.selectable_count
        if count is None or not 0 <= count <= len(poll.options):
            count = 0  # whatsmeow's rule: a count it cannot honour means any number
        # Voters encrypt their votes with this secret; whatsmeow stores it when the message is sent, which is
        # what lets the session decrypt the votes later. A fresh random one per poll, as whatsmeow makes it.
        return WAMessage(
            pollCreationMessage=PollCreationMessage(
                name=poll.name,
                options=[PollCreationMessage.Option(optionName=option) for option in poll.options],
                selectableOptionsCount=count,
            ),
            messageContextInfo=MessageContextInfo(messageSecret=os.urandom(32)),
        )
    raise TransportError(f"send {message.kind}: missing {message.kind} data")
