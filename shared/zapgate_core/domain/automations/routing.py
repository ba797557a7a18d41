"""Who an inbound message is for (seed 003): the owner agent, the customer side, or nobody.

Seed 003's worker answers only messages not sent by the instance itself (`!msg.key.fromMe`), looks the
sender's number up in the owner numbers (`aurora_owner_numbers`: found → Aurora, the owner's
assistant; otherwise → the client AI). zapgate keeps that and adds what the seed left implicit:

- from_me, or a sender that is the instance's own number (another device of the same account): skip.
- status updates (status@broadcast), broadcast lists and channels (@newsletter) are no chats: skip.
- groups: skip unless include_groups; in a group the audience is always customer, even when an owner
  number writes, because the owner agent's answers carry the business's data (reports, sales) and
  every member of the group would read them. The owner agent answers only in an owner's direct chat.
- the owner test compares phone numbers as digits. A sender known only by a LID (WhatsApp's hidden
  number) is an owner only when its phone number came with it (sender_pn); otherwise it is a customer:
  mistaking an owner for a customer costs a less useful answer, the reverse leaks the business's data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from zapgate_core.domain.automations.definitions import Audience
from zapgate_core.domain.jids import GROUP_SERVER, InvalidJid, is_lid, jid_user, parse_jid, pn_jid

SkipReason = Literal["from_me", "own_number", "not_a_chat", "group", "no_sender"]
_NOT_CHATS = ("broadcast", "newsletter")  # servers of status@broadcast, broadcast lists, channels


@dataclass(frozen=True)
class InboundFacts:
    """What routing needs to know about one inbound message."""

    from_me: bool
    chat_jid: str
    sender_jid: str  # the participant in a group, the contact in a direct chat (may be a @lid)
    sender_pn: str | None = None  # the sender's phone number when the sender is a LID and it is known
    own_number: str | None = None  # the instance's own phone number, when known


@dataclass(frozen=True)
class Skip:
    reason: SkipReason


@dataclass(frozen=True)
class Deliver:
    audience: Audience


Route = Skip | Deliver


def phone_digits(value: str | None) -> str | None:
    """A phone number in any common form (+55 11 9..., 5511...@s.whatsapp.net, with a device) as digits."""
    jid = pn_jid(value)
    return jid_user(jid) if jid else None


def owner_number_set(numbers: Iterable[str]) -> frozenset[str]:
    """Owner numbers as digits; ValueError naming the first that is no phone number."""
    digits = set()
    for number in numbers:
        found = phone_digits(number)
        if found is None:
            raise ValueError("owner numbers must be phone numbers with country code, e.g. +55 11 99999-0000")
        digits.add(found)
    return frozenset(digits)


def sender_phone(facts: InboundFacts) -> str | None:
    """The sender's phone number as digits, or None when only a LID (or nothing usable) is known."""
    if facts.sender_pn:
        return phone_digits(facts.sender_pn)
    return None if is_lid(facts.sender_jid) else phone_digits(facts.sender_jid)


def _server(jid: str) -> str:
    try:
        return parse_jid(jid).server
    except InvalidJid:
        return ""


def route(facts: InboundFacts, owner_numbers: frozenset[str], include_groups: bool) -> Route:
    """skip(reason), or deliver to the owner or the customer audience; owner_numbers as digits."""
    if facts.from_me:
        return Skip("from_me")
    server = _server(facts.chat_jid)
    if not server or server in _NOT_CHATS:
        return Skip("not_a_chat")
    phone = sender_phone(facts)
    if phone is not None and phone == phone_digits(facts.own_number):
        return Skip("own_number")
    if server == GROUP_SERVER:
        return Deliver("customer") if include_groups else Skip("group")
    if not facts.sender_jid and phone is None:
        return Skip("no_sender")
    return Deliver("owner" if phone is not None and phone in owner_numbers else "customer")
