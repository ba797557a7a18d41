"""Poll votes: which Message events are votes to decrypt, the decrypted vote as a port message, and the
option names a session keeps to name the options a vote chose.

Votes (``pollUpdateMessage``) are encrypted with the poll's secret; decrypting needs the client
(``NewClient.decrypt_poll_vote``, whatsmeow's message-secret store), so the session does it
(``vote_to_decrypt`` says which events) and ``map_poll_vote`` maps the result: kind ``poll_choice`` with the
poll's id and the chosen options' SHA-256 hashes (all a vote carries; none = the vote was removed). Names
come from ``PollOptionsCache``, filled from every poll creation the session maps (``poll_option_names``, our
own polls too) and every poll it sends (``poll_options_by_hash``); a poll it never saw (a restart since)
gives hashes only. ``inbound_mapping.map_message`` alone keeps a vote protocol: a vote that could not be
decrypted is never reported with a made-up selection.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from zapgate_core.contract.common import MAX_ID, MAX_POLL_OPTIONS
from zapgate_sidecar.transport import IncomingMessage, PollVote
from zapgate_sidecar.transports.neonize.inbound_content import POLL_FIELDS, cut, unwrap
from zapgate_sidecar.transports.neonize.inbound_mapping import STATUS_BROADCAST, map_message
from zapgate_sidecar.transports.neonize.jids import jid_to_str

if TYPE_CHECKING:
    from neonize.proto import Neonize_pb2 as nz

_POLL_VOTE = "pollUpdateMessage"
_OPTION_HASH_BYTES = 32  # SHA-256
# Polls whose option names a session keeps for resolving votes: the most recently seen/voted first to stay.
POLL_CACHE_POLLS = 1_000
POLL_CACHE_CHARS = 2_000_000  # ~1,000 ordinary polls; caps the worst case (32 options of 1,000 characters each)


def _option_hash(name: str) -> str:
    """whatsmeow's HashPollOptions: SHA-256 of the option's name, as a vote names it (lowercase hex)."""
    return hashlib.sha256(name.encode()).hexdigest()


def poll_options_by_hash(names: Iterable[str]) -> dict[str, str]:
    """{hash of each option's full name: the name cut to the contract}, as PollOptionsCache keeps a poll.

    The hash is of the name as sent, so a name longer than MAX_LABEL still resolves (to its cut form).
    """
    return {_option_hash(name): cut(name) for name in list(names)[:MAX_POLL_OPTIONS]}


def poll_option_names(event: nz.Message) -> tuple[str, dict[str, str]] | None:
    """(poll message id, poll_options_by_hash of its options) of a poll creation, ours or not; None for
    any other message."""
    ident = event.Info.ID
    if not ident or len(ident) > MAX_ID:
        return None
    content = unwrap(event.Message)
    for name in POLL_FIELDS:
        if content.HasField(name):
            return ident, poll_options_by_hash(option.optionName for option in getattr(content, name).options)
    return None


def vote_to_decrypt(event: nz.Message) -> str | None:
    """The poll id a vote names, when the vote is worth decrypting: someone else's ``pollUpdateMessage``
    in a chat (our own votes and statuses are never delivered), naming a poll by a usable id; else None."""
    info = event.Info
    if info.MessageSource.IsFromMe or event.IsEdit or info.Edit:
        return None
    if jid_to_str(info.MessageSource.Chat) == STATUS_BROADCAST:
        return None
    content = unwrap(event.Message)
    if not content.HasField(_POLL_VOTE):
        return None
    poll_id = content.pollUpdateMessage.pollCreationMessageKey.ID
    return poll_id if poll_id and len(poll_id) <= MAX_ID else None


def map_poll_vote(event: nz.Message, selected: Iterable[bytes], known: Mapping[str, str] | None) -> IncomingMessage:
    """A decrypted vote (whatsmeow's ``PollVoteMessage.selectedOptions``) as kind poll_choice.

    `known`: {option hash: name} of the poll when the session saw it (PollOptionsCache). Every chosen hash
    is reported; names only for those `known` resolves. Text: the resolved names joined by ", " ("" when
    the vote was removed or the poll is unknown). An event that is no vote to report stays protocol.
    """
    base = map_message(event)
    poll_id = vote_to_decrypt(event)
    if poll_id is None:
        return base
    # Hashes of another length name no option; repeats add nothing. Bounded to the contract.
    hashes = tuple(dict.fromkeys(h.hex() for h in selected if len(h) == _OPTION_HASH_BYTES))[:MAX_POLL_OPTIONS]
    names = tuple(known[h] for h in hashes if h in known) if known else ()
    return dataclasses.replace(
        base,
        kind="poll_choice",
        text=", ".join(names),
        is_protocol=False,
        poll_vote=PollVote(poll_message_id=poll_id, option_hashes=hashes, options=names),
    )


class PollOptionsCache:
    """Option names of the polls a session saw, by poll message id ({option hash: name}), to name votes.

    Bounded in polls and in characters (a session sees polls for as long as it runs): the least recently
    seen or voted-on poll leaves first. Thread-safe: Go's callbacks of a restarted client may overlap.
    """

    def __init__(self, max_polls: int = POLL_CACHE_POLLS, max_chars: int = POLL_CACHE_CHARS) -> None:
        self._max_polls = max_polls
        self._max_chars = max_chars
        self._chars = 0
        self._polls: OrderedDict[str, tuple[dict[str, str], int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._polls)

    def remember(self, poll_id: str, options: dict[str, str]) -> None:
        size = sum(len(name) for name in options.values()) + len(poll_id)
        with self._lock:
            previous = self._polls.pop(poll_id, None)
            if previous is not None:
                self._chars -= previous[1]
            self._polls[poll_id] = (dict(options), size)
            self._chars += size
            while self._polls and (len(self._polls) > self._max_polls or self._chars > self._max_chars):
                _, (_, dropped) = self._polls.popitem(last=False)
                self._chars -= dropped

    def options(self, poll_id: str) -> dict[str, str] | None:
        with self._lock:
            found = self._polls.get(poll_id)
            if found is None:
                return None
            self._polls.move_to_end(poll_id)  # a poll being voted on stays
            return found[0]
