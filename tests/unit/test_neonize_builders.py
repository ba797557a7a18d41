"""The neonize message builders, on real protobuf objects, without a client or network."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("neonize")

from zapgate_sidecar.transport import IncomingMessage, OutContact, Outgoing, OutLocation, OutPoll, OutReaction, Quoted
from zapgate_sidecar.transports.neonize.outbound_builders import build_outgoing
from zapgate_sidecar.transports.neonize.transport import NeonizeTransport


def test_location() -> None:
    msg = build_outgoing(None, Outgoing(kind="location", location=OutLocation(-23.5, -46.6, "Loja", "Rua A")))
    loc = msg.locationMessage
    assert (loc.degreesLatitude, loc.degreesLongitude, loc.name, loc.address) == (-23.5, -46.6, "Loja", "Rua A")


def test_contact() -> None:
    msg = build_outgoing(None, Outgoing(kind="contact", contact=OutContact("Ana", "BEGIN:VCARD\nEND:VCARD")))
    assert (msg.contactMessage.displayName, msg.contactMessage.vcard) == ("Ana", "BEGIN:VCARD\nEND:VCARD")


def test_reaction_in_a_group_names_the_participant() -> None:
    reaction = OutReaction("3EB0AA", "👍", chat="123@g.us", from_me=False, sender="5511@s.whatsapp.net")
    msg = build_outgoing(None, Outgoing(kind="reaction", reaction=reaction), "ignored@s.whatsapp.net")
    key = msg.reactionMessage.key
    assert (key.remoteJID, key.fromMe, key.ID, key.participant) == ("123@g.us", False, "3EB0AA", "5511@s.whatsapp.net")
    assert msg.reactionMessage.text == "👍" and msg.reactionMessage.senderTimestampMS > 0


def test_reaction_defaults_to_the_destination_chat() -> None:
    outgoing = Outgoing(kind="reaction", reaction=OutReaction("X1", "", from_me=True))
    msg = build_outgoing(None, outgoing, "55@s.whatsapp.net")
    assert (msg.reactionMessage.key.remoteJID, msg.reactionMessage.key.fromMe, msg.reactionMessage.text) == (
        "55@s.whatsapp.net", True, "")


def test_reply_quotes_with_stanza_id() -> None:
    msg = build_outgoing(None, Outgoing(kind="text", text="re", quoted=Quoted("3EB0BB", "55@s.whatsapp.net", "oi")))
    ctx = msg.extendedTextMessage.contextInfo
    assert msg.extendedTextMessage.text == "re"
    assert (ctx.stanzaID, ctx.participant, ctx.quotedMessage.conversation) == ("3EB0BB", "55@s.whatsapp.net", "oi")


class _UploadOnly:
    """The one network call the media builders make (WhatsApp's media upload), answered locally with
    neonize's own UploadResponse; everything else is the real builder."""

    def __init__(self) -> None:
        self.uploaded: list[bytes] = []

    def upload(self, data: bytes, media_type: object = None) -> object:
        from neonize.proto.Neonize_pb2 import UploadResponse

        self.uploaded.append(data)
        return UploadResponse(url="https://mmg.example/x", DirectPath="/v/x", MediaKey=b"k" * 32,
                              FileEncSHA256=b"e" * 32, FileSHA256=b"s" * 32, FileLength=len(data))


OGG_OPUS = b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x13OpusHead" + b"\x00" * 40


def test_voice_note_is_ptt_with_the_opus_codec() -> None:
    client = _UploadOnly()
    msg = build_outgoing(client, Outgoing(kind="audio", data=OGG_OPUS, mime_type="audio/ogg", voice_note=True))
    audio = msg.audioMessage
    assert audio.PTT is True and audio.mimetype == "audio/ogg; codecs=opus"
    assert audio.fileLength == len(OGG_OPUS) and client.uploaded == [OGG_OPUS]


def test_audio_file_is_not_ptt_and_keeps_its_mime_type() -> None:
    msg = build_outgoing(_UploadOnly(), Outgoing(kind="audio", data=b"ID3" + b"\x00" * 64, mime_type="audio/mpeg"))
    assert msg.audioMessage.PTT is False and msg.audioMessage.mimetype == "audio/mpeg"


# ---------------------------------------------------------------- polls
def test_poll_is_built_as_whatsmeows_build_poll_creation_with_a_fresh_secret() -> None:
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage

    poll = OutPoll("Almoço?", ("Sim", "Não", "Talvez"), 2)
    msg = build_outgoing(None, Outgoing(kind="poll", poll=poll))
    assert isinstance(msg, WAMessage)
    wire = WAMessage.FromString(msg.SerializeToString())  # what goes to whatsmeow
    created = wire.pollCreationMessage
    assert (created.name, [o.optionName for o in created.options]) == ("Almoço?", ["Sim", "Não", "Talvez"])
    assert created.HasField("selectableOptionsCount") and created.selectableOptionsCount == 2
    secret = wire.messageContextInfo.messageSecret
    assert len(secret) == 32 and secret != bytes(32)
    again = build_outgoing(None, Outgoing(kind="poll", poll=poll))
    assert again.messageContextInfo.messageSecret != secret  # one secret per poll: votes are keyed by it


@pytest.mark.parametrize(("count", "sent"), [(1, 1), (0, 0), (None, 0), (3, 0)])
def test_poll_selectable_count_is_whatsmeows_any_number_when_it_cannot_be_honoured(count: int | None,
                                                                                  sent: int) -> None:
    msg = build_outgoing(None, Outgoing(kind="poll", poll=OutPoll("q", ("a", "b"), count)))
    assert msg.pollCreationMessage.HasField("selectableOptionsCount")
    assert msg.pollCreationMessage.selectableOptionsCount == sent


class _PollClient:
    """The two Go calls a sent poll's life makes, answered locally: the send (WhatsApp answers the message's id)
    and a vote's decryption (whatsmeow answers the chosen options' hashes)."""

    def __init__(self, sent_id: str, chosen: tuple[str, ...]) -> None:
        self.sent_id, self.chosen = sent_id, chosen
        self.sent: list[Any] = []

    def send_message(self, to: Any, message: Any) -> Any:
        from neonize.proto.Neonize_pb2 import SendResponse

        self.sent.append(message)
        return SendResponse(ID=self.sent_id)

    def decrypt_poll_vote(self, event: Any) -> Any:
        from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import PollVoteMessage

        return PollVoteMessage(selectedOptions=[hashlib.sha256(name.encode()).digest() for name in self.chosen])


def test_a_vote_on_a_poll_the_session_sent_names_the_chosen_options() -> None:
    """whatsmeow echoes no event for our own sends: the session remembers the poll when it sends it."""
    from tests.unit.test_neonize_mapping import vote_event

    events: list[Any] = []
    session = NeonizeTransport().open_session("inst-poll", Path("/nonexistent"), events.append)
    client = _PollClient("3EB0SENTPOLL", ("Não",))
    session._client, session._running, session._connected = client, True, True  # as after Connected
    try:
        wa_id = session.send("5511988887777@s.whatsapp.net",
                             Outgoing(kind="poll", poll=OutPoll("Almoço?", ("Sim", "Não"), 1)))
        session.send("5511988887777@s.whatsapp.net", Outgoing(kind="text", text="oi"))
        session._on_event(client, vote_event("3EB0SENTPOLL"))  # type: ignore[arg-type]
        session._on_event(client, vote_event("3EB0OTHER", msg_id="3EB0VOTE2"))  # type: ignore[arg-type]
    finally:
        session._client, session._running, session._connected = None, False, False
    assert wa_id == "3EB0SENTPOLL" and client.sent[0].HasField("pollCreationMessage")
    named, unknown = events
    assert isinstance(named, IncomingMessage) and named.poll_vote is not None
    assert (named.kind, named.text, named.poll_vote.poll_message_id) == ("poll_choice", "Não", "3EB0SENTPOLL")
    assert named.poll_vote.options == ("Não",)
    assert isinstance(unknown, IncomingMessage) and unknown.poll_vote is not None
    assert unknown.poll_vote.options == () and len(unknown.poll_vote.option_hashes) == 1  # a poll it never saw
