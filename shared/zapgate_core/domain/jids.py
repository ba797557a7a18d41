"""WhatsApp JIDs: the one structural parser (`parse_jid`), destination normalisation and chat
typing, exactly as the contract states.

`parse_jid` reads any JID's shape (whatsmeow's ParseJID: `user[.agent][:device]@server`, or a bare
phone number); the contract's strict rules for destinations (`normalize_destination`) are checks on
the parts it returns. Both sides use it: the control plane and the sidecar's outbound path through
`normalize_destination`, the neonize transport to build whatsmeow's JID protobufs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, NamedTuple

USER_SERVER = "s.whatsapp.net"
GROUP_SERVER = "g.us"
LID_SERVER = "lid"

_DIGITS = re.compile(r"^\d{5,20}$")
_GROUP_ID = re.compile(r"^\d{5,20}-\d{5,20}$")
_NEW_GROUP_ID = re.compile(r"^\d{15,25}$")  # 1203630... ids of newer groups, only when given @g.us
_FORMATTING = re.compile(r"[\s()+\-.]")

DestinationKind = Literal["pn", "group", "lid"]


class InvalidJid(ValueError):
    """A value that is not a JID (nor a bare phone number); str(self) says why, `reason` is a short code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class JidParts(NamedTuple):
    """A JID's parts as whatsmeow's types.JID holds them."""

    user: str
    server: str
    device: int = 0
    raw_agent: int = 0

    def to_str(self, *, keep_device: bool = False) -> str:
        """whatsmeow's ``JID.String()``; without keep_device its ``ToNonAD()`` form (the account, not a device)."""
        if not self.user:
            return self.server
        if keep_device and self.raw_agent > 0:
            return f"{self.user}.{self.raw_agent}:{self.device}@{self.server}"
        if keep_device and self.device > 0:
            return f"{self.user}:{self.device}@{self.server}"
        return f"{self.user}@{self.server}"


def _number(text: str) -> int | None:
    # ASCII only: str.isdigit() also accepts characters such as "²" that int() refuses.
    return int(text) if text.isascii() and text.isdigit() else None


def parse_jid(value: str) -> JidParts:
    """Inverse of ``JidParts.to_str`` (whatsmeow's ParseJID); bare digits (an optional '+') mean a phone number.

    Structure only: any server is accepted, and what a destination may be is normalize_destination's
    business. Raises InvalidJid on a value that cannot be a JID.
    """
    raw = value.strip()
    if not raw:
        raise InvalidJid("empty", "empty jid")
    if "@" not in raw:
        digits = raw.removeprefix("+")
        if _number(digits) is None:
            raise InvalidJid("not-a-jid", f"not a jid or phone number: {raw[:60]!r}")
        return JidParts(digits, USER_SERVER)
    user, _, server = raw.partition("@")
    user, has_device, device_part = user.partition(":")
    agent_part = None
    if "." in user and server in (USER_SERVER, LID_SERVER):  # only these servers' users carry an agent
        user, _, agent_part = user.partition(".")
    if not user:
        raise InvalidJid("missing-user", f"jid without user: {raw[:60]!r}")
    if not server or "@" in server:
        raise InvalidJid("bad-server", f"jid without one server: {raw[:60]!r}")
    device = _number(device_part) if has_device else 0
    if device is None:
        raise InvalidJid("bad-device", f"bad device in jid: {raw[:60]!r}")
    raw_agent = _number(agent_part) if agent_part is not None else 0
    if raw_agent is None:
        raise InvalidJid("bad-agent", f"bad agent in jid: {raw[:60]!r}")
    return JidParts(user, server, device, raw_agent)


def jid_user(jid: str) -> str:
    """The user part of a JID (a phone number's digits, a group's or a LID's id); "" for what is no JID."""
    try:
        return parse_jid(jid).user
    except InvalidJid:
        return ""


class InvalidDestination(ValueError):
    """The `to` of an outbound message cannot be a WhatsApp destination; str(self) is the reason."""


@dataclass(frozen=True)
class Destination:
    kind: DestinationKind
    jid: str


def normalize_destination(to: str) -> Destination:
    """Digits → `@s.whatsapp.net`; `<digits>-<digits>` → `@g.us`; full JIDs kept; `@lid` flagged.

    A `@lid` destination still needs a phone-number mapping (contacts/primary-jid) before
    sending; the caller does that lookup, since it is I/O.
    """
    raw = (to or "").strip()
    if not raw:
        raise InvalidDestination("empty")
    if "@" in raw:
        return _jid_destination(raw)
    if _GROUP_ID.match(raw):
        return Destination("group", f"{raw}@{GROUP_SERVER}")
    digits = _FORMATTING.sub("", raw)
    if _DIGITS.match(digits):
        return Destination("pn", f"{digits}@{USER_SERVER}")
    raise InvalidDestination("not-a-phone-number-or-jid")


def _jid_destination(raw: str) -> Destination:
    """A full JID as a destination: the account it names (a device or agent suffix is dropped, as
    whatsmeow's ToNonAD does), on a server the contract allows, with a user that server accepts."""
    try:
        parts = parse_jid(raw)
    except InvalidJid as exc:
        raise InvalidDestination(exc.reason) from None
    user, server = parts.user, parts.server
    if server == LID_SERVER:
        return Destination("lid", f"{user}@{LID_SERVER}")
    if server == GROUP_SERVER:
        if not (_GROUP_ID.match(user) or _NEW_GROUP_ID.match(user)):
            raise InvalidDestination("bad-group-id")
        return Destination("group", f"{user}@{GROUP_SERVER}")
    if server in (USER_SERVER, "c.us"):
        if not _DIGITS.match(user):
            raise InvalidDestination("bad-phone-number")
        return Destination("pn", f"{user}@{USER_SERVER}")
    raise InvalidDestination(f"unknown-server:{server[:40]}")


def chat_type_of(chat_id: str) -> Literal["group", "direct"]:
    return "group" if chat_id.endswith(f"@{GROUP_SERVER}") else "direct"


def is_lid(jid: str | None) -> bool:
    return bool(jid) and jid.endswith(f"@{LID_SERVER}")  # type: ignore[union-attr]


def jid_type_of(jid: str) -> Literal["lid", "pn"]:
    return "lid" if is_lid(jid) else "pn"


def pn_jid(value: str | None) -> str | None:
    """A phone number in any common form (`5511...`, `5511...@s.whatsapp.net`, with device) as a PN JID."""
    if not value:
        return None
    try:
        destination = normalize_destination(value)
    except InvalidDestination:
        return None
    return destination.jid if destination.kind == "pn" else None


def chat_jid(value: str | None) -> str | None:
    """The chat a message belongs to, as one JID for both directions (None when it cannot be told).

    An outbound `to` or an inbound chat normalises to its destination JID; a JID of a server this
    module does not know is kept as given, so its messages still group into one chat.
    """
    if not value:
        return None
    try:
        return normalize_destination(value).jid
    except InvalidDestination:
        return value if "@" in value else None
