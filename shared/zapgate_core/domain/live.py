"""Live updates over the WebSocket API: tickets, connection lifetimes, subscriptions. Plain Python, no I/O.

Browsers cannot set headers on a WebSocket, so a frontend first asks the public API for a ticket
(`POST /v1/live/tickets`) and connects with `?ticket=...`. A ticket is random, stored only as its
SHA-256 (like API keys), valid for TICKET_TTL_S and consumed by the first $connect that presents it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Collection
from typing import Any, Final

from zapgate_core.contract.common import MAX_ID

TICKET_TTL_S: Final = 60
TICKET_PREFIX: Final = "ticket#"  # the key of a ticket's item in the connections table
# API Gateway closes a WebSocket connection after 2 h at most; the item outlives it a little, and
# DynamoDB's TTL sweeps what a missed $disconnect left behind.
CONNECTION_MAX_S: Final = 2 * 3600
CONNECTION_TTL_S: Final = CONNECTION_MAX_S + 10 * 60
MAX_SUBSCRIBED: Final = 50  # instance ids one connection may name
MAX_CREDENTIAL_LENGTH: Final = 256  # tickets and API keys are far shorter; longer ones spare a lookup
PUSH_SENT: Final = "sent"  # what a push to one connection answers
PUSH_GONE: Final = "gone"  # the connection is closed (API Gateway: 410 GoneException): forget it


class InvalidSubscription(ValueError):
    """instanceIds that are not a list of ids (the message says why; never echoes them)."""


def new_ticket() -> str:
    return "zlt_" + secrets.token_urlsafe(32)


def ticket_key(ticket: str) -> str:
    """The connections-table key of a ticket: its SHA-256, never the ticket itself (32 random bytes:
    a plain hash is a safe verifier, as for API keys)."""
    return TICKET_PREFIX + hashlib.sha256(ticket.encode()).hexdigest()


def ticket_tenant(tenant_id: str, expires_at_s: float, now_s: int) -> str | None:
    """The tenant a ticket just consumed names, or None once it has expired.

    DynamoDB's TTL sweep runs late (up to days), so the expiry is judged here, on our clock.
    """
    return tenant_id if tenant_id and expires_at_s > now_s else None


def instance_ids_from(values: Any) -> list[str] | None:
    """Subscription from `instanceId` query values (repeated and/or comma-separated) or a message's
    `instanceIds` list: sorted unique ids, or None for "every instance of the tenant"."""
    if values is None:
        return None
    if not isinstance(values, list | tuple):
        raise InvalidSubscription("instanceIds must be a list of instance ids")
    found: set[str] = set()
    for value in values:
        if not isinstance(value, str):
            raise InvalidSubscription("instanceIds must be a list of instance ids")
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if len(part) > MAX_ID:
                raise InvalidSubscription(f"an instance id is longer than {MAX_ID} characters")
            found.add(part)
    if len(found) > MAX_SUBSCRIBED:
        raise InvalidSubscription(f"at most {MAX_SUBSCRIBED} instance ids per connection")
    return sorted(found) or None


def wants(subscribed: Collection[str] | None, instance_id: str | None) -> bool:
    """Does a connection subscribed to `subscribed` get an event of `instance_id`? None or empty = every instance."""
    return not subscribed or instance_id in subscribed


def error_message(code: str, message: str) -> str:
    """A WebSocket answer in the public API's error shape, plus the message type."""
    return json.dumps({"type": "error", "error": {"code": code, "message": message}}, separators=(",", ":"))
