"""WhatsApp JIDs: destination normalisation and chat typing, exactly as the contract states."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

USER_SERVER = "s.whatsapp.net"
GROUP_SERVER = "g.us"
LID_SERVER = "lid"

_DIGITS = re.compile(r"^\d{5,20}$")
_GROUP_ID = re.compile(r"^\d{5,20}-\d{5,20}$")
_NEW_GROUP_ID = re.compile(r"^\d{15,25}$")  # 1203630... ids of newer groups, only when given @g.us
_FORMATTING = re.compile(r"[\s()+\-.]")

DestinationKind = Literal["pn", "group", "lid"]


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
        user, _, server = raw.partition("@")
        user = user.split(":", 1)[0]  # drop a device suffix such as 5511...:12@s.whatsapp.net
        if not user:
            raise InvalidDestination("missing-user")
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
    if _GROUP_ID.match(raw):
        return Destination("group", f"{raw}@{GROUP_SERVER}")
    digits = _FORMATTING.sub("", raw)
    if _DIGITS.match(digits):
        return Destination("pn", f"{digits}@{USER_SERVER}")
    raise InvalidDestination("not-a-phone-number-or-jid")


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
