"""Arguments of requests to the phone, normalised before anything is stored (docs/requests.md).

The public API takes numbers in any common form, group ids with or without `@g.us`, invite links or
their codes; the sidecar is handed JIDs and nothing it would have to guess about. Input WhatsApp could
never accept is a 422 here, at once, with nothing stored and no sidecar woken. Each error names the
field (and the index in a list) but never echoes the value (docs/architecture.md#errors).
"""

from __future__ import annotations

import re

from zapgate_control.errors import ApiError
from zapgate_core.domain.jids import GROUP_SERVER, InvalidDestination, normalize_destination

# An invite link's code: WhatsApp's are 22 characters today; a little room either way, letters and digits only.
_INVITE_CODE = re.compile(r"^[A-Za-z0-9]{10,64}$")
_INVITE_PREFIXES = ("https://chat.whatsapp.com/invite/", "https://chat.whatsapp.com/", "http://chat.whatsapp.com/",
                    "chat.whatsapp.com/")
INVITE_URL = "https://chat.whatsapp.com/"


def _destination(value: str, field: str) -> tuple[str, str]:
    try:
        destination = normalize_destination(value)
    except InvalidDestination as exc:
        # The reason only: "unknown-server:<server>" would echo part of the value.
        raise ApiError(422, "invalid_destination", f"{field}: {str(exc).split(':')[0]}") from exc
    return destination.kind, destination.jid


def user_jid(value: str, field: str = "contact") -> str:
    """A WhatsApp user: a phone number in any common form, its JID, or a LID. Groups are refused."""
    kind, jid = _destination(value, field)
    if kind == "group":
        raise ApiError(422, "invalid_destination", f"{field}: a group, not a user")
    return jid


def user_or_group_jid(value: str, field: str = "contact") -> str:
    """A user (as user_jid) or a group (`<id>@g.us`, or `<digits>-<digits>`)."""
    return _destination(value, field)[1]


def group_jid(value: str, field: str = "jid") -> str:
    """A group: `<id>@g.us` or the bare id. A bare id gets `@g.us` first, since the newer groups' ids
    (120363…, all digits) would otherwise read as phone numbers."""
    raw = (value or "").strip()
    kind, jid = _destination(raw if "@" in raw else f"{raw}@{GROUP_SERVER}", field)
    if kind != "group":
        raise ApiError(422, "invalid_destination", f"{field}: not a group id (<id>@g.us)")
    return jid


def user_jids(values: list[str], field: str = "participants") -> list[str]:
    """Each a user (user_jid), in the order given, duplicates dropped (WhatsApp would answer them twice)."""
    jids: list[str] = []
    for index, value in enumerate(values):
        jid = user_jid(value, f"{field}[{index}]")
        if jid not in jids:
            jids.append(jid)
    return jids


def invite_link(value: str, field: str = "link") -> str:
    """An invite link (https://chat.whatsapp.com/<code>) or its code, as the full link."""
    code = (value or "").strip()
    for prefix in _INVITE_PREFIXES:
        if code.lower().startswith(prefix):
            code = code[len(prefix):]
            break
    code = code.rstrip("/")
    if not _INVITE_CODE.match(code):
        raise ApiError(422, "invalid_invite_link", f"{field}: not a WhatsApp invite link or code")
    return f"{INVITE_URL}{code}"


def text(value: str, field: str) -> str:
    """A name or text WhatsApp would show: not blank once stripped."""
    stripped = (value or "").strip()
    if not stripped:
        raise ApiError(422, "validation_error", f"{field}: must not be blank")
    return stripped
