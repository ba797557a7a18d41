"""The sim transport: WhatsAppTransport over HTTP to the simulated network (zapgate_sim.server).

A session's "socket" is a network-side session id plus a long-poll loop on a daemon thread.
Its "keys" are one credential token in ``auth_dir / "sim-credentials.json"``: written
before Connected is reported (the sidecar persists auth_dir when it sees Connected),
read on every connect (auth_dir may be restored from DynamoDB after open_session), and
deleted on LoggedOut. A sidecar that restores auth_dir therefore reconnects without a QR.

Reconnection policy mirrors the port: after Disconnected / StreamReplaced / LoggedOut the
loop ends and the sidecar decides whether to start() again. Only an unreachable network
is retried here (slowly, with one ConnectFailed per outage), since nothing else can fix it.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import functools
import json
import logging
import os
import ssl
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from zapgate_sidecar.transport import (
    Connected,
    ConnectFailed,
    Disconnected,
    EventSink,
    GroupInfo,
    IncomingMessage,
    Location,
    LoggedOut,
    MediaRef,
    NetworkUnreachable,
    Outgoing,
    OutLinkPreview,
    PairingCodeIssued,
    Poll,
    PollVote,
    QrShown,
    Quoted,
    Reaction,
    ReceiptReceived,
    Selection,
    SharedContact,
    StreamReplaced,
    TransportError,
    TransportEvent,
    Undecryptable,
)

from .transport_changes import CallRejecting, decode_change
from .transport_requests import PhoneRequests, _detail, _short

log = logging.getLogger(__name__)

CREDENTIALS_FILE = "sim-credentials.json"
UNREACHABLE = "sim network unreachable"


@functools.cache
def _shared_ssl_context() -> ssl.SSLContext:
    """One SSL context for every client of every session. Each httpx.Client otherwise builds its own and
    loads the CA bundle into it: ~0.7 MB per client, two clients per session, most of a sidecar's memory per
    sim instance (1.4 of ~1.6 MB; bench/sidecar_scale.py). The sim is plain HTTP; nothing is verified."""
    return ssl.create_default_context()


def decode_event(payload: dict[str, Any]) -> TransportEvent | None:
    """One network event (JSON with a `type` tag) as the port's dataclass; None if unknown."""
    kind = payload.get("type")
    if kind == "qr_shown":
        return QrShown(code=payload["code"])
    if kind == "pairing_code_issued":
        return PairingCodeIssued(code=payload["code"])
    if kind == "connected":
        return Connected(jid=payload["jid"], push_name=payload.get("push_name"))
    if kind == "disconnected":
        return Disconnected(reason=payload.get("reason", ""))
    if kind == "logged_out":
        return LoggedOut(reason=payload.get("reason", ""))
    if kind == "stream_replaced":
        return StreamReplaced()
    if kind == "connect_failed":
        return ConnectFailed(reason=payload.get("reason", ""), permanent=bool(payload.get("permanent")))
    if kind == "undecryptable":
        return Undecryptable(wa_message_id=payload["wa_message_id"], chat_jid=payload["chat_jid"])
    if kind == "receipt_received":
        return ReceiptReceived(
            wa_message_ids=tuple(payload["wa_message_ids"]),
            chat_jid=payload["chat_jid"],
            kind=payload["kind"],
        )
    if kind == "incoming_message":
        media = payload.get("media")
        quoted = payload.get("quoted")
        typed = _typed_content(payload)
        return IncomingMessage(
            wa_message_id=payload["wa_message_id"],
            chat_jid=payload["chat_jid"],
            sender_jid=payload["sender_jid"],
            from_me=bool(payload.get("from_me")),
            timestamp=int(payload["timestamp"]),
            text=payload.get("text") or "",
            sender_pn=payload.get("sender_pn"),
            push_name=payload.get("push_name"),
            media=MediaRef(
                kind=media["kind"],
                mime_type=media.get("mime_type"),
                file_name=media.get("file_name"),
                file_size=media.get("file_size"),
                handle=media["handle"],
            )
            if media
            else None,
            is_protocol=bool(payload.get("is_protocol")),
            is_history=bool(payload.get("is_history")),
            kind=payload.get("kind") or (media["kind"] if media else "text"),
            quoted=Quoted(wa_message_id=quoted["id"], sender=quoted.get("sender"), body=quoted.get("body"))
            if quoted
            else None,
            **typed,
        )
    return decode_change(payload)  # issue 10's edits, revokes, group changes, calls


def _typed_content(payload: dict[str, Any]) -> dict[str, Any]:
    """The typed object of an incoming message (location, contact, reaction, poll, poll_vote or selection)."""
    typed: dict[str, Any] = {}
    if (location := payload.get("location")) is not None:
        typed["location"] = Location(**location)
    if (contact := payload.get("contact")) is not None:
        typed["contact"] = SharedContact(**contact)
    if (reaction := payload.get("reaction")) is not None:
        typed["reaction"] = Reaction(**reaction)
    if (poll := payload.get("poll")) is not None:
        typed["poll"] = Poll(name=poll["name"], options=tuple(poll.get("options") or ()),
                             selectable_count=poll.get("selectable_count"))
    if (vote := payload.get("poll_vote")) is not None:
        typed["poll_vote"] = PollVote(poll_message_id=vote["poll_message_id"],
                                      option_hashes=tuple(vote.get("option_hashes") or ()),
                                      options=tuple(vote.get("options") or ()))
    if (selection := payload.get("selection")) is not None:
        typed["selection"] = Selection(**selection)
    return typed


class SimTransport:
    """Opens SimSessions against one sim network (``python -m zapgate_sim``)."""

    def __init__(
        self,
        base_url: str,
        name: str = "sim",
        *,
        poll_wait_ms: int = 10_000,
        retry_delay_s: float = 2.0,
        max_retry_delay_s: float = 15.0,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.poll_wait_ms = poll_wait_ms
        self.retry_delay_s = retry_delay_s
        self.max_retry_delay_s = max_retry_delay_s

    def open_session(self, instance_id: str, auth_dir: Path, sink: EventSink, proxy: str | None = None) -> SimSession:
        return SimSession(
            self.base_url,
            instance_id,
            auth_dir,
            sink,
            poll_wait_ms=self.poll_wait_ms,
            retry_delay_s=self.retry_delay_s,
            max_retry_delay_s=self.max_retry_delay_s,
            proxy=proxy,
        )


class _Run:
    """One start()…stop() lifetime: its own stop flag and poll client, so a late-exiting
    thread of an earlier run can never deliver events into the next one."""

    def __init__(self, base_url: str, read_timeout_s: float) -> None:
        self.stop = threading.Event()
        # Set before a terminal event reaches the sink, so a sidecar that calls start() from
        # its reaction to Disconnected gets a fresh run instead of "already running".
        self.done = threading.Event()
        self.client = httpx.Client(
            base_url=base_url, timeout=httpx.Timeout(5.0, read=read_timeout_s), trust_env=False,
            verify=_shared_ssl_context(),
        )
        self.thread: threading.Thread | None = None


class SimSession(PhoneRequests, CallRejecting):
    def __init__(
        self,
        base_url: str,
        instance_id: str,
        auth_dir: Path,
        sink: EventSink,
        *,
        poll_wait_ms: int = 10_000,
        retry_delay_s: float = 2.0,
        max_retry_delay_s: float = 15.0,
        proxy: str | None = None,
    ) -> None:
        self.instance_id = instance_id
        self.auth_dir = Path(auth_dir)
        # Issue 13: the proxy this session "connects through": the sim records it (masked) on connect.
        self._proxy = proxy
        self._sink = sink
        self._base_url = base_url.rstrip("/")
        self._prefix = f"/sim/transport/{quote(instance_id, safe='')}"
        self._poll_wait_ms = poll_wait_ms
        self._retry_delay_s = retry_delay_s
        self._max_retry_delay_s = max_retry_delay_s
        self._lock = threading.Lock()
        self._run: _Run | None = None
        self._session_id: str | None = None
        # Commands get their own client: a parked long-poll must not hold up a send.
        # trust_env off: an HTTP(S)_PROXY meant for the internet must not capture the local sim.
        self._client = httpx.Client(
            base_url=self._base_url, timeout=httpx.Timeout(30.0, connect=5.0), trust_env=False,
            verify=_shared_ssl_context(),
        )

    # ------------------------------------------------------------ credentials
    @property
    def credentials_path(self) -> Path:
        return self.auth_dir / CREDENTIALS_FILE

    def _read_credential(self) -> str | None:
        try:
            data = json.loads(self.credentials_path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("sim %s: unreadable %s (%s); pairing afresh", self.instance_id, CREDENTIALS_FILE, exc)
            return None
        credential = data.get("credential") if isinstance(data, dict) else None
        return credential if isinstance(credential, str) and credential else None

    def _write_credential(self, credential: str, jid: str | None, push_name: str | None) -> None:
        record = {
            "instance_id": self.instance_id,
            "credential": credential,
            "jid": jid,
            "push_name": push_name,
        }
        path = self.credentials_path
        try:
            if json.loads(path.read_text()) == record:
                return
        except (OSError, ValueError):
            pass
        self.auth_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(record, indent=2))
        os.replace(tmp, path)  # atomic: a snapshot of auth_dir never sees half a file

    def _delete_credential(self) -> None:
        self.credentials_path.unlink(missing_ok=True)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        with self._lock:
            previous = self._run
            if previous is not None and not previous.done.is_set() and previous.thread is not None \
                    and previous.thread.is_alive():
                return
            if previous is not None and previous.thread is not None and not previous.thread.is_alive():
                previous.client.close()  # its loop ended on its own (Disconnected, LoggedOut...)
            run = _Run(self._base_url, read_timeout_s=self._poll_wait_ms / 1000 + 5.0)
            run.thread = threading.Thread(
                target=self._loop, args=(run,), name=f"sim-session-{self.instance_id}", daemon=True
            )
            self._run = run
            self._session_id = None
        run.thread.start()

    def stop(self) -> None:
        with self._lock:
            run, self._run = self._run, None
            session_id, self._session_id = self._session_id, None
        if run is None:
            return
        run.stop.set()
        if session_id is not None:
            # Closing the network-side session also wakes our parked long-poll at once.
            self._disconnect_quietly(session_id)
        if run.thread is not None and run.thread is not threading.current_thread():
            run.thread.join(1.0)
        run.client.close()

    def _emit(self, run: _Run, event: TransportEvent) -> None:
        if run.stop.is_set():
            return
        try:
            self._sink(event)
        except Exception:
            log.exception("sim %s: event sink failed on %s", self.instance_id, type(event).__name__)

    def _loop(self, run: _Run) -> None:
        session_id: str | None = None
        try:
            connected = self._connect(run)
            if connected is not None:
                session_id = connected[0]
                self._poll(run, *connected)
        except Exception:
            if not run.stop.is_set():  # after stop() a closed client failing is expected
                log.exception("sim %s: session loop crashed", self.instance_id)
                self._end(run, Disconnected(reason="sim transport error"))
        finally:
            run.done.set()
            with self._lock:
                current = self._run is run
                if current:
                    self._session_id = None
            if not current:  # stopped or superseded by a newer start(): nobody else closes it
                run.client.close()
            if session_id is not None and run.stop.is_set():
                # stop() may have raced our connect and not known this session: close it so
                # the network does not keep a socket nobody reads (inbound would be lost).
                self._disconnect_quietly(session_id)

    def _disconnect_quietly(self, session_id: str) -> None:
        with contextlib.suppress(httpx.HTTPError):
            self._client.post(f"{self._prefix}/disconnect", json={"session": session_id}, timeout=0.5)

    def _connect(self, run: _Run) -> tuple[str, int] | None:
        delay = self._retry_delay_s
        reported = False
        while not run.stop.is_set():
            try:
                response = run.client.post(
                    f"{self._prefix}/connect", json={"credential": self._read_credential(),
                                                     **({"proxy": self._proxy} if self._proxy else {})}
                )
            except httpx.HTTPError as exc:
                reason = f"{UNREACHABLE}: {_short(exc)}"
            else:
                if response.status_code == 200:
                    data = response.json()
                    with self._lock:
                        if self._run is run:
                            self._session_id = data["session"]
                    return data["session"], int(data["after"])
                if response.status_code >= 500:  # 503: the sim is shutting down
                    reason = f"{UNREACHABLE}: {_detail(response)}"
                else:
                    reason = f"sim network refused the connection: {_detail(response)}"
            if not reported:
                # Once per outage: the sidecar needs to know, not to be told every few seconds.
                reported = True
                self._emit(run, ConnectFailed(reason=reason))
            log.info("sim %s: connect failed (%s), retrying in %.1fs", self.instance_id, reason, delay)
            run.stop.wait(delay)
            delay = min(delay * 2, self._max_retry_delay_s)
        return None

    def _poll(self, run: _Run, session_id: str, cursor: int) -> None:
        while not run.stop.is_set():
            try:
                response = run.client.get(
                    f"{self._prefix}/events",
                    params={"session": session_id, "after": cursor, "wait_ms": self._poll_wait_ms},
                )
            except httpx.HTTPError as exc:
                self._end(run, Disconnected(reason=f"{UNREACHABLE}: {_short(exc)}"))
                return
            if response.status_code != 200:
                self._end(run, Disconnected(reason=_detail(response)))
                return
            data = response.json()
            for payload in data["events"]:
                cursor = max(cursor, int(payload["seq"]))
                if run.stop.is_set():
                    return
                self._handle(run, payload)
            if data.get("closed"):
                return

    def _handle(self, run: _Run, payload: dict[str, Any]) -> None:
        event = decode_event(payload)
        if event is None:
            log.warning("sim %s: unknown event %r", self.instance_id, payload.get("type"))
            return
        # Files before events: the sidecar snapshots auth_dir when it sees these.
        if isinstance(event, Connected) and payload.get("credential"):
            self._write_credential(payload["credential"], event.jid, event.push_name)
        elif isinstance(event, LoggedOut):
            self._delete_credential()
        if isinstance(event, Disconnected | LoggedOut | StreamReplaced):
            self._end(run, event)
        else:
            self._emit(run, event)

    def _end(self, run: _Run, event: TransportEvent) -> None:
        """Deliver the event that closes this socket, with the session already marked gone."""
        with self._lock:
            if self._run is run:
                self._session_id = None
        run.done.set()
        self._emit(run, event)

    # ------------------------------------------------------------ commands
    def _command(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, f"{self._prefix}{path}", **kwargs)
        except httpx.HTTPError as exc:
            raise NetworkUnreachable(f"{UNREACHABLE}: {_short(exc)}") from exc

    def send(self, jid: str, message: Outgoing) -> str:
        session_id = self._session_id
        if session_id is None:
            raise TransportError("not connected")
        response = self._command(
            "POST",
            "/send",
            json={
                "session": session_id,
                "to": jid,
                "type": message.kind,
                "text": message.text,
                "data_base64": base64.b64encode(message.data).decode(),
                "mime_type": message.mime_type,
                "file_name": message.file_name,
                **({"voice_note": True} if message.voice_note else {}),
                **({"mentions": list(message.mentions)} if message.mentions else {}),
                **({"link_preview": _preview(message.link_preview)} if message.link_preview else {}),
                **{
                    name: dataclasses.asdict(value)
                    for name in ("location", "contact", "reaction", "poll", "quoted")
                    if (value := getattr(message, name)) is not None
                },
            },
        )
        if response.status_code != 200:
            raise TransportError(_detail(response))
        return str(response.json()["id"])

    def download(self, media: MediaRef) -> bytes:
        handle = media.handle
        if not isinstance(handle, str):
            raise TransportError("not a sim media reference")
        response = self._command("GET", f"/media/{quote(handle, safe='')}")
        if response.status_code != 200:
            raise TransportError(_detail(response))
        return response.content

    def logout(self) -> None:
        response = self._command(
            "POST", "/logout", json={"session": self._session_id, "credential": self._read_credential()}
        )
        if response.status_code != 200:
            raise TransportError(_detail(response))
        # Revoked now or already dead on the network: either way the local keys are useless.
        self._delete_credential()

    def list_groups(self) -> list[GroupInfo]:
        session_id = self._session_id
        if session_id is None:
            raise TransportError("not connected")
        response = self._command("GET", "/groups", params={"session": session_id})
        if response.status_code != 200:
            raise TransportError(_detail(response))
        return [GroupInfo(jid=g["jid"], name=g.get("name") or "") for g in response.json()["groups"]]

    def request_pairing_code(self, phone: str) -> None:
        session_id = self._session_id
        if session_id is None:
            raise TransportError("not waiting for pairing")
        response = self._command("POST", "/pairing-code", json={"session": session_id, "phone": phone})
        if response.status_code != 200:
            raise TransportError(_detail(response))


def _preview(preview: OutLinkPreview) -> dict[str, Any]:
    """A link preview as JSON: the thumbnail's bytes in base64."""
    return {"url": preview.url, "title": preview.title, "description": preview.description,
            "thumbnail_base64": base64.b64encode(preview.thumbnail).decode() if preview.thumbnail else None}
