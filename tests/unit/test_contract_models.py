"""The contract models accept the Node worker's names and answer with the primary ones."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from zapgate_core.contract.worker_proxy import (
    EligibleInstances,
    InboundMessage,
    LockResponse,
    MarkSentRequest,
    UpdateStatusRequest,
)
from zapgate_core.domain.ids import contact_id, inbound_id
from zapgate_core.domain.inbound import has_content, learnt_lid_mapping


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
