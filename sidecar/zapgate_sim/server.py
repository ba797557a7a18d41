"""HTTP face of the simulated WhatsApp network.

Two audiences:

* ``/sim/instances/{id}/...`` — the control API that tests and demos use to play the phone
  and the outside world (scan a QR, deliver a message, unlink the device, drop the link).
* ``/sim/transport/{id}/...`` — what the sidecar's sim transport calls in place of a
  WhatsApp socket (connect, long-poll events, send, download, logout, pairing code).

The requests to the phone (``/sim/transport/{id}/ops/{op}``) and their views are in server_ops.

Errors are ``{"detail": "<short reason>"}`` with the status the network error carries.
"""

from __future__ import annotations

import asyncio
import base64 as b64
import binascii
import signal
import threading
import time
from types import FrameType
from typing import Any, Literal

import anyio
import uvicorn
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from zapgate_core.domain.message_kinds import MediaKind

from .network import InvalidRequest, SimError, SimNetwork
from .payload_objects import (
    InboundContact,
    InboundLocation,
    InboundPoll,
    InboundPollVote,
    InboundReaction,
    InboundSelection,
)
from .server_changes import add_change_routes
from .server_ops import add_request_routes

MAX_WAIT_MS = 20_000
MediaType = MediaKind


# ---------------------------------------------------------------- request bodies
class ScanBody(BaseModel):
    phone: str
    push_name: str | None = None


class InboundMedia(BaseModel):
    type: MediaType
    mime_type: str | None = None
    file_name: str | None = None
    base64: str


class InboundQuoted(BaseModel):
    id: str
    sender: str | None = None
    body: str | None = None


TypedKind = Literal["location", "contact", "reaction", "poll", "poll_choice", "buttons_response", "list_response"]


class InboundBody(BaseModel):
    id: str | None = None
    chat: str
    sender: str | None = None
    sender_pn: str | None = None
    push_name: str | None = None
    body: str = ""
    media: InboundMedia | None = None
    from_me: bool = False
    timestamp: int | None = None
    # What a real phone can also send (the sidecar's IncomingMessage fields): a quote, and a typed kind
    # with its object (`type` and the object must match; `poll_vote` for poll_choice, `selection` for
    # buttons_response/list_response).
    quoted: InboundQuoted | None = None
    type: TypedKind | None = None
    location: InboundLocation | None = None
    contact: InboundContact | None = None
    reaction: InboundReaction | None = None
    poll: InboundPoll | None = None
    poll_vote: InboundPollVote | None = None
    selection: InboundSelection | None = None


class UndecryptableBody(BaseModel):
    count: int = Field(1, ge=1, le=1000)
    chat: str | None = None


class ReceiptBody(BaseModel):
    wa_message_id: str
    kind: str = "delivered"
    chat: str | None = None


class GroupBody(BaseModel):
    jid: str
    name: str = ""


class AccountBody(BaseModel):
    phone: str
    push_name: str | None = None
    about: str | None = None  # what user_info shows of them
    picture: bool = False  # whether they have a profile picture (profile_picture answers a fake CDN URL)


class CheckNumbersBody(BaseModel):
    session: str
    numbers: list[str]


class ChatPresenceBody(BaseModel):
    session: str
    chat: str
    state: str


class StallBody(BaseModel):
    seconds: float = Field(gt=0, le=60)


class ConnectBody(BaseModel):
    credential: str | None = None
    proxy: str | None = Field(default=None, max_length=2048)  # issue 13: recorded masked (sim_proxies.py)


class SessionBody(BaseModel):
    session: str


class SendBody(BaseModel):
    session: str
    to: str
    type: str
    text: str = ""
    data_base64: str = ""
    mime_type: str | None = None
    file_name: str | None = None
    location: dict[str, Any] | None = None
    contact: dict[str, Any] | None = None
    reaction: dict[str, Any] | None = None
    poll: dict[str, Any] | None = None
    quoted: dict[str, Any] | None = None
    voice_note: bool | None = None
    link_preview: dict[str, Any] | None = None
    mentions: list[str] | None = None


class LogoutBody(BaseModel):
    session: str | None = None
    credential: str | None = None


class PairingCodeBody(BaseModel):
    session: str
    phone: str


def _decode(data: str) -> bytes:
    try:
        return b64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest("invalid base64") from exc


def create_app(network: SimNetwork | None = None) -> FastAPI:
    net = network if network is not None else SimNetwork()
    app = FastAPI(title="zapgate sim network", docs_url="/sim/docs", openapi_url="/sim/openapi.json")
    app.state.network = net
    # Long-polls park a worker thread each; a limiter of their own keeps them from starving
    # the default pool that every other (sync) route runs in. One per session: room for a sidecar of
    # 1,000+ instances plus, after a kill -9, its peer's while the dead one's polls run out (10 s).
    poll_limiter = anyio.CapacityLimiter(5000)

    @app.exception_handler(SimError)
    async def _sim_error(_: Request, exc: SimError) -> JSONResponse:
        # `kind` (when the error has one) tells refusals of one status apart: not_found vs not_on_whatsapp.
        content = {"detail": str(exc), **({"kind": exc.kind} if exc.kind else {})}
        return JSONResponse(status_code=exc.status, content=content)

    @app.get("/sim/health")
    def health() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/sim/reset")
    def reset() -> dict[str, bool]:
        net.reset()
        return {"ok": True}

    # ------------------------------------------------------------ control API
    @app.get("/sim/stats")
    def stats() -> dict[str, Any]:
        """Counts by state, paired instances, QRs shown since start, open sessions (no per-instance detail)."""
        return net.stats()

    @app.get("/sim/instances/{instance_id}")
    def instance_info(instance_id: str) -> dict[str, Any]:
        return net.info(instance_id)

    @app.post("/sim/instances/{instance_id}/scan")
    def scan(instance_id: str, body: ScanBody) -> dict[str, Any]:
        return net.scan(instance_id, body.phone, body.push_name)

    @app.post("/sim/instances/{instance_id}/inbound")
    def inbound(instance_id: str, body: InboundBody) -> dict[str, str]:
        media = None
        if body.media is not None:
            m = body.media
            media = (m.type, m.mime_type, m.file_name, _decode(m.base64))
        message_id = net.deliver_inbound(
            instance_id,
            body.chat,
            wa_message_id=body.id,
            sender=body.sender,
            sender_pn=body.sender_pn,
            push_name=body.push_name,
            body=body.body,
            media=media,
            from_me=body.from_me,
            timestamp=body.timestamp,
            quoted=body.quoted.model_dump() if body.quoted is not None else None,
            kind=body.type,
            typed={name: value.model_dump()
                   for name in ("location", "contact", "reaction", "poll", "poll_vote", "selection")
                   if (value := getattr(body, name)) is not None},
        )
        return {"id": message_id}

    @app.get("/sim/instances/{instance_id}/sent")
    def sent(instance_id: str) -> list[dict[str, Any]]:
        return net.sent(instance_id)

    @app.post("/sim/instances/{instance_id}/logout")
    def remove_device(instance_id: str) -> dict[str, bool]:
        net.remove_device(instance_id)
        return {"ok": True}

    @app.post("/sim/instances/{instance_id}/drop")
    def drop(instance_id: str) -> dict[str, bool]:
        net.drop(instance_id)
        return {"ok": True}

    @app.post("/sim/instances/{instance_id}/undecryptable")
    def undecryptable(instance_id: str, body: UndecryptableBody) -> dict[str, list[str]]:
        return {"ids": net.undecryptable(instance_id, body.count, body.chat)}

    @app.post("/sim/instances/{instance_id}/groups")
    def set_group(instance_id: str, body: GroupBody) -> dict[str, str]:
        """The account joins a group, or renames one it is in (the next fetch_groups sees it)."""
        return net.set_group(instance_id, body.jid, body.name)

    @app.post("/sim/instances/{instance_id}/receipt")
    def receipt(instance_id: str, body: ReceiptBody) -> dict[str, bool]:
        net.receipt(instance_id, body.wa_message_id, body.kind, body.chat)
        return {"ok": True}

    @app.post("/sim/accounts")
    def register_account(body: AccountBody) -> dict[str, Any]:
        """Someone outside the gateway has WhatsApp on this number: a check of it says it exists."""
        return net.register_account(body.phone, body.push_name, body.about, body.picture)

    @app.get("/sim/instances/{instance_id}/presences")
    def presences(instance_id: str) -> list[dict[str, Any]]:
        """The chat presences (typing, recording, paused) this account showed, as the other party saw them."""
        return net.presences(instance_id)

    @app.post("/sim/instances/{instance_id}/stall")
    def stall(instance_id: str, body: StallBody) -> dict[str, bool]:
        """Test-only: the next check / chat presence of this instance runs, then answers `seconds` late."""
        net.stall(instance_id, body.seconds)
        return {"ok": True}

    # ------------------------------------------------------------ transport API
    @app.post("/sim/transport/{instance_id}/connect")
    def connect(instance_id: str, body: ConnectBody) -> dict[str, Any]:
        session_id, cursor = net.connect(instance_id, body.credential, body.proxy)
        return {"session": session_id, "after": cursor}

    @app.get("/sim/transport/{instance_id}/events")
    async def events(
        instance_id: str,
        session: str,
        after: int = Query(0, ge=0),
        wait_ms: int = Query(0, ge=0, le=MAX_WAIT_MS),
    ) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(
            net.poll, instance_id, session, after, wait_ms / 1000, limiter=poll_limiter
        )

    @app.post("/sim/transport/{instance_id}/send")
    def send(instance_id: str, body: SendBody) -> dict[str, str]:
        wa_id = net.send(
            instance_id,
            body.session,
            body.to,
            body.type,
            text=body.text,
            data=_decode(body.data_base64),
            mime_type=body.mime_type,
            file_name=body.file_name,
            extra={
                name: value
                for name in ("location", "contact", "reaction", "poll", "quoted", "voice_note", "link_preview",
                             "mentions")
                if (value := getattr(body, name)) is not None
            },
        )
        return {"id": wa_id}

    @app.get("/sim/transport/{instance_id}/media/{handle}")
    def download(instance_id: str, handle: str) -> Response:
        return Response(net.download(instance_id, handle), media_type="application/octet-stream")

    @app.post("/sim/transport/{instance_id}/logout")
    def logout(instance_id: str, body: LogoutBody) -> dict[str, bool]:
        return {"revoked": net.logout_device(instance_id, body.session, body.credential)}

    @app.post("/sim/transport/{instance_id}/pairing-code")
    def pairing_code(instance_id: str, body: PairingCodeBody) -> dict[str, str]:
        return {"code": net.request_pairing_code(instance_id, body.session, body.phone)}

    @app.get("/sim/transport/{instance_id}/groups")
    def list_groups(instance_id: str, session: str) -> dict[str, list[dict[str, str]]]:
        return {"groups": net.list_groups(instance_id, session)}

    @app.post("/sim/transport/{instance_id}/check-numbers")
    def check_numbers(instance_id: str, body: CheckNumbersBody) -> dict[str, list[dict[str, Any]]]:
        return {"numbers": net.check_numbers(instance_id, body.session, body.numbers)}

    @app.post("/sim/transport/{instance_id}/chat-presence")
    def chat_presence(instance_id: str, body: ChatPresenceBody) -> dict[str, bool]:
        net.send_chat_presence(instance_id, body.session, body.chat, body.state)
        return {"ok": True}

    add_request_routes(app, net)
    add_change_routes(app, net)  # issue 10: edit / revoke / group / call injections, reject-call

    @app.post("/sim/transport/{instance_id}/disconnect")
    def disconnect(instance_id: str, body: SessionBody) -> dict[str, bool]:
        net.disconnect(instance_id, body.session)
        return {"ok": True}

    return app


# ---------------------------------------------------------------- serving
class SimServer(uvicorn.Server):
    """uvicorn for the sim: releases long-polls on exit and exits 0 on SIGINT/SIGTERM.

    Stock uvicorn re-raises the captured signal after a graceful shutdown, which turns
    Ctrl-C into a KeyboardInterrupt traceback and SIGTERM into a signal death; a sim that
    a dev stack starts and stops all day should just exit.
    """

    def __init__(self, network: SimNetwork, host: str = "127.0.0.1", port: int = 0,
                 announce: bool = False) -> None:
        config = uvicorn.Config(
            create_app(network),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        super().__init__(config)
        self.network = network
        self.announce = announce
        self.port: int | None = None
        # Set once the port is known: uvicorn's `started` turns true before this class reads the bound port,
        # so a thread that waited for `started` alone could read a url ending in ':None'.
        self.ready = threading.Event()

    async def startup(self, sockets: list[Any] | None = None) -> None:
        self.network.reopen()
        await super().startup(sockets)
        if self.started:
            self.port = self.servers[0].sockets[0].getsockname()[1]
            self.ready.set()
            if self.announce:
                print(f"zapgate sim network on {self.url}", flush=True)

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.network.shutdown()
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True

    def request_stop(self) -> None:
        """Stop from another thread (signals only reach the main thread)."""
        self.network.shutdown()
        self.should_exit = True


class BackgroundSim:
    """The sim served from a daemon thread, for tests: ``with BackgroundSim() as sim: sim.url``."""

    def __init__(self, network: SimNetwork | None = None, port: int = 0) -> None:
        self.network = network if network is not None else SimNetwork()
        self.server = SimServer(self.network, port=port)
        self._thread = threading.Thread(target=self._run, name="zapgate-sim", daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    @property
    def url(self) -> str:
        return self.server.url

    def start(self, timeout: float = 10.0) -> BackgroundSim:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.ready.is_set() and self._thread.is_alive() and time.monotonic() < deadline:
            self.server.ready.wait(0.02)
        if not self.server.ready.is_set():
            raise RuntimeError("sim network did not start")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.server.request_stop()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def __enter__(self) -> BackgroundSim:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


app = create_app()
