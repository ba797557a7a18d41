"""An agent's memory of a chat (zapgate_automations.agent_run.memory): who said what, as the model reads it."""

from __future__ import annotations

from zapgate_automations.agent_run import memory
from zapgate_control.ports.messages import InboundContent, MessageRecord, ReceivedMessage
from zapgate_core.domain.automations.conversation import AssistantTurn, UserTurn

GROUP = "120363000000000001@g.us"
MARIA, JOAO = "5511911110001@s.whatsapp.net", "5511911110002@s.whatsapp.net"


def _received(message_id: str, text: str, sender: str, chat: str, push_name: str | None = None,
              from_me: bool = False) -> ReceivedMessage:
    return ReceivedMessage(id=message_id, instance_id="i", tenant_id="t", created_at="", stored_ms=0,
                           content=InboundContent(from_=sender, chat_id=chat, chat_type="group" if "@g.us" in chat
                                                  else "direct", body=text, push_name=push_name, from_me=from_me))


def _texts(turns: tuple[object, ...]) -> list[tuple[str, str]]:
    return [("user" if isinstance(t, UserTurn) else "assistant", str(getattr(t, "text", ""))) for t in turns]


def test_in_a_group_each_members_message_says_who_wrote_it() -> None:
    newest_first: list[MessageRecord] = [
        _received("m4", "e para 3 cães?", JOAO, GROUP),  # the message being answered; no push name
        _received("m3", "Banho a partir de R$ 50", "5511900000000@s.whatsapp.net", GROUP, from_me=True),
        _received("m2", "quanto custa o banho?", MARIA, GROUP, push_name="Maria"),
        _received("m1", "bom dia", JOAO, GROUP),
    ]
    turns = memory(newest_first, "m4", "e para 3 cães?", group_sender=JOAO)
    assert _texts(turns) == [
        ("user", "5511911110002: bom dia"),
        ("user", "Maria: quanto custa o banho?"),
        ("assistant", "Banho a partir de R$ 50"),
        ("user", "5511911110002: e para 3 cães?"),
    ]
    named = memory([_received("m5", "oi", JOAO, GROUP, push_name="João")], "m5", "oi", group_sender=JOAO)
    assert _texts(named) == [("user", "João: oi")]  # the current message's own record names its sender


def test_a_direct_chat_is_one_person_and_stays_unlabelled() -> None:
    turns = memory([_received("m2", "e amanhã?", MARIA, MARIA, push_name="Maria"),
                    _received("m1", "oi", MARIA, MARIA, push_name="Maria")], "m2", "e amanhã?")
    assert _texts(turns) == [("user", "oi"), ("user", "e amanhã?")]
    assert not any(isinstance(t, AssistantTurn) for t in turns)
