"""Which automation answers an inbound message: at most one.

1. The message must be for someone (routing.route with the chat-level checks: not from the instance,
   a real chat) and its chat must not be paused by an escalation to a person.
2. Rules, then agents; each kind in `position` order (ties by id, so the choice never depends on
   the order a store returned them). The first enabled automation that applies answers.

Why rules before agents, whatever their positions: seed 003 sends every message to an AI agent (the
owner's assistant or the client AI); rules are its "auto-resposta baseada em padrões" (phase 3), the
cheap, predictable answers a tenant writes for the cases it knows (a keyword, the first message, after
hours). An agent applies to every message of its audience, so an agent placed before a rule would make
that rule dead configuration; rules first keeps the seed's behaviour as the catch-all and lets
rules take the cases they name, without a model call.

A rule applies to customers only (owners go to the owner agent, as in seed 003: a welcome or an
away notice to the business's own staff is noise), when its trigger matches and its per-chat cooldown
has passed. A rule in cooldown does not end the search: the next rule or the agent may answer, because
the cooldown is there not to repeat a canned reply, not to silence the chat. An agent applies when the
route's audience is its own and the message has text (seed 003 skips messages without content).
Every automation passed over is reported with why, for the interaction record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from zapgate_core.domain.automations.cooldown import cooldown_allows
from zapgate_core.domain.automations.definitions import Agent, Audience, Automation, Rule
from zapgate_core.domain.automations.escalation import ChatPause, is_paused
from zapgate_core.domain.automations.routing import InboundFacts, Skip, route
from zapgate_core.domain.automations.rules import PatternTimeout, trigger_matches

PassReason = Literal["disabled", "group", "owner", "audience", "no_text", "no_match", "pattern_timeout", "cooldown"]
NoAnswerReason = Literal["from_me", "own_number", "not_a_chat", "no_sender", "escalated", "nothing_applies"]


@dataclass(frozen=True)
class IncomingMessage:
    facts: InboundFacts
    text: str  # the body or the caption; "" for a message without text
    first_message: bool  # the contact's first message to this instance, as the caller's store knows
    received_at: datetime  # timezone-aware


@dataclass(frozen=True)
class Passed:
    automation_id: str
    reason: PassReason


@dataclass(frozen=True)
class Selection:
    automation: Automation | None
    audience: Audience | None
    passed: tuple[Passed, ...] = ()
    no_answer: NoAnswerReason | None = None  # why nothing answers (None when an automation does)


def ordered(automations: Iterable[Automation]) -> list[Automation]:
    """Evaluation order: rules, then agents, each by position, then id."""
    return sorted(automations, key=lambda item: (item.kind != "rule", item.position, item.id))


def select(
    automations: Iterable[Automation],
    message: IncomingMessage,
    *,
    last_fired: Mapping[str, datetime],
    pause: ChatPause | None = None,
) -> Selection:
    """The automation that answers `message`; last_fired maps automation id → when it last fired in this chat."""
    chat_level = route(message.facts, frozenset(), include_groups=True)
    if isinstance(chat_level, Skip):
        reason: NoAnswerReason = chat_level.reason  # type: ignore[assignment]  # "group" is impossible here
        return Selection(None, None, no_answer=reason)
    if is_paused(pause, message.received_at):
        return Selection(None, None, no_answer="escalated")
    passed: list[Passed] = []
    for automation in ordered(automations):
        verdict = _verdict(automation, message, last_fired.get(automation.id))
        if isinstance(verdict, Passed):
            passed.append(verdict)
            continue
        return Selection(automation, verdict, tuple(passed))
    return Selection(None, None, tuple(passed), no_answer="nothing_applies")


def _verdict(automation: Automation, message: IncomingMessage, last_fired_at: datetime | None) -> Audience | Passed:
    if not automation.enabled:
        return Passed(automation.id, "disabled")
    routed = route(message.facts, automation.owner_numbers, automation.include_groups)
    if isinstance(routed, Skip):
        return Passed(automation.id, "group")  # the chat-level reasons were ruled out before: only groups remain
    behaviour = automation.behaviour
    if isinstance(behaviour, Agent):
        reason = _agent_pass(behaviour, routed.audience, message)
    else:
        reason = _rule_pass(behaviour, routed.audience, message, last_fired_at)
    return routed.audience if reason is None else Passed(automation.id, reason)


def _agent_pass(agent: Agent, audience: Audience, message: IncomingMessage) -> PassReason | None:
    if agent.audience != audience:
        return "audience"
    return None if message.text.strip() else "no_text"


def _rule_pass(
    rule: Rule, audience: Audience, message: IncomingMessage, last_fired_at: datetime | None
) -> PassReason | None:
    if audience != "customer":
        return "owner"
    try:
        matched = trigger_matches(rule.trigger, message.text, first_message=message.first_message,
                                  now=message.received_at)
    except PatternTimeout:
        return "pattern_timeout"
    if not matched:
        return "no_match"
    if not cooldown_allows(last_fired_at, message.received_at, rule.cooldown_s):
        return "cooldown"
    return None
