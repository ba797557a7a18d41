"""An automation job as the runner reads it: the body the outbox built (zapgate_core.domain.automations.jobs)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from zapgate_core.domain.jids import chat_jid


class BadJob(ValueError):
    """The body is not a job this runner can read (a retry cannot fix it: it ends in the DLQ for a look)."""


@dataclass(frozen=True)
class Job:
    tenant_id: str
    instance_id: str
    message_id: str
    chat: str  # normalised chat JID
    chat_type: str
    sender: str
    sender_pn: str | None
    from_me: bool
    text: str
    stored_at: datetime
    attempt: int = 1  # SQS's receive count (a retry of the same message is 2, 3)

    @staticmethod
    def parse(body: str, attempt: int = 1) -> Job:
        try:
            data = json.loads(body)
            chat = chat_jid(str(data["chatId"])) or str(data["chatId"])
            stored = str(data.get("storedAt") or "")
            stored_at = datetime.fromisoformat(stored.replace("Z", "+00:00")) if stored else datetime.now(UTC)
            if stored_at.tzinfo is None:
                stored_at = stored_at.replace(tzinfo=UTC)
            return Job(
                tenant_id=str(data["tenantId"]),
                instance_id=str(data["instanceId"]),
                message_id=str(data["messageId"]),
                chat=chat,
                chat_type=str(data.get("chatType") or ""),
                sender=str(data.get("sender") or ""),
                sender_pn=data.get("senderPn") or None,
                from_me=bool(data.get("fromMe")),
                text=str(data.get("text") or ""),
                stored_at=stored_at,
                attempt=attempt,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BadJob(f"not an automation job: {type(exc).__name__}") from None
