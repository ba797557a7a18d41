"""Issue 10's neonize mapping with real neonize protobufs, offline: an edit and a revoke arrive as Message events
carrying a protocolMessage, group notifications as GroupInfoEvent, calls as CallOffer; each becomes one of the
port's change events (transport_changes.py), and the session registers the Go events that carry them."""

from __future__ import annotations

import pytest
from neonize.proto import Neonize_pb2 as nz
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as wa

from tests.unit.test_neonize_mapping import EMPTY_JID, TS_MILLIS, TS_SECONDS, jid, message_event, wire
from zapgate_sidecar.transport_changes import (
    CallReceived,
    GroupInfoChanged,
    GroupParticipantsChanged,
    MessageEdited,
    MessageRevoked,
)
from zapgate_sidecar.transports.neonize import change_mapping as c

CUSTOMER = jid("5511988887777")
GROUP = jid("120363012345678901", "g.us")


def _protocol(kind: int, target: str, edited: wa.Message | None = None, ms: int = 0) -> wa.Message:
    protocol = wa.ProtocolMessage(key=MessageKey(remoteJID="5511988887777@s.whatsapp.net", fromMe=False, ID=target),
                                  type=kind)  # fmt: skip
    if edited is not None:
        protocol.editedMessage.CopyFrom(edited)
    if ms:
        protocol.timestampMS = ms
    return wa.Message(protocolMessage=protocol)


def test_an_edit_names_the_edited_message_and_carries_the_new_text() -> None:
    content = _protocol(wa.ProtocolMessage.MESSAGE_EDIT, "3EB0ORIGINAL", wa.Message(conversation="novo texto"),
                        ms=TS_MILLIS + 5)
    event = message_event(content, msg_id="3EB0EDITID", edit="1", is_edit=True)
    assert c.map_message_change(event) == MessageEdited(
        wa_message_id="3EB0ORIGINAL", edit_wa_message_id="3EB0EDITID", chat_jid="5511988887777@s.whatsapp.net",
        sender_jid="5511988887777@s.whatsapp.net", text="novo texto", timestamp_ms=TS_MILLIS + 5,
    )


def test_an_edit_still_in_its_wrapper_and_an_edited_caption_are_read_too() -> None:
    inner = _protocol(wa.ProtocolMessage.MESSAGE_EDIT, "3EB0IMG",
                      wa.Message(imageMessage=wa.ImageMessage(caption="legenda nova", mimetype="image/jpeg")))
    wrapped = wa.Message(editedMessage=wa.FutureProofMessage(message=inner))
    found = c.map_message_change(message_event(wrapped, edit="1"))
    assert isinstance(found, MessageEdited) and found.text == "legenda nova" and found.timestamp_ms == TS_MILLIS


def test_an_edit_by_a_lid_sender_keeps_its_phone() -> None:
    lid = jid("123456789012345", "lid")
    content = _protocol(wa.ProtocolMessage.MESSAGE_EDIT, "3EB0A", wa.Message(conversation="x"))
    found = c.map_message_change(message_event(content, chat=GROUP, sender=lid, sender_alt=CUSTOMER, is_group=True))
    assert isinstance(found, MessageEdited)
    assert (found.chat_jid, found.sender_jid, found.sender_pn) == (
        "120363012345678901@g.us", "123456789012345@lid", "5511988887777@s.whatsapp.net")


def test_a_revoke_names_the_deleted_message_and_who_deleted_it() -> None:
    admin = jid("5511911112222")
    content = _protocol(wa.ProtocolMessage.REVOKE, "3EB0GONE")
    found = c.map_message_change(message_event(content, chat=GROUP, sender=admin, is_group=True, edit="8"))
    assert found == MessageRevoked(wa_message_id="3EB0GONE", chat_jid="120363012345678901@g.us",
                                   revoked_by="5511911112222@s.whatsapp.net", timestamp_ms=TS_MILLIS)
    mine = c.map_message_change(message_event(content, from_me=True, edit="7"))
    assert isinstance(mine, MessageRevoked) and mine.from_me


@pytest.mark.parametrize(
    "content",
    [
        wa.Message(conversation="a plain message"),
        wa.Message(protocolMessage=wa.ProtocolMessage(type=wa.ProtocolMessage.EPHEMERAL_SETTING)),
        _protocol(wa.ProtocolMessage.REVOKE, ""),  # no key: nothing to mark
        _protocol(wa.ProtocolMessage.MESSAGE_EDIT, "3EB0"),  # an edit without its new content
    ],
)
def test_other_messages_are_no_change(content: wa.Message) -> None:
    assert c.map_message_change(message_event(content)) is None


def _group_event(**fields: object) -> nz.GroupInfoEvent:
    base = {"JID": GROUP, "Notify": "", "Sender": jid("5511911112222"), "Timestamp": TS_SECONDS,
            "PrevParticipantsVersionID": "", "ParticipantVersionID": "", "JoinReason": ""}  # fmt: skip
    return wire(nz.GroupInfoEvent(**{**base, **fields}))  # type: ignore[arg-type]


def test_group_participants_by_action_and_info_changes() -> None:
    event = _group_event(Join=[CUSTOMER, jid("5511977776666")], Demote=[jid("5511900000000")])
    assert c.map_change_event(event) == [
        GroupParticipantsChanged(group_jid="120363012345678901@g.us", action="add",
                                 participants=("5511988887777@s.whatsapp.net", "5511977776666@s.whatsapp.net"),
                                 by="5511911112222@s.whatsapp.net", timestamp_ms=TS_SECONDS * 1000),
        GroupParticipantsChanged(group_jid="120363012345678901@g.us", action="demote",
                                 participants=("5511900000000@s.whatsapp.net",),
                                 by="5511911112222@s.whatsapp.net", timestamp_ms=TS_SECONDS * 1000),
    ]
    info = _group_event(Name=nz.GroupName(Name="Loja 2", NameSetAt=TS_SECONDS, NameSetBy=CUSTOMER),
                        Announce=nz.GroupAnnounce(IsAnnounce=True, AnnounceVersionID="v"),
                        Locked=nz.GroupLocked(isLocked=False), Sender=EMPTY_JID)
    assert c.map_change_event(info) == [GroupInfoChanged(
        group_jid="120363012345678901@g.us", by=None, timestamp_ms=TS_SECONDS * 1000, name="Loja 2",
        announce=True, locked=False)]
    topic = _group_event(Topic=nz.GroupTopic(Topic="", TopicID="t", TopicSetAt=0, TopicSetBy=CUSTOMER,
                                             TopicDeleted=True))
    assert c.map_change_event(topic)[0].description == ""  # type: ignore[union-attr]
    assert c.map_change_event(_group_event()) == []  # a notification zapgate reports nothing of


def _call(children: list[str], attrs: list[nz.NodeAttrs] | None = None) -> nz.CallOffer:
    meta = nz.BasicCallMeta(timestamp=TS_SECONDS, callCreator=CUSTOMER, callCreatorAlt=EMPTY_JID, callID="CALL123")
    getattr(meta, "from").CopyFrom(CUSTOMER)
    return wire(nz.CallOffer(
        basicCallMeta=meta, callRemoteMeta=nz.CallRemoteMeta(remotePlatform="android", remoteVersion="2.25"),
        data=nz.Node(Tag="offer", Attrs=attrs or [], Nodes=[nz.Node(Tag=t) for t in children]),
    ))


def test_a_call_offer_is_voice_or_video_direct_or_group() -> None:
    assert c.map_change_event(_call(["audio"])) == [CallReceived(
        call_id="CALL123", caller="5511988887777@s.whatsapp.net", timestamp_ms=TS_SECONDS * 1000)]
    (video,) = c.map_change_event(_call(["audio", "video"]))  # type: ignore[misc]
    assert isinstance(video, CallReceived) and video.video and video.group_jid is None
    group_call = _call(["audio"], [nz.NodeAttrs(name="group-jid", text="120363012345678901@g.us")])
    (grouped,) = c.map_change_event(group_call)  # type: ignore[misc]
    assert isinstance(grouped, CallReceived) and grouped.group_jid == "120363012345678901@g.us"


def test_the_session_registers_the_go_events_of_the_changes() -> None:
    from zapgate_sidecar.transports.neonize.session import HANDLED_EVENTS

    assert set(c.CHANGE_EVENT_NAMES) <= set(HANDLED_EVENTS)
    assert c.map_change_event(message_event(wa.Message(conversation="x"))) is None  # Messages go their own way
