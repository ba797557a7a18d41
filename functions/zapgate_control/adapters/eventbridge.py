"""EventBus on Amazon EventBridge: one PutEvents entry per event, the envelope as its detail.

Source `zapgate`, detail-type = the envelope's type (MESSAGE_INBOUND, ...), detail = the envelope
plus `tenantId`, so a rule can route one tenant's events (`"detail": {"tenantId": ["t-1"]}`).
PutEvents answers 200 even when it refused the entry; a refused entry raises here, so the record
is retried like a failed webhook.
"""

from __future__ import annotations

from typing import Any, Final

from zapgate_control.aws import client
from zapgate_control.ports.events import EventBusRefused
from zapgate_core.domain.events import encode
from zapgate_core.domain.json_types import JsonObject

SOURCE: Final = "zapgate"


def entry(bus_name: str, tenant_id: str, envelope: JsonObject) -> dict[str, Any]:
    return {
        "Source": SOURCE,
        "DetailType": str(envelope["type"]),
        "Detail": encode({**envelope, "tenantId": tenant_id}),
        "EventBusName": bus_name,
    }


class EventBridgeBus:
    def __init__(self, bus_name: str) -> None:
        self.bus_name = bus_name

    def put(self, tenant_id: str, envelope: JsonObject) -> None:
        answer = client("events").put_events(Entries=[entry(self.bus_name, tenant_id, envelope)])
        if answer.get("FailedEntryCount"):
            failed = (answer.get("Entries") or [{}])[0]
            raise EventBusRefused(f"{failed.get('ErrorCode', 'refused')}: {str(failed.get('ErrorMessage', ''))[:120]}")
