"""Pure mapping of neonize's edit / revoke messages, group notifications and call offers to the port's change
events (transport_changes.py). Like inbound_mapping.py it imports no neonize module at runtime (that loads the
Go library) and reads enum names from the messages' descriptors; tested with real neonize protobufs.

What whatsmeow delivers (neonize 0.5.x):

* An edit arrives as a ``Message`` whose ``Info.Edit`` is "1" and ``IsEdit`` is set; whatsmeow's UnwrapRaw takes
  the ``editedMessage`` wrapper off, leaving ``protocolMessage{type: MESSAGE_EDIT, key, editedMessage,
  timestampMS}``. The key names the edited message; the event's own ``Info.ID`` is the edit's.
* A delete for everyone is ``protocolMessage{type: REVOKE, key}`` with ``Info.Edit`` "7" (by the sender) or "8"
  (by a group admin): ``Info.MessageSource.Sender`` is who deleted it.
* ``GroupInfoEvent`` carries at most a few changes at once: Join / Leave / Promote / Demote (JID lists), Name,
  Topic (the description), Announce, Locked; ``Sender`` did it (empty when WhatsApp did not say).
* ``CallOffer``: the caller, the call id and the offer node (``data``): a ``video`` child makes it a video call,
  a ``group-jid`` attribute (or a ``group_info`` child) a group call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from zapgate_core.domain.jids import LID_SERVER, USER_SERVER
from zapgate_sidecar.transport_changes import (
    CallReceived,
    ChangeEvent,
    GroupInfoChanged,
    GroupParticipantsChanged,
    MessageEdited,
    MessageRevoked,
    ParticipantAction,
)
from zapgate_sidecar.transports.neonize.inbound_content import fallback_text, media_of, unwrap
from zapgate_sidecar.transports.neonize.jids import jid_to_str

if TYPE_CHECKING:
    from google.protobuf.message import Message as ProtoMessage
    from neonize.proto import Neonize_pb2 as nz

_MILLIS_THRESHOLD = 100_000_000_000
_PARTICIPANT_FIELDS: tuple[tuple[str, ParticipantAction], ...] = (
    ("Join", "add"), ("Leave", "remove"), ("Promote", "promote"), ("Demote", "demote"),
)  # fmt: skip


def _ms(timestamp: int) -> int:
    """Milliseconds from neonize's timestamps (MessageInfo's are ms, the others seconds: inbound_mapping.py)."""
    return timestamp if timestamp >= _MILLIS_THRESHOLD else timestamp * 1000


def _enum_name(message: Any, field_name: str) -> str | None:
    if not message.HasField(field_name):
        return None
    field = message.DESCRIPTOR.fields_by_name[field_name]
    value = field.enum_type.values_by_number.get(getattr(message, field_name))
    return value.name if value is not None else None


def _text_of(content: Any) -> str:
    """The text of an edited message: its text, a media caption, or what a typed kind renders as."""
    content = unwrap(content)
    found = media_of(content)
    caption = found[1] if found is not None else ""
    return content.conversation or caption or fallback_text(content) or ""


def _protocol(event: nz.Message) -> Any | None:
    content = unwrap(event.Message)
    if content.HasField("editedMessage") and content.editedMessage.HasField("message"):
        content = unwrap(content.editedMessage.message)  # the wrapper, when a version leaves it on
    return content.protocolMessage if content.HasField("protocolMessage") else None


def map_message_change(event: nz.Message) -> MessageEdited | MessageRevoked | None:
    """An edit or a revoke of another message; None for any other Message (inbound_mapping handles those)."""
    protocol = _protocol(event)
    if protocol is None or not protocol.key.ID:
        return None
    kind = _enum_name(protocol, "type")
    info, source = event.Info, event.Info.MessageSource
    chat = jid_to_str(source.Chat)
    sender = jid_to_str(source.Sender) or chat
    at = _ms(protocol.timestampMS) if protocol.timestampMS else _ms(info.Timestamp)
    if kind == "REVOKE":
        return MessageRevoked(wa_message_id=protocol.key.ID, chat_jid=chat, revoked_by=sender or None,
                              timestamp_ms=at, from_me=source.IsFromMe)
    if kind == "MESSAGE_EDIT" and protocol.HasField("editedMessage"):
        sender_pn = None
        if source.Sender.Server == LID_SERVER and source.SenderAlt.Server == USER_SERVER:
            sender_pn = jid_to_str(source.SenderAlt) or None
        return MessageEdited(wa_message_id=protocol.key.ID, edit_wa_message_id=info.ID or f"edit-{at}",
                             chat_jid=chat, sender_jid=sender, text=_text_of(protocol.editedMessage),
                             timestamp_ms=at, from_me=source.IsFromMe, sender_pn=sender_pn)
    return None


def map_group_info(event: nz.GroupInfoEvent) -> list[ChangeEvent]:
    """One event per kind of change the notification carries (participants per action, then the info)."""
    group = jid_to_str(event.JID)
    if not group:
        return []
    by = jid_to_str(event.Sender) or None
    at = _ms(event.Timestamp)
    changes: list[ChangeEvent] = []
    for field, action in _PARTICIPANT_FIELDS:
        members = tuple(j for j in (jid_to_str(p) for p in getattr(event, field)) if j)
        if members:
            changes.append(GroupParticipantsChanged(group_jid=group, action=action, participants=members, by=by,
                                                    timestamp_ms=at))
    info: dict[str, Any] = {}
    if event.HasField("Name"):
        info["name"] = event.Name.Name
    if event.HasField("Topic"):
        info["description"] = "" if event.Topic.TopicDeleted else event.Topic.Topic
    if event.HasField("Announce"):
        info["announce"] = event.Announce.IsAnnounce
    if event.HasField("Locked"):
        info["locked"] = event.Locked.isLocked
    if info:
        changes.append(GroupInfoChanged(group_jid=group, by=by, timestamp_ms=at, **info))
    return changes


def _node_says_group(node: Any) -> str | None:
    for attribute in node.Attrs:
        if attribute.name == "group-jid":
            return attribute.text or (jid_to_str(attribute.jid) if attribute.HasField("jid") else None) or None
    return None


def map_call_offer(event: nz.CallOffer) -> CallReceived | None:
    meta = event.basicCallMeta
    caller = jid_to_str(meta.callCreator) or jid_to_str(getattr(meta, "from"))
    if not meta.callID or not caller:
        return None
    data = event.data
    children = {child.Tag for child in data.Nodes}
    group = _node_says_group(data) or ("group" if "group_info" in children else None)
    return CallReceived(call_id=meta.callID, caller=caller, timestamp_ms=_ms(meta.timestamp),
                        video="video" in children, group_jid=group)


def _call_offers(event: nz.CallOffer) -> list[ChangeEvent]:
    found = map_call_offer(event)
    return [found] if found is not None else []


_BY_TYPE: dict[str, Callable[[Any], list[ChangeEvent]]] = {
    "neonize.GroupInfoEvent": map_group_info,
    "neonize.CallOffer": _call_offers,
}
# Go events (names in neonize.events) that session.HANDLED_EVENTS registers for these mappings.
CHANGE_EVENT_NAMES: tuple[str, ...] = ("GroupInfoEv", "CallOfferEv")


def map_change_event(event: ProtoMessage) -> list[ChangeEvent] | None:
    """The change events of a group notification or a call offer; None for another protobuf type."""
    mapper = _BY_TYPE.get(event.DESCRIPTOR.full_name)
    return mapper(event) if mapper is not None else None
