"""The seed-002 envelope built from stored items, parent linking's choice, and the size guard."""

from __future__ import annotations

import json
from typing import Any

import pytest

from zapgate_core.contract.events import (
    InstanceStatusEvent,
    MessageInboundEvent,
    MessageStatusEvent,
    parse_event,
)
from zapgate_core.domain.events import (
    MAX_EVENT_BYTES,
    encode,
    fit,
    inbound_event,
    instance_status_event,
    iso_to_ms,
    message_status_event,
    message_type,
    pick_parent,
    to_iso,
)

SIM = "9313455e45aa22430a92fddbb70f21312d3c944ab590dfb1da845c1a96b664fe"  # sha256("Sim"): how a vote names the option


def _inbound(**overrides: Any) -> dict[str, Any]:
    item = {
        "id": "msg-1",
        "instance_id": "inst-1",
        "direction": "inbound",
        "created_at": "2025-11-24T16:00:00.123Z",
        "timeline_sk": "1764000000123#msg-1",
        "from": "5511988887777@s.whatsapp.net",
        "to": "5511999999999:7@s.whatsapp.net",
        "body": "olá",
        "wa_message_id": "3EB0C0FFEE",
        "chat_id_norm": "5511988887777@s.whatsapp.net",
        "chat_type": "direct",
        "sender_jid_raw": "5511988887777@s.whatsapp.net",
        "push_name": "Maria",
        "wa_timestamp": "1764000000",
        "state": "received",
    }
    item.update(overrides)
    return item


def test_inbound_text_envelope_has_the_seed_002_shape() -> None:
    event = inbound_event(_inbound())
    assert set(event) == {"id", "type", "instanceId", "timestamp", "payload"}
    assert event["type"] == "MESSAGE_INBOUND" and event["instanceId"] == "inst-1"
    assert event["timestamp"] == "2025-11-24T16:00:00.123Z"  # when zapgate stored it
    assert set(event["payload"]) == {"contact", "message", "metadata"}
    assert event["payload"]["contact"] == {
        "phone": "5511988887777", "name": "Maria", "pushName": "Maria", "jid": "5511988887777@s.whatsapp.net",
    }
    message = event["payload"]["message"]
    assert message == {
        "id": "msg-1", "waMessageId": "3EB0C0FFEE", "type": "text", "text": "olá", "media": None,
        "chatId": "5511988887777@s.whatsapp.net", "chatType": "direct",
        "timestamp": "2025-11-24T16:00:00.000Z", "parentId": None,
        "quotedMessageId": None, "quotedText": None,  # seed 002's quote fields: null when it quotes nothing
    }
    assert event["payload"]["metadata"] == {
        "rawKey": {"remoteJid": "5511988887777@s.whatsapp.net", "participant": None}
    }
    assert isinstance(parse_event(encode(event)), MessageInboundEvent)
    # Same fact, same id: a repeated publish can be de-duplicated by receivers.
    assert inbound_event(_inbound())["id"] == event["id"]
    assert inbound_event(_inbound(id="msg-2"))["id"] != event["id"]


def test_inbound_media_in_a_group_from_a_lid_sender() -> None:
    event = inbound_event(_inbound(
        body="", media_type="image", media_url="https://bucket.example/media/abc", mime_type="image/jpeg",
        file_name="foto.jpg", file_size=2048, chat_id_norm="120363012345678901@g.us", chat_type="group",
        sender_jid_raw="123456789012345@lid", sender_pn="5511977776666", **{"from": "123456789012345@lid"},
    ))
    payload = event["payload"]
    assert payload["message"]["type"] == "image" and payload["message"]["text"] is None
    assert payload["message"]["media"] == {
        "url": "https://bucket.example/media/abc", "mimeType": "image/jpeg", "fileName": "foto.jpg", "fileSize": 2048,
    }
    assert payload["message"]["chatType"] == "group"
    assert payload["contact"]["phone"] == "5511977776666"  # from sender_pn: a LID has no phone in it
    assert payload["contact"]["jid"] == "123456789012345@lid"
    raw_key = payload["metadata"]["rawKey"]
    assert raw_key == {"remoteJid": "120363012345678901@g.us", "participant": "123456789012345@lid"}
    parse_event(encode(event))


def test_a_plain_text_envelope_carries_only_the_null_quote_fields_beyond_what_it_had() -> None:
    message = inbound_event(_inbound())["payload"]["message"]
    assert set(message) == {"id", "waMessageId", "type", "text", "media", "chatId", "chatType", "timestamp",
                            "parentId", "quotedMessageId", "quotedText"}
    assert (message["quotedMessageId"], message["quotedText"]) == (None, None)


def test_a_quoted_reply_carries_seed_002s_quote_fields() -> None:
    event = inbound_event(_inbound(body="sim", quoted_wa_message_id="3EB0Q", quoted_text="vem amanhã?"))
    message = event["payload"]["message"]
    assert (message["type"], message["quotedMessageId"], message["quotedText"]) == ("text", "3EB0Q", "vem amanhã?")
    assert parse_event(encode(event)).payload.message.quotedMessageId == "3EB0Q"


@pytest.mark.parametrize(
    ("fields", "key", "expected"),
    [
        ({"message_type": "location", "body": "Sé\ngeo:-23.550520,-46.633308",
          "location": {"latitude": "-23.55052", "longitude": "-46.633308", "name": "Sé"}},
         "location", {"latitude": -23.55052, "longitude": -46.633308, "name": "Sé", "address": None}),
        ({"message_type": "contact", "contact": {"display_name": "João", "vcard": "BEGIN:VCARD", "count": 2}},
         "contact", {"displayName": "João", "vcard": "BEGIN:VCARD", "count": 2}),
        ({"message_type": "reaction", "body": "",
          "reaction": {"wa_message_id": "3EB0OURS", "emoji": "", "from_me": True}},
         "reaction", {"waMessageId": "3EB0OURS", "emoji": "", "fromMe": True}),
        ({"message_type": "poll", "poll": {"name": "Almoço?", "options": ["Sim", "Não"], "selectable_count": 1}},
         "poll", {"name": "Almoço?", "options": ["Sim", "Não"], "selectableCount": 1}),
        ({"message_type": "poll_choice", "body": "Sim",
          "poll_vote": {"poll_message_id": "3EB0POLL", "option_hashes": [SIM, "ab" * 32], "options": ["Sim"]}},
         "pollVote", {"pollMessageId": "3EB0POLL", "optionHashes": [SIM, "ab" * 32], "options": ["Sim"]}),
        ({"message_type": "poll_choice", "body": "", "poll_vote": {"poll_message_id": "3EB0POLL"}},
         "pollVote", {"pollMessageId": "3EB0POLL", "optionHashes": [], "options": []}),
        ({"message_type": "buttons_response", "selection": {"id": "btn-yes", "text": "Confirmar"}},
         "selection", {"id": "btn-yes", "text": "Confirmar"}),
        ({"message_type": "list_response", "selection": {"id": "row-12"}},
         "selection", {"id": "row-12", "text": None}),
    ],
    ids=["location", "contact", "reaction-removed", "poll", "vote", "vote-removed", "buttons", "list"],
)
def test_typed_kinds_carry_their_one_small_object(fields: dict[str, Any], key: str, expected: dict[str, Any]) -> None:
    event = inbound_event(_inbound(**fields))
    message = event["payload"]["message"]
    assert message["type"] == fields["message_type"] and message["media"] is None
    assert message[key] == expected
    assert not {"location", "contact", "reaction", "poll", "pollVote", "poll_vote", "selection"} - {key} & set(message)
    parsed = parse_event(encode(event))
    assert getattr(parsed.payload.message, key).model_dump() == expected


def test_typed_kinds_never_link_as_parents() -> None:
    text = _inbound(id="t", timeline_sk="1764000000000#t")
    image = _inbound(id="i", timeline_sk="1764000001000#i", media_type="image", body="")
    location = _inbound(id="l", timeline_sk="1764000000500#l", message_type="location", location={})
    reaction = _inbound(id="r", timeline_sk="1764000002000#r", message_type="reaction", reaction={})
    vote = _inbound(id="v", timeline_sk="1764000000700#v", message_type="poll_choice", body="Sim",
                    poll_vote={"poll_message_id": "3EB0POLL", "option_hashes": [SIM], "options": ["Sim"]})
    assert pick_parent(image, [text, location]) == "t"  # the location in between is neither text nor media
    assert pick_parent(image, [location]) is None
    assert pick_parent(reaction, [image, text]) is None
    # a vote has a body, yet it is no text: it neither links nor is linked to
    assert pick_parent(vote, [image, text]) is None
    assert pick_parent(image, [vote]) is None and pick_parent(image, [text, vote]) == "t"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "text"),
        ({"media_type": "video"}, "video"),
        ({"media_type": "document"}, "document"),
        ({"message_type": "location"}, "location"),
        ({"message_type": "poll", "media_type": "image"}, "poll"),
        ({"message_type": "sticker-of-the-future"}, "text"),  # unknown kinds never leak out
    ],
)
def test_message_type_comes_from_what_the_item_has(fields: dict[str, Any], expected: str) -> None:
    assert message_type(fields) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1764000000", "2025-11-24T16:00:00.000Z"),
        (1764000000, "2025-11-24T16:00:00.000Z"),
        (1764000000123, "2025-11-24T16:00:00.123Z"),  # milliseconds
        ("2025-11-24T13:00:00-03:00", "2025-11-24T16:00:00.000Z"),
        ("2025-11-24T16:00:00Z", "2025-11-24T16:00:00.000Z"),
        ("not a time", None),
        (None, None),
        (True, None),
    ],
)
def test_timestamps_normalise_to_iso_utc(value: Any, expected: str | None) -> None:
    assert to_iso(value) == expected


def test_iso_to_ms_inverts_the_store_clock() -> None:
    assert iso_to_ms("2025-11-24T16:00:00.123Z") == 1_764_000_000_123


def test_message_status_events_for_each_outbound_state() -> None:
    item = {"id": "out-1", "instance_id": "inst-1", "tenant_id": "t", "to": "5511 98888-7777", "state": "sent",
            "wa_message_id": "WA1", "finished_at": "2025-11-24T16:00:01.000Z"}
    sent = message_status_event(item)
    assert sent is not None and sent["type"] == "MESSAGE_STATUS"
    assert sent["payload"]["message"] == {
        "id": "out-1", "waMessageId": "WA1", "status": "sent", "error": None,
        "chatId": "5511988887777@s.whatsapp.net", "timestamp": "2025-11-24T16:00:01.000Z",
    }
    assert sent["payload"]["contact"]["phone"] == "5511988887777"
    read = message_status_event({**item, "state": "read", "read_at": "2025-11-24T16:00:09.000Z"})
    assert read is not None and read["timestamp"] == "2025-11-24T16:00:09.000Z" and read["id"] != sent["id"]
    failed = message_status_event({**item, "state": "failed", "error": "not-on-whatsapp"})
    assert failed is not None and failed["payload"]["message"]["error"] == "not-on-whatsapp"
    assert isinstance(parse_event(encode(failed)), MessageStatusEvent)
    assert message_status_event({**item, "state": "queued"}) is None
    assert message_status_event({**item, "state": "claimed"}) is None


def test_instance_status_event_only_on_change_and_never_with_the_qr() -> None:
    item = {"id": "inst-1", "tenant_id": "t", "status": "CONNECTING", "status_at": "2025-11-24T16:00:00.000Z",
            "qr_code": "data:image/png;base64,AAAA", "pairing_code": "ABCD-EFGH"}
    event = instance_status_event(item, "DISCONNECTED")
    assert event is not None and event["type"] == "INSTANCE_STATUS" and event["instanceId"] == "inst-1"
    assert event["payload"] == {"status": "CONNECTING", "previousStatus": "DISCONNECTED", "reason": None,
                                "jid": None, "phone": None, "pushName": None}
    assert "data:image" not in json.dumps(event) and "ABCD" not in json.dumps(event)
    assert instance_status_event(item, "CONNECTING") is None  # a new QR is not a status change
    connected = instance_status_event(
        {**item, "status": "CONNECTED", "wa_jid": "5511999990000:3@s.whatsapp.net", "push_name": "Loja"}, "CONNECTING"
    )
    assert connected is not None
    assert (connected["payload"]["phone"], connected["payload"]["pushName"]) == ("5511999990000", "Loja")
    assert isinstance(parse_event(encode(connected)), InstanceStatusEvent)


def _at(ms: int, ident: str, **fields: Any) -> dict[str, Any]:
    return _inbound(id=ident, timeline_sk=f"{ms:013d}#{ident}", **fields)


def test_parent_is_the_newest_earlier_opposite_kind_from_the_same_sender_and_chat() -> None:
    image = {"media_type": "image", "media_url": "https://x/m", "body": ""}
    text = _at(1_000_000, "t1")
    later_image = _at(1_030_000, "i1", **image)
    assert pick_parent(later_image, [later_image, text]) == "t1"
    # Media first, then text: the text is the later one and points back at the media.
    media_first = _at(2_000_000, "i2", **image)
    caption = _at(2_010_000, "t2")
    assert pick_parent(caption, [caption, media_first]) == "i2"
    # The newest qualifying one wins.
    newer_text = _at(1_020_000, "t0")
    assert pick_parent(later_image, [later_image, newer_text, text]) == "t0"


@pytest.mark.parametrize(
    "earlier",
    [
        _at(1_000_000 - 90_001, "old"),  # outside 90 s
        _at(999_000, "other-sender", sender_jid_raw="5511911112222@s.whatsapp.net", **{"from": "x"}),
        _at(999_000, "other-chat", chat_id_norm="120363012345678901@g.us"),
        _at(999_000, "same-kind", media_type="image", media_url="https://x/m"),
        _at(1_000_001, "after"),  # later than the message: never its parent
    ],
)
def test_no_parent_outside_the_rule(earlier: dict[str, Any]) -> None:
    later = _at(1_000_000, "me", media_type="image", media_url="https://x/m", body="")
    assert pick_parent(later, [later, earlier]) is None


def test_two_messages_never_name_each_other() -> None:
    a = _at(1_000_000, "a")
    b = _at(1_000_000, "b", media_type="image", media_url="https://x/m")  # same millisecond
    links = {pick_parent(a, [a, b]), pick_parent(b, [a, b])}
    assert links == {None, "a"}


def test_fit_cuts_huge_texts_to_what_sqs_takes() -> None:
    small = inbound_event(_inbound())
    assert fit(small) is small
    huge = inbound_event(_inbound(body="😀" * 65_536))  # 4 bytes each: 262 kB of text
    fitted = fit(huge)
    assert len(encode(fitted).encode()) <= MAX_EVENT_BYTES
    assert fitted["payload"]["metadata"]["truncated"] is True
    assert set(fitted["payload"]["message"]["text"]) == {"😀"}  # no half character at the cut
    assert huge["payload"]["message"]["text"] == "😀" * 65_536  # the original is untouched
