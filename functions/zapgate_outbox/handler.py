"""Lambda entry point named in template.yaml: DynamoDB stream batches of MessagesTable, partial batch responses.

Thin: wiring's `change_of` (the DynamoDB adapters' stream decoding) makes each record a Change, so
an envelope is exactly what the same item read through the API would build; services/outbox.py
publishes the batch's events grouped by tenant, and Powertools' BatchProcessor answers the records
whose events SQS did not take as `batchItemFailures` (their sequence numbers): Lambda retries from
the first of them (FunctionResponseTypes: ReportBatchItemFailures). A record that cannot be read fails alone.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from zapgate_control.adapters.sqs_automations import SqsAutomationJobs
from zapgate_control.observability import flush_metrics, logger
from zapgate_control.ports.automation_jobs import AutomationJobQueue
from zapgate_control.services import outbox
from zapgate_control.snapstart import install_hooks
from zapgate_control.wiring import change_of, get_stores
from zapgate_core.domain.outbox import Change

# Every record failed is answered as such (Lambda retries from the first); raising as well would
# only add a function error on top of the same retry.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


def automation_jobs() -> AutomationJobQueue | None:
    """AutomationsQueue (template.yaml gives its URL); None where the stack has no automations runner."""
    url = os.environ.get("AUTOMATIONS_QUEUE_URL", "")
    return _jobs_queue(url) if url else None


@cache
def _jobs_queue(url: str) -> AutomationJobQueue:
    return SqsAutomationJobs(url)


class NotPublished(Exception):
    """The record's events were not taken by SQS (or the record could not be read): retry it."""


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    changes: list[Change] = []
    unreadable: set[str] = set()
    for raw in event.get("Records") or []:
        try:
            changes.append(change_of(raw))
        except Exception:  # a record we cannot read fails alone (bisected, then the OnFailure destination)
            logger.exception("outbox record unreadable")
            unreadable.add(str((raw.get("dynamodb") or {}).get("SequenceNumber")))
    failed = outbox.publish(get_stores().outbox_publisher, changes, automation_jobs()) | unreadable

    def record_handler(record: DynamoDBRecord) -> None:
        if record.dynamodb is not None and record.dynamodb.sequence_number in failed:
            raise NotPublished(record.dynamodb.sequence_number)

    try:
        return dict(
            process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
        )
    finally:
        flush_metrics()


install_hooks(prime=lambda: get_stores().outbox_publisher, resets=(_jobs_queue,), clients=("sqs",))  # SnapStart
