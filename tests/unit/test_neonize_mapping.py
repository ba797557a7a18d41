"""neonize protobuf events → port events, with real neonize messages (goneonize's wire format).

Events are built with neonize's own generated classes, serialised and parsed back the way
neonize's Event.execute receives them from Go, so presence rules (proto2) are the real ones.
"""

from __future__ import annotations

import hashlib
from typing import TypeVar

import pytest
from google.protobuf.message import Message as ProtoMessage
from neonize.proto import Neonize_pb2 as nz
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as wa

from zapgate_core.domain.jids import JidParts, parse_jid
from zapgate_sidecar.transport import (
    Connected,
    ConnectFailed,
    Disconnected,
    IncomingMessage,
    Location,
    LoggedOut,
    Poll,
    PollVote,
    QrShown,
    Quoted,
    Reaction,
    ReceiptReceived,
    Selection,
    SharedContact,
    StreamReplaced,
    Undecryptable,
)
from zapgate_sidecar.transports.neonize import inbound_mapping as m
from zapgate_sidecar.transports.neonize import poll_votes as votes
from zapgate_sidecar.transports.neonize.inbound_content import POLL_FIELDS
from zapgate_sidecar.transports.neonize.jids import jid_to_str

P = TypeVar("P", bound=ProtoMessage)

TS_SECONDS = 1_732_500_000
TS_MILLIS = TS_SECONDS * 1000 + 123  # goneonize sends MessageInfo.Timestamp as UnixMilli


def wire(message: P) -> P:
    """Round-trip through bytes like Go → ctypes → FromString (required fields must all be set)."""
    return type(message).FromString(message.SerializeToString())


def wire_partial(message: P) -> P:
    """For states neonize 0.5.2 cannot produce (an unset required enum), kept as defensive cases."""
    parsed = type(message)()
    parsed.MergeFromString(message.SerializePartialToString())
    return parsed


def jid(user: str, server: str = "s.whatsapp.net", device: int = 0, agent: int = 0) -> nz.JID:
    # goneonize's EncodeJidProto always sets every field, IsEmpty only for the zero JID
    return nz.JID(User=user, Server=server, Device=device, RawAgent=agent, Integrator=0, IsEmpty=False)


EMPTY_JID = nz.JID(User="", Server="", Device=0, RawAgent=0, Integrator=0, IsEmpty=True)


def source(
    chat: nz.JID,
    sender: nz.JID | None = None,
    *,
    sender_alt: nz.JID = EMPTY_JID,
    is_group: bool = False,
    from_me: bool = False,
) -> nz.MessageSource:
    return nz.MessageSource(
        Chat=chat,
        Sender=sender or chat,
        IsFromMe=from_me,
        IsGroup=is_group,
        SenderAlt=sender_alt,
        RecipientAlt=EMPTY_JID,
        BroadcastListOwner=EMPTY_JID,
    )


def info(src: nz.MessageSource, msg_id: str, *, push_name: str = "", timestamp: int = TS_MILLIS,
         edit: str = "") -> nz.MessageInfo:
    return nz.MessageInfo(
        MessageSource=src,
        ID=msg_id,
        ServerID=0,
        Type="text",
        Pushname=push_name,
        Timestamp=timestamp,
        Category="",
        Multicast=False,
        MediaType="",
        Edit=edit,
    )


def message_event(
    content: wa.Message,
    *,
    chat: nz.JID | None = None,
    sender: nz.JID | None = None,
    sender_alt: nz.JID = EMPTY_JID,
    is_group: bool = False,
    from_me: bool = False,
    msg_id: str = "3EB0C767D26A1D4A5A11",
    push_name: str = "Maria",
    timestamp: int = TS_MILLIS,
    edit: str = "",
    is_edit: bool = False,
) -> nz.Message:
    src = source(chat or jid("5511988887777"), sender, sender_alt=sender_alt, is_group=is_group, from_me=from_me)
    return wire(
        nz.Message(
            Info=info(src, msg_id, push_name=push_name, timestamp=timestamp, edit=edit),
            Message=content,
            IsEphemeral=False,
            IsViewOnce=False,
            IsViewOnceV2=False,
            IsViewOnceV2Extension=False,
            IsDocumentWithCaption=False,
            IsLottieSticker=False,
            IsEdit=is_edit,
            UnavailableRequestID="",
            RetryCount=0,
        )
    )


# ---------------------------------------------------------------- JIDs
def test_jid_to_str_drops_device_and_agent_unless_asked() -> None:
    device_jid = wire(jid("5511988887777", device=12))
    agent_jid = wire(jid("5511988887777", device=3, agent=1))
    assert jid_to_str(device_jid) == "5511988887777@s.whatsapp.net"
    assert jid_to_str(device_jid, keep_device=True) == "5511988887777:12@s.whatsapp.net"
    assert jid_to_str(agent_jid, keep_device=True) == "5511988887777.1:3@s.whatsapp.net"
    assert jid_to_str(wire(jid("120363040000000000", "g.us"))) == "120363040000000000@g.us"
    assert jid_to_str(wire(jid("", "s.whatsapp.net"))) == "s.whatsapp.net"
    assert jid_to_str(wire(EMPTY_JID)) == ""
    assert jid_to_str(nz.JID()) == ""


def test_parse_jid_inverts_jid_to_str_and_accepts_phone_numbers() -> None:
    assert parse_jid("5511988887777.1:3@s.whatsapp.net") == JidParts("5511988887777", "s.whatsapp.net", 3, 1)
    assert parse_jid("5511988887777:12@s.whatsapp.net") == JidParts("5511988887777", "s.whatsapp.net", 12)
    assert parse_jid("123456789012345@lid") == JidParts("123456789012345", "lid")
    assert parse_jid("120363040000000000@g.us") == JidParts("120363040000000000", "g.us")
    assert parse_jid("+5511988887777") == JidParts("5511988887777", "s.whatsapp.net")
    for bad in ("", "hello", "5511@", "@s.whatsapp.net", "55:x@s.whatsapp.net"):
        with pytest.raises(ValueError):
            parse_jid(bad)


# ---------------------------------------------------------------- messages
def test_conversation_in_direct_chat() -> None:
    event = message_event(wa.Message(conversation="olá, tudo bem?"))
    assert m.map_message(event) == IncomingMessage(
        wa_message_id="3EB0C767D26A1D4A5A11",
        chat_jid="5511988887777@s.whatsapp.net",
        sender_jid="5511988887777@s.whatsapp.net",
        from_me=False,
        timestamp=TS_SECONDS,
        text="olá, tudo bem?",
        sender_pn=None,
        push_name="Maria",
        media=None,
        is_protocol=False,
        is_history=False,
    )


def test_sender_device_suffix_is_dropped_and_seconds_timestamps_pass_through() -> None:
    chat = jid("5511988887777")
    event = message_event(wa.Message(conversation="x"), chat=chat, sender=jid("5511988887777", device=7),
                          timestamp=TS_SECONDS, push_name="")
    mapped = m.map_message(event)
    assert mapped.sender_jid == "5511988887777@s.whatsapp.net"
    assert mapped.timestamp == TS_SECONDS
    assert mapped.push_name is None


def test_extended_text_in_group_uses_participant_as_sender() -> None:
    group = jid("120363040000000000", "g.us")
    participant = jid("5521977776666", device=2)
    content = wa.Message(extendedTextMessage=wa.ExtendedTextMessage(text="veja https://example.com"))
    mapped = m.map_message(message_event(content, chat=group, sender=participant, is_group=True))
    assert mapped.chat_jid == "120363040000000000@g.us"
    assert mapped.sender_jid == "5521977776666@s.whatsapp.net"
    assert mapped.text == "veja https://example.com"
    assert mapped.sender_pn is None


def test_lid_sender_gets_phone_from_sender_alt() -> None:
    group = jid("120363040000000000", "g.us")
    lid_sender = jid("98765432109876", "lid", device=1)
    phone_alt = jid("5531955554444")
    mapped = m.map_message(
        message_event(wa.Message(conversation="oi"), chat=group, sender=lid_sender, sender_alt=phone_alt,
                      is_group=True)
    )
    assert mapped.sender_jid == "98765432109876@lid"
    assert mapped.sender_pn == "5531955554444@s.whatsapp.net"


def test_lid_direct_chat_without_alt_has_no_sender_pn_and_pn_sender_ignores_lid_alt() -> None:
    lid_chat = jid("98765432109876", "lid")
    mapped = m.map_message(message_event(wa.Message(conversation="oi"), chat=lid_chat))
    assert (mapped.chat_jid, mapped.sender_jid, mapped.sender_pn) == ("98765432109876@lid", "98765432109876@lid", None)

    pn_sender = m.map_message(
        message_event(wa.Message(conversation="oi"), sender_alt=jid("98765432109876", "lid"))
    )
    assert pn_sender.sender_pn is None  # sender_pn only sits beside a @lid sender


def test_from_me_in_direct_chat_has_own_account_as_sender() -> None:
    me = jid("5511900001111", device=5)
    mapped = m.map_message(message_event(wa.Message(conversation="enviado do celular"), sender=me, from_me=True))
    assert mapped.from_me is True
    assert mapped.chat_jid == "5511988887777@s.whatsapp.net"
    assert mapped.sender_jid == "5511900001111@s.whatsapp.net"


def test_image_with_caption() -> None:
    image = wa.ImageMessage(
        URL="https://mmg.whatsapp.net/o1/v/t62.7118-24/abc",
        mimetype="image/jpeg",
        caption="a foto",
        fileLength=48213,
        mediaKey=b"k" * 32,
        fileSHA256=b"s" * 32,
        fileEncSHA256=b"e" * 32,
        directPath="/o1/v/t62.7118-24/abc",
    )
    mapped = m.map_message(message_event(wa.Message(imageMessage=image)))
    assert mapped.text == "a foto"
    assert mapped.is_protocol is False
    assert mapped.media is not None
    assert (mapped.media.kind, mapped.media.mime_type, mapped.media.file_name, mapped.media.file_size) == (
        "image", "image/jpeg", None, 48213,
    )
    handle = mapped.media.handle
    assert isinstance(handle, wa.Message)
    assert handle.imageMessage.directPath == "/o1/v/t62.7118-24/abc"  # what download_any needs
    assert handle.imageMessage.mediaKey == b"k" * 32


def test_document_with_file_name_and_caption() -> None:
    document = wa.DocumentMessage(
        mimetype="application/pdf", fileName="boleto.pdf", title="boleto", caption="segue", fileLength=1024
    )
    mapped = m.map_message(message_event(wa.Message(documentMessage=document)))
    assert mapped.text == "segue"
    assert mapped.media is not None
    assert (mapped.media.kind, mapped.media.mime_type, mapped.media.file_name, mapped.media.file_size) == (
        "document", "application/pdf", "boleto.pdf", 1024,
    )


def test_document_inside_document_with_caption_wrapper() -> None:
    inner = wa.Message(documentMessage=wa.DocumentMessage(mimetype="text/csv", title="dados.csv", caption="csv"))
    wrapped = wa.Message(documentWithCaptionMessage=wa.FutureProofMessage(message=inner))
    mapped = m.map_message(message_event(wrapped))
    assert mapped.media is not None
    assert (mapped.media.kind, mapped.media.file_name, mapped.media.file_size) == ("document", "dados.csv", None)
    assert mapped.text == "csv"
    assert mapped.media.handle == inner


def test_audio_voice_note_without_caption() -> None:
    audio = wa.AudioMessage(mimetype="audio/ogg; codecs=opus", PTT=True, seconds=7, fileLength=10_000)
    mapped = m.map_message(message_event(wa.Message(audioMessage=audio)))
    assert mapped.text == ""
    assert mapped.media is not None
    assert (mapped.media.kind, mapped.media.mime_type, mapped.media.file_size) == (
        "audio", "audio/ogg; codecs=opus", 10_000,
    )


def test_video_in_ephemeral_and_view_once_wrappers() -> None:
    video = wa.Message(videoMessage=wa.VideoMessage(mimetype="video/mp4", caption="vídeo", fileLength=2_000_000))
    view_once = wa.Message(viewOnceMessageV2=wa.FutureProofMessage(message=video))
    ephemeral = wa.Message(ephemeralMessage=wa.FutureProofMessage(message=view_once))
    mapped = m.map_message(message_event(ephemeral))
    assert mapped.media is not None
    assert (mapped.media.kind, mapped.media.mime_type, mapped.media.file_size) == ("video", "video/mp4", 2_000_000)
    assert mapped.text == "vídeo"


def test_sticker_is_an_image() -> None:
    mapped = m.map_message(message_event(wa.Message(stickerMessage=wa.StickerMessage(fileLength=9000))))
    assert mapped.media is not None
    assert (mapped.media.kind, mapped.media.mime_type) == ("image", "image/webp")
    assert mapped.is_protocol is False


@pytest.mark.parametrize(
    "content",
    [
        wa.Message(protocolMessage=wa.ProtocolMessage(type=wa.ProtocolMessage.REVOKE)),
        # a vote is encrypted with the poll's secret: reported only once the session decrypted it (map_poll_vote)
        wa.Message(pollUpdateMessage=wa.PollUpdateMessage(pollCreationMessageKey=MessageKey(ID="3EB0POLL"))),
        # a reaction naming no message cannot be reported
        wa.Message(reactionMessage=wa.ReactionMessage(key=MessageKey(fromMe=True), text="👍")),
        wa.Message(senderKeyDistributionMessage=wa.SenderKeyDistributionMessage(groupID="120363@g.us")),
        wa.Message(
            senderKeyDistributionMessage=wa.SenderKeyDistributionMessage(groupID="120363@g.us"),
            messageContextInfo=wa.MessageContextInfo(messageSecret=b"x" * 32),
        ),
        wa.Message(),
    ],
    ids=["revoke", "poll-vote", "reaction-without-key", "key-distribution-only", "key-distribution-and-context",
         "empty"],
)
def test_protocol_payloads(content: wa.Message) -> None:
    mapped = m.map_message(message_event(content))
    assert mapped.is_protocol is True
    assert mapped.media is None


def test_key_distribution_beside_text_is_content() -> None:
    content = wa.Message(
        conversation="primeira mensagem no grupo",
        senderKeyDistributionMessage=wa.SenderKeyDistributionMessage(groupID="120363040000000000@g.us"),
    )
    mapped = m.map_message(message_event(content, chat=jid("120363040000000000", "g.us"), is_group=True,
                                         sender=jid("5521977776666")))
    assert (mapped.is_protocol, mapped.text) == (False, "primeira mensagem no grupo")


def test_edit_attribute_marks_protocol() -> None:
    edited = wa.Message(
        protocolMessage=wa.ProtocolMessage(
            type=wa.ProtocolMessage.MESSAGE_EDIT, editedMessage=wa.Message(conversation="corrigido")
        )
    )
    assert m.map_message(message_event(edited, edit="1")).is_protocol is True
    # the attribute alone decides, whatever the payload looks like; so does neonize's IsEdit flag
    assert m.map_message(message_event(wa.Message(conversation="x"), edit="7")).is_protocol is True
    assert m.map_message(message_event(wa.Message(conversation="x"), is_edit=True)).is_protocol is True


def test_status_broadcast_is_not_delivered() -> None:
    status = jid("status", "broadcast")
    mapped = m.map_message(message_event(wa.Message(conversation="meu status"), chat=status,
                                         sender=jid("5511988887777")))
    assert mapped.chat_jid == "status@broadcast"
    assert mapped.is_protocol is True


def test_location_contact_and_poll_get_a_text_rendering() -> None:
    location = wa.Message(
        locationMessage=wa.LocationMessage(degreesLatitude=-23.55052, degreesLongitude=-46.633308, name="Sé")
    )
    assert m.map_message(message_event(location)).text == "Sé\ngeo:-23.550520,-46.633308"

    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:João\nTEL;type=CELL;waid=5511988887777:+55 11 98888-7777\nEND:VCARD"
    contact = wa.Message(contactMessage=wa.ContactMessage(displayName="João", vcard=vcard))
    assert m.map_message(message_event(contact)).text == vcard

    poll = wa.Message(
        pollCreationMessageV3=wa.PollCreationMessage(
            name="Almoço?",
            options=[wa.PollCreationMessage.Option(optionName="Sim"), wa.PollCreationMessage.Option(optionName="Não")],
        )
    )
    mapped = m.map_message(message_event(poll))
    assert (mapped.text, mapped.is_protocol) == ("Almoço?\n- Sim\n- Não", False)

    reply = wa.Message(buttonsResponseMessage=wa.ButtonsResponseMessage(selectedDisplayText="Confirmar"))
    assert m.map_message(message_event(reply)).text == "Confirmar"


# ---------------------------------------------------------------- typed kinds and quotes
GROUP = jid("120363040000000000", "g.us")


def test_plain_text_is_kind_text_without_quote_or_typed_object() -> None:
    mapped = m.map_message(message_event(wa.Message(conversation="oi")))
    assert (mapped.kind, mapped.quoted, mapped.typed_content) == ("text", None, None)
    image = m.map_message(message_event(wa.Message(imageMessage=wa.ImageMessage(mimetype="image/png"))))
    assert (image.kind, image.quoted, image.typed_content) == ("image", None, None)


def test_a_reply_carries_the_quoted_id_sender_and_text() -> None:
    quoted = wa.Message(conversation="qual o preço?")
    context = wa.ContextInfo(stanzaID="3EB0QUOTED", participant="5521977776666@s.whatsapp.net", quotedMessage=quoted)
    content = wa.Message(extendedTextMessage=wa.ExtendedTextMessage(text="R$ 10", contextInfo=context))
    mapped = m.map_message(message_event(content, chat=GROUP, sender=jid("5531955554444"), is_group=True))
    assert (mapped.kind, mapped.text) == ("text", "R$ 10")
    assert mapped.quoted == Quoted(wa_message_id="3EB0QUOTED", sender="5521977776666@s.whatsapp.net",
                                   body="qual o preço?")


def test_a_media_reply_quotes_a_caption_cut_to_the_contract_limit() -> None:
    long_caption = "x" * 5_000
    quoted = wa.Message(imageMessage=wa.ImageMessage(mimetype="image/jpeg", caption=long_caption))
    video = wa.VideoMessage(mimetype="video/mp4", caption="resposta",
                            contextInfo=wa.ContextInfo(stanzaID="3EB0IMG", quotedMessage=quoted))
    mapped = m.map_message(message_event(wa.Message(videoMessage=video)))
    assert (mapped.kind, mapped.text) == ("video", "resposta")
    assert mapped.quoted is not None and mapped.quoted.wa_message_id == "3EB0IMG"
    assert mapped.quoted.body == "x" * 1_000 and mapped.quoted.sender is None


def test_context_without_a_stanza_id_is_no_quote() -> None:
    forwarded = wa.ExtendedTextMessage(text="fwd", contextInfo=wa.ContextInfo(isForwarded=True, forwardingScore=2))
    assert m.map_message(message_event(wa.Message(extendedTextMessage=forwarded))).quoted is None


def test_location_and_live_location() -> None:
    location = wa.Message(locationMessage=wa.LocationMessage(
        degreesLatitude=-23.55052, degreesLongitude=-46.633308, name="Sé", address="Praça da Sé, São Paulo"))
    mapped = m.map_message(message_event(location))
    assert mapped.kind == "location" and mapped.is_protocol is False
    assert mapped.location == Location(-23.55052, -46.633308, "Sé", "Praça da Sé, São Paulo")
    assert mapped.text == "Sé\nPraça da Sé, São Paulo\ngeo:-23.550520,-46.633308"  # the rendering stays

    live = wa.Message(liveLocationMessage=wa.LiveLocationMessage(degreesLatitude=1.5, degreesLongitude=2.25,
                                                                  caption="indo"))
    mapped = m.map_message(message_event(live))
    assert (mapped.kind, mapped.location) == ("location", Location(1.5, 2.25, None, None))

    nonsense = wa.Message(locationMessage=wa.LocationMessage(degreesLatitude=123.0, degreesLongitude=0.0))
    mapped = m.map_message(message_event(nonsense))
    assert (mapped.kind, mapped.location, mapped.text) == ("text", None, "geo:123.000000,0.000000")


def test_contact_card_and_several_cards() -> None:
    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:João\nTEL;type=CELL;waid=5511988887777:+55 11 98888-7777\nEND:VCARD"
    mapped = m.map_message(message_event(wa.Message(contactMessage=wa.ContactMessage(displayName="João",
                                                                                      vcard=vcard))))
    assert (mapped.kind, mapped.contact, mapped.text) == ("contact", SharedContact("João", vcard, 1), vcard)

    cards = wa.ContactsArrayMessage(displayName="2 contatos", contacts=[
        wa.ContactMessage(displayName="João", vcard=vcard), wa.ContactMessage(displayName="Ana", vcard="BEGIN:VCARD")])
    mapped = m.map_message(message_event(wa.Message(contactsArrayMessage=cards)))
    assert (mapped.kind, mapped.contact) == ("contact", SharedContact("João", vcard, 2))


def test_a_contact_card_with_a_big_photo_loses_the_photo() -> None:
    photo = "PHOTO;ENCODING=b;TYPE=JPEG:" + "A" * 70 + "".join("\n " + "A" * 74 for _ in range(400))
    vcard = f"BEGIN:VCARD\nVERSION:3.0\nFN:Ana\n{photo}\nTEL;waid=5511977776666:+5511977776666\nEND:VCARD"
    assert len(vcard) > 10_000
    mapped = m.map_message(message_event(wa.Message(contactMessage=wa.ContactMessage(displayName="Ana",
                                                                                      vcard=vcard))))
    assert mapped.contact is not None
    assert mapped.contact.vcard == "BEGIN:VCARD\nVERSION:3.0\nFN:Ana\nTEL;waid=5511977776666:+5511977776666\nEND:VCARD"


def test_reaction_to_our_message_in_a_direct_chat() -> None:
    # The key is the reactor's: fromMe=False = not the reactor's message, remoteJID = their view (us).
    key = MessageKey(remoteJID="5511999990000@s.whatsapp.net", fromMe=False, ID="3EB0OURS")
    content = wa.Message(reactionMessage=wa.ReactionMessage(key=key, text="👍", senderTimestampMS=1))
    mapped = m.map_message(message_event(content))
    assert (mapped.kind, mapped.text, mapped.is_protocol) == ("reaction", "👍", False)
    assert mapped.reaction == Reaction(wa_message_id="3EB0OURS", emoji="👍", chat="5511988887777@s.whatsapp.net",
                                       from_me=True, sender=None)


def test_reaction_removed_and_reactions_to_the_reactors_own_or_a_group_message() -> None:
    own = MessageKey(remoteJID="5511999990000@s.whatsapp.net", fromMe=True, ID="3EB0THEIRS")
    removed = m.map_message(message_event(wa.Message(reactionMessage=wa.ReactionMessage(key=own, text=""))))
    assert (removed.kind, removed.text) == ("reaction", "")
    assert removed.reaction == Reaction("3EB0THEIRS", "", "5511988887777@s.whatsapp.net", False,
                                        "5511988887777@s.whatsapp.net")

    other = MessageKey(remoteJID="120363040000000000@g.us", fromMe=False, ID="3EB0G",
                       participant="5521977776666@s.whatsapp.net")
    mapped = m.map_message(message_event(wa.Message(reactionMessage=wa.ReactionMessage(key=other, text="❤️")),
                                         chat=GROUP, sender=jid("5531955554444"), is_group=True))
    assert mapped.reaction == Reaction("3EB0G", "❤️", "120363040000000000@g.us", None,
                                       "5521977776666@s.whatsapp.net")


@pytest.mark.parametrize("field", [*POLL_FIELDS, "pollCreationMessageV4"])
def test_poll_creation_every_version(field: str) -> None:
    poll = wa.PollCreationMessage(
        name="Almoço?", selectableOptionsCount=1,
        options=[wa.PollCreationMessage.Option(optionName="Sim"), wa.PollCreationMessage.Option(optionName="Não")],
    )
    if field == "pollCreationMessageV4":  # the one version that wraps a message instead of being the poll
        content = wa.Message(pollCreationMessageV4=wa.FutureProofMessage(message=wa.Message(pollCreationMessage=poll)))
    else:
        content = wa.Message(**{field: poll})
    mapped = m.map_message(message_event(content))
    assert (mapped.kind, mapped.is_protocol, mapped.text) == ("poll", False, "Almoço?\n- Sim\n- Não")
    assert mapped.poll == Poll(name="Almoço?", options=("Sim", "Não"), selectable_count=1)


def test_a_poll_is_bounded_to_the_contract() -> None:
    poll = wa.PollCreationMessage(name="q" * 2_000, options=[
        wa.PollCreationMessage.Option(optionName=f"{i}" * 1_500) for i in range(40)])
    mapped = m.map_message(message_event(wa.Message(pollCreationMessage=poll)))
    assert mapped.poll is not None and mapped.poll.selectable_count is None
    assert len(mapped.poll.name) == 1_000 and len(mapped.poll.options) == 32
    assert all(len(option) == 1_000 for option in mapped.poll.options)


# ---------------------------------------------------------------- poll votes
OUR_CHAT_KEY = "5511999990000@s.whatsapp.net"  # the voter's view of a direct chat with us


def option_hash(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()  # whatsmeow's HashPollOptions


def vote_event(poll_id: str = "3EB0POLL", *, msg_id: str = "3EB0VOTE1", **kwargs: object) -> nz.Message:
    key = MessageKey(remoteJID=OUR_CHAT_KEY, fromMe=False, ID=poll_id)
    vote = wa.PollUpdateMessage(pollCreationMessageKey=key, vote=wa.PollEncValue(encPayload=b"e" * 40, encIV=b"i" * 12),
                                senderTimestampMS=TS_MILLIS)
    return message_event(wa.Message(pollUpdateMessage=vote), msg_id=msg_id, **kwargs)  # type: ignore[arg-type]


def decrypted(*names: str) -> list[bytes]:
    """What client.decrypt_poll_vote gives: a PollVoteMessage, through its wire form."""
    return list(wire(wa.PollVoteMessage(selectedOptions=[option_hash(n) for n in names])).selectedOptions)


def poll_event(*options: str, from_me: bool = False, msg_id: str = "3EB0POLL") -> nz.Message:
    poll = wa.PollCreationMessage(name="Almoço?", selectableOptionsCount=1,
                                  options=[wa.PollCreationMessage.Option(optionName=o) for o in options])
    return message_event(wa.Message(pollCreationMessageV3=poll), msg_id=msg_id, from_me=from_me)


def test_a_vote_on_a_poll_the_session_saw_names_the_chosen_option() -> None:
    cache = votes.PollOptionsCache()
    created = votes.poll_option_names(poll_event("Sim", "Não", from_me=True))  # our own poll, made on the phone
    assert created == ("3EB0POLL", {option_hash("Sim").hex(): "Sim", option_hash("Não").hex(): "Não"})
    cache.remember(*created)

    event = vote_event()
    assert votes.vote_to_decrypt(event) == "3EB0POLL"
    mapped = votes.map_poll_vote(event, decrypted("Não"), cache.options("3EB0POLL"))
    assert (mapped.kind, mapped.text, mapped.is_protocol, mapped.from_me) == ("poll_choice", "Não", False, False)
    assert (mapped.wa_message_id, mapped.chat_jid, mapped.sender_jid) == (
        "3EB0VOTE1", "5511988887777@s.whatsapp.net", "5511988887777@s.whatsapp.net")
    assert mapped.poll_vote == PollVote(poll_message_id="3EB0POLL", option_hashes=(option_hash("Não").hex(),),
                                        options=("Não",))
    assert mapped.typed_content is mapped.poll_vote
    several = votes.map_poll_vote(event, decrypted("Sim", "Não"), cache.options("3EB0POLL"))
    assert (several.text, several.poll_vote and several.poll_vote.options) == ("Sim, Não", ("Sim", "Não"))


def test_a_vote_on_an_unknown_poll_carries_the_hashes_only() -> None:
    mapped = votes.map_poll_vote(vote_event(), decrypted("Sim"), None)
    assert (mapped.kind, mapped.text, mapped.is_protocol) == ("poll_choice", "", False)
    assert mapped.poll_vote == PollVote("3EB0POLL", (hashlib.sha256(b"Sim").hexdigest(),), ())
    # a poll the session saw, but not that option (another poll's hash): the hash stays, unnamed
    partly = votes.map_poll_vote(vote_event(), decrypted("Sim", "Talvez"), {option_hash("Sim").hex(): "Sim"})
    assert partly.poll_vote is not None
    assert (partly.text, partly.poll_vote.options, len(partly.poll_vote.option_hashes)) == ("Sim", ("Sim",), 2)


def test_a_removed_vote_is_an_empty_choice_and_still_content() -> None:
    from zapgate_sidecar.inbound import is_deliverable, typed_fields

    mapped = votes.map_poll_vote(vote_event(), decrypted(), {option_hash("Sim").hex(): "Sim"})
    assert (mapped.kind, mapped.text, mapped.poll_vote) == ("poll_choice", "", PollVote("3EB0POLL", (), ()))
    assert is_deliverable(mapped)
    assert typed_fields(mapped) == {"message_type": "poll_choice",
                                    "poll_vote": {"poll_message_id": "3EB0POLL", "option_hashes": (), "options": ()}}


def test_a_vote_is_bounded_to_the_contract() -> None:
    long_name = "x" * 1_500  # hashed whole, named cut: it must still resolve
    cache = votes.PollOptionsCache()
    cache.remember(*votes.poll_option_names(poll_event(long_name, "Sim")))  # type: ignore[misc]
    selected = [*decrypted(long_name, "Sim", "Sim"), b"short", *decrypted(*(f"o{i}" for i in range(40)))]
    mapped = votes.map_poll_vote(vote_event(), selected, cache.options("3EB0POLL"))
    assert mapped.poll_vote is not None
    hashes = mapped.poll_vote.option_hashes
    assert len(hashes) == 32 and len(set(hashes)) == 32  # repeats and a malformed hash dropped, then cut
    assert all(len(h) == 64 and h == h.lower() for h in hashes)
    assert mapped.poll_vote.options == ("x" * 1_000, "Sim")


@pytest.mark.parametrize(
    "event",
    [
        vote_event(from_me=True),  # our own vote, from the phone: never delivered
        vote_event(chat=jid("status", "broadcast"), sender=jid("5511988887777")),
        vote_event(""),  # names no poll
        vote_event("p" * 201),
        vote_event(edit="1"),
        message_event(wa.Message(conversation="Sim")),
        poll_event("Sim"),
    ],
    ids=["own-vote", "status", "no-poll-id", "poll-id-too-long", "edit", "text", "poll-creation"],
)
def test_events_that_are_no_vote_to_decrypt_stay_as_map_message_has_them(event: nz.Message) -> None:
    assert votes.vote_to_decrypt(event) is None
    assert votes.map_poll_vote(event, decrypted("Sim"), None) == m.map_message(event)
    if event.Message.HasField("pollUpdateMessage"):
        assert m.map_message(event).is_protocol is True  # without decryption a vote is never reported


def test_poll_option_names_for_every_poll_version_and_nothing_else() -> None:
    wrapped = wa.Message(pollCreationMessageV4=wa.FutureProofMessage(message=wa.Message(
        pollCreationMessage=wa.PollCreationMessage(name="q", options=[wa.PollCreationMessage.Option(optionName="A")]))))
    assert votes.poll_option_names(message_event(wrapped, msg_id="P4")) == ("P4", {option_hash("A").hex(): "A"})
    many = votes.poll_option_names(poll_event(*(f"o{i}" for i in range(40))))
    assert many is not None and len(many[1]) == 32
    assert votes.poll_option_names(message_event(wa.Message(conversation="oi"))) is None
    assert votes.poll_option_names(vote_event()) is None
    assert votes.poll_option_names(poll_event("A", msg_id="")) is None


def test_the_poll_cache_is_bounded_in_polls_and_characters_least_recently_used_first() -> None:
    cache = votes.PollOptionsCache(max_polls=3, max_chars=1_000)
    for i in range(3):
        cache.remember(f"P{i}", {f"h{i}": f"name{i}"})
    assert cache.options("P0") == {"h0": "name0"}  # voted on: P1 is now the least recently used
    cache.remember("P3", {"h3": "name3"})
    assert len(cache) == 3 and cache.options("P1") is None
    assert [cache.options(p) is not None for p in ("P0", "P2", "P3")] == [True, True, True]
    cache.remember("BIG", {"h": "n" * 996})  # 999 characters with its id: the older polls leave to make room
    assert len(cache) == 1 and cache.options("BIG") is not None
    cache.remember("BIG", {"h": "m"})  # seen again: replaced, not counted twice
    cache.remember("P9", {"h9": "n" * 900})
    assert cache.options("BIG") == {"h": "m"} and len(cache) == 2
    default = votes.PollOptionsCache()
    for i in range(1_500):
        default.remember(f"P{i}", {"h": "Sim"})
    assert len(default) == votes.POLL_CACHE_POLLS == 1_000
    assert default.options("P499") is None and default.options("P500") is not None


@pytest.mark.parametrize(
    ("content", "kind", "selection", "text"),
    [
        (wa.Message(buttonsResponseMessage=wa.ButtonsResponseMessage(selectedButtonID="btn-yes",
                                                                     selectedDisplayText="Confirmar")),
         "buttons_response", Selection("btn-yes", "Confirmar"), "Confirmar"),
        (wa.Message(templateButtonReplyMessage=wa.TemplateButtonReplyMessage(selectedID="tpl-1",
                                                                             selectedDisplayText="Sim")),
         "buttons_response", Selection("tpl-1", "Sim"), "Sim"),
        (wa.Message(listResponseMessage=wa.ListResponseMessage(
            title="Plano anual", singleSelectReply=wa.ListResponseMessage.SingleSelectReply(selectedRowID="row-12"))),
         "list_response", Selection("row-12", "Plano anual"), "Plano anual"),
        (wa.Message(interactiveResponseMessage=wa.InteractiveResponseMessage(
            body=wa.InteractiveResponseMessage.Body(text="Falar com atendente"),
            nativeFlowResponseMessage=wa.InteractiveResponseMessage.NativeFlowResponseMessage(
                name="quick_reply", paramsJSON='{"display_text": "Falar com atendente", "id": "human"}'))),
         "buttons_response", Selection("human", "Falar com atendente"), "Falar com atendente"),
        (wa.Message(interactiveResponseMessage=wa.InteractiveResponseMessage(
            body=wa.InteractiveResponseMessage.Body(text="Opção B"),
            nativeFlowResponseMessage=wa.InteractiveResponseMessage.NativeFlowResponseMessage(
                name="single_select", paramsJSON="not json"))),
         "list_response", Selection(None, "Opção B"), "Opção B"),
    ],
    ids=["buttons", "template-button", "list", "native-flow-button", "native-flow-list-bad-params"],
)
def test_button_and_list_replies(content: wa.Message, kind: str, selection: Selection, text: str) -> None:
    mapped = m.map_message(message_event(content))
    assert (mapped.kind, mapped.selection, mapped.text, mapped.is_protocol) == (kind, selection, text, False)


def test_unsupported_content_is_kept_with_empty_text() -> None:
    invite = wa.Message(groupInviteMessage=wa.GroupInviteMessage(groupName="Amigos", inviteCode="AbC"))
    mapped = m.map_message(message_event(invite))
    assert (mapped.text, mapped.media, mapped.is_protocol) == ("", None, False)


# ---------------------------------------------------------------- receipts
def receipt(ids: list[str], receipt_type: int | None) -> nz.Receipt:
    src = source(jid("5511988887777"), jid("5511988887777", device=3))
    event = nz.Receipt(MessageSource=src, MessageIDs=ids, Timestamp=TS_SECONDS)
    if receipt_type is None:
        return wire_partial(event)
    event.Type = receipt_type  # type: ignore[assignment]
    return wire(event)


@pytest.mark.parametrize(
    ("receipt_type", "kind"),
    [
        (nz.Receipt.DELIVERED, "delivered"),
        (nz.Receipt.READ, "read"),
        (nz.Receipt.PLAYED, "played"),
        (nz.Receipt.READ_SELF, "read-self"),
        (nz.Receipt.RETRY, "retry"),
        (nz.Receipt.SERVER_ERROR, "played-self"),  # goneonize encodes PlayedSelf as SERVER_ERROR
        # whatsmeow's server-error is the one type goneonize leaves unset; 0.5.2 cannot even
        # marshal that (Type is required), so this is the defensive reading only
        (None, "server-error"),
    ],
)
def test_receipt_kinds(receipt_type: int | None, kind: str) -> None:
    event = receipt(["3EB0A", "3EB0B"], receipt_type)
    if receipt_type is None:
        assert event.Type == nz.Receipt.DELIVERED  # what a naive reader would believe
    assert m.map_receipt(event) == ReceiptReceived(
        wa_message_ids=("3EB0A", "3EB0B"), chat_jid="5511988887777@s.whatsapp.net", kind=kind
    )


def test_receipt_without_ids_maps_to_nothing() -> None:
    assert m.map_receipt(receipt([], nz.Receipt.READ)) is None


# ---------------------------------------------------------------- connection events
def test_logged_out() -> None:
    assert m.map_logged_out(wire(nz.LoggedOut(OnConnect=True, Reason=nz.LOGGED_OUT))) == LoggedOut(
        reason="logged_out (401) on connect"
    )
    assert m.map_logged_out(wire(nz.LoggedOut(OnConnect=False, Reason=nz.MAIN_DEVICE_GONE))) == LoggedOut(
        reason="main_device_gone (403)"
    )
    # a reason goneonize cannot encode (0.5.2 fails to marshal it; defensive reading only)
    assert m.map_logged_out(wire_partial(nz.LoggedOut(OnConnect=False))) == LoggedOut(reason="unknown reason")


def test_stream_replaced_connected_disconnected() -> None:
    assert m.map_stream_replaced(wire(nz.StreamReplaced())) == StreamReplaced()
    me = wire(nz.Device(JID=jid("5511900001111", device=23), PushName="Loja", Platform="chrome", BussinessName="",
                        Initialized=True))
    assert m.map_connected(me) == Connected(jid="5511900001111@s.whatsapp.net", push_name="Loja")
    assert m.map_connected(None) == Connected(jid="")
    assert m.map_disconnected(wire(nz.Disconnected(status=True))) == Disconnected(reason="socket closed")
    stream_error = wire(nz.StreamError(Code="516", Raw=nz.Node(Tag="stream:error")))
    assert m.map_stream_error(stream_error) == Disconnected(reason="stream error 516")


def test_permanent_failures() -> None:
    ban = wire(nz.TemporaryBan(Code=nz.TemporaryBan.SEND_TO_TOO_MANY_PEOPLE, Expire=86_400))
    assert m.map_temporary_ban(ban) == ConnectFailed(
        reason="temporary ban: send_to_too_many_people, expires in 86400s", permanent=True
    )
    outdated = m.map_client_outdated(wire(nz.ClientOutdated()))
    assert isinstance(outdated, ConnectFailed) and outdated.permanent


@pytest.mark.parametrize(
    ("reason", "message", "expected"),
    [
        (nz.SERVICE_UNAVAILABLE, "", ConnectFailed(reason="connect failure service_unavailable (503)")),
        (nz.GENERIC, "bad request", ConnectFailed(reason="connect failure generic (400): bad request")),
        (nz.BAD_USER_AGENT, "", ConnectFailed(reason="connect failure bad_user_agent (409)", permanent=True)),
        (nz.TEMP_BANNED, "", ConnectFailed(reason="connect failure temp_banned (402)", permanent=True)),
        (nz.UNKNOWN_LOGOUT, "", LoggedOut(reason="unknown_logout (406)")),
        (None, "", ConnectFailed(reason="connect failure unknown reason")),  # codes goneonize cannot encode
    ],
)
def test_connect_failure(reason: int | None, message: str, expected: object) -> None:
    event = nz.ConnectFailure(Message=message, Raw=nz.Node(Tag="failure"))
    if reason is None:
        assert m.map_connect_failure(wire_partial(event)) == expected
        return
    event.Reason = reason  # type: ignore[assignment]
    assert m.map_connect_failure(wire(event)) == expected


def test_undecryptable() -> None:
    src = source(jid("120363040000000000", "g.us"), jid("5521977776666", device=4), is_group=True)
    event = wire(nz.UndecryptableMessage(Info=info(src, "3EB0DEAD"), IsUnavailable=False,
                                         DecryptFailMode=nz.UndecryptableMessage.DECRYPT_FAIL_SHOW))
    assert m.map_undecryptable(event) == Undecryptable(wa_message_id="3EB0DEAD", chat_jid="120363040000000000@g.us")


def test_pairing_qr_and_login_status() -> None:
    success = wire(nz.PairStatus(ID=jid("5511900001111", device=23), BusinessName="", Platform="android",
                                 Status=nz.PairStatus.SUCCESS))
    assert m.map_pair_status(success) is None
    error = wire(nz.PairStatus(ID=EMPTY_JID, BusinessName="", Platform="", Status=nz.PairStatus.ERROR,
                               Error="invalid device identity"))
    assert m.map_pair_status(error) == ConnectFailed(reason="pairing failed: invalid device identity")

    code = b"2@abcDEF==,pubkey==,identity==,adv=="
    assert m.map_qr(code) == QrShown(code=code.decode())
    assert m.map_qr("2@x") == QrShown(code="2@x")

    assert m.map_login_status("success") is None
    assert m.map_login_status(b"timeout") == ConnectFailed(reason="pairing timed out: no QR was scanned")
    outdated = m.map_login_status("err-client-outdated")
    assert outdated is not None and outdated.permanent
    assert m.map_login_status("something-new") == ConnectFailed(reason="pairing failed: something-new")


def test_map_event_dispatches_on_protobuf_type() -> None:
    assert m.map_event(wire(nz.StreamReplaced())) == StreamReplaced()
    assert isinstance(m.map_event(message_event(wa.Message(conversation="x"))), IncomingMessage)
    assert m.map_event(wire(nz.KeepAliveTimeout(ErrorCount=1, LastSuccess=TS_SECONDS))) is None  # no port event
    assert m.map_event(wire(nz.Connected(status=True))) is None  # needs get_me: map_connected
    assert {"Message", "Receipt", "LoggedOut", "UndecryptableMessage"} <= m.MAPPED_EVENT_TYPES


# ---------------------------------------------------------------- Go error texts → events (transport helpers)
# Verbatim NeonizeError texts observed from neonize 0.5.2 on this machine (no route to WhatsApp).
DNS_FAILURE = (
    'failed to dial whatsapp web websocket: failed to WebSocket dial: failed to send handshake request: '
    'Get "https://web.whatsapp.com/ws/chat": dial tcp: lookup web.whatsapp.com on 10.255.255.53:53: no such host'
)
REFUSED_PROXY = (
    'failed to dial whatsapp web websocket: failed to WebSocket dial: failed to send handshake request: '
    'Get "https://web.whatsapp.com/ws/chat": socks connect tcp 127.0.0.1:41749->web.whatsapp.com:443: '
    "dial tcp 127.0.0.1:41749: connect: connection refused"
)


def test_connect_errors_become_clear_retryable_failures() -> None:
    from zapgate_sidecar.transports.neonize.errors import connect_error_event

    assert connect_error_event(DNS_FAILURE) == ConnectFailed(
        reason="whatsapp unreachable: dial tcp: lookup web.whatsapp.com on 10.255.255.53:53: no such host",
        permanent=False,
    )
    refused = connect_error_event(REFUSED_PROXY)
    assert isinstance(refused, ConnectFailed) and not refused.permanent
    assert refused.reason == (
        "whatsapp unreachable: socks connect tcp 127.0.0.1:41749->web.whatsapp.com:443: "
        "dial tcp 127.0.0.1:41749: connect: connection refused"
    )
    assert connect_error_event("unable to open database file: permission denied") == ConnectFailed(
        reason="connect failed: unable to open database file: permission denied"
    )


def test_event_loop_death_on_unencodable_events() -> None:
    """goneonize returns Go's proto.Marshal error (google.golang.org/protobuf wording) from connect()."""
    from zapgate_sidecar.transports.neonize.errors import connect_error_event

    logged_out = connect_error_event("proto: required field neonize.LoggedOut.Reason not set")
    assert isinstance(logged_out, LoggedOut)
    ban = connect_error_event("proto: required field neonize.TemporaryBan.Code not set")
    assert isinstance(ban, ConnectFailed) and ban.permanent
    receipt_death = connect_error_event("proto: required field neonize.Receipt.Type not set")
    assert isinstance(receipt_death, Disconnected)
    assert receipt_death.reason.startswith("neonize event loop died: ")


def test_command_errors_split_unreachable_from_other_failures() -> None:
    from zapgate_sidecar.transport import NetworkUnreachable, TransportError
    from zapgate_sidecar.transports.neonize.errors import command_error

    offline = command_error("send image", RuntimeError(
        "failed to refresh media connections: failed to query media connections: websocket not connected"))
    assert isinstance(offline, NetworkUnreachable)
    assert str(offline) == (
        "send image: whatsapp unreachable: failed to refresh media connections: failed to query media "
        "connections: websocket not connected"
    )
    other = command_error("send text", RuntimeError("server returned error 479"))
    assert type(other) is TransportError
    assert str(other) == "send text: server returned error 479"
    long = command_error("download audio", RuntimeError("x" * 1000))
    assert len(str(long)) <= len("download audio: ") + 300
