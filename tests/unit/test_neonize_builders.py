"""The neonize message builders, on real protobuf objects, without a client or network."""

from __future__ import annotations

import pytest

pytest.importorskip("neonize")

from zapgate_sidecar.transport import OutContact, Outgoing, OutLocation, OutReaction, Quoted
from zapgate_sidecar.transports.neonize_transport import build_outgoing


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
