"""Edits and revokes on MessagesTable against moto: conditional writes keep the message, its id and its old text."""

from __future__ import annotations

from typing import Any

import pytest

from zapgate_control.ports.messages import InboundContent, MessageEdit, MessageRevoke

CHAT = "5511988887777@s.whatsapp.net"


def _store(env: dict[str, str]) -> Any:
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore

    return DynamoMessageStore(env["MESSAGES_TABLE"])


def _received(store: Any, wa_id: str = "3EB0EDIT", body: str = "first") -> Any:
    from zapgate_core.domain.ids import inbound_id

    content = InboundContent(from_=CHAT, chat_id=CHAT, chat_type="direct", body=body, wa_message_id=wa_id,
                             sender_jid_raw=CHAT)
    return store.put_inbound(inbound_id("inst-1", wa_id), "inst-1", "tenant-a", content)


def _edit(text: str, ms: int, wa_id: str = "EDIT1") -> MessageEdit:
    from zapgate_control.clock import iso

    return MessageEdit(text=text, edited_at=iso(ms), edit_key=f"{ms:013d}#{wa_id}")


def test_an_edit_replaces_the_text_keeps_the_id_and_the_first_text(aws_env: dict[str, str]) -> None:
    store = _store(aws_env)
    stored = _received(store)
    edited, changed = store.mark_edited(stored.id, _edit("second", 1_764_000_000_000))
    assert changed and edited.id == stored.id and edited.content.body == "second"
    assert edited.changes.edit_count == 1 and edited.changes.original_body == "first"
    again, changed = store.mark_edited(stored.id, _edit("third", 1_764_000_001_000, "EDIT2"))
    assert changed and again.content.body == "third"
    assert again.changes.edit_count == 2 and again.changes.original_body == "first"  # the first text, once
    assert store.get(stored.id).content.body == "third"


def test_a_repeated_or_older_edit_changes_nothing(aws_env: dict[str, str]) -> None:
    store = _store(aws_env)
    stored = _received(store)
    store.mark_edited(stored.id, _edit("newer", 1_764_000_005_000, "E2"))
    same, changed = store.mark_edited(stored.id, _edit("newer", 1_764_000_005_000, "E2"))  # a retry
    assert not changed and same.changes.edit_count == 1
    older, changed = store.mark_edited(stored.id, _edit("older", 1_764_000_001_000, "E1"))  # arrived late
    assert not changed and older.content.body == "newer"


def test_a_revoke_marks_once_and_erases_nothing(aws_env: dict[str, str]) -> None:
    from zapgate_control.ports.messages import MessageRevokedAlready

    store = _store(aws_env)
    stored = _received(store)
    revoked, changed = store.mark_revoked(stored.id, MessageRevoke(revoked_at="2025-11-24T16:00:00.000Z",
                                                                   revoked_by=CHAT))
    assert changed and revoked.content.body == "first"
    assert revoked.changes.revoked_at == "2025-11-24T16:00:00.000Z" and revoked.changes.revoked_by == CHAT
    again, changed = store.mark_revoked(stored.id, MessageRevoke(revoked_at="2025-11-24T16:09:00.000Z"))
    assert not changed and again.changes.revoked_at == "2025-11-24T16:00:00.000Z"
    with pytest.raises(MessageRevokedAlready):
        store.mark_edited(stored.id, _edit("too late", 1_764_000_009_000))
    assert store.get(stored.id) is not None  # still there, marked


def test_unknown_messages_and_doorbells_are_not_found(aws_env: dict[str, str]) -> None:
    from zapgate_control.ports.messages import MessageNotFound

    store = _store(aws_env)
    with pytest.raises(MessageNotFound):
        store.mark_edited("nope", _edit("x", 1))
    with pytest.raises(MessageNotFound):
        store.mark_revoked("nope", MessageRevoke(revoked_at="2025-11-24T16:00:00.000Z"))
    store.ring_doorbell("inst-1", "owner", 60_000)
    with pytest.raises(MessageNotFound):
        store.mark_revoked("doorbell#inst-1", MessageRevoke(revoked_at="2025-11-24T16:00:00.000Z"))
    assert store.item("doorbell#inst-1").get("revoked_at") is None


def test_find_by_wa_message_id_is_per_instance_both_directions(aws_env: dict[str, str]) -> None:
    from zapgate_control.ports.messages import MarkFields
    from zapgate_core.contract.outbound_content import OutboundContent
    from zapgate_core.domain.outbound import ClaimPolicy, MessageState

    store = _store(aws_env)
    stored = _received(store, "3EB0IN")
    assert store.find_by_wa_message_id("inst-1", "3EB0IN").id == stored.id
    assert store.find_by_wa_message_id("inst-2", "3EB0IN") is None
    sent = store.enqueue("tenant-a", "inst-1", OutboundContent(to=CHAT, body="hello"))
    store.claim("inst-1", 1, ClaimPolicy(lease_ms=60_000, max_claims=3))
    store.mark(sent.id, MessageState.SENT, MarkFields(wa_message_id="3EB0OUT"))
    assert store.find_by_wa_message_id("inst-1", "3EB0OUT").id == sent.id
    assert store.find_by_wa_message_id("inst-2", "3EB0OUT") is None
    edited, changed = store.mark_edited(sent.id, _edit("hello, edited", 1_764_000_000_000))
    assert changed and edited.state.value == "sent" and edited.content.body == "hello, edited"
