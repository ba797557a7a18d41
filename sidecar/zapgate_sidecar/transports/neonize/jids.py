"""JIDs between the port's strings and neonize's ``JID`` protobuf, on the domain's one JID parser."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zapgate_core.domain.jids import InvalidJid, JidParts, parse_jid
from zapgate_sidecar.transport import TransportError
from zapgate_sidecar.transports.neonize.loading import load_neonize

if TYPE_CHECKING:
    from neonize.proto.Neonize_pb2 import JID


def jid_to_str(jid: JID, *, keep_device: bool = False) -> str:
    """whatsmeow's ``JID.String()``; without keep_device, the ``ToNonAD()`` form (chat and user ids).

    An empty JID (goneonize sends ``IsEmpty`` for the zero value) gives "".
    """
    if jid.IsEmpty or not (jid.User or jid.Server):
        return ""
    return JidParts(jid.User, jid.Server, jid.Device, jid.RawAgent).to_str(keep_device=keep_device)


def jid_proto(value: str) -> JID:
    """The JID protobuf a message is sent to: the account (whatsmeow fans out to its devices), never one device."""
    load_neonize()
    from neonize.proto.Neonize_pb2 import JID

    try:
        parts = parse_jid(value)
    except InvalidJid as exc:
        raise TransportError(f"invalid jid: {exc}") from exc
    return JID(User=parts.user, Server=parts.server, Device=0, RawAgent=0, Integrator=0, IsEmpty=False)
