"""Routing (seed 003: the instance's own messages never, owner numbers → owner agent, everyone else →
customer agent, groups only when enabled) and selection (which one automation answers a message)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from zapgate_core.domain.automations.business_hours import TimeRange, WeeklyHours
from zapgate_core.domain.automations.definitions import (
    Agent,
    Automation,
    AwayTrigger,
    FirstMessageTrigger,
    KeywordTrigger,
    PatternTrigger,
    Rule,
    TextReply,
)
from zapgate_core.domain.automations.escalation import after_human_reply, escalate
from zapgate_core.domain.automations.routing import (
    Deliver,
    InboundFacts,
    Skip,
    owner_number_set,
    route,
    sender_phone,
)
from zapgate_core.domain.automations.selection import IncomingMessage, Passed, Selection, ordered, select

OWNER = "5511999990000"
OWNERS = frozenset({OWNER})
CUSTOMER_JID = "5511999999999@s.whatsapp.net"  # seed 003's example client
GROUP_JID = "120363025246125486@g.us"
NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # a Monday, 12:00 in Sao Paulo


def direct(sender: str, **changes: object) -> InboundFacts:
    return replace(InboundFacts(from_me=False, chat_jid=sender, sender_jid=sender), **changes)  # type: ignore[arg-type]


# ------------------------------------------------------------------ routing
def test_the_instances_own_messages_are_never_answered() -> None:
    # seed 003: `if (!msg.key.fromMe && msg.message)` — even from an owner number, even in an enabled group
    assert route(direct(f"{OWNER}@s.whatsapp.net", from_me=True), OWNERS, True) == Skip("from_me")
    assert route(replace(direct(CUSTOMER_JID, from_me=True), chat_jid=GROUP_JID), OWNERS, True) == Skip("from_me")


def test_a_message_from_the_instances_own_number_is_skipped() -> None:
    # Another device of the same account writing to the instance: answering it would talk to ourselves.
    facts = direct("5511977776666@s.whatsapp.net", own_number="+55 11 97777-6666")
    assert route(facts, OWNERS, False) == Skip("own_number")


def test_an_owner_number_is_routed_to_the_owner_agent() -> None:
    # seed 003: phone = cleanFrom in aurora_owner_numbers → Aurora
    assert route(direct(f"{OWNER}@s.whatsapp.net"), OWNERS, False) == Deliver("owner")
    assert route(direct(f"{OWNER}:12@s.whatsapp.net"), OWNERS, False) == Deliver("owner")  # from a linked device


def test_everyone_else_is_routed_to_the_customer_agent() -> None:
    assert route(direct(CUSTOMER_JID), OWNERS, False) == Deliver("customer")
    assert route(direct(CUSTOMER_JID), frozenset(), False) == Deliver("customer")


def test_groups_are_answered_only_when_enabled_and_always_as_customers() -> None:
    from_owner = InboundFacts(from_me=False, chat_jid=GROUP_JID, sender_jid=f"{OWNER}@s.whatsapp.net")
    assert route(from_owner, OWNERS, include_groups=False) == Skip("group")
    # The owner agent's replies carry business data; in a group every member would read them.
    assert route(from_owner, OWNERS, include_groups=True) == Deliver("customer")


@pytest.mark.parametrize("chat", ["status@broadcast", "1234567890@broadcast", "120363999@newsletter", "not a jid @"])
def test_status_broadcasts_and_channels_are_no_chats(chat: str) -> None:
    facts = InboundFacts(from_me=False, chat_jid=chat, sender_jid=CUSTOMER_JID)
    assert route(facts, OWNERS, include_groups=True) == Skip("not_a_chat")


def test_a_lid_sender_is_an_owner_only_when_its_phone_number_is_known() -> None:
    lid = "98765432109876@lid"
    assert route(direct(lid), OWNERS, False) == Deliver("customer")  # unknown number: the safe side
    assert route(direct(lid, sender_pn=f"{OWNER}@s.whatsapp.net"), OWNERS, False) == Deliver("owner")
    assert sender_phone(direct(lid, sender_pn="+55 11 99999-0000")) == OWNER


def test_owner_numbers_are_normalised_to_digits() -> None:
    assert owner_number_set(["+55 (11) 99999-0000", "5511999990000@s.whatsapp.net", "5521988887777"]) == {
        OWNER, "5521988887777",
    }
    with pytest.raises(ValueError, match="phone numbers"):
        owner_number_set(["not-a-phone"])
    with pytest.raises(ValueError, match="phone numbers"):
        owner_number_set([GROUP_JID])


def test_a_direct_message_without_a_sender_is_skipped() -> None:
    assert route(InboundFacts(from_me=False, chat_jid=CUSTOMER_JID, sender_jid=""), OWNERS, False) == Skip("no_sender")


# ------------------------------------------------------------------ selection
def rule(
    automation_id: str, trigger: object, *, position: int = 0, cooldown_s: int = 0, **common: object
) -> Automation:
    behaviour = Rule(trigger, TextReply(f"reply of {automation_id}"), cooldown_s)  # type: ignore[arg-type]
    return Automation(automation_id, automation_id, behaviour, position=position, **common)  # type: ignore[arg-type]


def agent(automation_id: str, audience: str, *, position: int = 0, **common: object) -> Automation:
    behaviour = Agent(audience=audience, provider="openai", model="gpt-4o-mini", system_prompt="",  # type: ignore[arg-type]
                      fallback_text="Desculpe")
    return Automation(automation_id, automation_id, behaviour, position=position, **common)  # type: ignore[arg-type]


def message(
    text: str, facts: InboundFacts | None = None, *, first: bool = False, at: datetime = NOW
) -> IncomingMessage:
    return IncomingMessage(facts or direct(CUSTOMER_JID), text, first, at)


def chosen(selection: Selection) -> str | None:
    return selection.automation.id if selection.automation else None


def pick(automations: list[Automation], msg: IncomingMessage, last_fired: Mapping[str, datetime] | None = None,
         **kwargs: object) -> Selection:
    return select(automations, msg, last_fired=last_fired or {}, **kwargs)  # type: ignore[arg-type]


SETUP = [
    agent("customer-ai", "customer", position=0, owner_numbers=OWNERS),
    agent("aurora", "owner", position=1, owner_numbers=OWNERS),
    rule("price", KeywordTrigger(("preço",)), position=5, owner_numbers=OWNERS),
    rule("welcome", FirstMessageTrigger(), position=1, owner_numbers=OWNERS),
]


def test_rules_are_evaluated_before_agents_whatever_their_positions() -> None:
    assert [a.id for a in ordered(SETUP)] == ["welcome", "price", "customer-ai", "aurora"]
    selection = pick(SETUP, message("qual o preço?"))
    assert chosen(selection) == "price"
    assert selection.audience == "customer"
    assert selection.passed == (Passed("welcome", "no_match"),)


def test_the_first_matching_rule_by_position_wins() -> None:
    selection = pick(SETUP, message("qual o preço?", first=True))
    assert chosen(selection) == "welcome"  # position 1 before position 5, both match
    assert selection.passed == ()


def test_equal_positions_are_ordered_by_id_not_by_the_stores_order() -> None:
    both = [rule("b", KeywordTrigger(("oi",))), rule("a", KeywordTrigger(("oi",)))]
    assert chosen(pick(both, message("oi"))) == "a"
    assert chosen(pick(list(reversed(both)), message("oi"))) == "a"


def test_the_customer_agent_answers_what_no_rule_covers() -> None:
    # seed 003: every client message reaches the client AI
    selection = pick(SETUP, message("Olá! Quero agendar uma consulta para meu cachorro Rex."))
    assert chosen(selection) == "customer-ai"
    assert [p.reason for p in selection.passed] == ["no_match", "no_match"]


def test_an_owner_reaches_the_owner_agent_and_never_a_rule() -> None:
    from_owner = direct(f"{OWNER}@s.whatsapp.net")
    selection = pick(SETUP, message("Quantos clientes atendi hoje? preço", from_owner, first=True))
    assert chosen(selection) == "aurora"
    assert selection.audience == "owner"
    assert selection.passed == (Passed("welcome", "owner"), Passed("price", "owner"), Passed("customer-ai", "audience"))


def test_a_disabled_automation_is_passed_over() -> None:
    setup = [replace(SETUP[2], enabled=False), *SETUP[:2]]
    selection = pick(setup, message("qual o preço?"))
    assert chosen(selection) == "customer-ai"
    assert Passed("price", "disabled") in selection.passed


def test_a_rule_in_cooldown_lets_the_next_automation_answer() -> None:
    just_now = {"price": NOW - timedelta(seconds=30)}
    setup = [replace(SETUP[2], behaviour=replace(SETUP[2].behaviour, cooldown_s=60)), *SETUP[:2]]  # type: ignore[type-var]
    selection = pick(setup, message("qual o preço?"), just_now)
    assert chosen(selection) == "customer-ai"
    assert Passed("price", "cooldown") in selection.passed
    later = pick(setup, message("qual o preço?", at=NOW + timedelta(seconds=30)), just_now)
    assert chosen(later) == "price"  # exactly cooldown_s after it last fired


def test_without_an_agent_a_rule_in_cooldown_means_no_answer() -> None:
    only = [rule("price", KeywordTrigger(("preço",)), cooldown_s=60)]
    selection = pick(only, message("preço"), {"price": NOW})
    assert selection == Selection(None, None, (Passed("price", "cooldown"),), "nothing_applies")


def test_an_escalated_chat_gets_no_automation_until_a_person_replies() -> None:
    pause = escalate(CUSTOMER_JID, "customer-ai", NOW - timedelta(minutes=5), 3600)
    assert pick(SETUP, message("qual o preço?"), pause=pause) == Selection(None, None, no_answer="escalated")
    released = after_human_reply(pause, NOW - timedelta(minutes=1), by_automation=False)
    assert chosen(pick(SETUP, message("qual o preço?"), pause=released)) == "price"


def test_the_instances_own_message_selects_nothing() -> None:
    selection = pick(SETUP, message("preço", direct(CUSTOMER_JID, from_me=True)))
    assert selection == Selection(None, None, no_answer="from_me")


def test_in_a_group_only_automations_that_include_groups_answer() -> None:
    in_group = InboundFacts(from_me=False, chat_jid=GROUP_JID, sender_jid=CUSTOMER_JID)
    selection = pick(SETUP, message("qual o preço?", in_group))
    assert selection.no_answer == "nothing_applies"
    assert {p.reason for p in selection.passed} == {"group"}
    with_groups = [*SETUP, rule("group-price", KeywordTrigger(("preço",)), position=9, include_groups=True)]
    assert chosen(pick(with_groups, message("qual o preço?", in_group))) == "group-price"


def test_an_agent_does_not_answer_a_message_without_text() -> None:
    # seed 003 warns and skips a message without content; a welcome still greets a first photo.
    selection = pick(SETUP, message("   "))
    assert selection.no_answer == "nothing_applies"
    assert Passed("customer-ai", "no_text") in selection.passed
    assert chosen(pick(SETUP, message("", first=True))) == "welcome"


def test_the_away_rule_answers_outside_business_hours_only() -> None:
    # Sao Paulo, Monday 09:00-18:00; NOW is Monday 12:00 there.
    hours = WeeklyHours("America/Sao_Paulo", ((TimeRange(540, 1080),), (), (), (), (), (), ()))
    setup = [*SETUP, rule("away", AwayTrigger(hours), position=0)]
    assert chosen(pick(setup, message("oi"))) == "customer-ai"
    night = NOW + timedelta(hours=9)  # 21:00 in Sao Paulo
    assert chosen(pick(setup, message("oi", at=night))) == "away"


def test_a_pattern_that_times_out_is_reported_and_passed_over() -> None:
    slow = rule("slow", PatternTrigger(r"(a+)+$"))  # built past the contract, which would refuse it
    selection = pick([slow, SETUP[0]], message("a" * 3000 + "!"))
    assert chosen(selection) == "customer-ai"
    assert selection.passed == (Passed("slow", "pattern_timeout"),)


def test_an_owner_agent_does_not_answer_an_owner_listed_only_on_another_automation() -> None:
    # Each automation's owner_numbers decide who it treats as owner.
    setup = [agent("aurora", "owner", owner_numbers=frozenset({"5521900000000"})), agent("client", "customer")]
    selection = pick(setup, message("relatório", direct(f"{OWNER}@s.whatsapp.net")))
    assert chosen(selection) == "client"
