"""Automations (issue 11, seed 003): configurations, interactions, escalation pauses, cooldowns, provider keys.

Everything but the provider keys lives in one table, AutomationsTable (docs/data-model.md#automationstable):
one partition per instance (`pk = inst#<instance id>`) holds its automations, its interactions, the paused
chats, the per-chat cooldowns and the first-message facts, so every read here is a GetItem or one Query of
that partition (or of the `by_chat` index for one chat's interactions), never a scan.

Records are plain frozen dataclasses: no storage field names, no boto3 types. Times are epoch
milliseconds from the control plane's clock. A provider's API key is never in a record: the
AutomationRecord says whether one is set (`api_key_version`), and only ProviderSecretStore reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from zapgate_core.domain.json_types import JsonObject

AutomationKind = Literal["rule", "agent"]
InteractionOutcome = Literal["replied", "escalated", "failed", "skipped"]
INTERACTION_OUTCOMES: tuple[InteractionOutcome, ...] = ("replied", "escalated", "failed", "skipped")


# ------------------------------------------------------------------ automations
@dataclass(frozen=True)
class AutomationRecord:
    """One automation of an instance, as stored.

    `config` is the configuration exactly as zapgate_core.contract.automations dumps it
    (`model_dump(mode="json")`: every field, defaults filled in, `api_key` excluded), `enabled` and
    `position` included; `kind`, `name`, `enabled` and `position` are copies of its fields for listings
    and the enabled count. `version` starts at 1 and grows by one with every write: replace() is
    conditional on it. `api_key_version` is the Secrets Manager version of the provider key (None: no
    key is set); the key itself is only in ProviderSecretStore.
    """

    id: str
    tenant_id: str
    instance_id: str
    kind: AutomationKind
    name: str
    enabled: bool
    position: int
    config: JsonObject
    version: int
    created_at_ms: int
    updated_at_ms: int
    api_key_version: str | None = None
    request_hash: str | None = None  # fingerprint of the create request made with an Idempotency-Key

    @property
    def api_key_set(self) -> bool:
        return self.api_key_version is not None


class AutomationNotFound(Exception):
    """No such automation in this instance (or it belongs to another tenant)."""


class TooManyAutomations(Exception):
    """The instance already has the most automations it may have (`limit`)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"an instance has at most {limit} automations")
        self.limit = limit


class AutomationExists(Exception):
    """An automation with this id exists already (a replayed create); `existing` is it."""

    def __init__(self, existing: AutomationRecord) -> None:
        super().__init__(existing.id)
        self.existing = existing


class AutomationVersionConflict(Exception):
    """replace() or delete() found another version than expected; `current` is the stored one (None: gone)."""

    def __init__(self, current: AutomationRecord | None) -> None:
        super().__init__(f"version {current.version}" if current else "missing")
        self.current = current


class AutomationStore(Protocol):
    def create(self, record: AutomationRecord, max_per_instance: int) -> None:
        """Store a new automation (record.version 1) and count it in its instance, in one transaction.

        Raises AutomationExists when the id is taken, TooManyAutomations when the instance already holds
        `max_per_instance`.
        """
        ...

    def get(self, instance_id: str, automation_id: str) -> AutomationRecord | None:
        """Strongly consistent (a write is followed by its read in the API)."""
        ...

    def list_for_instance(self, instance_id: str) -> list[AutomationRecord]:
        """Every automation of the instance (at most max_per_instance), one Query, strongly consistent;
        ordered as zapgate_core.domain.automations.selection.ordered evaluates them: rules, then agents,
        each by position, then id."""
        ...

    def replace(self, record: AutomationRecord, expected: AutomationRecord) -> AutomationRecord:
        """Write `record` over `expected` (same id), conditional on the stored version still being
        expected.version; the stored version becomes expected.version + 1 (record.version is ignored) and
        the instance's enabled count follows. Answers the stored record. Raises AutomationVersionConflict."""
        ...

    def delete(self, instance_id: str, automation_id: str, expected_version: int | None = None) -> AutomationRecord:
        """Remove it and uncount it; answers the removed record. Raises AutomationNotFound when there is
        none, AutomationVersionConflict when expected_version is given and differs."""
        ...

    def has_enabled(self, instance_id: str) -> bool:
        """Whether the instance has at least one enabled automation: one GetItem of a small counter item,
        eventually consistent. The runner asks it before anything else for every inbound message."""
        ...


# ------------------------------------------------------------------ interactions (seed 003's ai_interactions)
@dataclass(frozen=True)
class ToolCallRecord:
    name: str
    status: str  # zapgate_core.domain.automations.agent_loop: ok | error | invalid_arguments | unknown_tool | escalated
    duration_ms: int = 0


@dataclass(frozen=True)
class InteractionRecord:
    """One run of the automations on one inbound message.

    `outcome`: replied (a reply was queued), escalated (the chat is paused for a person), failed (the
    fallback text was sent, or nothing could be: `error` says why), skipped (nothing answered: `reason`
    says why, selection's NoAnswerReason). `id` is the runner's (a UUID); `created_at_ms` orders listings.
    """

    id: str
    tenant_id: str
    instance_id: str
    chat: str  # the chat JID, normalised (zapgate_core.domain.jids.chat_jid)
    message_id: str  # the triggering inbound message's id in zapgate (MessagesTable)
    outcome: InteractionOutcome
    created_at_ms: int
    automation_id: str | None = None  # None when nothing answered
    automation_kind: AutomationKind | None = None
    provider: str | None = None  # openai | bedrock (agents only)
    model: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: int = 0  # the whole run
    provider_latency_ms: int = 0  # the model's own time, summed over calls
    model_calls: int = 0  # retries included
    tool_calls: tuple[ToolCallRecord, ...] = ()
    reply_message_id: str | None = None  # the queued reply (or fallback) in MessagesTable
    reason: str | None = None  # skipped: why nothing answered; failed: agent_loop's failure
    error: str | None = None  # a short, key-free description of a failure (never provider text)
    passed: JsonObject | None = None  # automation id -> why it was passed over (selection.Passed)


class InteractionStore(Protocol):
    def record(self, interaction: InteractionRecord, ttl_s: int) -> None:
        """Store one interaction; it expires (DynamoDB TTL) ttl_s after created_at_ms."""
        ...

    def list_for_instance(
        self, instance_id: str, limit: int, cursor: str | None
    ) -> tuple[list[InteractionRecord], str | None]:
        """Newest first, `limit` at most; (items, next cursor or None). ValueError for a foreign cursor."""
        ...

    def list_for_chat(
        self, instance_id: str, chat: str, limit: int, cursor: str | None
    ) -> tuple[list[InteractionRecord], str | None]:
        """One chat's (chat normalised by the caller), newest first; ValueError for a foreign cursor."""
        ...


# ------------------------------------------------------------------ escalation pauses
@dataclass(frozen=True)
class ChatPauseRecord:
    """A chat handed to a person by escalate_to_human (zapgate_core.domain.automations.escalation.ChatPause)."""

    instance_id: str
    chat: str  # normalised chat JID
    automation_id: str  # the agent that escalated
    paused_at_ms: int
    until_ms: int
    reason: str = ""

    def active_at(self, now_ms: int) -> bool:
        return self.paused_at_ms <= now_ms < self.until_ms


class EscalationStore(Protocol):
    def pause(self, record: ChatPauseRecord) -> None:
        """Pause the chat (a newer escalation replaces an older one); the item expires after until_ms."""
        ...

    def get(self, instance_id: str, chat: str) -> ChatPauseRecord | None:
        """The chat's pause as stored, possibly past its `until_ms` (TTL deletes late): judge with
        active_at(now). Strongly consistent."""
        ...

    def clear(self, instance_id: str, chat: str, replied_at_ms: int | None = None) -> ChatPauseRecord | None:
        """End the pause; answers the removed pause, or None when there was none. With replied_at_ms (a
        person's reply through the API), only a pause made at or before that reply is ended (a reply older
        than the escalation is no answer to it: escalation.after_human_reply)."""
        ...


# ------------------------------------------------------------------ cooldowns and first messages
@dataclass(frozen=True)
class Firing:
    """A rule's latest firing in a chat: when, and for which inbound message (None: recorded before the message
    was kept), so a retried or redriven job knows the firing its own first attempt made."""

    at_ms: int
    message_id: str | None = None


class CooldownStore(Protocol):
    def last_fired(self, instance_id: str, chat: str) -> dict[str, Firing]:
        """automation id -> its latest firing in this chat: one Query, strongly consistent. selection.select's
        last_fired is built from it (as datetimes)."""
        ...

    def try_fire(self, instance_id: str, automation_id: str, chat: str, now_ms: int, cooldown_s: int,
                 message_id: str | None = None) -> bool:
        """Record a firing (for `message_id`) if the cooldown allows it (never fired, or last firing <= now -
        cooldown), in one conditional write: of two concurrent runs, one gets True. cooldown_s 0 always fires."""
        ...

    def first_message(self, instance_id: str, chat: str, message_id: str, now_ms: int) -> bool:
        """True when `message_id` is the first message of `chat` to the instance that the automations saw:
        the first caller records it; a retry with the same message id answers True again, any other
        message False. Kept for good (no TTL)."""
        ...


# ------------------------------------------------------------------ provider keys (Secrets Manager)
class ProviderSecretStore(Protocol):
    """An agent's provider API key, one secret per automation under the stack's prefix
    (PROVIDER_SECRETS_PREFIX: `<stack name>/automations/<automation id>`). Write-only through the API: the
    key is put and deleted by the public API, read only by the runner, and never returned, logged or put in
    a record."""

    def put(self, tenant_id: str, instance_id: str, automation_id: str, api_key: str) -> str:
        """Create or replace the key; answers the new version's id (AutomationRecord.api_key_version)."""
        ...

    def get(self, automation_id: str, version: str | None = None) -> str | None:
        """The key (a given version, else the current one); None when there is no such secret."""
        ...

    def delete(self, automation_id: str) -> None:
        """Remove the key at once (no recovery window); no error when there is none."""
        ...
