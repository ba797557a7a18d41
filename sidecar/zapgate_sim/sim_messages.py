"""Messages on the simulated network: what the account sends, what reaches it (inbound, undecryptable,
receipts) and the media it can download.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from zapgate_core.domain.jids import InvalidDestination, normalize_destination
from zapgate_core.domain.message_kinds import MEDIA_KINDS

from .sim_core import SimCore
from .sim_state import (
    DEFAULT_UNDECRYPTABLE_CHAT,
    EV_INCOMING_MESSAGE,
    EV_RECEIPT_RECEIVED,
    EV_UNDECRYPTABLE,
    MESSAGE_KINDS,
    STRUCTURED_KINDS,
    TYPED_OBJECTS,
    InvalidRequest,
    NotConnected,
    NotFound,
    _hex16,
    _Media,
)


class MessagesMixin(SimCore):
    """Sending, inbound delivery, receipts and media."""

    def send(
        self,
        instance_id: str,
        session_id: str,
        to: str,
        kind: str,
        text: str = "",
        data: bytes = b"",
        mime_type: str | None = None,
        file_name: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """`extra`: the location / contact / reaction / poll / quoted objects and the voice_note flag, recorded as
        given."""
        extra = extra or {}
        with self._cond:
            self._check_open()
            instance = self._require_connected(instance_id)
            if instance.connected != session_id:
                raise NotConnected("not connected")
            if kind not in MESSAGE_KINDS:
                raise InvalidRequest(f"unsupported message type: {kind}")
            try:
                destination = normalize_destination(to)
            except InvalidDestination as exc:
                raise InvalidRequest(f"invalid destination: {exc}") from exc
            structured = kind in STRUCTURED_KINDS
            if structured and kind not in extra:
                raise InvalidRequest(f"{kind} message without its {kind}")
            is_media = kind not in STRUCTURED_KINDS and kind != "text"
            if kind == "text" and not text.strip():
                raise InvalidRequest("empty text")
            if is_media and not data:
                raise InvalidRequest("empty media")
            if extra.get("voice_note") and kind != "audio":
                raise InvalidRequest("only audio can be a voice note")
            if kind == "sticker" and (data[:4] != b"RIFF" or data[8:12] != b"WEBP"):
                raise InvalidRequest("a sticker must be WebP")  # what WhatsApp's clients show as a sticker
            if (extra.get("link_preview") or extra.get("mentions")) and kind != "text":
                raise InvalidRequest("link previews and mentions are for texts")
            instance.sent_counter += 1
            wa_id = "SIM" + _hex16(instance_id, instance.sent_counter)
            instance.sent.append(
                {
                    "id": wa_id,
                    "to": destination.jid,
                    "type": kind,
                    "body": None if is_media else text,
                    "caption": (text or None) if is_media else None,
                    "media_size": len(data) if is_media else None,
                    "media_sha256": hashlib.sha256(data).hexdigest() if is_media else None,
                    "mime_type": mime_type if is_media else None,
                    "file_name": file_name if is_media else None,
                    **{k: v for k, v in extra.items()
                       if k in ("location", "contact", "reaction", "poll", "quoted", "voice_note", "link_preview",
                                "mentions")},
                }
            )
            return wa_id
    def download(self, instance_id: str, handle: str) -> bytes:
        with self._cond:
            instance = self._instances.get(instance_id)
            media = instance.media.get(handle) if instance else None
            if media is None:
                raise NotFound("media not found")
            return media.data
    def deliver_inbound(
        self,
        instance_id: str,
        chat: str,
        *,
        wa_message_id: str | None = None,
        sender: str | None = None,
        sender_pn: str | None = None,
        push_name: str | None = None,
        body: str = "",
        media: tuple[str, str | None, str | None, bytes] | None = None,
        from_me: bool = False,
        timestamp: int | None = None,
        quoted: dict[str, Any] | None = None,
        kind: str | None = None,
        typed: dict[str, dict[str, Any]] | None = None,
    ) -> str:
        """An incoming message; `media` is (kind, mime type, file name, bytes). Returns its id.

        `quoted` ({id, sender, body}) makes it a reply; `kind` a typed kind (location, contact, reaction,
        poll, poll_choice, buttons_response, list_response) whose one object is in `typed` ({"location": {...}}).
        """
        typed = typed or {}
        expected = TYPED_OBJECTS.get(kind or "")
        if (kind is not None and expected is None) or list(typed) != ([expected] if expected else []):
            raise InvalidRequest("a typed message needs its type and exactly its one object")
        if typed and media is not None:
            raise InvalidRequest("a typed message carries no media")
        with self._cond:
            instance = self._require_connected(instance_id)
            message_id = wa_message_id or self._next_other_id(instance)
            media_ref: dict[str, Any] | None = None
            if media is not None:
                kind, mime_type, file_name, data = media
                if kind not in MEDIA_KINDS:
                    raise InvalidRequest(f"unsupported media type: {kind}")
                instance.media_counter += 1
                handle = f"media-{instance.media_counter}"
                instance.media[handle] = _Media(data, mime_type, file_name)
                media_ref = {
                    "kind": kind,
                    "mime_type": mime_type,
                    "file_name": file_name,
                    "file_size": len(data),
                    "handle": handle,
                }
            assert instance.connected is not None
            self._emit(
                instance,
                instance.connected,
                {
                    "type": EV_INCOMING_MESSAGE,
                    "wa_message_id": message_id,
                    "chat_jid": chat,
                    "sender_jid": sender or chat,
                    "from_me": from_me,
                    "timestamp": int(time.time()) if timestamp is None else timestamp,
                    "text": body,
                    "sender_pn": sender_pn,
                    "push_name": push_name,
                    "media": media_ref,
                    "is_protocol": False,
                    "is_history": False,
                    **({"quoted": quoted} if quoted else {}),
                    **({"kind": kind, **typed} if kind else {}),
                },
            )
            return message_id

    def undecryptable(self, instance_id: str, count: int, chat: str | None = None) -> list[str]:
        with self._cond:
            instance = self._require_connected(instance_id)
            if not 1 <= count <= 1000:
                raise InvalidRequest("count must be 1..1000")
            ids = []
            for _ in range(count):
                message_id = self._next_other_id(instance)
                ids.append(message_id)
                assert instance.connected is not None
                self._emit(
                    instance,
                    instance.connected,
                    {
                        "type": EV_UNDECRYPTABLE,
                        "wa_message_id": message_id,
                        "chat_jid": chat or DEFAULT_UNDECRYPTABLE_CHAT,
                    },
                )
            return ids

    def receipt(self, instance_id: str, wa_message_id: str, kind: str, chat: str | None = None) -> None:
        with self._cond:
            instance = self._require_connected(instance_id)
            if chat is None:
                chat = next((m["to"] for m in instance.sent if m["id"] == wa_message_id), None)
                if chat is None:
                    raise NotFound("unknown message")
            assert instance.connected is not None
            self._emit(
                instance,
                instance.connected,
                {
                    "type": EV_RECEIPT_RECEIVED,
                    "wa_message_ids": [wa_message_id],
                    "chat_jid": chat,
                    "kind": kind,
                },
            )
    # ------------------------------------------------------------ views
    def sent(self, instance_id: str) -> list[dict[str, Any]]:
        with self._cond:
            instance = self._instances.get(instance_id)
            return [dict(m) for m in instance.sent] if instance else []
