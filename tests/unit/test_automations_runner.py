"""The automations runner (functions/zapgate_automations/runner.py) on in-memory ports: routing, rules,
cooldowns, duplicates, agents with memory and tools, escalation, the fallback after retries, interactions."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from zapgate_automations import runner
from zapgate_automations.agent_run import ToolAnswer
from zapgate_automations.jobs import BadJob, Job
from zapgate_control.ports.automations import AutomationRecord, ChatPauseRecord, Firing, InteractionRecord
from zapgate_control.ports.instances import InstanceRecord
from zapgate_control.ports.messages import (
    DuplicateMessage,
    InboundContent,
    MessageRecord,
    OutboundMessage,
    ReceivedMessage,
)
from zapgate_control.ports.webhooks import Webhook
from zapgate_core.contract.automations import parse_automation, to_domain
from zapgate_core.domain.automations.conversation import (
    Conversation,
    ModelReply,
    ProviderUnavailable,
    StopReason,
    ToolCall,
    ToolResultTurn,
    ToolSpec,
    Usage,
)
from zapgate_core.domain.automations.idempotency import reply_message_id
from zapgate_core.domain.automations.retry_policy import RetryPolicy
from zapgate_core.domain.locks import LockState
from zapgate_core.domain.outbound import MessageState
from zapgate_core.domain.webhooks import verify

TENANT, INSTANCE = "t-1", "inst-1"
OWN = "5511999990000"
CUSTOMER = "5511988887777@s.whatsapp.net"
OWNER = "5511977776666@s.whatsapp.net"
NOW_MS = 1_780_000_000_000


# ------------------------------------------------------------------ in-memory ports
class Instances:
    def __init__(self) -> None:
        self.record = InstanceRecord(
            id=INSTANCE, tenant_id=TENANT, name="shop", priority=0, enabled=True, status="CONNECTED",
            created_at="2026-01-01T00:00:00Z", updated_at="2026-01-01T00:00:00Z",
            lock=LockState(None, None, 0, 0), wa_jid=f"{OWN}@s.whatsapp.net", automations_enabled=True,
        )  # fmt: skip
        self.reads = 0
        self.flag_writes: list[bool] = []

    def get_for_tenant(self, tenant_id: str, instance_id: str) -> InstanceRecord | None:
        self.reads += 1
        return self.record if (tenant_id, instance_id) == (TENANT, INSTANCE) else None

    def set_automations_enabled(self, instance_id: str, enabled: bool) -> bool:
        self.flag_writes.append(enabled)
        return True


class Messages:
    def __init__(self) -> None:
        self.items: dict[str, MessageRecord] = {}
        self.order = itertools.count(NOW_MS - 100_000)
        self.chat_queries: list[int] = []

    def inbound(self, message_id: str, text: str, sender: str = CUSTOMER) -> None:
        stored = next(self.order)
        self.items[message_id] = ReceivedMessage(
            id=message_id, instance_id=INSTANCE, tenant_id=TENANT,
            content=InboundContent(from_=sender, chat_id=sender, chat_type="direct", body=text),
            created_at="", stored_ms=stored,
        )  # fmt: skip

    def get(self, message_id: str) -> MessageRecord | None:
        return self.items.get(message_id)

    def enqueue(self, tenant_id: str, instance_id: str, content: Any, queue_owner: str | None = None,
                message_id: str | None = None, request_hash: str | None = None, automation_id: str | None = None,
                sent_by_ai: bool = False) -> OutboundMessage:  # fmt: skip
        assert message_id is not None
        if message_id in self.items:
            existing = self.items[message_id]
            assert isinstance(existing, OutboundMessage)
            raise DuplicateMessage(existing)
        message = OutboundMessage(
            id=message_id, instance_id=instance_id, tenant_id=tenant_id, content=content, state=MessageState.QUEUED,
            created_at="", stored_ms=next(self.order), request_hash=request_hash, automation_id=automation_id,
            sent_by_ai=sent_by_ai,
        )  # fmt: skip
        self.items[message_id] = message
        return message

    def chat_messages(self, instance_id: str, chat: str, limit: int, cursor: str | None
                      ) -> tuple[list[MessageRecord], str | None]:  # fmt: skip
        self.chat_queries.append(limit)
        found = [m for m in self.items.values()
                 if (m.content.chat_id if isinstance(m, ReceivedMessage) else m.content.to) == chat]
        found.sort(key=lambda m: m.stored_ms, reverse=True)
        return found[:limit], None

    def replies(self) -> list[OutboundMessage]:
        return [m for m in self.items.values() if isinstance(m, OutboundMessage)]


class Automations:
    def __init__(self) -> None:
        self.records: list[AutomationRecord] = []

    def add(self, automation_id: str, body: dict[str, Any], api_key_version: str | None = None) -> None:
        config = parse_automation(body, allow_http=True).model_dump(mode="json")
        self.records.append(AutomationRecord(
            id=automation_id, tenant_id=TENANT, instance_id=INSTANCE, kind=config["kind"], name=config["name"],
            enabled=config["enabled"], position=config["position"], config=config, version=1, created_at_ms=0,
            updated_at_ms=0, api_key_version=api_key_version,
        ))  # fmt: skip

    def list_for_instance(self, instance_id: str) -> list[AutomationRecord]:
        return list(self.records) if instance_id == INSTANCE else []

    def has_enabled(self, instance_id: str) -> bool:
        return any(r.enabled for r in self.records)


class Interactions:
    def __init__(self) -> None:
        self.saved: list[InteractionRecord] = []

    def record(self, interaction: InteractionRecord, ttl_s: int) -> None:
        self.saved.append(interaction)


class Escalations:
    def __init__(self) -> None:
        self.pauses: dict[str, ChatPauseRecord] = {}
        self.cleared: list[int | None] = []

    def pause(self, record: ChatPauseRecord) -> None:
        self.pauses[record.chat] = record

    def get(self, instance_id: str, chat: str) -> ChatPauseRecord | None:
        return self.pauses.get(chat)

    def clear(self, instance_id: str, chat: str, replied_at_ms: int | None = None) -> ChatPauseRecord | None:
        self.cleared.append(replied_at_ms)
        return self.pauses.pop(chat, None)


class Cooldowns:
    def __init__(self) -> None:
        self.fired: dict[tuple[str, str], int] = {}
        self.fired_by: dict[tuple[str, str], str | None] = {}
        self.firsts: dict[str, str] = {}

    def last_fired(self, instance_id: str, chat: str) -> dict[str, Firing]:
        return {automation: Firing(ms, self.fired_by.get((c, automation)))
                for (c, automation), ms in self.fired.items() if c == chat}

    def try_fire(self, instance_id: str, automation_id: str, chat: str, now_ms: int, cooldown_s: int,
                 message_id: str | None = None) -> bool:
        last = self.fired.get((chat, automation_id))
        if last is not None and cooldown_s > 0 and last > now_ms - cooldown_s * 1000:
            return False
        self.fired[(chat, automation_id)] = now_ms
        self.fired_by[(chat, automation_id)] = message_id
        return True

    def first_message(self, instance_id: str, chat: str, message_id: str, now_ms: int) -> bool:
        return self.firsts.setdefault(chat, message_id) == message_id


class Keys:
    def get(self, automation_id: str, version: str | None = None) -> str | None:
        return "sk-test" if version else None


class Webhooks:
    def list_for_tenant(self, tenant_id: str) -> list[Webhook]:
        return [Webhook(id="wh_1", tenant_id=TENANT, url="https://x.example/hook", events=None,
                        created_at="", secret="whsec_tenant")]  # fmt: skip


class Events:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, tenant_id: str, events: Any) -> int:
        self.published.extend(events)
        return len(events)


@dataclass
class ScriptedModel:
    answers: list[Any]
    seen: list[Conversation] = field(default_factory=list)

    def complete(self, conversation: Conversation, tools: tuple[ToolSpec, ...], *, model: str, temperature: float,
                 max_tokens: int, timeout_s: float) -> ModelReply:  # fmt: skip
        self.seen.append(conversation)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def text(value: str) -> ModelReply:
    return ModelReply(value, (), StopReason.END_TURN, "stop", Usage(10, 5), 3.0)


def call(name: str, arguments: dict[str, Any]) -> ModelReply:
    return ModelReply(None, (ToolCall("c1", name, json.dumps(arguments)),), StopReason.TOOL_USE, "tool_calls",
                      Usage(8, 4), 2.0)  # fmt: skip


class Tools:
    def __init__(self, answer: ToolAnswer) -> None:
        self.answer = answer
        self.calls: list[tuple[str, bytes, dict[str, str]]] = []

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> ToolAnswer:
        self.calls.append((url, body, headers))
        return self.answer


class World:
    def __init__(self, model: ScriptedModel | None = None, tool_answer: ToolAnswer | None = None) -> None:
        self.instances, self.messages, self.automations = Instances(), Messages(), Automations()
        self.interactions, self.escalations, self.cooldowns = Interactions(), Escalations(), Cooldowns()
        self.events = Events()
        self.model = model or ScriptedModel([])
        self.tools = Tools(tool_answer or ToolAnswer(200, b'{"booked": true, "at": "10:00"}'))
        self.now = NOW_MS
        self.slept: list[float] = []
        self.deps = runner.RunnerDeps(
            instances=self.instances, messages=self.messages, automations=self.automations,  # type: ignore[arg-type]
            interactions=self.interactions, escalations=self.escalations, cooldowns=self.cooldowns,  # type: ignore[arg-type]
            provider_keys=Keys(), webhooks=Webhooks(), events=self.events,  # type: ignore[arg-type]
            models=lambda agent, key: self.model, tools=self.tools,
            definitions=lambda record: to_domain(parse_automation(record.config, allow_http=True), record.id),
            retry=RetryPolicy(), sleep=self.slept.append, now_ms=lambda: self.now,
        )  # fmt: skip

    def job(self, message_id: str, body: str, sender: str = CUSTOMER) -> Job:
        self.messages.inbound(message_id, body, sender)
        return Job.parse(json.dumps({"tenantId": TENANT, "instanceId": INSTANCE, "messageId": message_id,
                                     "chatId": sender, "chatType": "direct", "sender": sender, "senderPn": None,
                                     "fromMe": False, "text": body, "storedAt": "2026-06-01T12:00:00Z"}))

    def run(self, message_id: str, body: str, sender: str = CUSTOMER) -> runner.RunResult:
        return runner.run(self.deps, self.job(message_id, body, sender))


PRICE_RULE = {"kind": "rule", "name": "Preço", "trigger": {"type": "keyword", "keywords": ["preço"]},
              "reply": {"type": "text", "text": "Banho a partir de R$ 50"}}
AGENT = {"kind": "agent", "name": "Client AI", "audience": "customer", "provider": "openai", "model": "gpt-test",
         "system_prompt": "Você é a recepcionista.", "memory_messages": 5,
         "tools": [{"name": "book_appointment", "description": "Agenda", "url": "http://127.0.0.1:9/book",
                    "parameters": {"type": "object", "properties": {"time": {"type": "string"}}}}]}
OWNER_AGENT = {**AGENT, "name": "Aurora", "audience": "owner", "owner_numbers": ["+55 11 97777-6666"], "tools": []}


# ------------------------------------------------------------------ rules
def test_a_keyword_gets_the_rule_reply_through_the_send_path_with_the_reply_key() -> None:
    world = World()
    world.automations.add("a-rule", PRICE_RULE)
    result = world.run("m1", "Qual o PRECO?")
    assert result.outcome == "replied"
    (reply,) = world.messages.replies()
    assert reply.id == reply_message_id(TENANT, INSTANCE, "m1", "a-rule") == result.reply_message_id
    assert reply.content.body == "Banho a partir de R$ 50" and reply.content.to == CUSTOMER
    assert reply.automation_id == "a-rule" and reply.sent_by_ai is False
    (interaction,) = world.interactions.saved
    assert (interaction.outcome, interaction.automation_kind, interaction.reply_message_id) == \
        ("replied", "rule", reply.id)  # fmt: skip
    assert world.instances.reads == 1  # the send path reused the run's read of the instance


def test_the_same_job_twice_is_answered_once() -> None:
    world = World()
    world.automations.add("a-rule", {**PRICE_RULE, "cooldown_s": 600})
    job = world.job("m1", "preço")
    assert runner.run(world.deps, job).outcome == "replied"
    again = runner.run(world.deps, job)
    assert again.outcome == "duplicate"
    assert len(world.messages.replies()) == 1 and len(world.interactions.saved) == 1


def test_nothing_matches_is_a_skipped_interaction_and_no_reply() -> None:
    world = World()
    world.automations.add("a-rule", PRICE_RULE)
    assert world.run("m1", "bom dia").outcome == "skipped"
    assert world.messages.replies() == []
    assert world.interactions.saved[0].reason == "nothing_applies"
    assert world.interactions.saved[0].passed == {"a-rule": "no_match"}


def test_a_rule_in_cooldown_falls_through_to_the_agent() -> None:
    world = World(ScriptedModel([text("Olá! Como posso ajudar?")]))
    world.automations.add("a-rule", {**PRICE_RULE, "cooldown_s": 600})
    world.automations.add("b-agent", AGENT)
    assert world.run("m1", "preço").automation_id == "a-rule"
    second = world.run("m2", "preço de novo")
    assert second.outcome == "replied" and second.automation_id == "b-agent"


def test_no_enabled_automation_clears_a_stale_flag_and_records_nothing() -> None:
    world = World()
    world.automations.add("a-rule", {**PRICE_RULE, "enabled": False})
    assert world.run("m1", "preço").outcome == "none"
    assert world.instances.flag_writes == [False] and world.interactions.saved == []


def test_from_me_jobs_are_ignored() -> None:
    world = World()
    world.automations.add("a-rule", PRICE_RULE)
    job = world.job("m1", "preço")
    assert runner.run(world.deps, Job(**{**job.__dict__, "from_me": True})).outcome == "none"


# ------------------------------------------------------------------ agents
def test_an_agent_calls_the_tool_signed_and_answers_with_memory() -> None:
    world = World(ScriptedModel([call("book_appointment", {"time": "10:00"}), text("Agendado para as 10h!")]))
    world.automations.add("b-agent", AGENT)
    world.messages.inbound("m0", "Oi, tenho um cachorro")
    result = world.run("m1", "Quero agendar um banho amanhã 10h")
    assert result.outcome == "replied"
    (reply,) = world.messages.replies()
    assert reply.content.body == "Agendado para as 10h!" and reply.sent_by_ai is True
    (url, body, headers) = world.tools.calls[0]
    assert url == "http://127.0.0.1:9/book"
    sent = json.loads(body)
    assert sent["tool"] == "book_appointment" and sent["arguments"] == {"time": "10:00"}
    assert sent["messageId"] == "m1" and sent["automationId"] == "b-agent"
    assert verify("whsec_tenant", headers["X-Zapgate-Timestamp"], body, headers["X-Zapgate-Signature"])
    first, second = world.model.seen
    assert [getattr(t, "text", None) for t in first.turns] == ["Oi, tenho um cachorro",
                                                               "Quero agendar um banho amanhã 10h"]
    tool_result = next(t for t in second.turns if isinstance(t, ToolResultTurn))
    assert json.loads(tool_result.content) == {"booked": True, "at": "10:00"}
    assert world.messages.chat_queries == [5]  # one bounded read of the chat
    (interaction,) = world.interactions.saved
    assert interaction.provider == "openai" and interaction.model_calls == 2
    assert (interaction.tokens_in, interaction.tokens_out) == (18, 9)
    assert [(c.name, c.status) for c in interaction.tool_calls] == [("book_appointment", "ok")]


def test_in_a_group_the_agent_reads_who_wrote_each_message() -> None:
    group, member = "120363000000000001@g.us", "5511911110002@s.whatsapp.net"
    world = World(ScriptedModel([text("Para 3 cães: R$ 150")]))
    world.automations.add("b-agent", {**AGENT, "include_groups": True})
    for message_id, body, name in (("g1", "quanto custa o banho?", "Maria"), ("g2", "e para 3 cães?", None)):
        world.messages.items[message_id] = ReceivedMessage(
            id=message_id, instance_id=INSTANCE, tenant_id=TENANT, created_at="", stored_ms=next(world.messages.order),
            content=InboundContent(from_=member if name is None else CUSTOMER, chat_id=group, chat_type="group",
                                   body=body, push_name=name))  # fmt: skip
    job = Job.parse(json.dumps({"tenantId": TENANT, "instanceId": INSTANCE, "messageId": "g2", "chatId": group,
                                "chatType": "group", "sender": member, "senderPn": None, "fromMe": False,
                                "text": "e para 3 cães?", "storedAt": "2026-06-01T12:00:00Z"}))
    assert runner.run(world.deps, job).outcome == "replied"
    (seen,) = world.model.seen
    assert [getattr(t, "text", None) for t in seen.turns] == ["Maria: quanto custa o banho?",
                                                              "5511911110002: e para 3 cães?"]


def test_the_owner_number_goes_to_the_owner_agent() -> None:
    # Each automation's own owner_numbers decide who it treats as an owner: the customer agent names them too.
    world = World(ScriptedModel([text("Hoje: 12 clientes")]))
    world.automations.add("b-agent", {**AGENT, "owner_numbers": OWNER_AGENT["owner_numbers"]})
    world.automations.add("c-owner", OWNER_AGENT)
    result = world.run("m1", "Quantos clientes hoje?", sender=OWNER)
    assert (result.outcome, result.automation_id) == ("replied", "c-owner")
    customer = World(ScriptedModel([text("Olá")]))
    customer.automations.add("b-agent", AGENT)
    customer.automations.add("c-owner", OWNER_AGENT)
    assert customer.run("m1", "Oi").automation_id == "b-agent"


def test_escalation_pauses_the_chat_emits_the_event_and_silences_the_next_message() -> None:
    world = World(ScriptedModel([call("escalate_to_human", {"reason": "cliente pediu atendente"})]))
    world.automations.add("a-rule", PRICE_RULE)
    world.automations.add("b-agent", AGENT)
    result = world.run("m1", "quero falar com uma pessoa")
    assert result.outcome == "escalated"
    pause = world.escalations.pauses[CUSTOMER]
    assert pause.reason == "cliente pediu atendente" and pause.until_ms == NOW_MS + 86_400_000
    (event,) = world.events.published
    assert event["type"] == "AUTOMATION_ESCALATED" and event["payload"]["chatId"] == CUSTOMER
    assert world.run("m2", "preço?").reason == "escalated"  # rules too are silent while a person has the chat
    assert world.messages.replies() == []


def test_a_persons_reply_through_the_api_releases_the_pause() -> None:
    world = World(ScriptedModel([call("escalate_to_human", {}), text("De volta!")]))
    world.automations.add("b-agent", AGENT)
    world.run("m1", "atendente por favor")
    from zapgate_core.contract.outbound_content import OutboundContent

    world.messages.enqueue(TENANT, INSTANCE, OutboundContent(to=CUSTOMER, body="Oi, sou a Ana"), message_id="api-1")
    world.messages.items["api-1"] = OutboundMessage(**{**world.messages.items["api-1"].__dict__,
                                                       "stored_ms": NOW_MS + 5})  # fmt: skip
    world.now = NOW_MS + 10
    assert world.run("m2", "obrigado").outcome == "replied"
    assert world.escalations.cleared == [NOW_MS + 5]


def test_a_provider_failing_every_retry_sends_the_fallback_and_records_the_failure() -> None:
    down = ProviderUnavailable("HTTP 500", provider="openai", status=500)
    world = World(ScriptedModel([down, down, down, down]))
    world.automations.add("b-agent", AGENT)
    result = world.run("m1", "oi")
    assert result.outcome == "failed"
    assert world.slept == [2.0, 4.0, 8.0]  # seed 003's backoff
    (reply,) = world.messages.replies()
    assert reply.content.body == "Desculpe, ocorreu um erro. Por favor, tente novamente." and reply.sent_by_ai
    (interaction,) = world.interactions.saved
    assert (interaction.outcome, interaction.reason, interaction.model_calls) == ("failed", "provider_unavailable", 4)
    assert interaction.reply_message_id == reply.id


def test_a_retried_agent_job_never_calls_the_model_again() -> None:
    world = World(ScriptedModel([text("primeira resposta")]))
    world.automations.add("b-agent", AGENT)
    job = world.job("m1", "oi")
    runner.run(world.deps, job)
    assert runner.run(world.deps, job).outcome == "duplicate"  # the model has no answer left: not called
    assert len(world.model.seen) == 1


def test_a_tool_endpoint_error_goes_back_to_the_model() -> None:
    model = ScriptedModel([call("book_appointment", {"time": "9"}), text("Não consegui agendar")])
    world = World(model, ToolAnswer(503))
    world.automations.add("b-agent", AGENT)
    world.run("m1", "agenda 9h")
    result_turn = next(t for t in model.seen[1].turns if isinstance(t, ToolResultTurn))
    assert result_turn.is_error and "HTTP 503" in result_turn.content
    assert world.interactions.saved[0].tool_calls[0].status == "error"


def test_a_job_that_is_not_one_is_refused() -> None:
    with pytest.raises(BadJob):
        Job.parse('{"nope": 1}')
    assert Job.parse(json.dumps({"tenantId": "t", "instanceId": "i", "messageId": "m", "chatId": "5511988887777",
                                 "storedAt": "2026-06-01T12:00:00.000Z"})).stored_at == \
        datetime(2026, 6, 1, 12, tzinfo=UTC)  # fmt: skip


def test_provider_keys_are_read_once_per_key_version() -> None:
    from zapgate_automations.handler import CachedProviderKeys

    class Counting:
        reads = 0

        def get(self, automation_id: str, version: str | None = None) -> str | None:
            Counting.reads += 1
            return f"key-{version}"

    keys = CachedProviderKeys(Counting())  # type: ignore[arg-type]
    assert keys.get("a", "v1") == keys.get("a", "v1") == "key-v1" and Counting.reads == 1
    assert keys.get("a", "v2") == "key-v2" and Counting.reads == 2  # a replaced key is a new version


def test_a_retry_after_the_cooldown_was_taken_but_before_the_reply_still_sends_the_rule() -> None:
    world = World(ScriptedModel([text("an agent must not answer this")]))
    world.automations.add("a-rule", {**PRICE_RULE, "cooldown_s": 600})
    world.automations.add("b-agent", AGENT)
    job = world.job("m1", "preço")
    stored_ms = int(job.stored_at.timestamp() * 1000)
    world.cooldowns.fired[(CUSTOMER, "a-rule")] = stored_ms + 50  # the first attempt took it, then crashed
    result = runner.run(world.deps, Job(**{**job.__dict__, "attempt": 2}))
    assert (result.outcome, result.automation_id) == ("replied", "a-rule")
    assert world.model.seen == []
    # An earlier firing (another message's) still holds the rule back: the agent answers.
    world.cooldowns.fired[(CUSTOMER, "a-rule")] = stored_ms - 1_000
    assert runner.run(world.deps, world.job("m2", "preço")).automation_id == "b-agent"


def test_a_redriven_job_whose_first_run_took_the_cooldown_sends_the_rule_not_the_next_automation() -> None:
    # Redriven from the dead-letter queue: a new SQS message, so attempt 1 again, and the cooldown still runs.
    # The firing names this message, so it is this job's own.
    world = World(ScriptedModel([text("an agent must not answer this")]))
    world.automations.add("a-rule", {**PRICE_RULE, "cooldown_s": 600})
    world.automations.add("b-agent", AGENT)
    first = world.run("m1", "preço")
    assert (first.outcome, world.cooldowns.fired_by[(CUSTOMER, "a-rule")]) == ("replied", "m1")  # recorded
    world.messages.items = {k: v for k, v in world.messages.items.items() if k == "m1"}  # its reply was lost
    job = world.job("m1", "preço")
    result = runner.run(world.deps, job)
    assert job.attempt == 1 and (result.outcome, result.automation_id) == ("replied", "a-rule")
    assert world.model.seen == []
    # Another message's firing, however recent, still holds the rule back for m2.
    assert runner.run(world.deps, world.job("m2", "preço")).automation_id == "b-agent"


def test_on_a_first_attempt_an_earlier_messages_late_firing_still_holds_the_rule_back() -> None:
    # m1's run fired the rule after m2 was stored (a burst): m2's first attempt must not repeat the rule.
    world = World(ScriptedModel([text("o agente responde")]))
    world.automations.add("a-rule", {**PRICE_RULE, "cooldown_s": 600})
    world.automations.add("b-agent", AGENT)
    job = world.job("m2", "preço")
    world.cooldowns.fired[(CUSTOMER, "a-rule")] = int(job.stored_at.timestamp() * 1000) + 50
    assert runner.run(world.deps, job).automation_id == "b-agent"
