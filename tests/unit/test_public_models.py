"""Public API models: what a stored item becomes in a response, and what a send request stores."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from zapgate_control.adapters.dynamodb.message_items import record_of
from zapgate_public_api.models import Instance, InstancePatch, Message, SendMessage

STORED_INSTANCE: dict[str, Any] = {
    "id": "i-1",
    "tenant_id": "tenant-a",
    "name": "Sales",
    "priority": 5,
    "enabled": True,
    "status": "CONNECTING",
    "qr_code": "data:image/png;base64,AAAA",
    "created_at": "2026-01-01T00:00:00.000Z",
    "updated_at": "2026-01-01T00:00:01.000Z",
    "created_sk": "0000000000001#i-1",
    "priority_sk": "00999995#0000000000001#i-1",
    "eligible_pk": "ENABLED",
    "lock_owner": "sidecar-1",
    "lock_token": "secret-token",
    "lock_fence": 3,
}


def test_instance_response_keeps_only_public_fields() -> None:
    from zapgate_control.adapters.dynamodb.instances import record_from_item

    dumped = Instance.from_record(record_from_item(STORED_INSTANCE)).model_dump(mode="json", by_alias=True)
    assert dumped == {
        "id": "i-1",
        "name": "Sales",
        "priority": 5,
        "enabled": True,
        "status": "CONNECTING",
        "qr_code": "data:image/png;base64,AAAA",
        "pairing_code": None,
        "wa_jid": None,
        "push_name": None,
        "ingest_monitored_groups_only": False,
        "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": "2026-01-01T00:00:01.000Z",
    }


def test_message_response_maps_stored_names_to_public_ones() -> None:
    inbound = {
        "id": "m-1",
        "instance_id": "i-1",
        "direction": "inbound",
        "state": "received",
        "from": "551199@s.whatsapp.net",
        "chat_id_norm": "551199@s.whatsapp.net",
        "body": "oi",
        "push_name": "Ana",
        "created_at": "2026-01-01T00:00:00.000Z",
        "timeline_pk": "i-1#inbound",
        "sender_jid_raw": "123@lid",
    }
    dumped = Message.from_record(record_of(inbound)).model_dump(mode="json", by_alias=True)  # type: ignore[arg-type]
    assert dumped["status"] == "received"
    assert dumped["from"] == "551199@s.whatsapp.net" and dumped["chat_id"] == "551199@s.whatsapp.net"
    assert "from_" not in dumped and "timeline_pk" not in dumped and "sender_jid_raw" not in dumped


def test_send_content_is_exactly_what_the_queue_stores() -> None:
    request = SendMessage.model_validate(
        {"to": " +55 11 9999-9999 ", "body": "", "media_url": "HTTPS://x.test/a", "media_type": "image"}
    )
    assert request.content().model_dump() == {
        "to": " +55 11 9999-9999 ",  # as given: the sidecar normalises
        "body": None,  # blank caption is no body
        "media_url": "HTTPS://x.test/a",
        "media_type": "image",
        "mime_type": None,
        "file_name": None,
    }
    assert request.queue_if_offline is False


def test_patch_changes_are_only_the_given_fields() -> None:
    assert InstancePatch.model_validate({"priority": 0}).changes() == {"priority": 0}
    assert InstancePatch.model_validate({"name": " x ", "enabled": False}).changes() == {
        "name": "x",
        "enabled": False,
    }
    with pytest.raises(ValidationError):
        InstancePatch.model_validate({})


def test_voice_note_is_stored_only_for_audio_sent_as_one() -> None:
    base = {"to": "5511", "type": "audio", "media_url": "https://x.test/a.ogg"}
    note = SendMessage.model_validate({**base, "voice_note": True, "mime_type": "audio/ogg; codecs=opus"})
    assert note.content().model_dump()["voice_note"] is True and note.content().model_dump()["media_type"] == "audio"
    assert "voice_note" not in SendMessage.model_validate(base).content().model_dump()


@pytest.mark.parametrize("body", [
    {"to": "5511", "body": "oi", "voice_note": True},
    {"to": "5511", "type": "image", "media_url": "https://x.test/a.png", "voice_note": True},
    {"to": "5511", "type": "audio", "media_url": "https://x.test/a.mp3", "mime_type": "audio/mpeg", "voice_note": True},
    {"to": "5511", "type": "audio", "media_url": "https://x.test/a.ogg", "voice_note": "yes"},
])
def test_voice_note_refused_where_it_cannot_be_one(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SendMessage.model_validate(body)


def test_a_poll_is_stored_with_its_object_and_no_body() -> None:
    poll = SendMessage.model_validate({"to": "5511", "type": "poll",
                                       "poll": {"name": " Almoço? ", "options": [" Sim", "Não "]}})
    assert poll.content().model_dump() == {
        "to": "5511", "body": None, "media_url": None, "media_type": None, "mime_type": None, "file_name": None,
        "type": "poll",
        # stripped as the worker-proxy contract strips strings; one choice unless said otherwise
        "poll": {"name": "Almoço?", "options": ["Sim", "Não"], "selectable_count": 1},
    }
    any_number = SendMessage.model_validate({"to": "5511", "type": "poll", "poll": {
        "name": "q", "options": [f"o{i}" for i in range(12)], "selectable_count": 0}})
    assert any_number.content().model_dump()["poll"]["selectable_count"] == 0
    every = SendMessage.model_validate({"to": "5511", "type": "poll", "poll": {
        "name": "q" * 255, "options": ["a" * 100, "b"], "selectable_count": 2}})
    assert every.content().model_dump()["poll"]["selectable_count"] == 2
