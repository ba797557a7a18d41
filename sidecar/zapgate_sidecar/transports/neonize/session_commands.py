"""What the runtime asks of a connected session: send, download media, list groups, log out, reject a call.

Each is one fenced Go call (session_core); a Go error becomes ``NetworkUnreachable`` or a plain
``TransportError`` (errors.command_error).
"""

from __future__ import annotations

from zapgate_sidecar.transport import GroupInfo, MediaRef, Outgoing, TransportError
from zapgate_sidecar.transports.neonize import poll_votes
from zapgate_sidecar.transports.neonize.errors import command_error
from zapgate_sidecar.transports.neonize.jids import jid_proto, jid_to_str
from zapgate_sidecar.transports.neonize.outbound_builders import build_outgoing
from zapgate_sidecar.transports.neonize.session_core import SessionCore


class SessionCommands(SessionCore):
    def send(self, jid: str, message: Outgoing) -> str:
        with self._go_call() as client:
            target = jid_proto(jid)
            try:
                payload = build_outgoing(client, message, jid)
                response = client.send_message(target, payload)
            except TransportError:
                raise
            except Exception as exc:
                raise command_error(f"send {message.kind}", exc) from exc
        if not response.ID:
            raise TransportError(f"send {message.kind}: no message id in the server's answer")
        self.remember_sent_poll(response.ID, message)
        return response.ID

    def remember_sent_poll(self, wa_message_id: str, message: Outgoing) -> None:
        """Votes on a poll we sent name its options too: whatsmeow echoes no event for our own sends, so the
        poll is remembered here, under the id WhatsApp gave it (the id votes name)."""
        if message.kind == "poll" and message.poll is not None:
            self._polls.remember(wa_message_id, poll_votes.poll_options_by_hash(message.poll.options))

    def download(self, media: MediaRef) -> bytes:
        handle = media.handle
        if not hasattr(handle, "SerializeToString"):
            raise TransportError("download: media handle is not a neonize message")
        with self._go_call() as client:
            try:
                data = client.download_any(handle)
            except Exception as exc:
                raise command_error(f"download {media.kind}", exc) from exc
        if not data:
            raise TransportError(f"download {media.kind}: empty media")
        return data

    def list_groups(self) -> list[GroupInfo]:
        # whatsmeow GetJoinedGroups: one IQ for all groups with their subjects (participants come
        # along in the answer; only id and name are kept).
        with self._go_call() as client:
            try:
                groups = client.get_joined_groups()
            except Exception as exc:
                raise command_error("list groups", exc) from exc
        return [GroupInfo(jid=jid_to_str(g.JID), name=g.GroupName.Name) for g in groups]

    def reject_call(self, caller: str, call_id: str) -> None:
        """Decline an incoming call (whatsmeow RejectCall, on the connection that got the offer); `caller` is the
        JID exactly as the CallOffer gave it (transport_changes.CallRejecter)."""
        with self._go_call() as client:
            try:
                client.reject_call(jid_proto(caller), call_id)
            except Exception as exc:
                raise command_error("reject call", exc) from exc

    def logout(self) -> None:
        # whatsmeow's Logout unlinks on the server, deletes its device store and disconnects
        # without an event, like any user-initiated Disconnect.
        with self._go_call() as client:
            try:
                client.logout()
            except Exception as exc:
                raise command_error("logout", exc) from exc
        with self._cond:
            self._connected = False
