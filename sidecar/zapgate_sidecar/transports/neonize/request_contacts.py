"""Requests about contacts over neonize: who someone is, their picture, and whom this account blocks.

Each ``<op>_on(client, args)`` runs inside the session's request fence (session_requests): ``get_lid_from_pn``,
the contact store (``client.contact.get_contact``) and ``update_blocklist`` abort the Go process on a client
that is not logged in (observed), so nothing here is called outside it.

* ``get_user_info`` (a usync query) gives the about text (Status), the picture id, a business's verified name
  and the LID, but neonize's protobuf drops the LID: whatsmeow stores it in its LID<->PN map while answering,
  so it is read back from there. The push name is not in the answer at all: it comes from whatsmeow's contact
  store, which learns it from messages and history sync (None for someone this account never heard from), as
  does the business name.
* ``get_profile_picture``: WhatsApp answers 404 when there is no picture and 401 when their privacy settings
  hide it; whatsmeow turns both into sentences of its own. Both are "no URL", not failures.
* ``update_blocklist`` answers with the list as the server returned it for the change; the full list is then
  read again (``get_blocklist``), falling back to that answer if the second query fails (the change happened).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from zapgate_core.contract.request_ops.contacts import (
    BlockArgs,
    Blocklist,
    NoArgs,
    ProfilePicture,
    ProfilePictureArgs,
    UserArgs,
    UserInfo,
)
from zapgate_core.domain.jids import LID_SERVER, USER_SERVER
from zapgate_sidecar.transport import Refused
from zapgate_sidecar.transports.neonize.jids import jid_to_str
from zapgate_sidecar.transports.neonize.loading import load_neonize
from zapgate_sidecar.transports.neonize.request_errors import error_text, jid_arg, request_error

if TYPE_CHECKING:
    from collections.abc import Iterable

    from neonize.client import NewClient
    from neonize.proto.Neonize_pb2 import JID

log = logging.getLogger("zapgate_sidecar.transports.neonize.requests")

# whatsmeow's sentences for "no picture to show" (errors.go: ErrProfilePictureNotSet, ...Unauthorized).
_NO_PICTURE = ("does not have a profile picture", "has no profile picture", "hidden their profile picture")


# ---------------------------------------------------------------- user info
def user_info_from(asked: str, answers: Iterable[Any], lid: str | None, contact: Any | None) -> UserInfo:
    """GetUserInfo's answer for `asked` as the contract's UserInfo. `answers` are neonize's
    GetUserInfoSingleReturnFunction (keyed by the JID WhatsApp answered for); `contact` the contact store's
    ContactInfo, if any. A user WhatsApp gave no entry for has no account."""
    entries = list(answers)
    entry = next((e for e in entries if jid_to_str(e.JID) == asked), None)
    if entry is None and len(entries) == 1:  # one asked, one answered: the server may spell the JID otherwise
        entry = entries[0]
    if entry is None:
        raise Refused(f"user info: WhatsApp knows no user {asked}", "not_on_whatsapp")
    info = entry.UserInfo
    verified = info.VerifiedName.Details.verifiedName if info.HasField("VerifiedName") else ""
    known = contact if contact is not None and contact.Found else None
    return UserInfo(
        jid=asked,
        lid=lid or None,
        push_name=(known.PushName or None) if known is not None else None,
        business_name=(known.BusinessName or None) if known is not None else None,
        verified_name=verified or None,
        about=info.Status or None,
        picture_id=info.PictureID or None,
    )


def _lid_of(client: NewClient, jid: JID) -> str:
    """The LID whatsmeow's map holds for a phone-number JID ("" when unknown; the map is a nicety)."""
    if jid.Server == LID_SERVER:
        return jid_to_str(jid)
    try:
        return jid_to_str(client.get_lid_from_pn(jid))
    except Exception:
        return ""


def _contact(client: NewClient, jids: Iterable[JID]) -> Any | None:
    """The contact store's entry for the first of `jids` it knows (push names may be stored under the LID)."""
    for jid in jids:
        try:
            contact = client.contact.get_contact(jid)
        except Exception as exc:  # the store is local: a failure costs the names only
            log.info("user info: contact store: %s", error_text(exc))
            continue
        if contact.Found:
            return contact
    return None


def user_info_on(client: NewClient, args: UserArgs) -> UserInfo:
    load_neonize()
    from neonize.proto.Neonize_pb2 import JID

    user = jid_arg("user info", args.jid)
    if user.Server not in (USER_SERVER, LID_SERVER):
        raise Refused(f"user info: {args.jid} is not a user")
    try:
        answers = client.get_user_info(user)
    except Exception as exc:
        raise request_error("user info", exc) from exc
    lid = _lid_of(client, user)
    candidates = [user]
    if lid and lid != args.jid:
        lid_user, _, _ = lid.partition("@")
        candidates.append(JID(User=lid_user, Server=LID_SERVER, Device=0, RawAgent=0, Integrator=0, IsEmpty=False))
    return user_info_from(args.jid, answers, lid, _contact(client, candidates))


# ---------------------------------------------------------------- profile picture
def profile_picture_on(client: NewClient, args: ProfilePictureArgs) -> ProfilePicture:
    load_neonize()
    from neonize.proto.Neonize_pb2 import GetProfilePictureParams

    target = jid_arg("profile picture", args.jid)
    try:
        picture = client.get_profile_picture(target, GetProfilePictureParams(Preview=args.preview))
    except Exception as exc:
        if any(sentence in error_text(exc).lower() for sentence in _NO_PICTURE):
            return ProfilePicture(jid=args.jid)
        raise request_error("profile picture", exc) from exc
    return ProfilePicture(jid=args.jid, url=picture.URL or None, picture_id=picture.ID or None)


# ---------------------------------------------------------------- block list
def blocklist_from(blocklist: Any) -> Blocklist:
    """neonize's Blocklist protobuf as the contract's: the JIDs as WhatsApp lists them (LIDs, nowadays)."""
    return Blocklist(jids=[text for text in (jid_to_str(jid) for jid in blocklist.JIDs) if text])


def blocklist_on(client: NewClient, _args: NoArgs) -> Blocklist:
    try:
        return blocklist_from(client.get_blocklist())
    except Exception as exc:
        raise request_error("blocklist", exc) from exc


def block_on(client: NewClient, args: BlockArgs) -> Blocklist:
    load_neonize()
    from neonize.utils.enum import BlocklistAction

    user = jid_arg(args.action, args.jid)
    if user.Server not in (USER_SERVER, LID_SERVER):
        raise Refused(f"{args.action}: {args.jid} is not a user")
    action = BlocklistAction.BLOCK if args.action == "block" else BlocklistAction.UNBLOCK
    try:
        changed = client.update_blocklist(user, action)
    except Exception as exc:
        raise request_error(args.action, exc) from exc
    try:
        return blocklist_from(client.get_blocklist())
    except Exception as exc:  # it was changed: answer with what the change's answer listed
        log.info("%s: blocklist not read back (%s); answering the change's list", args.action, error_text(exc))
        return blocklist_from(changed)
