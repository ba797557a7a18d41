"""One SQS batch of events → the tenants' webhooks (and the optional bus), with exact partial failures.

The batch goes through in stages, each done once for the whole batch:
  1. Parse. A record that is not an event (no tenant, not JSON) fails (BadRecord) and ends in the DLQ.
  2. Parent linking of the MESSAGE_INBOUND originals (parents.py): one read per instance.
  3. Live connections, best-effort, before any webhook: an original record (no `webhookId`) on its
     first receive (services/live.py). INSTANCE_QR stops here: never to webhooks.
  4. Targets: the tenant's webhooks subscribed to the type (one Query per tenant per batch, also used
     to find the one webhook of a per-webhook copy), plus the bus when EVENT_BUS_NAME is set.
  5. Every (record, target) delivery at once (sending.py: concurrent, bounded per endpoint, within
     the invocation's time budget).
  6. Outcome per record:
     - everything taken: done;
     - a per-webhook copy (`webhookId`), a record with one target, or one whose targets all failed:
       the record fails and comes back after the backoff; retrying it re-sends nothing that was taken;
     - some targets took it and some did not: a copy for each one that did not goes back on the queue
       (`webhookId` attribute) and the record is done. Each copy is retried on its own, so a healthy
       endpoint never gets a duplicate because another one is down. If SQS refuses the copies, the
       record fails and its retry re-sends to every target: the healthy ones may then get a duplicate
       (at least once; receivers de-duplicate on X-Zapgate-Event-Id).
  A failed record's visibility timeout becomes the backoff delay, min(900, base · 2^(receive_count-1))
  + jitter (0 when nothing was attempted for lack of time); after maxReceiveCount receives SQS moves it
  to the dead-letter queue. Each failed webhook attempt is written to the delivery log (best effort),
  as "dead" with its envelope when SQS will dead-letter the record that carried it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from zapgate_control.observability import logger, metrics
from zapgate_control.ports.delivery_log import DeliveryAttempt, DeliveryLog
from zapgate_control.ports.events import (
    ATTEMPTS_ATTRIBUTE,
    TENANT_ATTRIBUTE,
    WEBHOOK_ATTRIBUTE,
    EventBus,
    EventPublisher,
    Redelivery,
    WebhookSender,
)
from zapgate_control.ports.messages import MessageStore
from zapgate_control.ports.webhooks import Webhook, WebhookStore
from zapgate_control.services.delivery.parents import link_parents
from zapgate_control.services.delivery.sending import EVENTBRIDGE_TARGET, Lanes, Sent, endpoint_of, post, put_on_bus
from zapgate_control.services.live import LiveFanout
from zapgate_core.domain.events import LIVE_ONLY_EVENT_TYPES, MESSAGE_INBOUND
from zapgate_core.domain.json_types import JsonObject
from zapgate_core.domain.webhooks import retry_delay_s

# EventsQueue's RedrivePolicy maxReceiveCount in template.yaml (the processor gets it as EVENTS_MAX_RECEIVE_COUNT).
DEFAULT_MAX_RECEIVE_COUNT = 5
# Concurrent POSTs to one endpoint per invocation: with the event source's MaximumConcurrency 5, an
# endpoint sees at most 20 at once from the whole deployment.
DEFAULT_PER_ENDPOINT = 4


class DeliveryFailed(Exception):
    """A target did not take the event (str(self) says how, by ids); the record is retried."""


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
    delivery_log: DeliveryLog | None = None  # None: not wired (failed attempts are only logged)
    max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT
    per_endpoint: int = DEFAULT_PER_ENDPOINT
    post_max_s: float = 15.0  # the longest one POST can take (the sender's timeouts): no POST starts later
    lanes: Lanes = field(default_factory=Lanes)


@dataclass
class Job:
    """One record on its way through the batch."""

    record: Record
    tenant_id: str = ""
    envelope: JsonObject = field(default_factory=dict)
    copy_for: str | None = None  # the webhookId attribute: a per-webhook (or bus) copy
    targets: list[Webhook | None] = field(default_factory=list)  # None = the bus
    sent: list[Sent] = field(default_factory=list)
    error: Exception | None = None  # set: the record fails
    delivered: int = 0
    attempted: bool = True  # False: it failed only for lack of time (retried at once)
    attempts_before: int = 0  # a re-queued copy: the attempts its webhook had in the first pass

    @property
    def original(self) -> bool:
        return self.copy_for is None

    @property
    def attempt(self) -> int:
        """This attempt's number for its target(s), counted across the original and a re-queued copy."""
        return self.record.receive_count + self.attempts_before


def subscribed(webhook: Webhook, event_type: str) -> bool:
    return not webhook.events or event_type in webhook.events


def target_id(target: Webhook | None) -> str:
    return target.id if target is not None else EVENTBRIDGE_TARGET


def _parse(record: Record) -> Job:
    job = Job(record, copy_for=record.attributes.get(WEBHOOK_ATTRIBUTE) or None)
    before = record.attributes.get(ATTEMPTS_ATTRIBUTE, "0")
    job.attempts_before = int(before) if before.isdigit() else 0
    try:
        envelope = json.loads(record.body)
        if not isinstance(envelope, dict) or "type" not in envelope:
            raise KeyError("type")
        job.envelope = envelope
    except (ValueError, KeyError, TypeError) as exc:
        job.error = BadRecord("body is not an event envelope")
        job.error.__cause__ = exc
        return job
    tenant_id = record.attributes.get(TENANT_ATTRIBUTE)
    if not tenant_id:
        job.error = BadRecord("no tenantId attribute")
    job.tenant_id = tenant_id or ""
    return job


class _Tenants:
    """Each tenant's webhooks, read once per batch; a failed read fails that tenant's records only."""

    def __init__(self, store: WebhookStore) -> None:
        self.store = store
        self.known: dict[str, list[Webhook] | Exception] = {}

    def of(self, tenant_id: str) -> list[Webhook]:
        if tenant_id not in self.known:
            try:
                self.known[tenant_id] = self.store.list_for_tenant(tenant_id)
            except Exception as exc:
                self.known[tenant_id] = exc
        found = self.known[tenant_id]
        if isinstance(found, Exception):
            raise found
        return found


def _choose_targets(deps: Deps, job: Job, tenants: _Tenants) -> None:
    event_type = job.envelope["type"]
    if event_type in LIVE_ONLY_EVENT_TYPES:
        return  # QR codes are short-lived secrets: live connections only, never webhooks (nor the bus)
    if job.copy_for == EVENTBRIDGE_TARGET:
        job.targets = [None] if deps.bus is not None else []  # the bus may have been turned off since
        return
    hooks = tenants.of(job.tenant_id)
    if job.copy_for:  # its one webhook; none when it was deleted since: nobody to deliver to
        mine: list[Webhook | None] = [hook for hook in hooks if hook.id == job.copy_for]
        job.targets = mine[:1]
        return
    subscribers: list[Webhook | None] = [hook for hook in hooks if subscribed(hook, event_type)]
    job.targets = subscribers + ([None] if deps.bus is not None else [])


def run_batch(deps: Deps, records: Sequence[Record], start_by: float | None = None) -> list[Job]:
    """Deliver a batch; each Job says what became of its record (error set: it must fail). No SQS
    visibility change and no delivery log here (process_batch does those)."""
    jobs = [_parse(record) for record in records]
    inbound = [job for job in jobs if job.error is None and job.original and job.envelope["type"] == MESSAGE_INBOUND]
    for job, linked in zip(inbound, link_parents(deps.messages, [job.envelope for job in inbound]), strict=True):
        if isinstance(linked, Exception):
            job.error = linked
        else:
            job.envelope = linked
    for job in jobs:
        # Live updates are best-effort and pushed once: only on the first receive of the original record
        # (webhooks are the at-least-once channel; a retry is about a webhook, not about live clients).
        if job.error is None and deps.live is not None and job.original and job.record.receive_count <= 1:
            deps.live.push(job.tenant_id, job.envelope)
    tenants = _Tenants(deps.webhooks)
    sends: list[tuple[str, Callable[[], Sent]]] = []
    for job in jobs:
        if job.error is not None:
            continue
        try:
            _choose_targets(deps, job, tenants)
        except Exception as exc:
            job.error = exc
            continue
        for target in job.targets:
            if target is None and deps.bus is not None:
                sends.append((EVENTBRIDGE_TARGET, partial(put_on_bus, deps.bus, job.tenant_id, job.envelope)))
            elif target is not None:
                sends.append((endpoint_of(target.url), partial(post, deps.sender, target, job.envelope)))
    results = iter(deps.lanes.run(sends, deps.per_endpoint, start_by))
    for job in jobs:
        if job.error is None:
            job.sent = [next(results) for _ in job.targets]
            _settle(deps, job)
    return jobs


def _count(job: Job) -> None:
    for target, sent in zip(job.targets, job.sent, strict=True):
        if not sent.attempted:
            continue
        # Literal names: the dashboard test finds emitted metrics by reading add_metric calls.
        if target is None:
            metrics.add_metric(name="EventBusDelivered" if sent.reason is None else "EventBusFailed", unit="Count",
                               value=1)
        else:
            metrics.add_metric(name="WebhookDelivered" if sent.reason is None else "WebhookFailed", unit="Count",
                               value=1)
        if target is not None and sent.reason is None:
            logger.debug("webhook delivered", extra={"event_id": job.envelope["id"], "webhook_id": target.id,
                                                     "ms": sent.ms})


def _settle(deps: Deps, job: Job) -> None:
    _count(job)
    failed = [(target, sent) for target, sent in zip(job.targets, job.sent, strict=True) if sent.reason is not None]
    job.delivered = len(job.targets) - len(failed)
    if not failed:
        return
    job.attempted = any(sent.attempted for _, sent in failed)
    why = "; ".join(f"{sent.reason} after {sent.ms} ms ({target_id(target)}, event {job.envelope['id']})"
                    for target, sent in failed)
    if not job.original or len(failed) == len(job.targets):
        job.error = DeliveryFailed(why)  # retrying the record re-sends nothing that was taken
        return
    try:
        # The copies wait out the backoff like a retried record would (SQS caps a message's delay at 900 s),
        # and number their attempts on from this one.
        deps.events.publish_to(job.tenant_id, job.envelope, [target_id(target) for target, _ in failed],
                               delay_s=retry_delay_s(job.attempt, deps.retry_base_s), attempts_before=job.attempt)
    except Exception as exc:
        # The record's retry re-sends to every target, the ones that took it too (at least once).
        job.error = DeliveryFailed(f"{why}; the copies to retry them were not queued ({type(exc).__name__})")
        return
    metrics.add_metric(name="EventsFannedOut", unit="Count", value=len(failed))


def process_batch(deps: Deps, records: Sequence[Record], start_by: float | None = None) -> list[str]:
    """run_batch, then each failed record's next attempt pushed out by the backoff, and the failed
    webhook attempts written to the delivery log. The message ids of the records that failed."""
    jobs = run_batch(deps, records, start_by)
    for job in jobs:
        _log_attempts(deps, job)
        if job.error is not None:
            _retry_later(deps, job)
    return [job.record.message_id for job in jobs if job.error is not None]


def _retry_later(deps: Deps, job: Job) -> None:
    record = job.record
    delay = retry_delay_s(job.attempt, deps.retry_base_s) if job.attempted else 0
    logger.warning(
        "event not delivered",
        extra={"sqs_message_id": record.message_id, "attempt": job.attempt,
               "reason": str(job.error)[:200], "error_type": type(job.error).__name__, "retry_in_s": delay},
    )
    try:
        deps.redelivery.delay(record.receipt_handle, delay)
    except Exception as visibility_error:  # the record still fails; it just comes back sooner
        logger.warning("could not delay the retry", extra={"error_type": type(visibility_error).__name__})


def _log_attempts(deps: Deps, job: Job) -> None:
    if deps.delivery_log is None or not job.sent:
        return
    # The record fails on its last receive: SQS dead-letters it instead of handing it over again.
    dead = job.error is not None and job.record.receive_count >= deps.max_receive_count
    for target, sent in zip(job.targets, job.sent, strict=True):
        if target is None or sent.reason is None or (not sent.attempted and not dead):
            continue  # the bus is no tenant webhook; a send skipped for time is no attempt, unless it is lost
        attempt = DeliveryAttempt(
            tenant_id=job.tenant_id, webhook_id=target.id, event_id=str(job.envelope.get("id")),
            event_type=str(job.envelope.get("type")), attempt=job.attempt, reason=sent.reason,
            outcome="dead" if dead else "failed", envelope=job.envelope if dead else None,
        )
        try:
            deps.delivery_log.record(attempt)
        except Exception as exc:  # best effort: never fails the record nor its retry
            logger.warning("delivery log not written", extra={"event_id": attempt.event_id,
                                                              "webhook_id": target.id,
                                                              "error_type": type(exc).__name__})


def handle(deps: Deps, record: Record) -> int:
    """One record alone: the number of targets that took it. Raises to fail the record (no retry delay)."""
    (job,) = run_batch(deps, [record])
    if job.error is not None:
        raise job.error
    return job.delivered


def process(deps: Deps, record: Record) -> int:
    """One record alone, with the retry delay and the delivery log; raises when it failed."""
    (job,) = run_batch(deps, [record])
    _log_attempts(deps, job)
    if job.error is not None:
        _retry_later(deps, job)
        raise job.error
    return job.delivered
