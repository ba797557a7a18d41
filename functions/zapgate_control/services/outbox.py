"""The events outbox: changes of MessagesTable (its stream) → MESSAGE_INBOUND / MESSAGE_STATUS on EventsQueue.

Lambda hands EventsPublisherFunction batches of stream records (template.yaml filters them to the
ones that can be events); zapgate_core.domain.outbox says which envelope each change is. The
envelopes of a batch are grouped by tenant and published with SendMessageBatch (≤ 10 per call).
A record whose envelope SQS did not take is answered as a batch item failure, so Lambda retries
from it: at least once, never lost. A retry re-publishes the same event ids (derived from message
and state), and receivers de-duplicate on X-Zapgate-Event-Id (docs/events.md).

Inbound messages stored with the `automate` flag (their instance has automations) are also jobs for the
automations runner (zapgate_core.domain.automations.jobs, docs/automations.md#runner), sent to its FIFO
queue beside the event; a record whose job the queue did not take is retried the same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from zapgate_control.observability import logger, metrics
from zapgate_control.ports.automation_jobs import AutomationJob, AutomationJobQueue
from zapgate_control.ports.events import OutboxPublisher
from zapgate_core.domain.automations.jobs import deduplication_id, job_of, message_group, wants_automation
from zapgate_core.domain.json_types import JsonObject
from zapgate_core.domain.outbox import Change, events_of, tenant_of


def publish(
    publisher: OutboxPublisher, changes: Sequence[Change], jobs: AutomationJobQueue | None = None
) -> set[str]:
    """Publish what `changes` report; the sequence numbers of the changes whose events (or automation jobs)
    were not taken."""
    failed = _publish_events(publisher, changes)
    if jobs is not None:
        failed |= jobs.publish(automation_jobs(changes))
    return failed


def automation_jobs(changes: Sequence[Change]) -> list[AutomationJob]:
    """The jobs of the changes that are inbound messages to automate, keyed by sequence number."""
    found = []
    for change in changes:
        if not wants_automation(change.event_name, change.new):
            continue
        item = change.new or {}
        body = job_of(item)
        found.append(AutomationJob(key=change.sequence_number, group=message_group(body["tenantId"], body["chatId"]),
                                   deduplication_id=deduplication_id(body["messageId"]), body=body))
    return found


def _publish_events(publisher: OutboxPublisher, changes: Sequence[Change]) -> set[str]:
    by_tenant: dict[str, list[tuple[str, JsonObject]]] = defaultdict(list)
    for change in changes:
        envelopes = events_of(change)
        if not envelopes:
            continue
        tenant = tenant_of(change)
        if tenant is None:  # retrying cannot give it a tenant: logged, never retried
            metrics.add_metric(name="OutboxEventsSkipped", unit="Count", value=len(envelopes))
            logger.warning("outbox change without tenant_id", extra={"sequence_number": change.sequence_number,
                                                                     "event_ids": [e["id"] for e in envelopes]})
            continue
        by_tenant[tenant].extend((change.sequence_number, envelope) for envelope in envelopes)
    failed: set[str] = set()
    for tenant, entries in by_tenant.items():
        refused = set(publisher.publish_reporting(tenant, [envelope for _, envelope in entries]))
        failed.update(sequence for sequence, envelope in entries if envelope["id"] in refused)
    return failed
