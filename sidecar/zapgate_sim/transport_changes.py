"""The sim transport's side of issue 10: the network's change events as the port's (transport_changes.py), and
the session's reject_call over HTTP (server_changes.py's transport route)."""

from __future__ import annotations

from typing import Any

import httpx

from zapgate_sidecar.transport import TransportError
from zapgate_sidecar.transport_changes import (
    CallReceived,
    ChangeEvent,
    GroupInfoChanged,
    GroupParticipantsChanged,
    MessageEdited,
    MessageRevoked,
)


def decode_change(payload: dict[str, Any]) -> ChangeEvent | None:
    """A change event of the network's log (sim_changes.py's types); None for any other type."""
    kind = payload.get("type")
    if kind == "message_edited":
        return MessageEdited(wa_message_id=payload["wa_message_id"], edit_wa_message_id=payload["edit_wa_message_id"],
                             chat_jid=payload["chat_jid"], sender_jid=payload["sender_jid"], text=payload["text"],
                             timestamp_ms=int(payload["timestamp_ms"]), from_me=bool(payload.get("from_me")))
    if kind == "message_revoked":
        return MessageRevoked(wa_message_id=payload["wa_message_id"], chat_jid=payload["chat_jid"],
                              revoked_by=payload.get("revoked_by"), timestamp_ms=int(payload["timestamp_ms"]),
                              from_me=bool(payload.get("from_me")))
    if kind == "group_participants":
        return GroupParticipantsChanged(group_jid=payload["group_jid"], action=payload["action"],
                                        participants=tuple(payload["participants"]), by=payload.get("by"),
                                        timestamp_ms=int(payload["timestamp_ms"]))
    if kind == "group_info":
        return GroupInfoChanged(group_jid=payload["group_jid"], by=payload.get("by"),
                                timestamp_ms=int(payload["timestamp_ms"]), name=payload.get("name"),
                                description=payload.get("description"), announce=payload.get("announce"),
                                locked=payload.get("locked"))
    if kind == "call_received":
        return CallReceived(call_id=payload["call_id"], caller=payload["caller"],
                            timestamp_ms=int(payload["timestamp_ms"]), video=bool(payload.get("video")),
                            group_jid=payload.get("group_jid"))
    return None


class CallRejecting:
    """SimSession's reject_call (transport_changes.CallRejecter)."""

    _session_id: str | None

    def _command(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError  # SimSession's

    def reject_call(self, caller: str, call_id: str) -> None:
        session_id = self._session_id
        if session_id is None:
            raise TransportError("not connected")
        response = self._command("POST", "/reject-call",
                                 json={"session": session_id, "caller": caller, "call_id": call_id})
        if response.status_code != 200:
            raise TransportError(f"reject call: HTTP {response.status_code}")
