"""A session's handlers for Go's events: each is mapped (inbound_mapping) and handed to the sink.

Events reach Python one at a time on one goroutine; the handlers only map and call the sink. ``Connected``
needs the account (``client.get_me()``) and a poll vote needs decrypting (``client.decrypt_poll_vote``,
whatsmeow's message-secret store), so both are completed here with the client before they are mapped.

On a store that was never paired, whatsmeow's ``DecryptPollVote`` dereferences a nil message-secret store
and the Go panic kills the process (SIGSEGV, observed), so votes are decrypted only on a connected session
(a paired store: the only source of votes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zapgate_sidecar.transport import IncomingMessage, TransportEvent
from zapgate_sidecar.transports.neonize import change_mapping, history_mapping, inbound_mapping, poll_votes
from zapgate_sidecar.transports.neonize.session_core import SessionCore, log

if TYPE_CHECKING:
    from google.protobuf.message import Message as ProtoMessage
    from neonize.client import NewClient


class SessionReceiving(SessionCore):
    def _on_event(self, client: NewClient, event: ProtoMessage) -> None:
        try:
            changes = change_mapping.map_change_event(event)  # group notifications, call offers
            if changes is not None:
                found: list[TransportEvent] = list(changes)
            elif event.DESCRIPTOR.full_name == "neonize.Message":
                # An edit or a revoke of another message is its own event; anything else is a message.
                edit_or_revoke = change_mapping.map_message_change(event)
                found = [edit_or_revoke] if edit_or_revoke is not None else self._message(client, event)
            elif event.DESCRIPTOR.full_name == "neonize.HistorySync":  # issue 13: one event per message
                found = list(history_mapping.map_history_sync(event))
            else:
                mapped = inbound_mapping.map_event(event)
                found = [mapped] if mapped is not None else []
        except Exception:  # a malformed event must not take the dispatch goroutine down
            log.exception("neonize session %s: cannot map %s", self.instance_id, event.DESCRIPTOR.name)
            return
        for mapped in found:
            self._emit(client, mapped)

    def _message(self, client: NewClient, event: ProtoMessage) -> list[TransportEvent]:
        message = self._map_message(client, event)
        return [message] if message is not None else []

    def _map_message(self, client: NewClient, event: Any) -> IncomingMessage | None:
        """A Message event; a vote is decrypted here (the mapping has no client), a poll remembered first,
        even our own (dropped later as an echo), so its votes get names."""
        poll_id = poll_votes.vote_to_decrypt(event)
        if poll_id is not None:
            return self._poll_vote(client, event, poll_id)
        created = poll_votes.poll_option_names(event)
        if created is not None:
            self._polls.remember(*created)
        return inbound_mapping.map_message(event)

    def _poll_vote(self, client: NewClient, event: Any, poll_id: str) -> IncomingMessage | None:
        """The vote as poll_choice, or None (dropped, logged without content) when it cannot be decrypted:
        a selection is never guessed."""
        wa_id = event.Info.ID
        with self._cond:
            usable = self._is_current(client) and self._connected  # see the module docstring: Go panics otherwise
            if usable:
                self._inflight += 1  # Stop must not remove the client while Go decrypts
        if not usable:
            log.warning("neonize session %s: poll vote %s dropped: session not connected", self.instance_id, wa_id)
            return None
        try:
            vote = client.decrypt_poll_vote(event)
        except Exception as exc:  # DecryptPollVoteError: no secret for that poll here, a bad key...
            reason = "poll secret not found" if "secret key not found" in str(exc) else type(exc).__name__
            log.warning("neonize session %s: poll vote %s dropped: %s", self.instance_id, wa_id, reason)
            return None
        finally:
            self._leave_go()
        return poll_votes.map_poll_vote(event, vote.selectedOptions, self._polls.options(poll_id))

    def _on_connected(self, client: NewClient, _event: ProtoMessage) -> None:
        with self._cond:
            if not self._is_current(client):
                stale = True
            else:
                stale = False
                self._inflight += 1  # GetMe aborts the process if Stop removed the client meanwhile
        if stale:
            # A connect that completed after stop(): close it instead of leaving it online.
            self._stop_go_client(client)
            return
        try:
            me = client.get_me()
        except Exception:
            log.exception("neonize session %s: get_me failed", self.instance_id)
            me = None
        finally:
            self._leave_go()
        self._emit(client, inbound_mapping.map_connected(me))
