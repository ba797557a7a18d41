"""EventPublisher on SQS: each event is one message on EventsQueue, body = the envelope's JSON.

The tenant is a message attribute, not part of the envelope applications receive; the event
type rides along so the queue can be inspected (and filtered) without parsing bodies, and
`webhookId` names the one webhook a fanned-out copy is for (the names are the EventPublisher
port's contract: ports/events.py).

Instance events are published after the DynamoDB write they report and must not undo it: a
failure is logged and counted (EventsPublishFailed) and the request still succeeds (botocore's
standard retries have been spent by then; docs/events.md). Message events come from the outbox
(MessagesTable's stream), which asks for the ids SQS refused (`publish_reporting`) and fails those
stream records so Lambda retries them: nothing is lost there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from zapgate_control.aws import client
from zapgate_control.observability import logger, metrics
from zapgate_control.ports.events import ATTEMPTS_ATTRIBUTE, TENANT_ATTRIBUTE, TYPE_ATTRIBUTE, WEBHOOK_ATTRIBUTE
from zapgate_core.domain.events import encode, fit
from zapgate_core.domain.json_types import JsonObject

BATCH = 10  # SendMessageBatch's limit
# SQS also caps a whole batch at 256 KiB of bodies (+ attributes): big events travel in smaller batches.
BATCH_BYTES = 250_000
MAX_DELAY_S = 900  # SQS's DelaySeconds limit


def message_attributes(tenant_id: str, event_type: str, webhook_id: str | None = None,
                       attempts_before: int = 0) -> dict[str, Any]:
    attributes = {
        TENANT_ATTRIBUTE: {"DataType": "String", "StringValue": tenant_id},
        TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": event_type},
    }
    if webhook_id:
        attributes[WEBHOOK_ATTRIBUTE] = {"DataType": "String", "StringValue": webhook_id}
    if attempts_before > 0:
        attributes[ATTEMPTS_ATTRIBUTE] = {"DataType": "Number", "StringValue": str(attempts_before)}
    return attributes


def _chunks(
    entries: list[tuple[dict[str, Any], str, dict[str, Any]]],
) -> list[list[tuple[dict[str, Any], str, dict[str, Any]]]]:
    chunks: list[list[tuple[dict[str, Any], str, dict[str, Any]]]] = []
    size = 0
    for entry in entries:
        length = len(entry[1].encode()) + 200  # + the attributes, generously
        if not chunks or len(chunks[-1]) >= BATCH or size + length > BATCH_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(entry)
        size += length
    return chunks


class SqsEventPublisher:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def publish(self, tenant_id: str, events: Sequence[JsonObject]) -> int:
        """Send every event; returns how many SQS accepted. Never raises (see module docstring)."""
        return self._send([(event, message_attributes(tenant_id, event["type"])) for event in events])

    def publish_reporting(self, tenant_id: str, events: Sequence[JsonObject]) -> list[str]:
        """Send every event; returns the ids of those SQS did not take (logged and counted). Never raises."""
        refused: list[str] = []
        entries = [(event, message_attributes(tenant_id, event["type"])) for event in events]
        if not self.queue_url:
            return [event["id"] for event in events]  # nowhere to put them: none was taken
        self._send(entries, refused=refused)
        return refused

    def publish_to(self, tenant_id: str, event: JsonObject, webhook_ids: Sequence[str], *, delay_s: int = 0,
                   attempts_before: int = 0) -> int:
        """One copy of `event` per webhook, each retried on its own, first received after `delay_s`
        (SQS allows 900 at most). Raises if any copy was refused, because the caller (the processor)
        must then fail its record rather than lose a copy."""
        entries = [(event, message_attributes(tenant_id, event["type"], hook, attempts_before))
                   for hook in webhook_ids]
        return self._send(entries, swallow=False, delay_s=min(MAX_DELAY_S, max(0, delay_s)))

    def _send(
        self,
        entries: list[tuple[dict[str, Any], dict[str, Any]]],
        swallow: bool = True,
        refused: list[str] | None = None,
        delay_s: int = 0,
    ) -> int:
        if not self.queue_url or not entries:
            return 0
        sent = 0
        for chunk in _chunks([(event, encode(fit(event)), attributes) for event, attributes in entries]):
            request = [
                {"Id": str(n), "MessageBody": body, "MessageAttributes": attributes}
                | ({"DelaySeconds": delay_s} if delay_s else {})
                for n, (_, body, attributes) in enumerate(chunk)
            ]
            try:
                response = client("sqs").send_message_batch(QueueUrl=self.queue_url, Entries=request)
            except Exception as exc:
                if not swallow:
                    raise
                ids = [event["id"] for event, _, _ in chunk]
                self._failed(len(chunk), type(exc).__name__, ids)
                if refused is not None:
                    refused.extend(ids)
                continue
            failed = response.get("Failed") or []
            sent += len(chunk) - len(failed)
            if failed:
                if not swallow:
                    raise RuntimeError(f"SQS refused {len(failed)} event copies: {failed[0].get('Code')}")
                ids = [chunk[int(f["Id"])][0]["id"] for f in failed]
                self._failed(len(failed), str(failed[0].get("Code")), ids)
                if refused is not None:
                    refused.extend(ids)
        if sent:
            metrics.add_metric(name="EventsPublished", unit="Count", value=sent)
        return sent

    @staticmethod
    def _failed(count: int, reason: str, event_ids: list[str]) -> None:
        metrics.add_metric(name="EventsPublishFailed", unit="Count", value=count)
        logger.error("events not published", extra={"count": count, "reason": reason, "event_ids": event_ids[:10]})


class NoEventPublisher:
    """EVENTS_QUEUE_URL unset (a deployment without the events pipeline): events go nowhere."""

    def publish(self, tenant_id: str, events: Sequence[JsonObject]) -> int:
        return 0

    def publish_to(self, tenant_id: str, event: JsonObject, webhook_ids: Sequence[str], *, delay_s: int = 0,
                   attempts_before: int = 0) -> int:
        return 0


class SqsRedelivery:
    """When a failed event comes back: its message's visibility timeout, set to the backoff delay."""

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def delay(self, receipt_handle: str, seconds: int) -> None:
        client("sqs").change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )
