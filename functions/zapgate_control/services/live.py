"""Live updates (docs/api.md#live-updates): tickets, the WebSocket routes, and pushing events.

- `issue_ticket` (public API): a one-time ticket for a browser's $connect, stored hashed.
- `connect` / `disconnect` / `message`: API Gateway's $connect, $disconnect and $default routes
  (functions/zapgate_live/handler.py adapts the Lambda events).
- `LiveFanout` (events processor): an event envelope to the tenant's live connections, best-effort.

Never logged: tickets, API keys, QR codes, message bodies.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from zapgate_control.clock import system_clock
from zapgate_control.errors import ApiError
from zapgate_control.observability import logger, metrics
from zapgate_control.ports.api_keys import ApiKeyStore
from zapgate_control.ports.instances import InstanceStore
from zapgate_control.ports.live import LiveConnection, LiveConnectionStore, LivePusher
from zapgate_core.domain.events import encode
from zapgate_core.domain.json_types import JsonObject
from zapgate_core.domain.live import (
    CONNECTION_TTL_S,
    MAX_CREDENTIAL_LENGTH,
    PUSH_GONE,
    TICKET_TTL_S,
    InvalidSubscription,
    error_message,
    instance_ids_from,
    new_ticket,
    ticket_key,
    ticket_tenant,
    wants,
)


# ------------------------------------------------------------------ tickets (public API)
@dataclass(frozen=True)
class IssuedTicket:
    ticket: str  # answered this once; stored only as its SHA-256
    url: str  # the WebSocket URL to open, the ticket included
    expires_in_s: int


def issue_ticket(
    connections: LiveConnectionStore, tenant_id: str, live_url: str, clock: Callable[[], int] = system_clock
) -> IssuedTicket:
    if not live_url:
        raise ApiError(503, "live_unavailable", "live updates are not configured on this deployment")
    ticket = new_ticket()
    connections.put_ticket(ticket_key(ticket), tenant_id, clock() // 1000 + TICKET_TTL_S)
    return IssuedTicket(ticket=ticket, url=f"{live_url}?ticket={ticket}", expires_in_s=TICKET_TTL_S)


# ------------------------------------------------------------------ WebSocket routes
@dataclass(frozen=True)
class LiveDeps:
    connections: LiveConnectionStore
    instances: InstanceStore
    api_keys: ApiKeyStore
    clock: Callable[[], int] = system_clock


@dataclass(frozen=True)
class Answer:
    status: int
    body: str | None = None


def _first(values: Sequence[str] | None) -> str:
    return (values[0] if values else "").strip()


def _header_key(headers: Mapping[str, str]) -> str:
    """An API key from `X-API-Key` or `Authorization: Bearer` (server clients; browsers use tickets)."""
    lowered = {name.lower(): value for name, value in headers.items() if isinstance(value, str)}
    key = lowered.get("x-api-key", "").strip()
    if key:
        return key
    scheme, _, credential = lowered.get("authorization", "").strip().partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else ""


def authenticate(deps: LiveDeps, headers: Mapping[str, str], query: Mapping[str, Sequence[str]]) -> str | None:
    """The tenant of a $connect: its ticket (consumed now, once) or its API key; None = refuse."""
    ticket = _first(query.get("ticket"))
    if ticket:
        if len(ticket) > MAX_CREDENTIAL_LENGTH:
            return None
        consumed = deps.connections.consume_ticket(ticket_key(ticket))
        return ticket_tenant(consumed.tenant_id, consumed.expires_at_s, deps.clock() // 1000) if consumed else None
    key = _header_key(headers)
    if not key or len(key) > MAX_CREDENTIAL_LENGTH:
        return None
    caller = deps.api_keys.caller_for(key)
    return caller[0] if caller else None


def _owned(deps: LiveDeps, tenant_id: str, instance_ids: list[str] | None) -> bool:
    return all(deps.instances.get_for_tenant(tenant_id, i) is not None for i in instance_ids or ())


def connect(
    deps: LiveDeps, connection_id: str, headers: Mapping[str, str], query: Mapping[str, Sequence[str]]
) -> Answer:
    """200 keeps the handshake; anything else makes API Gateway refuse it."""
    try:
        instance_ids = instance_ids_from(query.get("instanceId"))
    except InvalidSubscription as exc:
        return Answer(400, error_message("validation_error", str(exc)))
    tenant_id = authenticate(deps, headers, query)
    if tenant_id is None:
        logger.info("live connect refused", extra={"reason": "unauthorized"})
        return Answer(401, error_message("unauthorized", "missing, invalid, used or expired ticket or API key"))
    if not _owned(deps, tenant_id, instance_ids):  # unknown or another tenant's: the same answer
        logger.info("live connect refused", extra={"reason": "instance_not_owned", "tenant_id": tenant_id})
        return Answer(403, error_message("forbidden", "instanceId names an instance this tenant does not have"))
    deps.connections.put_connection(connection_id, tenant_id, instance_ids, deps.clock() // 1000 + CONNECTION_TTL_S)
    logger.info("live connected", extra={"tenant_id": tenant_id, "connection_id": connection_id,
                                         "instances": len(instance_ids or ())})
    return Answer(200)


def disconnect(deps: LiveDeps, connection_id: str) -> Answer:
    deps.connections.delete_connection(connection_id)
    return Answer(200)


def _reply(payload: JsonObject) -> Answer:
    return Answer(200, json.dumps(payload, separators=(",", ":")))


def message(deps: LiveDeps, connection_id: str, body: str | None) -> Answer:
    """$default: `{"action": "ping"}` and `{"action": "subscribe", "instanceIds": [...]}`; errors answer
    in the public API's error shape (`{"type": "error", "error": {code, message}}`), never echoing input."""
    try:
        request = json.loads(body or "")
    except ValueError:
        request = None
    if not isinstance(request, dict):
        return Answer(200, error_message("malformed_json", "send a JSON object with an action"))
    action = request.get("action")
    if action == "ping":
        return _reply({"type": "pong"})
    if action != "subscribe":
        return Answer(200, error_message("unknown_action", "action must be ping or subscribe"))
    try:
        instance_ids = instance_ids_from(request.get("instanceIds"))
    except InvalidSubscription as exc:
        return Answer(200, error_message("validation_error", str(exc)))
    connection = deps.connections.get_connection(connection_id)
    if connection is None:
        return Answer(200, error_message("not_connected", "this connection is not registered; reconnect"))
    tenant_id = connection.tenant_id
    if not _owned(deps, tenant_id, instance_ids):
        return Answer(200, error_message("not_found", "instance not found"))
    if not deps.connections.subscribe(connection_id, tenant_id, instance_ids):
        return Answer(200, error_message("not_connected", "this connection is not registered; reconnect"))
    return _reply({"type": "subscribed", "instanceIds": instance_ids})


# ------------------------------------------------------------------ push (events processor)
class LiveFanout:
    """Pushes envelopes to a tenant's live connections. Best-effort: nothing here ever raises.

    A tenant's connections are read once (one Query) per SQS batch: call `reset()` at the start of
    each invocation, so a connection opened meanwhile is seen by the next batch.
    """

    def __init__(self, connections: LiveConnectionStore, pusher: LivePusher) -> None:
        self.connections = connections
        self.pusher = pusher
        self._by_tenant: dict[str, list[LiveConnection]] = {}

    def reset(self) -> None:
        self._by_tenant.clear()

    def _of(self, tenant_id: str) -> list[LiveConnection]:
        if tenant_id not in self._by_tenant:
            self._by_tenant[tenant_id] = self.connections.for_tenant(tenant_id)
        return self._by_tenant[tenant_id]

    def push(self, tenant_id: str, envelope: JsonObject) -> int:
        """How many connections took the envelope. Gone connections are forgotten (item deleted)."""
        try:
            targets = [c for c in self._of(tenant_id) if wants(c.instance_ids, envelope.get("instanceId"))]
        except Exception as exc:
            metrics.add_metric(name="LivePushFailed", unit="Count", value=1)
            logger.warning("live connections not read", extra={"tenant_id": tenant_id,
                                                               "error_type": type(exc).__name__})
            return 0
        if not targets:
            return 0
        data = encode(envelope).encode()
        pushed = failed = 0
        for connection in targets:
            connection_id = connection.connection_id
            try:
                if self.pusher.post(connection_id, data) == PUSH_GONE:
                    self._forget(tenant_id, connection_id)
                    continue
                pushed += 1
            except Exception as exc:
                failed += 1
                logger.warning("live push failed", extra={
                    "connection_id": connection_id, "event_id": envelope.get("id"), "error_type": type(exc).__name__,
                })
        if pushed:
            metrics.add_metric(name="LivePushed", unit="Count", value=pushed)
        if failed:
            metrics.add_metric(name="LivePushFailed", unit="Count", value=failed)
        return pushed

    def _forget(self, tenant_id: str, connection_id: str) -> None:
        known = self._by_tenant.get(tenant_id, [])
        self._by_tenant[tenant_id] = [c for c in known if c.connection_id != connection_id]
        try:
            self.connections.delete_connection(connection_id)
        except Exception as exc:  # the TTL sweeps it later; the next push retries the delete
            logger.warning("gone live connection not deleted", extra={"connection_id": connection_id,
                                                                       "error_type": type(exc).__name__})
