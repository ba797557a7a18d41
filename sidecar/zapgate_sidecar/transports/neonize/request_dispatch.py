"""Which neonize function runs each request to the phone (contract/requests.py's RequestOp), and the checks
that need no connection.

check_numbers and chat_presence have methods of their own on the port (session_requests); every other
operation is one entry here. A function takes the session's client (inside its request fence) and the
operation's arguments model, and returns its result model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from zapgate_core.contract.requests import READ_ONLY_OPS
from zapgate_sidecar.transport import AnswerLost, NetworkUnreachable
from zapgate_sidecar.transports.neonize import request_contacts, request_groups, request_messages, request_profile
from zapgate_sidecar.transports.neonize.request_errors import sent_without_answer

if TYPE_CHECKING:
    from neonize.client import NewClient

    from zapgate_core.contract.base import ContractModel

Handler = Callable[["NewClient", Any], "ContractModel"]

HANDLERS: dict[str, Handler] = {
    # contacts
    "user_info": request_contacts.user_info_on,
    "profile_picture": request_contacts.profile_picture_on,
    "block": request_contacts.block_on,
    "blocklist": request_contacts.blocklist_on,
    # messages and chats
    "edit_message": request_messages.edit_message_on,
    "revoke_message": request_messages.revoke_message_on,
    "mark_read": request_messages.mark_read_on,
    "own_presence": request_messages.own_presence_on,
    # groups
    "group_create": request_groups.group_create_on,
    "group_info": request_groups.group_info_on,
    "group_name": request_groups.group_name_on,
    "group_description": request_groups.group_description_on,
    "group_settings": request_groups.group_settings_on,
    "group_participants": request_groups.group_participants_on,
    "group_invite_link": request_groups.group_invite_link_on,
    "group_join": request_groups.group_join_on,
    "group_leave": request_groups.group_leave_on,
    # this account's profile
    "profile_name": request_profile.profile_name_on,
    "profile_about": request_profile.profile_about_on,
}

# Refusals decided from the arguments alone, before the connection is looked at: a request that can never
# succeed says so even while the session is down (a retry later would only be refused then).
PRECHECKS: dict[str, Callable[[Any], None]] = {
    "edit_message": request_messages.check_edit_window,
}


def run_handler(op: str, client: NewClient, args: Any) -> ContractModel:
    """Run `op`'s function (inside the caller's fence). A change that was sent and got no answer (a timeout, the
    socket closing while waiting) may have happened: it is not `unreachable` (which says "try later", and a
    retry of a group creation or an edit is not harmless) but a failure that says so."""
    try:
        return HANDLERS[op](client, args)
    except NetworkUnreachable as exc:
        if op in READ_ONLY_OPS or not sent_without_answer(str(exc)):
            raise
        raise AnswerLost(f"{exc} (sent without an answer: it may have happened)") from exc


def action_of(op: str) -> str:
    """How errors name the operation ("group info: not connected")."""
    return op.replace("_", " ")
