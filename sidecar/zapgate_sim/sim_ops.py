"""perform: every request to the phone (contract/requests.py RequestOp) on the simulated network, one entry point.

The arguments are validated with the contract's ARGUMENTS[op] (what the sidecar sends is what the control plane
stored) and the answer with RESULTS[op], so the sim can never answer something the real port could not. Each
operation runs on the instance's connected session only (another or none: not connected → the transport's
NetworkUnreachable), under the network's lock, then honours a pending stall like check_numbers does. Refusals
are SimErrors whose `kind` is the port's Refused kind (bad_request, not_found, forbidden, not_on_whatsapp,
expired).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from zapgate_core.contract.base import ContractModel
from zapgate_core.contract.request_ops.contacts import CheckNumbersArgs
from zapgate_core.contract.request_ops.messages import ChatPresenceArgs
from zapgate_core.contract.requests import ARGUMENTS, RESULTS

from .sim_contacts import ContactOpsMixin
from .sim_group_members import GroupMembersMixin
from .sim_message_ops import MessageOpsMixin
from .sim_requests import RequestsMixin
from .sim_state import InvalidRequest, _Instance

Handler = Callable[[Any, _Instance, Any], dict[str, Any]]

# op -> how it runs: (network, instance, parsed arguments) -> the result as JSON. check_numbers and chat_presence
# have their own methods (and transport routes) since before perform; they are reachable here too.
HANDLERS: dict[str, Handler] = {
    "user_info": lambda n, i, a: n._user_info(i, a.jid),
    "profile_picture": lambda n, i, a: n._profile_picture(i, a.jid, a.preview),
    "block": lambda n, i, a: n._block(i, a.jid, a.action),
    "blocklist": lambda n, i, a: n._blocklist(i),
    "edit_message": lambda n, i, a: n._edit_message(i, a.chat, a.message_id, a.text),
    "revoke_message": lambda n, i, a: n._revoke_message(i, a.chat, a.message_id, a.sender),
    "mark_read": lambda n, i, a: n._mark_read(i, a.chat, [m.model_dump() for m in a.messages]),
    "own_presence": lambda n, i, a: n._own_presence(i, a.state),
    "group_create": lambda n, i, a: n._group_create(i, a.name, a.participants),
    "group_info": lambda n, i, a: n._group_info_op(i, a.group),
    "group_name": lambda n, i, a: n._group_name(i, a.group, a.name),
    "group_description": lambda n, i, a: n._group_description(i, a.group, a.description),
    "group_settings": lambda n, i, a: n._group_settings(i, a.group, a.announce, a.locked),
    "group_participants": lambda n, i, a: n._group_participants(i, a.group, a.action, a.participants),
    "group_invite_link": lambda n, i, a: n._group_invite_link(i, a.group, a.reset),
    "group_join": lambda n, i, a: n._group_join(i, a.link),
    "group_leave": lambda n, i, a: n._group_leave(i, a.group),
    "profile_name": lambda n, i, a: n._profile_name(i, a.name),
    "profile_about": lambda n, i, a: n._profile_about(i, a.about),
}


def parse_args(op: str, args: dict[str, Any]) -> ContractModel:
    model = ARGUMENTS.get(op)
    if model is None:
        raise InvalidRequest(f"unknown operation: {op}")
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "args"
        raise InvalidRequest(f"invalid {op} arguments: {where}: {first.get('msg', 'invalid')}") from None


class OpsMixin(ContactOpsMixin, GroupMembersMixin, MessageOpsMixin, RequestsMixin):
    """The network's `perform`, over the concerns' handlers."""

    def perform(self, instance_id: str, session_id: str, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run `op` with `args` (JSON) as the instance's connected session; the result as JSON (RESULTS[op])."""
        parsed = parse_args(op, args)
        if isinstance(parsed, CheckNumbersArgs):
            return {"numbers": self.check_numbers(instance_id, session_id, list(parsed.numbers))}
        if isinstance(parsed, ChatPresenceArgs):
            self.send_chat_presence(instance_id, session_id, parsed.chat, parsed.state)
            return {"sent": True}
        handler = HANDLERS[op]
        with self._cond:
            instance = self._require_session(instance_id, session_id)
            result = RESULTS[op].model_validate(handler(self, instance, parsed)).model_dump(mode="json")
            self._hold_answer(instance)
            return result
