"""DynamoDB stream records → the domain's Change (zapgate_core.domain.outbox).

The images are decoded with the same codec as every read (boto3's TypeDeserializer, Decimals made
int/float), so an envelope built from a stream image is exactly what the same item read through the
API would build.
"""

from __future__ import annotations

from zapgate_control.adapters.dynamodb.codec import from_item
from zapgate_core.domain.json_types import JsonObject
from zapgate_core.domain.outbox import Change


def change_of(record: JsonObject) -> Change:
    """One record of a stream event (Lambda's `Records[n]`); raises when it has no sequence number."""
    stream = record.get("dynamodb") or {}
    return Change(
        sequence_number=str(stream["SequenceNumber"]),
        event_name=str(record.get("eventName") or ""),
        old=from_item(stream.get("OldImage")),
        new=from_item(stream.get("NewImage")),
    )
