"""Lambda entry point named in template.yaml: SQS batches from EventsQueue, partial batch responses.

The whole batch is processed at once (services/delivery: parent linking read once per instance, webhooks
once per tenant, every POST concurrently, bounded per endpoint); the records that failed are listed in
`batchItemFailures` (FunctionResponseTypes: ReportBatchItemFailures), so SQS deletes the others and
redelivers only those, after the backoff delay the processor set on each.
"""

from __future__ import annotations

import os
import time
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from zapgate_control.observability import flush_metrics, logger
from zapgate_control.services import delivery
from zapgate_control.snapstart import install_hooks
from zapgate_control.wiring import get_stores

# Kept back from the Lambda timeout for what follows the deliveries (visibility changes, the delivery log,
# the answer): no POST starts later than remaining time - this - the longest a POST can take.
ANSWER_MARGIN_S = 5.0


@cache
def deps() -> delivery.Deps:
    """Once per container, from the adapters wiring builds (clients, connection and thread pools are reused)."""
    from zapgate_control.adapters.webhook_http import MAX_POST_SECONDS  # httpx: on first use, not at import

    stores = get_stores()
    return delivery.Deps(
        webhooks=stores.webhooks,
        messages=stores.messages,
        events=stores.events,
        redelivery=stores.redelivery,
        sender=stores.webhook_sender,
        retry_base_s=stores.settings.webhook_retry_base_seconds,
        live=stores.live_fanout,
        bus=stores.event_bus,
        delivery_log=stores.delivery_log,  # what a tenant sees of failed and dead deliveries
        # EventsQueue's RedrivePolicy maxReceiveCount (template.yaml sets both): which attempt is the last.
        max_receive_count=int(os.environ.get("EVENTS_MAX_RECEIVE_COUNT") or delivery.DEFAULT_MAX_RECEIVE_COUNT),
        per_endpoint=int(os.environ.get("WEBHOOK_CONCURRENCY_PER_ENDPOINT") or delivery.DEFAULT_PER_ENDPOINT),
        post_max_s=MAX_POST_SECONDS,
    )


def to_record(record: SQSRecord) -> delivery.Record:
    attributes = {
        name: value.string_value
        for name, value in (record.message_attributes or {}).items()
        if value is not None and value.string_value is not None
    }
    return delivery.Record(
        message_id=record.message_id,
        body=record.body,
        receipt_handle=record.receipt_handle,
        receive_count=int(record.attributes.approximate_receive_count or 1),
        attributes=attributes,
    )


def start_by(context: Any, post_max_s: float) -> float | None:
    """The monotonic time after which no delivery starts, from the invocation's remaining time."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return time.monotonic() + remaining() / 1000 - ANSWER_MARGIN_S - post_max_s


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    current = deps()
    if current.live is not None:
        current.live.reset()  # each tenant's live connections are read once per batch, afresh for each batch
    try:
        records = [to_record(SQSRecord(raw)) for raw in event.get("Records") or []]
        failed = delivery.process_batch(current, records, start_by(context, current.post_max_s))
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
    finally:
        flush_metrics()


install_hooks(prime=deps, resets=(deps,), clients=("dynamodb", "sqs"))  # SnapStart (zapgate_control/snapstart.py)
