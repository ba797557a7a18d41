"""From a WhatsApp message to POST /inbound: filter, resolve the contact, carry the media.

Media bytes go to MEDIA_BASE/<instanceId>/<wa_message_id>.<ext>, then to upload-media (or
straight to S3 when too large for a Lambda body); they are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import mimetypes
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import ValidationError

from zapgate_core.contract.worker_proxy import (
    INBOUND_OBJECTS,
    ContactResolveRequest,
    InboundMessage,
    UploadMediaRequest,
)
from zapgate_core.domain.jids import chat_type_of, jid_type_of
from zapgate_core.storage.media import ContentAddressedMedia
from zapgate_sidecar.adapters.worker_proxy import WorkerProxyClient, WorkerProxyError
from zapgate_sidecar.logs import log
from zapgate_sidecar.transport import IncomingMessage, TransportError, WhatsAppSession

DELIVERY_ATTEMPTS = 4


def is_deliverable(message: IncomingMessage) -> bool:
    """Own echoes, protocol and history messages, and messages with nothing in them stay behind."""
    if message.from_me or message.is_protocol or message.is_history:
        return False
    # A typed kind is content even without text (a reaction removed: emoji "").
    return bool(message.text) or message.media is not None or message.typed_content is not None


def typed_fields(message: IncomingMessage) -> dict[str, object]:
    """The worker-proxy's optional extensions: the kind and object of a typed message, and the quote.

    Nothing for a plain text or media message that quotes nothing: its body is what it always was.
    """
    fields: dict[str, object] = {}
    content = message.typed_content
    if content is not None and message.media is None:
        name = INBOUND_OBJECTS[message.kind]
        fields["message_type"] = message.kind
        fields[name] = dataclasses.asdict(content)
    if message.quoted is not None:
        fields["quoted_wa_message_id"] = message.quoted.wa_message_id
        if message.quoted.body:
            fields["quoted_text"] = message.quoted.body
    return fields


def _extension(mime_type: str | None, file_name: str | None) -> str:
    if file_name and "." in file_name:
        return file_name.rsplit(".", 1)[1][:10]
    guessed = mimetypes.guess_extension(mime_type or "") if mime_type else None
    return (guessed or ".bin").lstrip(".")


@dataclass
class InboundPipeline:
    proxy: WorkerProxyClient
    instance_id: str
    media_dir: Path
    upload_max_bytes: int
    large_media: ContentAddressedMedia | None  # direct S3 for media above upload_max_bytes
    contact_cache: dict[tuple[str, str | None], str]

    async def deliver(self, message: IncomingMessage, session: WhatsAppSession, own_jid: str | None) -> bool:
        if not is_deliverable(message):
            return False
        contact_id = await self._contact(message.sender_jid, message.push_name)
        media_fields: dict[str, object] = {}
        if message.media is not None:
            media_fields = await self._media(message, session)
            if not media_fields and not message.text:
                return False  # the media could not be fetched and there is nothing else to say
        fields: dict[str, object] = {
            "instanceId": self.instance_id,
            "from": message.sender_jid,
            "to": own_jid,
            "body": message.text,
            "wa_message_id": message.wa_message_id,
            "from_me": message.from_me,
            "chat_id_norm": message.chat_jid,
            "chat_type": chat_type_of(message.chat_jid),
            "sender_jid_raw": message.sender_jid,
            "sender_pn": message.sender_pn,
            "sender_contact_id": contact_id,
            "push_name": message.push_name,
            "timestamp": message.timestamp,
            **media_fields,
        }
        try:
            inbound = InboundMessage.model_validate({**fields, **typed_fields(message)})
        except ValidationError:
            # A typed object beyond the contract's limits: the message still goes, as its plain text.
            log.warning("inbound typed content dropped", extra={"wa_message_id": message.wa_message_id})
            inbound = InboundMessage.model_validate(fields)
        for attempt in range(DELIVERY_ATTEMPTS):
            try:
                await self.proxy.inbound(inbound)
                return True
            except WorkerProxyError as exc:
                if exc.status < 500:
                    log.warning("inbound refused", extra={"wa_message_id": message.wa_message_id, "status": exc.status})
                    return False
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5 * 2**attempt)
        log.error("inbound not delivered", extra={"wa_message_id": message.wa_message_id})
        return False

    async def _contact(self, jid: str, push_name: str | None) -> str | None:
        key = (jid, push_name)
        if key in self.contact_cache:
            return self.contact_cache[key]
        try:
            answer = await self.proxy.resolve_contact(
                ContactResolveRequest(instance_id=self.instance_id, jid=jid, jid_type=jid_type_of(jid),
                                      push_name=push_name)
            )
        except (WorkerProxyError, httpx.HTTPError, ValueError):
            return None  # optional field: the message still goes through
        self.contact_cache[key] = answer.contact_id
        return answer.contact_id

    async def _media(self, message: IncomingMessage, session: WhatsAppSession) -> dict[str, object]:
        media = message.media
        assert media is not None
        try:
            data = await asyncio.to_thread(session.download, media)
        except TransportError as exc:
            log.warning("media download failed", extra={"wa_message_id": message.wa_message_id, "reason": str(exc)})
            return {}
        self.media_dir.mkdir(parents=True, exist_ok=True)
        path = self.media_dir / f"{message.wa_message_id}.{_extension(media.mime_type, media.file_name)}"
        await asyncio.to_thread(path.write_bytes, data)
        url = await self._upload(message.wa_message_id, media.mime_type, media.file_name, data)
        if url is None:
            return {}
        return {
            "media_type": media.kind,
            "media_url": url,
            "mime_type": media.mime_type,
            "file_name": media.file_name or path.name,
            "file_size": len(data),
        }

    async def _upload(self, wa_id: str, mime_type: str | None, file_name: str | None, data: bytes) -> str | None:
        if len(data) > self.upload_max_bytes:
            if self.large_media is None:
                log.warning("media too large for upload-media and no MEDIA_BUCKET", extra={"size": len(data)})
                return None
            digest, _ = await asyncio.to_thread(self.large_media.put, data, mime_type)
            return self.large_media.url(digest)
        request = UploadMediaRequest(
            instance_id=self.instance_id, message_id=wa_id, mime_type=mime_type, file_name=file_name,
            bytes_base64=base64.b64encode(data).decode(),
        )
        try:
            return await self.proxy.upload_media(request)
        except (WorkerProxyError, httpx.HTTPError) as exc:
            log.warning("upload-media failed", extra={"wa_message_id": wa_id, "error": type(exc).__name__})
            return None
