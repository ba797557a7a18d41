"""The automations runner (issue 11, seed 003's message worker): one inbound message → at most one answer.

For each job (an inbound message of an instance with automations, docs/automations.md#runner):

1. the instance's automations, one Query (AutomationsTable), and the instance (own number; the send
   path reuses it);
2. the chat's escalation pause (GetItem): while a person has the chat, nothing answers, unless a person
   already replied in it through the API after the escalation (read from the chat's history, only then);
3. selection (zapgate_core.domain.automations.selection): rules first, cooldowns from one Query;
4. answered already? The reply's message id is derived from (inbound message, automation): a GetItem
   finds a retried or duplicated job's first answer before any model is called;
5. a rule: its per-chat cooldown taken by a conditional write, then its reply through the send path;
   an agent: memory from the chat's last N messages (one bounded Query), the provider through the agent
   loop (seed 003's 2/4/8 s retries, bounded tool rounds and time), the tenant's tools called signed;
   `escalated` pauses the chat and emits AUTOMATION_ESCALATED; `failed` sends the fallback text;
6. the interaction recorded (one PutItem), metrics per provider.

Replies go through services/outbound_enqueue.send, the public API's own send, with the reply's
Idempotency-Key: a second enqueue with the key finds the first message (or, with another body, is
refused as a reused key): either way the job is answered once. Nothing here claims an answer the model
did not give: a provider that fails is the fallback text and a failed interaction.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast

from zapgate_automations.agent_run import ToolCaller, ToolTransport, conversation_for, memory, tool_specs
from zapgate_automations.jobs import Job
from zapgate_control.errors import ApiError
from zapgate_control.observability import logger, metrics
from zapgate_control.ports.automations import (
    AutomationRecord,
    AutomationStore,
    ChatPauseRecord,
    CooldownStore,
    EscalationStore,
    Firing,
    InteractionRecord,
    InteractionStore,
    ProviderSecretStore,
    ToolCallRecord,
)
from zapgate_control.ports.events import EventPublisher
from zapgate_control.ports.instances import InstanceRecord, InstanceStore
from zapgate_control.ports.media import MediaStore
from zapgate_control.ports.messages import MessageStore, OutboundMessage
from zapgate_control.ports.webhooks import WebhookStore
from zapgate_control.services import outbound_enqueue
from zapgate_control.services.sidecar_wakeups import SidecarWaker
from zapgate_core.domain.automations.agent_loop import AgentOutcome, AgentSettings, run_agent
from zapgate_core.domain.automations.conversation import ChatModel
from zapgate_core.domain.automations.definitions import Agent, Automation, FirstMessageTrigger, MediaReply, Rule
from zapgate_core.domain.automations.escalation import ChatPause
from zapgate_core.domain.automations.idempotency import reply_idempotency_key, reply_message_id
from zapgate_core.domain.automations.retry_policy import RetryPolicy
from zapgate_core.domain.automations.routing import InboundFacts
from zapgate_core.domain.automations.selection import IncomingMessage, Selection, select
from zapgate_core.domain.events import automation_escalated_event
from zapgate_core.domain.webhooks import signing_secrets

INTERACTION_TTL_S = 90 * 24 * 3600  # interactions are kept 90 days
HUMAN_REPLY_LOOKBACK = 20  # messages of the chat read to find a person's reply to an escalation

ModelFactory = Callable[[Agent, str | None], ChatModel]  # (agent, its provider key) → a ChatModel
Definitions = Callable[[AutomationRecord], Automation]  # a stored configuration → the domain's


@dataclass
class RunnerDeps:
    instances: InstanceStore
    messages: MessageStore
    automations: AutomationStore
    interactions: InteractionStore
    escalations: EscalationStore
    cooldowns: CooldownStore
    provider_keys: ProviderSecretStore
    webhooks: WebhookStore
    events: EventPublisher
    models: ModelFactory
    tools: ToolTransport
    definitions: Definitions
    waker: SidecarWaker | None = None
    media: MediaStore | None = None  # resolves a media reply's upload_id to a fresh link (None: cannot)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    now_ms: Callable[[], int] = lambda: int(time.time() * 1000)
    interaction_ttl_s: int = INTERACTION_TTL_S


Outcome = Literal["replied", "escalated", "failed", "skipped", "duplicate", "none"]


@dataclass(frozen=True)
class RunResult:
    outcome: Outcome
    automation_id: str | None = None
    reply_message_id: str | None = None
    reason: str | None = None


# ------------------------------------------------------------------ the run
def run(deps: RunnerDeps, job: Job) -> RunResult:
    """Process one job. Raises only for the stores' own failures (the job is then retried by SQS)."""
    started = deps.monotonic()
    if job.from_me:
        return RunResult("none", reason="from_me")
    records = deps.automations.list_for_instance(job.instance_id)
    records = [r for r in records if r.tenant_id == job.tenant_id]
    if not any(r.enabled for r in records):  # the flag was stale: clear it, nothing to run or record
        deps.instances.set_automations_enabled(job.instance_id, deps.automations.has_enabled(job.instance_id))
        return RunResult("none", reason="no_automations")
    instance = deps.instances.get_for_tenant(job.tenant_id, job.instance_id)
    if instance is None:
        return RunResult("none", reason="no_instance")
    instances = cast(InstanceStore, _OneInstance(deps.instances, instance))
    automations = [deps.definitions(record) for record in records]
    by_id = {r.id: r for r in records}
    metrics.add_metric(name="AutomationRuns", unit="Count", value=1)
    now = datetime.fromtimestamp(deps.now_ms() / 1000, UTC)
    pause = _pause(deps, job, now)
    message = IncomingMessage(
        facts=InboundFacts(from_me=job.from_me, chat_jid=job.chat, sender_jid=job.sender, sender_pn=job.sender_pn,
                           own_number=instance.wa_jid),
        text=job.text, first_message=_first_message(deps, job, automations), received_at=now,
    )  # fmt: skip
    stored_fired = _last_fired(deps, job, automations)
    # A firing recorded for this very message is this job's own earlier attempt (it took the cooldown, then
    # failed before the reply was queued): a retry, or a redrive from the dead-letter queue however much later.
    # It does not hold this job back. (A firing kept without its message, from before the id was recorded: on a
    # retry, one at or after this message was stored is its own, since one chat's jobs run one at a time.)
    ours = {key for key, firing in stored_fired.items() if firing.message_id == job.message_id or (
        firing.message_id is None and job.attempt > 1 and _dt(firing.at_ms) >= job.stored_at)}
    last_fired = {key: _dt(firing.at_ms) for key, firing in stored_fired.items() if key not in ours}
    # A retried job whose first run answered: the automation that answers without cooldowns may be the one
    # whose cooldown the first run started, so it is looked up first (its reply's id is known in advance).
    unbounded = select(automations, message, last_fired={}, pause=pause)
    if unbounded.automation is not None and _answered(deps, job, unbounded.automation.id):
        return _duplicate(unbounded.automation.id)
    selection = select(automations, message, last_fired=last_fired, pause=pause)
    record = _Recorder(deps, job, started)
    if selection.automation is None:
        metrics.add_metric(name="AutomationSkipped", unit="Count", value=1)
        record.save("skipped", selection, reason=selection.no_answer)
        return RunResult("skipped", reason=selection.no_answer)
    automation = selection.automation
    if automation.id != getattr(unbounded.automation, "id", None) and _answered(deps, job, automation.id):
        return _duplicate(automation.id)
    if isinstance(automation.behaviour, Rule):
        return _run_rule(deps, job, instances, automation, automation.behaviour, selection, record, now,
                         fired_already=automation.id in ours)
    return _run_agent(deps, job, instances, automation, automation.behaviour, by_id[automation.id], selection,
                      record)


def _duplicate(automation_id: str) -> RunResult:
    metrics.add_metric(name="AutomationDuplicates", unit="Count", value=1)
    return RunResult("duplicate", automation_id=automation_id, reason="already_answered")


def _answered(deps: RunnerDeps, job: Job, automation_id: str) -> bool:
    reply_id = reply_message_id(job.tenant_id, job.instance_id, job.message_id, automation_id)
    return isinstance(deps.messages.get(reply_id), OutboundMessage)


def _pause(deps: RunnerDeps, job: Job, now: datetime) -> ChatPause | None:
    stored = deps.escalations.get(job.instance_id, job.chat)
    now_ms = int(now.timestamp() * 1000)
    if stored is None or not stored.active_at(now_ms):
        return None
    replied_at = _human_reply_after(deps, job, stored.paused_at_ms)
    if replied_at is not None:  # a person answered through the API: the chat is back to the automations
        deps.escalations.clear(job.instance_id, job.chat, replied_at_ms=replied_at)
        logger.info("escalation released by a person's reply", extra={"instance_id": job.instance_id})
        return None
    return ChatPause(stored.chat, stored.automation_id, _dt(stored.paused_at_ms), _dt(stored.until_ms), stored.reason)


def _human_reply_after(deps: RunnerDeps, job: Job, paused_at_ms: int) -> int | None:
    """When a person (an API send, not an automation) wrote in the chat at or after the escalation."""
    records, _ = deps.messages.chat_messages(job.instance_id, job.chat, HUMAN_REPLY_LOOKBACK, None)
    for item in records:
        if isinstance(item, OutboundMessage) and item.automation_id is None and item.stored_ms >= paused_at_ms:
            return item.stored_ms
    return None


def _first_message(deps: RunnerDeps, job: Job, automations: list[Automation]) -> bool:
    """Asked of the store (a conditional write) only when an enabled rule welcomes first messages."""
    if not any(a.enabled and isinstance(a.behaviour, Rule) and isinstance(a.behaviour.trigger, FirstMessageTrigger)
               for a in automations):
        return False
    return deps.cooldowns.first_message(job.instance_id, job.chat, job.message_id, deps.now_ms())


def _last_fired(deps: RunnerDeps, job: Job, automations: list[Automation]) -> dict[str, Firing]:
    """Read (one Query) only when an enabled rule has a cooldown."""
    if not any(a.enabled and isinstance(a.behaviour, Rule) and a.behaviour.cooldown_s > 0 for a in automations):
        return {}
    return deps.cooldowns.last_fired(job.instance_id, job.chat)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


# ------------------------------------------------------------------ rules
def _run_rule(deps: RunnerDeps, job: Job, instances: InstanceStore, automation: Automation, rule: Rule,
              selection: Selection, record: _Recorder, now: datetime, *, fired_already: bool = False
              ) -> RunResult:  # fmt: skip
    if rule.cooldown_s > 0 and not fired_already and not deps.cooldowns.try_fire(
        job.instance_id, automation.id, job.chat, int(now.timestamp() * 1000), rule.cooldown_s, job.message_id
    ):  # another run fired it in this chat since the read: this one stays quiet (never a double answer)
        metrics.add_metric(name="AutomationSkipped", unit="Count", value=1)
        record.save("skipped", selection, reason="cooldown")
        return RunResult("skipped", automation_id=automation.id, reason="cooldown")
    from zapgate_core.contract.automations import reply_content

    upload_url = None
    if isinstance(rule.reply, MediaReply) and rule.reply.upload_id is not None:
        # A fresh link per reply: the upload's own link expired long ago; the key is the tenant's, so another
        # tenant's id resolves to nothing.
        upload_url = deps.media.upload_url(job.tenant_id, rule.reply.upload_id) if deps.media else None
        if upload_url is None:
            return _failed_without_reply(record, selection, automation, "reply_unavailable",
                                         "the reply's upload is not there (deleted, or never uploaded)")
    content = reply_content(rule.reply, job.chat, media_url=upload_url)
    sent = _send(deps, job, instances, automation.id, content, sent_by_ai=False)
    if isinstance(sent, str):
        return _failed_without_reply(record, selection, automation, "send_refused", sent)
    metrics.add_metric(name="AutomationReplies", unit="Count", value=1)
    record.save("replied", selection, reply_message_id=sent.id)
    return RunResult("replied", automation.id, sent.id)


def _failed_without_reply(record: _Recorder, selection: Selection, automation: Automation, reason: str,
                          error: str) -> RunResult:  # fmt: skip
    metrics.add_metric(name="AutomationErrors", unit="Count", value=1)
    record.save("failed", selection, reason=reason, error=error[:300])
    return RunResult("failed", automation.id, reason=reason)


# ------------------------------------------------------------------ agents
def _run_agent(deps: RunnerDeps, job: Job, instances: InstanceStore, automation: Automation, agent: Agent,
               stored: AutomationRecord, selection: Selection, record: _Recorder) -> RunResult:  # fmt: skip
    history, _ = deps.messages.chat_messages(job.instance_id, job.chat, max(1, agent.memory_messages), None)
    group_sender = (job.sender_pn or job.sender) if job.chat_type == "group" else None
    conversation = conversation_for(agent, memory(history[: agent.memory_messages], job.message_id, job.text,
                                                  group_sender))
    key = deps.provider_keys.get(automation.id, stored.api_key_version) if agent.provider == "openai" else None
    model = deps.models(agent, key)
    settings = AgentSettings(
        model=agent.model, temperature=agent.temperature, max_tokens=agent.max_tokens, timeout_s=agent.timeout_s,
        max_tool_rounds=agent.max_tool_rounds, time_budget_s=agent.time_budget_s,
        allow_escalation=agent.escalate_to_human,
    )  # fmt: skip
    deadline = deps.monotonic() + agent.time_budget_s
    caller = ToolCaller(
        tools=agent.tools, transport=deps.tools, secrets=_SecretsOnce(deps.webhooks, job.tenant_id),
        context={"instanceId": job.instance_id, "chatId": job.chat, "messageId": job.message_id,
                 "automationId": automation.id},
        remaining_s=lambda: deadline - deps.monotonic(),
    )  # fmt: skip
    outcome = run_agent(model, conversation, tool_specs(agent), caller, settings, retry=deps.retry, sleep=deps.sleep,
                        clock=deps.monotonic)  # fmt: skip
    _agent_metrics(agent.provider, outcome)
    if outcome.kind == "replied":
        return _agent_reply(deps, job, instances, automation, agent, selection, record, outcome, "replied")
    if outcome.kind == "escalated":
        now_ms = deps.now_ms()
        reason = (outcome.escalation_reason or "")[:500]
        pause = ChatPauseRecord(job.instance_id, job.chat, automation.id, now_ms,
                                now_ms + agent.escalation_ttl_s * 1000, reason)  # fmt: skip
        deps.escalations.pause(pause)
        deps.events.publish(job.tenant_id, [automation_escalated_event(
            job.instance_id, job.chat, job.message_id, automation.id, reason, _dt(now_ms), _dt(pause.until_ms))])
        metrics.add_metric(name="AutomationEscalations", unit="Count", value=1)
        if outcome.text and outcome.text.strip():
            return _agent_reply(deps, job, instances, automation, agent, selection, record, outcome, "escalated")
        record.save("escalated", selection, agent=agent, outcome=outcome, reason=reason or None)
        return RunResult("escalated", automation.id, reason=reason)
    return _agent_reply(deps, job, instances, automation, agent, selection, record, outcome, "failed")


def _agent_reply(deps: RunnerDeps, job: Job, instances: InstanceStore, automation: Automation, agent: Agent,
                 selection: Selection, record: _Recorder, outcome: AgentOutcome,
                 kind: Literal["replied", "escalated", "failed"]) -> RunResult:  # fmt: skip
    from zapgate_core.contract.outbound_content import OutboundContent

    text = agent.fallback_text if kind == "failed" else str(outcome.text)
    sent = _send(deps, job, instances, automation.id, OutboundContent(to=job.chat, body=text), sent_by_ai=True)
    reply_id = sent.id if isinstance(sent, OutboundMessage) else None
    if kind == "failed":
        metrics.add_metric(name="AutomationErrors", unit="Count", value=1)
        error = outcome.error if reply_id else f"{outcome.error}; fallback not sent: {sent}"
        record.save("failed", selection, agent=agent, outcome=outcome, reply_message_id=reply_id,
                    reason=outcome.failure, error=(error or "")[:300] or None)
        return RunResult("failed", automation.id, reply_id, reason=outcome.failure)
    if reply_id is None:
        return _failed_without_reply(record, selection, automation, "send_refused", str(sent))
    metrics.add_metric(name="AutomationReplies", unit="Count", value=1)
    record.save(kind, selection, agent=agent, outcome=outcome, reply_message_id=reply_id,
                reason=outcome.escalation_reason if kind == "escalated" else None)
    return RunResult(kind, automation.id, reply_id)


def _agent_metrics(provider: str, outcome: AgentOutcome) -> None:
    openai = provider == "openai"
    metrics.add_metric(name="AgentRunsOpenai" if openai else "AgentRunsBedrock", unit="Count", value=1)
    if outcome.kind == "failed":
        metrics.add_metric(name="AgentErrorsOpenai" if openai else "AgentErrorsBedrock", unit="Count", value=1)
    tokens = outcome.usage.input_tokens + outcome.usage.output_tokens
    if tokens:
        metrics.add_metric(name="AgentTokensOpenai" if openai else "AgentTokensBedrock", unit="Count", value=tokens)
    if outcome.model_calls:
        metrics.add_metric(name="AgentLatencyMsOpenai" if openai else "AgentLatencyMsBedrock", unit="Milliseconds",
                           value=outcome.provider_latency_ms)  # fmt: skip


class _SecretsOnce:
    """The tenant's webhook signing secrets, read (one Query) on the first tool call only."""

    def __init__(self, webhooks: WebhookStore, tenant_id: str) -> None:
        self.webhooks, self.tenant_id = webhooks, tenant_id
        self.found: list[str] | None = None

    def __call__(self) -> list[str]:
        if self.found is None:
            now = time.time()
            self.found = [secret for hook in self.webhooks.list_for_tenant(self.tenant_id)
                          for secret in signing_secrets(hook.secret, now, hook.previous_secret,
                                                        hook.previous_secret_until)]  # fmt: skip
        return self.found


# ------------------------------------------------------------------ sending
def _send(deps: RunnerDeps, job: Job, instances: InstanceStore, automation_id: str, content: Any,
          *, sent_by_ai: bool) -> OutboundMessage | str:  # fmt: skip
    """The reply through the public API's send path; a refusal as its code (never raised: retrying the job
    would not change it). A reused key (another body for the same key: a retry whose model answered
    differently) means the job was answered already, and answers that first message."""
    key = reply_idempotency_key(job.message_id, automation_id)
    try:
        return outbound_enqueue.send(instances, deps.messages, job.tenant_id, job.instance_id, content,
                                     queue_if_offline=True, idempotency_key=key, waker=deps.waker,
                                     automation_id=automation_id, sent_by_ai=sent_by_ai)  # fmt: skip
    except ApiError as exc:
        if exc.code == "idempotency_key_reused":
            existing = deps.messages.get(reply_message_id(job.tenant_id, job.instance_id, job.message_id,
                                                          automation_id))  # fmt: skip
            if isinstance(existing, OutboundMessage):
                metrics.add_metric(name="AutomationDuplicates", unit="Count", value=1)
                return existing
        logger.warning("automation reply refused", extra={"code": exc.code, "instance_id": job.instance_id})
        return exc.code


class _OneInstance:
    """The instance read once per run: the send path's own lookup answers from it (no second GetItem)."""

    def __init__(self, store: InstanceStore, record: InstanceRecord) -> None:
        self._store, self._record = store, record

    def get_for_tenant(self, tenant_id: str, instance_id: str) -> InstanceRecord | None:
        if (tenant_id, instance_id) == (self._record.tenant_id, self._record.id):
            return self._record
        return self._store.get_for_tenant(tenant_id, instance_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


# ------------------------------------------------------------------ interactions
class _Recorder:
    def __init__(self, deps: RunnerDeps, job: Job, started: float) -> None:
        self.deps, self.job, self.started = deps, job, started

    def save(self, kind: Literal["replied", "escalated", "failed", "skipped"], selection: Selection, *,
             agent: Agent | None = None, outcome: AgentOutcome | None = None, reply_message_id: str | None = None,
             reason: str | None = None, error: str | None = None) -> None:  # fmt: skip
        run_outcome = outcome
        automation = selection.automation
        interaction = InteractionRecord(
            id=str(uuid.uuid4()), tenant_id=self.job.tenant_id, instance_id=self.job.instance_id, chat=self.job.chat,
            message_id=self.job.message_id, outcome=kind, created_at_ms=self.deps.now_ms(),
            automation_id=automation.id if automation else None,
            automation_kind=automation.kind if automation else None,
            provider=agent.provider if agent else None, model=agent.model if agent else None,
            tokens_in=run_outcome.usage.input_tokens if run_outcome else 0,
            tokens_out=run_outcome.usage.output_tokens if run_outcome else 0,
            latency_ms=round((self.deps.monotonic() - self.started) * 1000),
            provider_latency_ms=round(run_outcome.provider_latency_ms) if run_outcome else 0,
            model_calls=run_outcome.model_calls if run_outcome else 0,
            tool_calls=tuple(ToolCallRecord(call.name, call.status, round(call.duration_ms))
                             for call in (run_outcome.tool_calls if run_outcome else ())),
            reply_message_id=reply_message_id, reason=reason, error=error,
            passed={p.automation_id: p.reason for p in selection.passed} or None,
        )  # fmt: skip
        try:
            self.deps.interactions.record(interaction, self.deps.interaction_ttl_s)
        except Exception:  # the answer is out: a lost record must not make SQS retry (and the run repeat)
            logger.exception("interaction not recorded", extra={"instance_id": self.job.instance_id})
            metrics.add_metric(name="AutomationRecordFailed", unit="Count", value=1)
