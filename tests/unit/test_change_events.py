"""Issue 10's events without AWS: the outbox's MESSAGE_EDITED / MESSAGE_REVOKED from stream images, the template's
filters letting exactly those through, and the envelopes of group and call reports, validated by the documented
models (contract/events.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.test_outbox import INBOUND, SENT, _change, _filters, _record
from zapgate_core.contract.events import parse_event, parse_live_event
from zapgate_core.domain.change_events import (
    call_received_event,
    group_participants_event,
    group_updated_event,
)
from zapgate_core.domain.events import EVENT_TYPES
from zapgate_core.domain.outbox import events_of
from zapgate_devstack.stream_worker import matches

GROUP = "120363012345678901@g.us"
EDITED = {**INBOUND, "body": "second", "original_body": "olá", "edit_count": 1, "edited_at": "2025-11-24T16:02:00.000Z",
          "edit_key": "1764000120000#EDIT1"}  # fmt: skip
EDITED_TWICE = {**EDITED, "body": "third", "edit_count": 2, "edit_key": "1764000130000#EDIT2",
                "edited_at": "2025-11-24T16:02:10.000Z"}  # fmt: skip
REVOKED = {**EDITED, "revoked_at": "2025-11-24T16:03:00.000Z", "revoked_by": "5511988887777@s.whatsapp.net"}


def test_an_edit_is_message_edited_with_the_new_previous_and_original_text() -> None:
    (event,) = events_of(_change("MODIFY", INBOUND, EDITED))
    assert event["type"] == "MESSAGE_EDITED" and event["instanceId"] == "inst-1"
    message = event["payload"]["message"]
    assert (message["id"], message["waMessageId"], message["direction"]) == ("msg-in", "3EB0C0FFEE", "inbound")
    assert (message["text"], message["previousText"], message["originalText"]) == ("second", "olá", "olá")
    assert message["editCount"] == 1 and message["editedAt"] == event["timestamp"] == "2025-11-24T16:02:00.000Z"
    assert event["payload"]["contact"]["jid"] == "5511988887777@s.whatsapp.net"
    (second,) = events_of(_change("MODIFY", EDITED, EDITED_TWICE))
    assert second["payload"]["message"]["previousText"] == "second" and second["id"] != event["id"]
    assert events_of(_change("MODIFY", INBOUND, EDITED, "999"))[0]["id"] == event["id"]  # a retried record
    assert parse_event(json.dumps(event)).type == "MESSAGE_EDITED"


def test_a_revoke_is_message_revoked_once_and_carries_no_text() -> None:
    (event,) = events_of(_change("MODIFY", EDITED, REVOKED))
    assert event["type"] == "MESSAGE_REVOKED"
    message = event["payload"]["message"]
    assert message["revokedAt"] == "2025-11-24T16:03:00.000Z" and message["revokedBy"].startswith("5511988887777")
    assert message["byAdmin"] is False and "text" not in message
    admin = {**REVOKED, "chat_type": "group", "chat_id_norm": GROUP, "revoked_by": "5511911112222@s.whatsapp.net"}
    assert events_of(_change("MODIFY", EDITED, admin))[0]["payload"]["message"]["byAdmin"] is True
    assert events_of(_change("MODIFY", REVOKED, {**REVOKED, "parent_id": "p"})) == []  # revoked already
    assert parse_event(json.dumps(event)).type == "MESSAGE_REVOKED"


def test_an_outbound_message_edited_names_its_recipient() -> None:
    edited = {**SENT, "body": "hi, edited", "original_body": "hi", "edit_count": 1, "edit_key": "1764000200000#E",
              "edited_at": "2025-11-24T16:03:20.000Z"}  # fmt: skip
    (event,) = events_of(_change("MODIFY", SENT, edited))
    assert event["payload"]["message"]["direction"] == "outbound"
    assert event["payload"]["contact"]["jid"] == "5511988887777@s.whatsapp.net"
    assert event["payload"]["contact"]["phone"] == "5511988887777"


@pytest.mark.parametrize(
    ("old", "new", "events"),
    [
        (INBOUND, EDITED, 1),
        (EDITED, EDITED_TWICE, 1),
        (EDITED, REVOKED, 1),
        (SENT, {**SENT, "revoked_at": "2025-11-24T16:03:00.000Z"}, 1),
        (EDITED, {**EDITED, "parent_id": "p"}, 0),  # later writes to an edited message: invoked, no event
    ],
)
def test_the_template_filters_let_every_edit_and_revoke_through(
    old: dict[str, Any], new: dict[str, Any], events: int
) -> None:
    assert matches(_filters(), _record("MODIFY", old, new)) is True
    assert len(events_of(_change("MODIFY", old, new))) == events


def test_group_and_call_events_are_documented_webhook_types_with_stable_ids() -> None:
    assert {"MESSAGE_EDITED", "MESSAGE_REVOKED", "GROUP_PARTICIPANTS_CHANGED", "GROUP_UPDATED",
            "CALL_RECEIVED"} <= set(EVENT_TYPES)  # fmt: skip
    report = {"group": GROUP, "action": "promote", "participants": ["b@s.whatsapp.net", "a@s.whatsapp.net"],
              "by": "c@s.whatsapp.net", "at": "2025-11-24T16:00:00.000Z", "name": "Loja"}  # fmt: skip
    event = group_participants_event("inst-1", report)
    assert event["payload"]["participants"] == ["a@s.whatsapp.net", "b@s.whatsapp.net"]
    reordered = {**report, "participants": report["participants"][::-1]}
    assert group_participants_event("inst-1", reordered)["id"] == event["id"]
    assert group_participants_event("inst-2", report)["id"] != event["id"]
    assert parse_event(json.dumps(event)).type == "GROUP_PARTICIPANTS_CHANGED"

    info = {"group": GROUP, "changes": {"name": "Loja 2", "announce": True, "junk": 1}, "by": None,
            "at": "2025-11-24T16:00:00.000Z"}  # fmt: skip
    updated = group_updated_event("inst-1", info, "Loja")
    assert updated["payload"]["changes"] == {"name": "Loja 2", "announce": True}
    assert updated["payload"]["previousName"] == "Loja" and updated["payload"]["group"]["name"] == "Loja 2"
    assert parse_live_event(json.dumps(updated)).type == "GROUP_UPDATED"

    call = call_received_event("inst-1", {"call_id": "C1", "from": "5511977776666@s.whatsapp.net", "video": True,
                                          "group": None, "at": "2025-11-24T16:00:00.000Z", "rejected": True,
                                          "reply_message_id": "m-1"})  # fmt: skip
    assert call["payload"]["call"]["video"] is True and call["payload"]["call"]["isGroup"] is False
    assert call["payload"]["contact"]["phone"] == "5511977776666" and call["payload"]["rejected"] is True
    assert call_received_event("inst-1", {"call_id": "C1", "from": "x@s.whatsapp.net"})["id"] == call["id"]
    parsed = parse_event(json.dumps(call))
    assert parsed.type == "CALL_RECEIVED" and parsed.payload.call.from_ == "5511977776666@s.whatsapp.net"
