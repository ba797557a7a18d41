"""The events outbox: changes of MessagesTable (its stream) → MESSAGE_INBOUND / MESSAGE_STATUS on EventsQueue.

Lambda hands EventsPublisherFunction batches of stream records (template.yaml filters them to the
ones that can be events); zapgate_core.domain.outbox says which envelope each change is. The
envelopes of a batch are grouped by tenant and published with SendMessageBatch (≤ 10 per call).
A record whose envelope SQS did not take is answered as a batch item failure, so Lambda retries
from it: at least once, never lost. A retry re-publishes the same event ids (derived from message
and state), and receivers de-duplicate on X-Zapgate-Event-Id (docs/events.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from zapgate_control.observability import logger, metrics
from zapgate_control.ports.events import OutboxPublisher
from zapgate_core.domain.json_types import JsonObject
from zapgate_core.domain.outbox import Change, events_of, tenant_of


def publish(publisher: OutboxPublisher, changes: Sequence[Change]) -> set[str]:
    """Publish what `changes` report; the sequence numbers of the changes whose events were not taken."""
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
