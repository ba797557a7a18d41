"""Events processor logic: one SQS record = one event → the tenant's webhooks, signed.

For each record:
  1. MESSAGE_INBOUND: parent linking (seed 001) - the newest earlier message in the same chat,
     from the same sender, of the opposite kind (text vs media), at most 90 s before, becomes
     `parentId` in the envelope and `parent_id` on the stored message (one UpdateItem). Done here,
     off the inbound request path, and idempotent, so a retried record recomputes the same link.
  2. Live connections (best-effort, before any webhook): an original record (no `webhookId`) on its
     first receive is pushed to the tenant's live WebSocket connections subscribed to its instance
     (services/live.py). A retried record is not pushed again; push failures never fail a record.
     INSTANCE_QR (a new QR code) goes to live connections only and stops here: never to webhooks.
  3. The tenant's webhooks subscribed to the event type (one Query). One webhook: POST to it.
     Several: one copy of the event per webhook goes back on the queue (`webhookId` attribute),
     so each endpoint is retried on its own and a healthy one never receives duplicates
     because another one is down.
     With EVENT_BUS_NAME set, the EventBridge bus is one more target of the same fan-out (its copy
     says `webhookId: eventbridge`), so a bus outage and a webhook outage never duplicate each other.
  4. A failed POST (non-2xx, timeout, connection error) fails the record: its visibility timeout
     becomes the backoff delay, min(900, base · 2^(receive_count-1)) + jitter, and the raised
     error marks it in the partial batch response, so SQS redelivers it then. After
     maxReceiveCount receives SQS moves it to the dead-letter queue.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass

from zapgate_control.observability import logger, metrics
from zapgate_control.ports.events import (
    TENANT_ATTRIBUTE,
    WEBHOOK_ATTRIBUTE,
    EventBus,
    EventPublisher,
    Redelivery,
    WebhookSender,
)
from zapgate_control.ports.messages import MessageStore
from zapgate_control.ports.webhooks import Webhook, WebhookStore
from zapgate_control.services.live import LiveFanout
from zapgate_core.domain.events import (
    LIVE_ONLY_EVENT_TYPES,
    MESSAGE_INBOUND,
    PARENT_WINDOW_MS,
    encode,
    iso_to_ms,
    pick_parent,
)
from zapgate_core.domain.json_types import JsonObject
from zapgate_core.domain.webhooks import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    retry_delay_s,
    signature_header,
    signing_secrets,
)

# The fan-out copy meant for the EventBridge bus rides in the webhookId attribute (webhook ids are "wh_...").
EVENTBRIDGE_TARGET = "eventbridge"


class DeliveryFailed(Exception):
    """The webhook did not take the event (str(self) says how); the record is retried."""


class BadRecord(Exception):
    """A record that is not an event (no tenant, not JSON): retried like any failure, then kept in the DLQ."""


@dataclass
class Record:
    """What the processor needs of an SQS record (the handler adapts Powertools' SQSRecord)."""

    message_id: str
    body: str
    receipt_handle: str
    receive_count: int
    attributes: dict[str, str]


@dataclass
class Deps:
    webhooks: WebhookStore
    messages: MessageStore
    events: EventPublisher
    redelivery: Redelivery
    sender: WebhookSender
    retry_base_s: float
    live: LiveFanout | None = None  # None: live updates not configured (no LIVE_ENDPOINT_URL)
    bus: EventBus | None = None  # None: no EventBridge bus configured (EVENT_BUS_NAME)


def subscribed(webhook: Webhook, event_type: str) -> bool:
    return not webhook.events or event_type in webhook.events


def signed_request(secrets_: list[str], envelope: JsonObject, now: float | None = None) -> tuple[bytes, dict[str, str]]:
    body = encode(envelope).encode()
    timestamp = str(int(time.time() if now is None else now))
    headers = {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: str(envelope["id"]),
        EVENT_TYPE_HEADER: str(envelope["type"]),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature_header(secrets_, timestamp, body),
    }
    return body, headers


def deliver(sender: WebhookSender, webhook: Webhook, envelope: JsonObject) -> None:
    secrets_ = signing_secrets(webhook.secret, time.time(), webhook.previous_secret, webhook.previous_secret_until)
    body, headers = signed_request(secrets_, envelope)
    started = time.perf_counter()
    failure = sender.post(webhook.url, body, headers)
    took_ms = round((time.perf_counter() - started) * 1000)
    if failure is None:
        metrics.add_metric(name="WebhookDelivered", unit="Count", value=1)
        logger.debug("webhook delivered",
                     extra={"event_id": envelope["id"], "webhook_id": webhook.id, "ms": took_ms})
        return
    metrics.add_metric(name="WebhookFailed", unit="Count", value=1)
    # Ids, never the URL (it may carry the application's own token) nor the body.
    raise DeliveryFailed(f"{failure} after {took_ms} ms (webhook {webhook.id}, event {envelope['id']})")


def to_bus(bus: EventBus, tenant_id: str, envelope: JsonObject) -> None:
    try:
        bus.put(tenant_id, envelope)
    except Exception as exc:
        metrics.add_metric(name="EventBusFailed", unit="Count", value=1)
        raise DeliveryFailed(f"event bus refused event {envelope['id']}: {type(exc).__name__}: {exc}"[:300]) from exc
    metrics.add_metric(name="EventBusDelivered", unit="Count", value=1)


def link_parent(messages: MessageStore, envelope: JsonObject) -> JsonObject:
    """The envelope with message.parentId set when seed 001's heuristic finds a parent (stored too)."""
    message = envelope["payload"]["message"]
    if message.get("parentId"):
        return envelope
    # Every message stored in that millisecond ("~" sorts after any id): pick_parent itself keeps
    # only those strictly before this one by their stored timeline_sk.
    until_sk = f"{iso_to_ms(envelope['timestamp']):013d}#~"
    recent = messages.recent_inbound(envelope["instanceId"], until_sk, PARENT_WINDOW_MS)
    later = next((item for item in recent if item.get("id") == message["id"]), None)
    if later is None:  # expired, or not where the envelope says it is: nothing to link
        return envelope
    parent_id = later.get("parent_id") or pick_parent(later, recent)
    if not parent_id:
        return envelope
    if not later.get("parent_id"):
        messages.set_parent(message["id"], parent_id)
    linked = copy.deepcopy(envelope)
    linked["payload"]["message"]["parentId"] = parent_id
    return linked


def handle(deps: Deps, record: Record) -> int:
    """Process one record; returns the number of webhooks that took it. Raises to fail the record."""
    tenant_id = record.attributes.get(TENANT_ATTRIBUTE)
    try:
        envelope = json.loads(record.body)
        event_type = envelope["type"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRecord("body is not an event envelope") from exc
    if not tenant_id:
        raise BadRecord("no tenantId attribute")
    if event_type in LIVE_ONLY_EVENT_TYPES and record.attributes.get(WEBHOOK_ATTRIBUTE):
        return 0  # never a webhook's (no fan-out makes such a copy; refuse one all the same)
    webhook_id = record.attributes.get(WEBHOOK_ATTRIBUTE)
    if webhook_id == EVENTBRIDGE_TARGET:  # the fanned-out copy for the event bus
        if deps.bus is None:
            return 0  # turned off since the fan-out
        to_bus(deps.bus, tenant_id, envelope)
        return 1
    if webhook_id:  # a fanned-out copy for one webhook
        webhook = deps.webhooks.get(tenant_id, webhook_id)
        if webhook is None:
            return 0  # deleted since the fan-out: nobody to deliver to
        deliver(deps.sender, webhook, envelope)
        return 1
    if event_type == MESSAGE_INBOUND:
        envelope = link_parent(deps.messages, envelope)
    # Live updates are best-effort and pushed once: only on the first receive of the original record
    # (webhooks are the at-least-once channel; a retry is about a webhook, not about live clients).
    if deps.live is not None and record.receive_count <= 1:
        deps.live.push(tenant_id, envelope)
    if event_type in LIVE_ONLY_EVENT_TYPES:
        return 0  # QR codes are short-lived secrets: live connections only, never webhooks
    hooks = [hook for hook in deps.webhooks.list_for_tenant(tenant_id) if subscribed(hook, event_type)]
    targets = [hook.id for hook in hooks] + ([EVENTBRIDGE_TARGET] if deps.bus is not None else [])
    if not targets:
        return 0
    if len(targets) == 1:
        if hooks:
            deliver(deps.sender, hooks[0], envelope)
        else:
            to_bus(deps.bus, tenant_id, envelope)  # type: ignore[arg-type]  # the one target is the bus
        return 1
    deps.events.publish_to(tenant_id, envelope, targets)
    metrics.add_metric(name="EventsFannedOut", unit="Count", value=len(targets))
    return 0


def process(deps: Deps, record: Record) -> int:
    """handle(), and on failure push the record's next attempt out by the backoff delay, then re-raise."""
    try:
        return handle(deps, record)
    except Exception as exc:
        delay = retry_delay_s(record.receive_count, deps.retry_base_s)
        logger.warning(
            "event not delivered",
            extra={"sqs_message_id": record.message_id, "attempt": record.receive_count,
                   "reason": str(exc)[:200], "error_type": type(exc).__name__, "retry_in_s": delay},
        )
        try:
            deps.redelivery.delay(record.receipt_handle, delay)
        except Exception as visibility_error:  # the record still fails; it just comes back sooner
            logger.warning("could not delay the retry", extra={"error_type": type(visibility_error).__name__})
        raise
