"""Who may edit a stored message (services/inbound_changes.is_author), and the call reply's id: pure rules."""

from __future__ import annotations

from zapgate_control.ports.messages import InboundContent, OutboundMessage, ReceivedMessage
from zapgate_control.services.inbound_changes import call_reply_id, is_author
from zapgate_core.contract.outbound_content import OutboundContent
from zapgate_core.domain.outbound import MessageState

PN = "5511988887777@s.whatsapp.net"
LID = "123456789012345@lid"


def _received(sender: str, sender_pn: str | None = None) -> ReceivedMessage:
    content = InboundContent(from_=sender, chat_id="120363012345678901@g.us", chat_type="group",
                             sender_jid_raw=sender, sender_pn=sender_pn)
    return ReceivedMessage(id="m", instance_id="i", tenant_id="t", content=content, created_at="", stored_ms=0)


def test_a_received_message_is_edited_by_its_sender_by_lid_or_phone_any_device() -> None:
    message = _received(LID, PN)
    assert is_author(message, LID, None, from_me=False)
    assert is_author(message, "5511988887777:7@s.whatsapp.net", None, from_me=False)  # another of its devices
    assert is_author(_received(PN), LID, PN, from_me=False)  # the edit names the LID, WhatsApp gave the phone
    assert not is_author(message, "5511900000000@s.whatsapp.net", None, from_me=False)
    assert not is_author(message, LID, None, from_me=True)  # our account never wrote it


def test_our_own_messages_are_edited_only_from_our_account() -> None:
    sent = OutboundMessage(id="o", instance_id="i", tenant_id="t", content=OutboundContent(to=PN, body="x"),
                           state=MessageState.SENT, created_at="", stored_ms=0)
    assert is_author(sent, "5511999990000@s.whatsapp.net", None, from_me=True)
    assert not is_author(sent, PN, None, from_me=False)


def test_the_call_reply_id_is_one_per_instance_and_call() -> None:
    assert call_reply_id("i", "C1") == call_reply_id("i", "C1")
    assert len({call_reply_id("i", "C1"), call_reply_id("i", "C2"), call_reply_id("j", "C1")}) == 3
