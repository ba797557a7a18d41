"""Idempotency-Key for sends: the key names the message, so the message write is the only record.

The message id is derived from (tenant, instance, key); storing the message is a conditional
put on that id, so a retry finds the first message instead of creating a second one, at no
extra write. The request's fingerprint is stored beside it: the same key with another body
is a client bug, refused rather than silently answered with the first message.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

_NAMESPACE = uuid.UUID("3a4d8b6e-2f7c-4e19-b0a5-91c2d7e6f034")


def idempotent_message_id(tenant_id: str, instance_id: str, key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{tenant_id}\x1f{instance_id}\x1f{key}"))


def request_fingerprint(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
