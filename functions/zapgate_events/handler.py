"""Lambda entry point named in template.yaml: SQS batches from EventsQueue, partial batch responses.

Each record is processed on its own (services/delivery.py); the ones that failed are listed in
`batchItemFailures` (FunctionResponseTypes: ReportBatchItemFailures), so SQS deletes the others
and redelivers only those, after the backoff delay the processor set on each.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from zapgate_control.observability import flush_metrics, logger
from zapgate_control.services import delivery
from zapgate_control.wiring import get_stores

# Not raising when every record failed: the partial response already lists them all, and a raised
# error would only add a Lambda error on top of the same redelivery.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@cache
def deps() -> delivery.Deps:
    """Once per container, from the adapters wiring builds (clients and connection pools are reused)."""
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


def record_handler(record: SQSRecord) -> int:
    return delivery.process(deps(), to_record(record))


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    live = deps().live
    if live is not None:
        live.reset()  # each tenant's live connections are read once per batch, afresh for each batch
    try:
        return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                             context=context))
    finally:
        flush_metrics()
