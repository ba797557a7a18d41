"""Events processor logic: SQS batches of events → the tenants' webhooks, signed (docs/events.md#delivery).

- batch.py: a batch's stages and each record's outcome (exact partial failures, retries, delivery log);
- parents.py: parent linking (seed 001) of MESSAGE_INBOUND events, one read per instance per batch;
- sending.py: signing, the POST, and running a batch's deliveries concurrently, bounded per endpoint.
"""

from zapgate_control.services.delivery.batch import (
    DEFAULT_MAX_RECEIVE_COUNT,
    DEFAULT_PER_ENDPOINT,
    BadRecord,
    DeliveryFailed,
    Deps,
    Job,
    Record,
    handle,
    process,
    process_batch,
    run_batch,
    subscribed,
)
from zapgate_control.services.delivery.parents import link_parent, link_parents
from zapgate_control.services.delivery.sending import EVENTBRIDGE_TARGET, NOT_STARTED, Lanes, signed_request

__all__ = [
    "DEFAULT_MAX_RECEIVE_COUNT", "DEFAULT_PER_ENDPOINT", "EVENTBRIDGE_TARGET", "NOT_STARTED", "BadRecord",
    "DeliveryFailed", "Deps", "Job", "Lanes", "Record", "handle", "link_parent", "link_parents", "process",
    "process_batch", "run_batch", "signed_request", "subscribed",
]
