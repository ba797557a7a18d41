"""Own-device messages and history items in the outbox (issue 13): which INSERT is an event, the template's
filter agreeing with the mapping, and the shape of a `source: phone` MESSAGE_STATUS."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_outbox import INBOUND, _filters, _record
from zapgate_core.domain.outbox import Change, events_of
from zapgate_devstack.stream_worker import matches

PHONE = {
    "id": "msg-phone", "instance_id": "inst-1", "tenant_id": "tenant-a", "direction": "outbound", "state": "sent",
    "source": "phone", "to": "5511988887777@s.whatsapp.net", "body": "sent from my phone", "wa_message_id": "3EBP",
    "created_at": "2025-11-24T16:01:00.000Z", "sent_at": "2025-11-24T16:00:59.000Z",
    "finished_at": "2025-11-24T16:00:59.000Z",
}  # fmt: skip
PHONE_READ = {**PHONE, "state": "read", "read_at": "2025-11-24T16:02:00.000Z"}
HISTORY_IN = {**INBOUND, "history": True}
HISTORY_IN_SILENT = {**HISTORY_IN, "history_silent": True}
HISTORY_PHONE = {**PHONE, "history": True}
HISTORY_PHONE_SILENT = {**HISTORY_PHONE, "history_silent": True}

CHANGES = [
    ("INSERT", None, PHONE, True),
    ("MODIFY", PHONE, PHONE_READ, True),  # receipts apply to it like to ours
    ("INSERT", None, HISTORY_IN, True),  # the instance's setting emits history
    ("INSERT", None, HISTORY_PHONE, True),
    ("INSERT", None, HISTORY_IN_SILENT, False),  # it does not: never reaches the publisher
    ("INSERT", None, HISTORY_PHONE_SILENT, False),
]


@pytest.mark.parametrize(("name", "old", "new", "invokes"), CHANGES)
def test_filters_and_mapping_agree_on_own_and_history_items(
    name: str, old: dict[str, Any] | None, new: dict[str, Any] | None, invokes: bool
) -> None:
    assert matches(_filters(), _record(name, old, new)) is invokes
    assert invokes == bool(events_of(Change("1", name, old, new)))


def test_a_phone_message_is_a_sent_status_carrying_its_source_and_content() -> None:
    (event,) = events_of(Change("1", "INSERT", None, PHONE))
    message = event["payload"]["message"]
    assert event["type"] == "MESSAGE_STATUS" and message["status"] == "sent"
    assert (message["source"], message["type"], message["text"], message["chatType"]) == (
        "phone", "text", "sent from my phone", "direct")
    assert "history" not in message
    assert events_of(Change("3", "MODIFY", PHONE, PHONE)) == []  # the same item written again: nothing
    (read,) = events_of(Change("2", "MODIFY", PHONE, PHONE_READ))
    assert read["payload"]["message"]["source"] == "phone" and read["id"] != event["id"]


def test_history_events_say_so_and_api_sends_carry_no_source() -> None:
    (inbound,) = events_of(Change("1", "INSERT", None, HISTORY_IN))
    assert inbound["payload"]["message"]["history"] is True
    (phone,) = events_of(Change("1", "INSERT", None, HISTORY_PHONE))
    assert phone["payload"]["message"]["history"] is True
    api = {**PHONE, "source": None, "state": "sent"}
    (sent,) = events_of(Change("1", "MODIFY", {**api, "state": "claimed"}, api))
    assert "source" not in sent["payload"]["message"]  # absent = sent through zapgate (api), shape unchanged


@pytest.mark.parametrize(("value", "ms"), [
    (1_764_000_000, 1_764_000_000_000), (1_764_000_000_123, 1_764_000_000_123), ("1764000000", 1_764_000_000_000),
    ("2025-11-24T16:00:00Z", 1_764_000_000_000), ("inf", None), ("nan", None), (10**30, None), (-5, None),
    ("soon", None), (None, None),
])
def test_whatsapp_times_are_read_or_refused_never_a_500(value: object, ms: int | None) -> None:
    from zapgate_control.services.own_messages import wa_time_ms

    assert wa_time_ms(value) == ms  # type: ignore[arg-type]
