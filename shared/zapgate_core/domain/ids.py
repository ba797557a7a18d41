"""Deterministic ids: the same (instance, WhatsApp id) or (instance, JID) always maps to the same row,
so concurrent or repeated writes meet on one key and a conditional put decides."""

from __future__ import annotations

import uuid

_INBOUND_NAMESPACE = uuid.UUID("6f0f6c52-4b9e-4a43-9d7f-2f5b1b8de3a1")
_CONTACT_NAMESPACE = uuid.UUID("0b8c8f0e-3c55-4a8f-8a34-0f5f0d6c2e77")


def inbound_id(instance_id: str, wa_message_id: str) -> str:
    return str(uuid.uuid5(_INBOUND_NAMESPACE, f"{instance_id}\x1f{wa_message_id}"))


def contact_id(instance_id: str, jid: str) -> str:
    return str(uuid.uuid5(_CONTACT_NAMESPACE, f"{instance_id}\x1f{jid}"))
