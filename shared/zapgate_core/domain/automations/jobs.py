"""Automation jobs: the inbound messages the automations runner reads, fed by the events outbox.

An inbound message is a job only when it was stored with the `automate` flag, which the worker-proxy's
inbound path copies from the instance record it already reads (the instance has enabled automations).
So an instance without automations costs nothing more per message: no read, no SQS request; the
outbox decides from the stream record alone (docs/automations.md#runner).

The job is what the runner needs of the stored item, so it reads nothing to learn it: the routing
facts (from_me, chat, sender and its phone number), the text, when it was stored. It travels on
AutomationsQueue, a FIFO queue:

- message group `<tenant>#<slot>`, slot = a hash of the chat modulo TENANT_CONCURRENCY: SQS hands out
  one message of a group at a time, so at most TENANT_CONCURRENCY runs of one tenant are in flight
  (seed 003's worker concurrency, 5) and one chat's messages are answered in the order they came;
- deduplication id: a hash of the inbound message's id, so a job the outbox re-publishes (a retried
  stream batch) within SQS's 5-minute window is dropped by SQS itself. Later duplicates are stopped by
  the reply's idempotency key (idempotency.py).
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

AUTOMATE_FLAG: Final = "automate"  # the stored inbound item's attribute: its instance has automations
TENANT_CONCURRENCY: Final = 5  # seed 003: "concurrency: 5"
JOB_VERSION: Final = 1


def wants_automation(event_name: str, new: dict[str, Any] | None) -> bool:
    """A stream change is a job: a new inbound message stored with the flag, not sent by the instance."""
    new = new or {}
    return (
        event_name == "INSERT"
        and new.get("direction") == "inbound"
        and new.get(AUTOMATE_FLAG) is True
        and not new.get("from_me")
        and bool(new.get("tenant_id"))
    )


def job_of(item: dict[str, Any]) -> dict[str, Any]:
    """The job's body, from the stored inbound item (the stream's new image)."""
    return {
        "v": JOB_VERSION,
        "tenantId": item["tenant_id"],
        "instanceId": item["instance_id"],
        "messageId": item["id"],
        "chatId": item.get("chat_id_norm") or "",
        "chatType": item.get("chat_type") or "",
        "sender": item.get("sender_jid_raw") or item.get("from") or "",
        "senderPn": item.get("sender_pn"),
        "fromMe": bool(item.get("from_me")),
        "text": item.get("body") or "",
        "mediaType": item.get("media_type"),
        "storedAt": item.get("created_at") or "",
    }


def _slot(chat: str) -> int:
    return int.from_bytes(hashlib.sha256(chat.encode()).digest()[:4], "big") % TENANT_CONCURRENCY


def message_group(tenant_id: str, chat: str) -> str:
    """`<tenant>#<slot>`: a tenant's jobs in at most TENANT_CONCURRENCY groups, one chat always in one."""
    return f"{tenant_id}#{_slot(chat)}"


def deduplication_id(message_id: str) -> str:
    """SQS's MessageDeduplicationId (≤ 128 characters of a restricted alphabet): the message id, hashed."""
    return hashlib.sha256(message_id.encode()).hexdigest()
