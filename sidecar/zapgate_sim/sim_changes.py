"""Test-only injection of what WhatsApp tells an account besides new messages (issue 10): an edit or a revoke of
a message the account received, a change of a group's participants or info, an incoming call; and the account
rejecting a call (what the sidecar does on an instance with reject_calls), kept so a test can see it.

Each injection is one event on the instance's log for its connected session, with a `type` the sim transport
maps onto the port's change events (zapgate_sim/transport_changes.py). Calls are kept per instance:
``ringing`` until the session rejects them (``rejected``, with when and how many times it was asked: a call is
rejected once on the phone however often the sidecar tries).
"""

from __future__ import annotations

import time
from typing import Any

from .sim_own import OwnMessagesMixin  # issue 13: the phone's own messages, echoes, history sync
from .sim_state import InvalidRequest, NotFound, _hex16

EV_MESSAGE_EDITED = "message_edited"
EV_MESSAGE_REVOKED = "message_revoked"
EV_GROUP_PARTICIPANTS = "group_participants"
EV_GROUP_INFO = "group_info"
EV_CALL_RECEIVED = "call_received"
PARTICIPANT_ACTIONS = ("add", "remove", "promote", "demote")


class ChangesMixin(OwnMessagesMixin):
    """Injections (control API) and the session's reject_call (transport API), under the network's lock."""

    def _calls(self, instance_id: str) -> dict[str, dict[str, Any]]:
        calls: dict[str, dict[str, dict[str, Any]]] = self.__dict__.setdefault("_sim_calls", {})
        return calls.setdefault(instance_id, {})

    def _emit_to_connected(self, instance_id: str, payload: dict[str, Any]) -> None:
        instance = self._require_connected(instance_id)
        assert instance.connected is not None
        self._emit(instance, instance.connected, payload)

    @staticmethod
    def _ms(timestamp: int | None) -> int:
        return int(time.time() * 1000) if timestamp is None else timestamp

    def inject_edit(self, instance_id: str, chat: str, wa_message_id: str, text: str, *, sender: str | None = None,
                    edit_id: str | None = None, from_me: bool = False, timestamp_ms: int | None = None) -> str:
        """The sender of `wa_message_id` changed its text; returns the edit's own id."""
        with self._cond:
            at = self._ms(timestamp_ms)
            edit_id = edit_id or "SIMEDIT" + _hex16(instance_id, wa_message_id, at)
            self._emit_to_connected(instance_id, {
                "type": EV_MESSAGE_EDITED, "wa_message_id": wa_message_id, "edit_wa_message_id": edit_id,
                "chat_jid": chat, "sender_jid": sender or chat, "text": text, "timestamp_ms": at, "from_me": from_me,
            })
            return edit_id

    def inject_revoke(self, instance_id: str, chat: str, wa_message_id: str, *, by: str | None = None,
                      from_me: bool = False, timestamp_ms: int | None = None) -> None:
        """`wa_message_id` was deleted for everyone by `by` (its sender by default)."""
        with self._cond:
            self._emit_to_connected(instance_id, {
                "type": EV_MESSAGE_REVOKED, "wa_message_id": wa_message_id, "chat_jid": chat,
                "revoked_by": by or chat, "timestamp_ms": self._ms(timestamp_ms), "from_me": from_me,
            })

    def inject_group_change(self, instance_id: str, group: str, *, action: str | None = None,
                            participants: list[str] | None = None, info: dict[str, Any] | None = None,
                            by: str | None = None, timestamp_ms: int | None = None) -> None:
        """A participants change (`action` on `participants`) and/or an info change (`info`: name, description,
        announce, locked), as one WhatsApp notification."""
        if not group.endswith("@g.us"):
            raise InvalidRequest("group must be a group JID (…@g.us)")
        if (action is None) != (not participants):
            raise InvalidRequest("action and participants go together")
        if action is not None and action not in PARTICIPANT_ACTIONS:
            raise InvalidRequest(f"action must be one of {', '.join(PARTICIPANT_ACTIONS)}")
        info = {k: v for k, v in (info or {}).items() if v is not None}
        if action is None and not info:
            raise InvalidRequest("nothing changed")
        with self._cond:
            at = self._ms(timestamp_ms)
            if action is not None:
                self._emit_to_connected(instance_id, {
                    "type": EV_GROUP_PARTICIPANTS, "group_jid": group, "action": action,
                    "participants": list(participants or []), "by": by, "timestamp_ms": at,
                })
            if info:
                self._emit_to_connected(instance_id, {
                    "type": EV_GROUP_INFO, "group_jid": group, "by": by, "timestamp_ms": at, **info,
                })

    def inject_call(self, instance_id: str, caller: str, *, call_id: str | None = None, video: bool = False,
                    group: str | None = None, timestamp_ms: int | None = None) -> str:
        """An incoming call offer; returns its id. It rings until the session rejects it."""
        with self._cond:
            at = self._ms(timestamp_ms)
            call_id = call_id or "SIMCALL" + _hex16(instance_id, caller, at)
            self._emit_to_connected(instance_id, {
                "type": EV_CALL_RECEIVED, "call_id": call_id, "caller": caller, "video": video, "group_jid": group,
                "timestamp_ms": at,
            })
            self._calls(instance_id)[call_id] = {"call_id": call_id, "from": caller, "video": video, "group": group,
                                                 "state": "ringing", "rejected_at": None, "reject_requests": 0}
            return call_id

    def reject_call(self, instance_id: str, session_id: str, caller: str, call_id: str) -> dict[str, Any]:
        """The connected session declines the call (neonize's reject_call); the caller must be the offer's."""
        with self._cond:
            self._require_session(instance_id, session_id)
            call = self._calls(instance_id).get(call_id)
            if call is None or call["from"] != caller:
                raise NotFound("no such call")
            call["reject_requests"] += 1
            if call["state"] == "ringing":
                call.update(state="rejected", rejected_at=time.time())
            return dict(call)

    def calls(self, instance_id: str) -> list[dict[str, Any]]:
        with self._cond:
            return [dict(call) for call in self._calls(instance_id).values()]
