"""The contract models accept the Node worker's names and answer with the primary ones."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import ValidationError

from zapgate_core.contract.inbound_rules import has_content, learnt_lid_mapping
from zapgate_core.contract.worker_proxy import (
    EligibleInstances,
    InboundMessage,
    LockResponse,
    MarkSentRequest,
    UpdateStatusRequest,
)
from zapgate_core.domain.ids import contact_id, inbound_id


def test_lock_response_reads_aliases_and_writes_primary_names() -> None:
    parsed = LockResponse.model_validate({"lock_acquired": True, "owner": "h:1", "token": "tok"})
    assert (parsed.acquired, parsed.instance_owner, parsed.lock_token) == (True, "h:1", "tok")
    assert parsed.dump_wire()["acquired"] is True and "lock_acquired" not in parsed.dump_wire()


def test_camel_case_ids_round_trip() -> None:
    request = MarkSentRequest.model_validate({"messageId": "m1", "wa_message_id": "W"})
    assert request.message_id == "m1"
    assert request.dump_wire()["messageId"] == "m1"
    assert MarkSentRequest.model_validate({"message_id": "m2"}).message_id == "m2"


def test_eligible_instances_accept_data_alias() -> None:
    parsed = EligibleInstances.model_validate({"data": [{"id": "a", "priority": 2}]})
    assert parsed.instances[0].id == "a"


def test_inbound_aliases_and_helpers() -> None:
    message = InboundMessage.model_validate(
        {"instanceId": "i", "from": "77@lid", "chat_id": "77@lid", "body": None, "sender_pn": "5511977776666",
         "media_type": "image", "media_url": "https://x"}
    )
    assert message.chat_id_norm == "77@lid" and message.body == "" and has_content(message)
    assert message.dump_wire()["from"] == "77@lid"
    assert learnt_lid_mapping(message) == ("77@lid", "5511977776666@s.whatsapp.net")
    assert inbound_id("i", "W") == inbound_id("i", "W") != inbound_id("j", "W")
    assert contact_id("i", "77@lid") != contact_id("i", "78@lid")


def test_status_is_case_insensitive_but_closed() -> None:
    assert UpdateStatusRequest.model_validate({"instanceId": "i", "status": "connected"}).status == "CONNECTED"
    with pytest.raises(ValidationError):
        UpdateStatusRequest.model_validate({"instanceId": "i", "status": "ONLINE"})


def test_queued_text_and_media_keep_the_node_workers_wire_shape() -> None:
    """zapgate's extensions appear only when used, so the Node worker sees the JSON it always saw."""
    from zapgate_core.contract.worker_proxy import QueuedMessage

    plain = QueuedMessage.model_validate({"id": "m1", "to": "55", "media_url": "https://x/a.ogg", "media_type": "audio",
                                          "voice_note": False}).model_dump()
    assert set(plain) == {"id", "to", "body", "media_url", "media_type", "mime_type", "file_name"}
    note = QueuedMessage.model_validate({"id": "m2", "to": "55", "media_url": "https://x/a.ogg", "media_type": "audio",
                                         "voice_note": True}).model_dump()
    assert note["voice_note"] is True and "location" not in note and "type" not in note
    assert "poll" not in plain and "poll" not in note


def test_a_queued_poll_round_trips_and_stays_within_the_inbound_bounds() -> None:
    from zapgate_core.contract.common import MAX_POLL_OPTIONS, SEND_POLL_OPTIONS
    from zapgate_core.contract.worker_proxy import QueuedMessage, QueuedMessages

    poll = {"name": "Almoço?", "options": ["Sim", "Não"], "selectable_count": 0}
    stored = {"id": "m3", "to": "55", "body": None, "type": "poll", "poll": poll}
    wire = QueuedMessages(messages=[QueuedMessage.model_validate(stored)]).dump_wire()["messages"][0]
    assert wire == {"id": "m3", "to": "55", "body": None, "media_url": None, "media_type": None, "mime_type": None,
                    "file_name": None, "type": "poll", "poll": poll}  # selectable_count 0 (any number) is kept
    parsed = QueuedMessage.model_validate(wire)  # as the sidecar reads it
    assert parsed.poll is not None and (parsed.poll.name, parsed.poll.options) == ("Almoço?", ["Sim", "Não"])
    assert SEND_POLL_OPTIONS <= MAX_POLL_OPTIONS  # whatever the public API sends, the contract carries
    with pytest.raises(ValidationError):
        QueuedMessage.model_validate({**stored, "poll": {**poll, "options": ["o"] * (MAX_POLL_OPTIONS + 1)}})


# ------------------------------------------------------------------ inbound extensions (typed kinds, quotes)
_PLAIN = {"instanceId": "i", "from": "5511988887777@s.whatsapp.net", "chat_id_norm": "5511988887777@s.whatsapp.net"}
_HASH_SIM = hashlib.sha256(b"Sim").hexdigest()
_HASH_NAO = hashlib.sha256("Não".encode()).hexdigest()
_VOTE = {"poll_message_id": "3EB0POLL", "option_hashes": [_HASH_SIM], "options": ["Sim"]}


def test_inbound_message_types_are_the_events_message_types() -> None:
    from typing import get_args

    from zapgate_core.contract.common import InboundMessageType
    from zapgate_core.contract.worker_proxy import INBOUND_OBJECTS
    from zapgate_core.domain.events import MEDIA_TYPES, MESSAGE_TYPES, TYPED_OBJECTS

    assert get_args(InboundMessageType) == MESSAGE_TYPES
    assert INBOUND_OBJECTS == TYPED_OBJECTS
    assert set(MESSAGE_TYPES) == {"text", *MEDIA_TYPES, *TYPED_OBJECTS}


def test_a_plain_inbound_message_keeps_its_wire_shape() -> None:
    wire = InboundMessage.model_validate({**_PLAIN, "body": "oi"}).dump_wire()
    assert set(wire) == {
        "instanceId", "from", "to", "body", "wa_message_id", "from_me", "chat_id_norm", "chat_type", "sender_jid_raw",
        "sender_pn", "sender_contact_id", "push_name", "timestamp", "media_type", "media_url", "mime_type",
        "file_name", "file_size",
    }  # fmt: skip


def test_typed_inbound_messages_are_content_without_a_body() -> None:
    from zapgate_core.contract.inbound_rules import typed_object

    location = InboundMessage.model_validate(
        {**_PLAIN, "message_type": "location", "location": {"latitude": -23.5, "longitude": -46.6, "name": "Sé"}})
    assert has_content(location)
    assert typed_object(location) == ("location", {"latitude": -23.5, "longitude": -46.6, "name": "Sé"})
    assert location.dump_wire()["location"]["latitude"] == -23.5 and "poll" not in location.dump_wire()
    removed = InboundMessage.model_validate(
        {**_PLAIN, "message_type": "reaction", "reaction": {"wa_message_id": "3EB0", "emoji": ""}})
    assert has_content(removed) and typed_object(removed) == ("reaction", {"wa_message_id": "3EB0", "emoji": ""})
    vote = InboundMessage.model_validate({**_PLAIN, "body": "Sim", "message_type": "poll_choice", "poll_vote": {
        "poll_message_id": "3EB0POLL", "option_hashes": [_HASH_SIM, _HASH_NAO], "options": ["Sim"]}})
    assert typed_object(vote) == ("poll_vote", {"poll_message_id": "3EB0POLL", "option_hashes": [_HASH_SIM, _HASH_NAO],
                                                "options": ["Sim"]})
    assert vote.dump_wire()["poll_vote"]["option_hashes"] == [_HASH_SIM, _HASH_NAO] and "poll" not in vote.dump_wire()
    removed_vote = InboundMessage.model_validate(
        {**_PLAIN, "message_type": "poll_choice", "poll_vote": {"poll_message_id": "3EB0POLL"}})
    assert has_content(removed_vote)  # a removed vote (no hashes, no body) is still something to report
    assert typed_object(removed_vote) == ("poll_vote", {"poll_message_id": "3EB0POLL", "option_hashes": [],
                                                        "options": []})
    choice = InboundMessage.model_validate(
        {**_PLAIN, "message_type": "list_response", "selection": {"id": "row-1", "text": "Plano"}})
    assert typed_object(choice) == ("selection", {"id": "row-1", "text": "Plano"})
    quoted = InboundMessage.model_validate({**_PLAIN, "body": "sim", "quoted_wa_message_id": "3EB0Q",
                                            "quoted_text": "  "})
    assert (quoted.quoted_wa_message_id, quoted.quoted_text) == ("3EB0Q", None)  # blank quote text = none
    assert not has_content(InboundMessage.model_validate({**_PLAIN, "message_type": "text"}))


@pytest.mark.parametrize(
    "extra",
    [
        {"location": {"latitude": 1, "longitude": 2}},  # object without its type
        {"message_type": "location"},  # type without its object
        {"message_type": "location", "location": {"latitude": 1, "longitude": 2}, "poll": {"name": "q"}},
        {"message_type": "poll", "location": {"latitude": 1, "longitude": 2}},
        {"message_type": "location", "location": {"latitude": 91, "longitude": 2}},
        {"message_type": "location", "location": {"latitude": "NaN", "longitude": 2}},
        {"message_type": "image", "body": "x"},  # a media kind needs its media
        {"message_type": "text", "media_type": "image", "media_url": "https://x"},
        {"message_type": "sticker", "body": "x"},
        {"message_type": "reaction", "reaction": {"wa_message_id": "", "emoji": "👍"}},
        {"message_type": "reaction", "reaction": {"wa_message_id": "W", "emoji": "👍" * 40}},
        {"message_type": "poll", "poll": {"name": "q", "options": ["o"] * 33}},
        {"message_type": "poll", "poll": {"name": "q", "options": ["o" * 1_001]}},
        {"message_type": "contact", "contact": {"display_name": "A", "vcard": "v" * 10_001}},
        {"message_type": "buttons_response", "selection": {"id": "i" * 1_001}},
        {"message_type": "poll_choice"},  # a vote needs its poll_vote
        {"message_type": "poll_choice", "poll": {"name": "q"}},
        {"message_type": "poll", "poll_vote": _VOTE},  # poll_vote with another kind
        {"message_type": "text", "body": "Sim", "poll_vote": _VOTE},
        {"body": "Sim", "poll_vote": _VOTE},
        {"message_type": "poll_choice", "poll_vote": _VOTE, "selection": {"id": "x"}},
        {"message_type": "poll_choice", "poll_vote": {**_VOTE, "poll_message_id": ""}},
        {"message_type": "poll_choice", "poll_vote": {**_VOTE, "poll_message_id": "p" * 201}},
        {"message_type": "poll_choice", "poll_vote": {**_VOTE, "option_hashes": [_HASH_SIM.upper()]}},
        {"message_type": "poll_choice", "poll_vote": {**_VOTE, "option_hashes": [_HASH_SIM[:-1]]}},
        {"message_type": "poll_choice", "poll_vote": {**_VOTE, "option_hashes": ["Sim"]}},
        {"message_type": "poll_choice", "poll_vote": {**_VOTE, "option_hashes": [_HASH_SIM] * 33}},
        {"message_type": "poll_choice", "poll_vote": {**_VOTE, "options": ["o" * 1_001]}},
        {"message_type": "poll_choice", "poll_vote": {**_VOTE, "options": ["Sim", "Não"]}},  # more names than hashes
        {"message_type": "poll_choice", "poll_vote": _VOTE, "media_type": "image", "media_url": "https://x"},
        {"body": "x", "quoted_text": "q" * 1_001},
        {"body": "x", "quoted_wa_message_id": "w" * 201},
    ],
)
def test_bad_inbound_extensions_are_refused(extra: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        InboundMessage.model_validate({**_PLAIN, **extra})
