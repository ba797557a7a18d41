"""neonize's HistorySyncEv → the port's history messages (issue 13), offline like inbound_mapping.

WhatsApp sends the history after linking as HistorySync blobs (whatsmeow downloads and decodes them): a list of
conversations, each with its messages as WebMessageInfo (key {remoteJID, fromMe, ID, participant}, message,
messageTimestamp, pushName). Each becomes one IncomingMessage with `is_history`, newest first per chat (so the
sidecar keeps each chat's newest `messages_per_chat` by counting), `from_me` from the key. Media are reported by
kind only (no MediaRef): history is stored as text, its media are not downloaded. Protocol messages (revokes,
key distribution, edits), status broadcasts and messages without an id are left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zapgate_sidecar.transport import IncomingMessage
from zapgate_sidecar.transports.neonize.inbound_content import fallback_text, is_protocol, media_of, unwrap

if TYPE_CHECKING:
    from neonize.proto import Neonize_pb2 as nz

STATUS_BROADCAST = "status@broadcast"
_MILLIS_THRESHOLD = 100_000_000_000


def _seconds(timestamp: int) -> int:
    return timestamp // 1000 if timestamp >= _MILLIS_THRESHOLD else timestamp


def map_web_message(chat: str, info: Any) -> IncomingMessage | None:
    """One WebMessageInfo of conversation `chat`; None when it is nothing to store."""
    key = info.key
    wa_id = key.ID
    chat = key.remoteJID or chat
    if not wa_id or not chat or chat == STATUS_BROADCAST or not info.HasField("message"):
        return None
    content = unwrap(info.message)
    if is_protocol(content, ""):
        return None
    from_me = bool(key.fromMe)
    participant = key.participant or info.participant
    sender = participant or chat
    text = content.conversation
    found = media_of(content)
    if found is not None:
        media, caption = found
        text = text or caption or f"[{media.kind}]"
    else:
        text = text or fallback_text(content) or ""
    if not text:
        return None
    return IncomingMessage(
        wa_message_id=wa_id, chat_jid=chat, sender_jid=sender, from_me=from_me,
        timestamp=_seconds(int(info.messageTimestamp)), text=text, push_name=info.pushName or None,
        is_history=True,
    )


def map_history_sync(event: nz.HistorySync) -> list[IncomingMessage]:
    """Every storable message of the blob, chat by chat, newest first within a chat."""
    found: list[IncomingMessage] = []
    for conversation in event.Data.conversations:
        messages = sorted((m.message for m in conversation.messages), key=lambda m: int(m.messageTimestamp),
                          reverse=True)
        for info in messages:
            mapped = map_web_message(conversation.ID, info)
            if mapped is not None:
                found.append(mapped)
    return found
