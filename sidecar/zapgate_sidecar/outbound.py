"""Sending one claimed message: destination, media, send, then mark-sent or mark-failed.

Reasons given to mark-failed are the Node worker's: `malformed-message`, `lid_without_mapping`,
`invalid-destination:<why>`, `timeout`, or the transport's own short message.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from zapgate_core.contract.worker_proxy import QueuedMessage
from zapgate_core.domain.jids import InvalidDestination, normalize_destination
from zapgate_sidecar.adapters.worker_proxy import WorkerProxyClient, WorkerProxyError
from zapgate_sidecar.logs import log
from zapgate_sidecar.transport import (
    OutContact,
    Outgoing,
    OutLinkPreview,
    OutLocation,
    OutPoll,
    OutReaction,
    Quoted,
    TransportError,
    WhatsAppSession,
)

SEND_TIMEOUT_S = 80.0  # whatsmeow waits up to 75 s for the server's ack
MEDIA_FETCH_LIMIT = 100 * 1024 * 1024
MARK_ATTEMPTS = 4


class NotConnected(Exception):
    """The session dropped mid-batch: leave the rest claimed; their leases bring them back."""


@dataclass(frozen=True)
class SendOutcome:
    message_id: str
    wa_message_id: str | None
    error: str | None
    elapsed_ms: float


async def _fetch_media(http: httpx.AsyncClient, url: str) -> bytes:
    async with http.stream("GET", url, timeout=60) as response:
        if response.status_code != 200:
            raise TransportError(f"media-download-failed:{response.status_code}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MEDIA_FETCH_LIMIT:
                raise TransportError("media-too-large")
            chunks.append(chunk)
        return b"".join(chunks)


async def _resolve_destination(proxy: WorkerProxyClient, instance_id: str, to: str) -> tuple[str | None, str | None]:
    """(jid, None) or (None, failure reason)."""
    try:
        destination = normalize_destination(to)
    except InvalidDestination as exc:
        return None, f"invalid-destination:{exc}"
    if destination.kind != "lid":
        return destination.jid, None
    phone = await proxy.primary_jid(instance_id, destination.jid)
    return (phone, None) if phone else (None, "lid_without_mapping")


def _structured(message: QueuedMessage) -> Outgoing | None:
    """A location, contact, reaction or poll message; None for text and media."""
    if message.location is not None:
        loc = message.location
        return Outgoing(kind="location", location=OutLocation(loc.latitude, loc.longitude, loc.name, loc.address))
    if message.contact is not None:
        return Outgoing(kind="contact", contact=OutContact(message.contact.display_name, message.contact.vcard))
    if message.reaction is not None:
        r = message.reaction
        return Outgoing(
            kind="reaction", reaction=OutReaction(r.wa_message_id, r.emoji, r.chat, bool(r.from_me), r.sender)
        )
    if message.poll is not None:
        poll = message.poll
        return Outgoing(kind="poll", poll=OutPoll(poll.name, tuple(poll.options), poll.selectable_count))
    return None


def _text(message: QueuedMessage, quoted: Quoted | None) -> Outgoing:
    """A text, with its link preview and mentions when it has them (issue 13)."""
    preview = message.link_preview
    return Outgoing(
        kind="text", text=message.body or "", quoted=quoted, mentions=tuple(message.mentions or ()),
        link_preview=OutLinkPreview(
            preview.url, preview.title, preview.description,
            base64.b64decode(preview.thumbnail) if preview.thumbnail else b"",
        ) if preview is not None else None,
    )


async def send_one(
    proxy: WorkerProxyClient,
    http: httpx.AsyncClient,
    session: WhatsAppSession,
    instance_id: str,
    message: QueuedMessage,
    is_connected: Any,
    before_send: Callable[[str, Outgoing], Awaitable[None]] | None = None,
) -> SendOutcome:
    """`before_send(jid, outgoing)` runs right before the send (pacing's typing), only with pacing on."""
    started = time.perf_counter()
    debug: dict[str, Any] = {"to": message.to, "media_type": message.media_type}
    wa_id: str | None = None
    error: str | None = None
    if not (message.body or message.media_url or message.location or message.contact or message.reaction
            or message.poll):
        error = "malformed-message"
    else:
        jid, error = await _resolve_destination(proxy, instance_id, message.to)
        debug["jid"] = jid
        if jid is not None:
            if not is_connected():
                raise NotConnected()
            try:
                quoted = (
                    Quoted(message.reply_to.wa_message_id, message.reply_to.sender, message.reply_to.body)
                    if message.reply_to
                    else None
                )
                outgoing = _structured(message) or _text(message, quoted)
                if outgoing.kind == "text" and message.media_url:
                    data = await _fetch_media(http, message.media_url)
                    outgoing = Outgoing(
                        kind=message.media_type or "document",
                        text=message.body or "",
                        data=data,
                        mime_type=message.mime_type,
                        file_name=message.file_name,
                        quoted=quoted,
                        voice_note=bool(message.voice_note) and message.media_type == "audio",
                    )
                    debug["media_bytes"] = len(data)
                if before_send is not None:
                    await before_send(jid, outgoing)
                wa_id = await asyncio.wait_for(asyncio.to_thread(session.send, jid, outgoing), SEND_TIMEOUT_S)
            except TimeoutError:
                error = "timeout"
            except TransportError as exc:
                error = str(exc)[:500] or "send-failed"
            except httpx.HTTPError as exc:
                error = f"media-download-failed:{type(exc).__name__}"
    elapsed_ms = (time.perf_counter() - started) * 1000
    debug["elapsed_ms"] = round(elapsed_ms, 1)
    await _report(proxy, message.id, wa_id, error, debug)
    return SendOutcome(message.id, wa_id, error, elapsed_ms)


async def _report(
    proxy: WorkerProxyClient, message_id: str, wa_id: str | None, error: str | None, debug: dict[str, Any]
) -> None:
    # A sent message must be recorded: retry mark-sent before giving the lease a chance to resend it.
    for attempt in range(MARK_ATTEMPTS):
        try:
            if wa_id is not None:
                await proxy.mark_sent(message_id, wa_id, debug)
            else:
                await proxy.mark_failed(message_id, error or "unknown", debug)
            return
        except WorkerProxyError as exc:
            if exc.status < 500:
                log.warning("mark refused", extra={"message_id": message_id, "status": exc.status})
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.5 * 2**attempt)
    log.error("could not record outcome", extra={"message_id": message_id, "sent": wa_id is not None})
