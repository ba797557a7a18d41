"""HistorySyncEv → the port's history messages, on real neonize protobufs (issue 13), and the sidecar's rules
for what an own-device or history message reports."""

from __future__ import annotations

from neonize.proto import Neonize_pb2 as nz
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as wa
from neonize.proto.waHistorySync import WAWebProtobufsHistorySync_pb2 as hs
from neonize.proto.waWeb import WAWebProtobufsWeb_pb2 as web

from zapgate_sidecar.runtime.own_forwarding import is_reportable, own_payload
from zapgate_sidecar.transport import IncomingMessage
from zapgate_sidecar.transports.neonize.history_mapping import map_history_sync
from zapgate_sidecar.transports.neonize.session import HANDLED_EVENTS

CHAT = "5511988887777@s.whatsapp.net"
GROUP = "120363012345678901@g.us"


def _info(wa_id: str, at: int, message: wa.Message, *, chat: str = CHAT, from_me: bool = False,
          participant: str = "", push_name: str = "") -> web.WebMessageInfo:
    return web.WebMessageInfo(key=MessageKey(remoteJID=chat, fromMe=from_me, ID=wa_id, participant=participant),
                              message=message, messageTimestamp=at, pushName=push_name)


def _sync(*conversations: tuple[str, list[web.WebMessageInfo]]) -> nz.HistorySync:
    data = hs.HistorySync(syncType=hs.HistorySync.INITIAL_BOOTSTRAP, conversations=[
        hs.Conversation(ID=chat, messages=[hs.HistorySyncMsg(message=m, msgOrderID=n) for n, m in enumerate(msgs)])
        for chat, msgs in conversations
    ])
    return nz.HistorySync(Data=data)


def test_conversations_become_history_messages_newest_first_per_chat() -> None:
    text = wa.Message(conversation="olá")
    image = wa.Message(imageMessage=wa.ImageMessage(caption="a foto", mimetype="image/jpeg"))
    bare_image = wa.Message(imageMessage=wa.ImageMessage(mimetype="image/jpeg"))
    event = _sync(
        (CHAT, [_info("A1", 1_700_000_000, text, push_name="Maria"),
                _info("A2", 1_700_000_100, wa.Message(conversation="minha resposta"), from_me=True),
                _info("A3", 1_700_000_050, image)]),
        (GROUP, [_info("G1", 1_700_000_010, bare_image, chat=GROUP, participant="5511977776666@s.whatsapp.net")]),
    )
    mapped = map_history_sync(event)
    assert [m.wa_message_id for m in mapped] == ["A2", "A3", "A1", "G1"]
    assert all(m.is_history for m in mapped)
    mine, photo, theirs, group = mapped
    assert (mine.from_me, mine.text, mine.chat_jid) == (True, "minha resposta", CHAT)
    assert (photo.text, photo.media) == ("a foto", None)  # history is text: no download
    assert (theirs.from_me, theirs.sender_jid, theirs.push_name, theirs.timestamp) == (
        False, CHAT, "Maria", 1_700_000_000)
    assert (group.sender_jid, group.text) == ("5511977776666@s.whatsapp.net", "[image]")


def test_protocol_status_and_idless_messages_are_left_out() -> None:
    revoke = wa.Message(protocolMessage=wa.ProtocolMessage(type=wa.ProtocolMessage.REVOKE))
    event = _sync(
        (CHAT, [_info("P1", 1_700_000_000, revoke), _info("", 1_700_000_001, wa.Message(conversation="x"))]),
        ("status@broadcast", [_info("S1", 1_700_000_002, wa.Message(conversation="story"),
                                    chat="status@broadcast")]),
    )
    assert map_history_sync(event) == []


def test_the_session_listens_for_history_syncs() -> None:
    assert "HistorySyncEv" in HANDLED_EVENTS


def _message(**overrides: object) -> IncomingMessage:
    fields: dict[str, object] = {"wa_message_id": "3EBP", "chat_jid": CHAT,
                                 "sender_jid": "5511999990000@s.whatsapp.net", "from_me": True,
                                 "timestamp": 1_700_000_000, "text": "do celular"}
    fields.update(overrides)
    return IncomingMessage(**fields)  # type: ignore[arg-type]


def test_an_own_message_is_reported_to_its_chat_from_the_account() -> None:
    payload = own_payload("inst-1", _message(), "5511999990000:3@s.whatsapp.net")
    assert (payload.from_, payload.to, payload.chat_id_norm, payload.from_me) == (
        "5511999990000:3@s.whatsapp.net", CHAT, CHAT, True)
    assert payload.body == "do celular" and payload.wa_message_id == "3EBP"
    theirs = own_payload("inst-1", _message(from_me=False, sender_jid=CHAT, is_history=True), "me@s.whatsapp.net")
    assert (theirs.from_, theirs.to, theirs.from_me) == (CHAT, "me@s.whatsapp.net", False)


def test_votes_and_protocol_messages_are_not_reported_reactions_are() -> None:
    from zapgate_sidecar.transport import PollVote, Reaction

    assert is_reportable(_message())
    assert not is_reportable(_message(is_protocol=True))
    assert not is_reportable(_message(text="", kind="poll_choice",
                                      poll_vote=PollVote(poll_message_id="P")))
    assert not is_reportable(_message(text=""))
    reaction = _message(text="", kind="reaction", reaction=Reaction(wa_message_id="X", emoji="👍"))
    assert is_reportable(reaction)
    payload = own_payload("inst-1", reaction, "me@s.whatsapp.net")
    assert payload.message_type == "reaction" and payload.reaction is not None
    assert (payload.reaction.wa_message_id, payload.reaction.emoji) == ("X", "👍")


def test_an_own_location_goes_with_its_object_and_one_beyond_the_limits_as_text() -> None:
    from zapgate_sidecar.transport import Location

    shared = _message(text="Loja", kind="location", location=Location(latitude=-23.5, longitude=-46.6, name="Loja"))
    payload = own_payload("inst-1", shared, "me@s.whatsapp.net")
    assert payload.message_type == "location" and payload.location is not None
    assert (payload.location.latitude, payload.location.longitude, payload.location.name) == (-23.5, -46.6, "Loja")
    too_long = _message(text="Loja", kind="location", location=Location(latitude=1.0, longitude=2.0, name="x" * 5000))
    plain = own_payload("inst-1", too_long, "me@s.whatsapp.net")
    assert (plain.message_type, plain.location, plain.body) == (None, None, "Loja")
