"""The Idempotency-Key of an automation's reply, so a retried or duplicated inbound event answers once.

The key is derived from (inbound message id, automation id[, part]) and goes through the normal send
path (zapgate_core.domain.idempotency.idempotent_message_id turns it into the reply's message id): the
second enqueue with the same key finds the first message instead of sending another. It is hashed
to a fixed length, because two ids of up to MAX_ID characters would not fit the key's own limit, and
prefixed so it cannot be mistaken for a client's key in logs.
"""

from __future__ import annotations

import hashlib

from zapgate_core.domain.idempotency import idempotent_message_id

KEY_PREFIX = "automation-reply:"


def reply_idempotency_key(inbound_message_id: str, automation_id: str, part: int = 0) -> str:
    """part numbers the messages of one answer (0 = the answer itself, or its fallback: never both)."""
    if not inbound_message_id or not automation_id:
        raise ValueError("both the inbound message id and the automation id are needed")
    if part < 0:
        raise ValueError("part must be 0 or more")
    digest = hashlib.sha256(f"{inbound_message_id}\x1f{automation_id}\x1f{part}".encode()).hexdigest()
    return KEY_PREFIX + digest


def reply_message_id(
    tenant_id: str, instance_id: str, inbound_message_id: str, automation_id: str, part: int = 0
) -> str:
    """The message id the reply will have: the runner can look it up before calling a model at all."""
    return idempotent_message_id(tenant_id, instance_id, reply_idempotency_key(inbound_message_id, automation_id, part))
